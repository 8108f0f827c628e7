#!/usr/bin/env bash
# One device run (H100/H200): train four variants of the compact model in parallel on one GPU
# (x0 vs v prediction, gradient-loss weight 1 / 2 / 0 = ablation), then evaluate each on the packed
# test splits (clean and degraded, against the clean sources) next to the classical Laplacian rule.
# Usage (device tool): bash benchmarks/gpu_variants.sh  [A_SECONDS] [B_SECONDS]; results in $OUT/<variant>.tar
set -u
A=${1:-210}; B=${2:-80}
OUT=${OUT:-/tmp/gpu_out}; RUNS=/tmp/runs; mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 PYTHONPATH=$PWD
nvidia-smi -L; python -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
declare -A ARGS=( [x0]="--prediction-type x0" [v]="--prediction-type v" [x0_grad2]="--prediction-type x0 --grad-weight 2" [x0_nograd]="--prediction-type x0 --grad-weight 0" )
for name in "${!ARGS[@]}"; do
  ( timeout $((A + B + 150)) python -m textdifuse_desktop.model.train --out "$RUNS/$name" --train-pack .gpu_data/train_pack.npz \
      --device "${DEVICE:-cuda}" ${EXTRA:-} --time-budget-a "$A" --time-budget-b "$B" --no-progress ${ARGS[$name]} > "$RUNS/$name.train.log" 2>&1
    timeout 150 python benchmarks/eval_model.py --weights "$RUNS/$name/model.safetensors" --test-pack .gpu_data/test_pack.npz \
      --steps 4 --device "${DEVICE:-cuda}" --max-per-task "${MAXPER:-0}" --out "$RUNS/$name/eval.json" --update-card > "$RUNS/$name.eval.log" 2>&1
    rm -f "$RUNS/$name"/resume*; cp "$RUNS/$name".*.log "$RUNS/$name/"; tar -cf "$OUT/$name.tar" -C "$RUNS" "$name" ) &
done
wait
for name in "${!ARGS[@]}"; do echo "== $name"; tail -3 "$RUNS/$name.train.log"; tail -22 "$RUNS/$name.eval.log"; done 2>&1 | tee "$OUT/summary.log"

#!/usr/bin/env bash
# Stage-B fine-tunes of the shipped model on one GPU, several variants at once (one process each).
# Every variant starts from the shipped weights (encoder/decoder frozen), so no stage A runs.
#
# Needs: torch, numpy, Pillow, safetensors, tqdm, and the training pack (carry .gpu_data; make it with
#   python -m textdifuse_desktop.model.pack_data --out .gpu_data/train_pack.npz)
# Usage:  OUT=/some/dir benchmarks/gpu_stage_b.sh [--tiny]
# Env:    BUDGET_B (seconds per variant, all in parallel), BATCH_B, CROP_B, LR_B, DEVICE, PYTHON,
#         MODEL_CONFIG (JSON; MODEL_CONFIG_<name> for one variant), VARIANTS ("name:arg,arg ..." with ',' for spaces)
# Output: $OUT/<variant>.tar (model.safetensors, model_card.json, losses.jsonl, train.log) and $OUT/summary.txt
#         (one archive per variant: the device tool brings back at most 8 files)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/gpu_b}
PACK=${PACK:-.gpu_data/train_pack.npz}
INIT=${INIT:-models/textdifuse-compact/model.safetensors}
BUDGET_B=${BUDGET_B:-300}; BATCH_B=${BATCH_B:-24}; CROP_B=${CROP_B:-128}; LR_B=${LR_B:-5e-4}
DEVICE=${DEVICE:-auto}
MODEL_CONFIG=${MODEL_CONFIG:-'{"output": "two_scale", "gate_prior": "saliency", "base_radius": 15, "base_passes": 1}'}
VARIANTS=${VARIANTS:-"fid1:--clean-fidelity,1 fid4:--clean-fidelity,4"}
EXTRA=()
if [[ "${1:-}" == "--tiny" ]]; then BUDGET_B=${TINY_BUDGET_B:-4}; BATCH_B=2; CROP_B=64; fi
mkdir -p "$OUT"
$PYTHON -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/summary.txt"
pids=()
for spec in $VARIANTS; do
  name=${spec%%:*}; args=${spec#*:}; args=${args//,/ }
  own_config="MODEL_CONFIG_$name"; config=${!own_config:-$MODEL_CONFIG}
  mkdir -p "$OUT/$name"
  # shellcheck disable=SC2086
  $PYTHON -m textdifuse_desktop.model.train --train-pack "$PACK" --out "$OUT/$name" --device "$DEVICE" \
    --init-from "$INIT" --reset-pixel-gate --model-config "$config" --iters-a 0 \
    --time-budget-b "$BUDGET_B" --batch-b "$BATCH_B" --crop-b "$CROP_B" --lr-b "$LR_B" \
    --grad-weight 2 --clean-share-b 0.5 --ckpt-every 100000 --log-every 50 --no-progress \
    "${EXTRA[@]}" $args > "$OUT/$name/train.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for spec in $VARIANTS; do
  name=${spec%%:*}
  { echo "== $name"; tail -n 3 "$OUT/$name/train.log"; tail -n 1 "$OUT/$name/losses.jsonl" || true; } \
    | tee -a "$OUT/summary.txt"
  rm -f "$OUT/$name"/resume*  # only the final weights come back
  tar -C "$OUT" -cf "$OUT/$name.tar" "$name" && rm -rf "${OUT:?}/$name"
done
exit $status

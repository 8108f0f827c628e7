#!/usr/bin/env bash
# The shipped model's training on one GPU: stage A (restoration diffusion) once, then several stage-B variants
# (the learned fusion) at once from its weights, then the CUDA speed of one variant.  One command, about 7 min on
# one H100/H200 with the defaults.
#
# Needs: torch, numpy, Pillow, safetensors, scipy, tqdm and the training pack (carry .gpu_data/train_pack.npz; make it
#   with  python -m textdifuse_desktop.model.pack_data --out .gpu_data/train_pack.npz).
# Usage:  OUT=/some/dir benchmarks/gpu_fusion_train.sh [--tiny]
# Env:    BUDGET_A BUDGET_B (seconds), BATCH_A BATCH_B CROP_A CROP_B, INIT (stage-A start weights, "" = fresh),
#         A_ARGS (more stage-A options, ',' for spaces, e.g. --grid-share-a,0.8,--ssim-weight-a,1),
#         GRID_STEPS_A (stage A's --grid-steps-a, default 1,2,4,8),
#         VARIANTS ("name:arg,arg ..." with ',' for spaces: stage B from the new stage A), EARLY_VARIANTS (the same form: stage B from INIT, started beside stage A and given
#         both budgets, e.g. to tell what the longer stage A brings), DEVICE, PYTHON, SPEED_VARIANT,
#         ITERS_T (stage-T iterations of the tone head, for a model with one: add --model-config,'{"tone_head":2}'
#         to A_ARGS; default 0 with INIT, whose head is kept, and 3000 without),
#         ITERS_R (stage-R iterations of the learned source restorer; default 0 with INIT, whose restorer is kept,
#         and 3000 without)
# Output: $OUT/stage_a.tar, $OUT/<variant>.tar (model.safetensors, model_card.json, losses.jsonl, train.log),
#         $OUT/summary.txt (the device tool brings back at most 8 files)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/gpu}
PACK=${PACK:-.gpu_data/train_pack.npz}
INIT=${INIT-models/textdifuse-compact/model.safetensors}
BUDGET_A=${BUDGET_A:-150}; BUDGET_B=${BUDGET_B:-240}
BATCH_A=${BATCH_A:-64}; BATCH_B=${BATCH_B:-32}; CROP_A=${CROP_A:-128}; CROP_B=${CROP_B:-128}
DEVICE=${DEVICE:-auto}
A_ARGS=${A_ARGS-}
GRID_STEPS_A=${GRID_STEPS_A:-1,2,4,8}
VARIANTS=${VARIANTS-"fcm:--finetune-b,0 ft:--finetune-b,0.2 ftssim:--finetune-b,0.2,--ssim-weight,0.5 ftg2:--finetune-b,0.2,--grad-weight,2"}
EARLY_VARIANTS=${EARLY_VARIANTS-}
SPEED_VARIANT=${SPEED_VARIANT:-ft}
EXTRA=(--crop-t 320); SPEED=(--device cuda)
if [[ "${1:-}" == "--tiny" ]]; then
  EXTRA=(--tiny --crop-t 64 --batch-t 4 --crop-r 64 --batch-r 4); BUDGET_A=${TINY_BUDGET_A:-3}; BUDGET_B=${TINY_BUDGET_B:-3}; BATCH_A=4; BATCH_B=2; CROP_A=64; CROP_B=64
  INIT=${TINY_INIT:-}; SPEED=(--device cpu --repeats 1)
fi
INIT_ARGS=(); [[ -n "$INIT" ]] && INIT_ARGS=(--init-from "$INIT")
if [[ -n "$INIT" ]]; then ITERS_T=${ITERS_T:-0}; else ITERS_T=${ITERS_T:-3000}; fi
if [[ -n "$INIT" ]]; then ITERS_R=${ITERS_R:-0}; else ITERS_R=${ITERS_R:-3000}; fi
[[ "${1:-}" == "--tiny" ]] && ITERS_T=${TINY_ITERS_T:-2} && ITERS_R=${TINY_ITERS_R:-2}
mkdir -p "$OUT"
$PYTHON -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/summary.txt"

common=(--train-pack "$PACK" --device "$DEVICE" --ckpt-every 100000 --log-every 20 --no-progress --iters-t "$ITERS_T"
        --detail-weight-t 2 --iters-r "$ITERS_R" --lr-r 3e-4 --impulse-share-r 0.5
        "${EXTRA[@]}")
pids=()
stage_b() {  # name, init weights, budget, "arg,arg": one stage-B run in the background
  local name=$1 init=$2 budget=$3 args=${4//,/ }
  mkdir -p "$OUT/$name"
  # shellcheck disable=SC2086
  $PYTHON -m textdifuse_desktop.model.train "${common[@]}" --out "$OUT/$name" --init-from "$init" --iters-a 0 \
    --iters-t 0 --iters-r 0 \
    --time-budget-b "$budget" --batch-b "$BATCH_B" --crop-b "$CROP_B" --lr-b 1e-3 --clean-share-b 0.5 \
    --rollout-steps 1,2 $args > "$OUT/$name/train.log" 2>&1 &
  pids+=($!)
}
if [[ -n "$EARLY_VARIANTS" && -z "$INIT" ]]; then
  echo "EARLY_VARIANTS need start weights (INIT, or TINY_INIT with --tiny): none run" | tee -a "$OUT/summary.txt"
  EARLY_VARIANTS=""
fi
for spec in $EARLY_VARIANTS; do
  stage_b "${spec%%:*}" "$INIT" $((BUDGET_A + BUDGET_B + 15)) "${spec#*:}"
done
# shellcheck disable=SC2086
$PYTHON -m textdifuse_desktop.model.train "${common[@]}" --out "$OUT/stage_a" "${INIT_ARGS[@]}" \
  --time-budget-a "$BUDGET_A" --iters-b 0 --batch-a "$BATCH_A" --crop-a "$CROP_A" --lr-a 3e-4 \
  --grid-steps-a "$GRID_STEPS_A" ${A_ARGS//,/ } \
  > "$OUT/stage_a.log" 2>&1 || { tail -n 30 "$OUT/stage_a.log" | tee -a "$OUT/summary.txt"; exit 1; }
cp "$OUT/stage_a.log" "$OUT/stage_a/train.log"
for spec in $VARIANTS; do
  stage_b "${spec%%:*}" "$OUT/stage_a/model.safetensors" "$BUDGET_B" "${spec#*:}"
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
speed_weights=""
if [[ -f "$OUT/$SPEED_VARIANT/model.safetensors" ]]; then
  speed_dir=$(mktemp -d) && cp "$OUT/$SPEED_VARIANT"/model.safetensors "$OUT/$SPEED_VARIANT"/model_card.json "$speed_dir"
  speed_weights=$speed_dir/model.safetensors
fi
# The weights are packed first, so that a benchmark running past the time limit loses nothing.
for spec in $EARLY_VARIANTS $VARIANTS; do
  name=${spec%%:*}
  { echo "== $name"; tail -n 3 "$OUT/$name/train.log"; tail -n 1 "$OUT/$name/losses.jsonl" || true; } \
    | tee -a "$OUT/summary.txt"
  rm -f "$OUT/$name"/resume*  # only the final weights come back
  tar -C "$OUT" -cf "$OUT/$name.tar" "$name" && rm -rf "${OUT:?}/$name"
done
rm -f "$OUT/stage_a"/resume* && tar -C "$OUT" -cf "$OUT/stage_a.tar" stage_a && rm -rf "$OUT/stage_a" "$OUT/stage_a.log"
if [[ -n "$speed_weights" ]]; then
  timeout 120 $PYTHON benchmarks/model_speed.py --weights "$speed_weights" "${SPEED[@]}" 2>&1 \
    | tee -a "$OUT/summary.txt" || status=1
fi
if [[ "$DEVICE" != cpu && -z "${EXTRA[*]}" ]]; then  # whole-volume fusion on the GPU (issue 18), shipped weights
  timeout 90 $PYTHON benchmarks/bench_volume_fusion.py --case synthetic --device cuda --threads 8 2>&1 \
    | tee -a "$OUT/summary.txt" || status=1
fi
exit $status

#!/usr/bin/env bash
# Train two design variants of the compact Text-DiFuse model in parallel on one GPU, evaluate both on the
# packed test splits against the classical Laplacian rule, and keep the better one.  One command, <= 9 min
# on one H100/H200 with the defaults (stage A 270 s + stage B 110 s per variant, both at once).
#
# Needs: torch, numpy, Pillow, safetensors, scipy, tqdm; the packs made on the workstation with
#   python -m textdifuse_desktop.model.pack_data --out .gpu_data/train_pack.npz   (carry .gpu_data)
# Usage:  OUT=/some/dir benchmarks/gpu_train.sh [--tiny]
# Env:    BUDGET_A BUDGET_B (seconds), BATCH_A BATCH_B CROP_A CROP_B, EVAL_PER_TASK, DEVICE, PYTHON,
#         VARIANTS (space-separated "name:extra args" with ',' for spaces; default x0 vs v prediction)
# Output: $OUT/<variant>/{model.safetensors,model_card.json,eval.json,losses.jsonl,train.log},
#         $OUT/best/ (copy of the winner), $OUT/summary.txt
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/gpu}
PACK=${PACK:-.gpu_data/train_pack.npz}
TEST_PACK=${TEST_PACK:-.gpu_data/test_pack.npz}
BUDGET_A=${BUDGET_A:-270}; BUDGET_B=${BUDGET_B:-110}
BATCH_A=${BATCH_A:-64}; BATCH_B=${BATCH_B:-24}; CROP_A=${CROP_A:-128}; CROP_B=${CROP_B:-128}
EVAL_PER_TASK=${EVAL_PER_TASK:-8}
DEVICE=${DEVICE:-auto}
VARIANTS=${VARIANTS:-"x0:--prediction-type,x0 v:--prediction-type,v"}
EXTRA=()
if [[ "${1:-}" == "--tiny" ]]; then
  EXTRA=(--tiny); BUDGET_A=${TINY_BUDGET_A:-4}; BUDGET_B=${TINY_BUDGET_B:-3}; BATCH_A=4; BATCH_B=2
  CROP_A=64; CROP_B=64; EVAL_PER_TASK=1
fi
mkdir -p "$OUT"
EVAL_DEVICE=$DEVICE; [[ "$DEVICE" == auto ]] && EVAL_DEVICE=$($PYTHON -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
$PYTHON -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee "$OUT/summary.txt"

pids=()
for spec in $VARIANTS; do
  name=${spec%%:*}; args=${spec#*:}; args=${args//,/ }
  mkdir -p "$OUT/$name"
  # shellcheck disable=SC2086
  $PYTHON -m textdifuse_desktop.model.train --train-pack "$PACK" --out "$OUT/$name" --device "$DEVICE" \
    --time-budget-a "$BUDGET_A" --time-budget-b "$BUDGET_B" --batch-a "$BATCH_A" --batch-b "$BATCH_B" \
    --crop-a "$CROP_A" --crop-b "$CROP_B" --lr-a 5e-4 --lr-b 1e-3 --ckpt-every 1000 --log-every 20 \
    --no-progress "${EXTRA[@]}" $args > "$OUT/$name/train.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

pids=()
for spec in $VARIANTS; do
  name=${spec%%:*}
  $PYTHON benchmarks/eval_model.py --weights "$OUT/$name/model.safetensors" --test-pack "$TEST_PACK" \
    --max-per-task "$EVAL_PER_TASK" --device "$EVAL_DEVICE" --out "$OUT/$name/eval.json" --update-card \
    > "$OUT/$name/eval.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

$PYTHON - "$OUT" $VARIANTS <<'PY' | tee -a "$OUT/summary.txt"
import json, shutil, sys
from pathlib import Path
out = Path(sys.argv[1]); names = [s.split(":")[0] for s in sys.argv[2:]]
scores = {}
for name in names:
    res = json.loads((out / name / "eval.json").read_text())["results"]
    rows = [m["model"] for t in res.values() for m in t.values()]
    scores[name] = sum(r["VIF"] + r["Qabf"] for r in rows) / len(rows)
    card = json.loads((out / name / "model_card.json").read_text())
    print(name, "score(VIF+Qabf)=%.4f" % scores[name], "iters A/B:", card["training"]["stage_a"]["iteration"],
          card["training"]["stage_b"]["iteration"])
    print((out / name / "eval.txt").read_text())
best = max(scores, key=scores.get)
if (out / "best").exists():
    shutil.rmtree(out / "best")
(out / "best").mkdir()
for f in ("model.safetensors", "model_card.json", "eval.json", "losses.jsonl"):
    if (out / best / f).exists():
        shutil.copy(out / best / f, out / "best" / f)
print("best:", best)
PY

#!/usr/bin/env bash
# Every quality table of docs/results/ for the shipped weights, in one command (about an hour on 2 CPU cores,
# half of it BM3D):
#   1. full test splits, clean and degraded (metrics against the clean sources), model vs classical rules,
#      the restore-then-fuse pipeline (bm3d + exposure correction + guided filter, `pip install -e .[bench]`)
#      and the pixel max/mean baselines: MSRS test, RoadScene held-out, Harvard MRI-PET/SPECT/CT test;
#   2. the cell-by-cell comparison with the published peers (peer_cells.py -> peer_cells.md);
#   3. quality vs sampling steps, the FCM replaced by fixed rules, the guided filter (the retired hand-made
#      prior) and loss ablations (sweep_model.py, test pack);
#   4. the thumbnail grid and the grid of the 12 lowest-SSIM test pairs.
#
#   DATA=../shared/data bash benchmarks/quality_report.sh [NO_INT_WEIGHTS NO_GRAD_WEIGHTS]
#
# After new weights, REUSE=1 REFUSE=textdifuse re-fuses only the model (the seeded degraded inputs and the
# other methods' outputs in /tmp/comparison are kept; about 15 minutes instead of an hour).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
BIN=${BIN:-.venv/bin}
PACK=${PACK:-.gpu_data/test_pack.npz}
METHODS=(max mean laplacian guided restore_guided textdifuse)
H=$DATA/medical/harvard
[ -f "$PACK" ] || "$BIN/python" -m textdifuse_desktop.model.pack_data --root "$DATA" --out "$(dirname "$PACK")/train_pack.npz"

bash benchmarks/run_comparison.sh msrs "$DATA/ir_vis/msrs_test/ir" "$DATA/ir_vis/msrs_test/vi" ir vis -- "${METHODS[@]}"
bash benchmarks/run_comparison.sh roadscene "$DATA/ir_vis/roadscene/ir" "$DATA/ir_vis/roadscene/vi" ir vis \
    models/textdifuse-compact/roadscene_test.txt -- "${METHODS[@]}"
for task in mri_pet:pet mri_spect:spect mri_ct:ct; do
  name=${task%%:*} mod=${task##*:}
  bash benchmarks/run_comparison.sh "$name" "$H/$name/mri" "$H/$name/$mod" mri "$mod" "$H/$name/splits/test.txt" \
      -- "${METHODS[@]}"
done

variants=()
[ $# -ge 2 ] && variants=(--variants "without L_int=$1" "without L_grad=$2")
"$BIN/python" benchmarks/peer_cells.py --peers "$DATA/../docs/peer-baselines.md" > docs/results/peer_cells.md
"$BIN/python" benchmarks/sweep_model.py --test-pack "$PACK" --max-per-task 6 --steps 1 2 4 8 25 \
    --rules fcm max add mean variance --rule-steps 1 --classical max mean laplacian guided "${variants[@]}" \
    --out docs/results/steps_and_ablations.md
"$BIN/python" benchmarks/thumbnail_grid.py --test-pack "$PACK" --per-task 2 --out docs/results/thumbnails.png
"$BIN/python" benchmarks/worst_pairs_grid.py --test-pack "$PACK" --out docs/results/worst_pairs.png > docs/results/worst_pairs.md

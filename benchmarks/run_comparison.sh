#!/usr/bin/env bash
# Fuse a test set with several methods, clean and with composite degradation, and evaluate both
# (degraded runs are scored against the clean sources).  Reports go to docs/results/<set>_{clean,degraded}/.
#
#   benchmarks/run_comparison.sh SET A_DIR B_DIR MOD_A MOD_B [NAMES_FILE] -- METHOD...
# e.g.
#   benchmarks/run_comparison.sh roadscene ../shared/data/ir_vis/roadscene/ir ../shared/data/ir_vis/roadscene/vi ir vis -- max mean laplacian guided
#   benchmarks/run_comparison.sh mri_pet ../shared/data/medical/harvard/mri_pet/mri ../shared/data/medical/harvard/mri_pet/pet mri pet \
#       ../shared/data/medical/harvard/mri_pet/splits/test.txt -- max mean laplacian guided textdifuse
# Method restore_guided is the restore-then-fuse baseline (bm3d + tone curve per source, then the guided
# filter: benchmarks/restore_then_fuse.py, needs the `bench` extra); every other name is `textdifuse fuse --method`.
# REUSE=1 keeps an earlier run's inputs and fused outputs in $WORK and re-fuses only the methods named in
# REFUSE (e.g. REUSE=1 REFUSE=textdifuse after new weights: the degraded inputs are the same seeded files).
set -euo pipefail
SET=$1 A=$2 B=$3 MA=$4 MB=$5; shift 5
NAMES=""; if [ "$1" != "--" ]; then NAMES=$1; shift; fi; shift
METHODS=("$@")
BIN=${BIN:-.venv/bin}; WORK=${WORK:-/tmp/comparison/$SET}; SEED=${SEED:-2024}
REPORTS=${REPORTS:-docs/results}
REUSE=${REUSE:-0}; REFUSE=" ${REFUSE:-} "
reuse() { [ "$REUSE" = 1 ] && [ -d "$1" ] && [[ "$REFUSE" != *" $2 "* ]]; }
if [ "$REUSE" = 1 ] && [ -d "$WORK/degraded/b" ]; then :; else
  rm -rf "$WORK"; mkdir -p "$WORK/clean/a" "$WORK/clean/b"
  for f in "$A"/*; do
    name=$(basename "$f")
    if [ -n "$NAMES" ] && ! grep -qx "$name" "$NAMES" && ! grep -qx "${name%.*}" "$NAMES"; then continue; fi
    ln -s "$(realpath "$f")" "$WORK/clean/a/$name"; ln -s "$(realpath "$B/$name")" "$WORK/clean/b/$name"
  done
  "$BIN/textdifuse" degrade "$WORK/clean/a" -o "$WORK/degraded/a" --modality "$MA" --seed "$SEED"
  "$BIN/textdifuse" degrade "$WORK/clean/b" -o "$WORK/degraded/b" --modality "$MB" --seed $((SEED + 1))
fi
for cond in clean degraded; do
  fused=()
  for m in "${METHODS[@]}"; do
    if reuse "$WORK/$cond/fused/$m" "$m"; then
      :
    elif [ "$m" = restore_guided ]; then
      rm -rf "$WORK/$cond/fused/$m"
      "$BIN/python" "$(dirname "$0")/restore_then_fuse.py" "$WORK/$cond/a" "$WORK/$cond/b" -o "$WORK/$cond/fused/$m" \
          --modality-a "$MA" --modality-b "$MB" --quiet
    else
      rm -rf "$WORK/$cond/fused/$m"
      "$BIN/textdifuse" fuse "$WORK/$cond/a" "$WORK/$cond/b" -o "$WORK/$cond/fused/$m" --method "$m" \
          --modality-a "$MA" --modality-b "$MB" --quiet
    fi
    fused+=("$WORK/$cond/fused/$m")
  done
  ref=(); [ "$cond" = degraded ] && ref=(--reference-a "$WORK/clean/a" --reference-b "$WORK/clean/b")
  "$BIN/textdifuse" evaluate "$WORK/$cond/a" "$WORK/$cond/b" "${fused[@]}" "${ref[@]}" -o "$REPORTS/${SET}_$cond" --thumbnails 4
done

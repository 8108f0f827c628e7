#!/usr/bin/env bash
# The three saliency-prior stage-B variants compared on one H200 (docs/results/prior_design.md), all from the shipped
# weights: ronly (fixed prior mix, learned restoration gate, prior target), stagea (the same after a stage-A
# fine-tune of the denoiser; the shipped run) and mixfid (learned mix + clean-fidelity term).
#   OUT=... BUDGET_B=320 BATCH_B=32 LR_B=1e-3 bash benchmarks/gpu_prior_variants.sh [--tiny]
export PYTHONUNBUFFERED=1
export MODEL_CONFIG='{"output": "two_scale", "gate_prior": "saliency", "base_radius": 15, "base_passes": 1, "learned_mix": false}'
export MODEL_CONFIG_mixfid='{"output": "two_scale", "gate_prior": "saliency", "base_radius": 15, "base_passes": 1}'
VARIANTS="ronly:--target-b,prior,--grad-weight,1 stagea:--target-b,prior,--grad-weight,1,--iters-a,100000,--time-budget-a,$((BUDGET_B*4/9)),--time-budget-b,$((BUDGET_B*5/9)) mixfid:--target-b,prior,--grad-weight,1,--clean-fidelity,2" bash benchmarks/gpu_stage_b.sh "$@"

#!/usr/bin/env bash
# Reproduces the pretrained 2D π-Flow students shipped in static/pretrained/<dataset>/<policy>-…-nfe2/
# (so the π-Flow notebook shows paths, the policy inspector and samples on arrival). Each is distilled
# from that dataset's shipped teacher (scripts/pretrain-teachers.sh) with the π-Flow notebook's own
# defaults (notebooks/piflow-2d.ts, notebooks/student-controls.ts): 2 NFE, 128 total substeps, 2
# intermediate states, no teacher-ratio decay, lr 5e-4, batch 512, seed 0 — for 400 π-ID iterations
# (the notebook's live sliced W1 reaches the teacher's line by then). GMFlow K = 8 for every dataset;
# DX N = 10 (grid, window 3) for every dataset too. ~30 s each on one core (wasm).
# Usage: bash scripts/pretrain-students.sh [dataset ...]
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(checkerboard moons gaussians8 spirals rings unequal8)
common=(--nfe 2 --iters 400 --batch 512 --lr 5e-4 --substeps 128 --intermediate 2 --decay-iters 0 --seed 0 --save-every 0)
for d in "${datasets[@]}"; do
  node bin/piflow.js distill --teacher "static/pretrained/$d" --policy gmflow --k 8 "${common[@]}" \
    --out "static/pretrained/$d/gmflow-k8-nfe2"
  node bin/piflow.js distill --teacher "static/pretrained/$d" --policy dx --n 10 --dx-mode grid --window 3 "${common[@]}" \
    --out "static/pretrained/$d/dx-n10-nfe2"
done

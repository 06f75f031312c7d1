#!/usr/bin/env bash
# Reproduces the pretrained 2D π-Flow students shipped in static/pretrained/<dataset>/<policy>-…-nfe2/
# (so the π-Flow notebook shows paths, the policy inspector and samples on arrival). Each is distilled
# from that dataset's shipped teacher (scripts/pretrain-teachers.sh) with the π-Flow notebook's own
# defaults (notebooks/piflow-2d.ts, notebooks/student-controls.ts): 2 NFE, 128 total substeps, 2
# intermediate states, no teacher-ratio decay, lr 5e-4, batch 512, seed 0 — for 400 π-ID iterations
# (the notebook's live sliced W1 reaches the teacher's line by then). GMFlow K = 8 for every dataset;
# DX N = 10 (grid, window 3) too, with other settings on moons and spirals, where the defaults gave
# 1.56× and 1.69× the teacher's Euler-128 sliced W1: moons 1,000 iterations (lr 5e-4), spirals 800
# iterations at lr 1e-3 (searched over lr 2e-4 … 1e-3, 400 … 1,000 iterations, N = 10 / 20, teacher-ratio
# decay and 4 intermediate states; README, "Shipped students").
# ~30–110 s each on this shared 2-core machine (wasm).
# Usage: bash scripts/pretrain-students.sh [dataset ...]; one family only: FAMILIES=dx bash scripts/pretrain-students.sh moons
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(checkerboard moons gaussians8 spirals rings unequal8)
families="${FAMILIES:-gmflow dx}"
# DX's own settings per dataset (the π-ID iterations and learning rate; the rest as above)
dx_settings() { case "$1" in moons) echo "--iters 1000 --lr 5e-4" ;; spirals) echo "--iters 800 --lr 1e-3" ;; *) echo "--iters 400 --lr 5e-4" ;; esac; }
common=(--nfe 2 --batch 512 --substeps 128 --intermediate 2 --decay-iters 0 --seed 0 --save-every 0)
for d in "${datasets[@]}"; do
  if [[ " $families " == *" gmflow "* ]]; then
    node bin/piflow.js distill --teacher "static/pretrained/$d" --policy gmflow --k 8 --iters 400 --lr 5e-4 "${common[@]}" \
      --out "static/pretrained/$d/gmflow-k8-nfe2"
  fi
  if [[ " $families " == *" dx "* ]]; then
    # shellcheck disable=SC2046
    node bin/piflow.js distill --teacher "static/pretrained/$d" --policy dx --n 10 --dx-mode grid --window 3 $(dx_settings "$d") "${common[@]}" \
      --out "static/pretrained/$d/dx-n10-nfe2"
  fi
done

#!/usr/bin/env bash
# Reproduces the pretrained 2D teachers shipped in static/pretrained/ (so a lesson starts at once).
# Each: width 128, depth 3, batch 1024, 2,000 Adam steps at lr 2e-3, seed 0, wasm backend (~1-2 min each
# on one core). Usage: bash scripts/pretrain-teachers.sh [dataset ...]; unequal8 (added later, same recipe):
#   bash scripts/pretrain-teachers.sh unequal8
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(checkerboard moons gaussians8 spirals rings unequal8)
for d in "${datasets[@]}"; do
  node bin/piflow.js train-teacher --dataset "$d" --steps 2000 --batch 1024 --lr 2e-3 \
    --width 128 --depth 3 --seed 0 --save-every 0 --out "static/pretrained/$d"
done

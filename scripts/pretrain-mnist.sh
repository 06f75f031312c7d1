#!/usr/bin/env bash
# Reproduces the pretrained MNIST models shipped in static/pretrained/mnist/ (so the MNIST lesson starts
# at once): a small patch-2 U-Net teacher (173,396 parameters) and a GMFlow student (K = 8 per pixel,
# 2 NFE) distilled from it with π-ID. Single-threaded wasm on a 2-core machine; README gives the times.
# Usage: bash scripts/pretrain-mnist.sh [teacher|student|all]
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
what="${1:-all}"
out=static/pretrained/mnist
if [ "$what" = teacher ] || [ "$what" = all ]; then
  node bin/piflow.js train-teacher --dataset mnist --size small --steps 3500 --batch 64 --lr 1e-3 \
    --warmup 200 --clip 1 --ema 0.999 --seed 0 --save-every 250 --out "$out/teacher"
fi
if [ "$what" = student ] || [ "$what" = all ]; then
  node bin/piflow.js distill --teacher "$out/teacher" --dataset mnist --policy gmflow --k 8 --nfe 2 \
    --iters 1500 --batch 32 --lr 2e-4 --warmup 100 --gm-dropout 0.05 --intermediate 2 --substeps 128 \
    --seed 0 --save-every 50 --out "$out/gmflow"
fi

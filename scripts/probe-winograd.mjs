#!/usr/bin/env node
// What a Winograd F(2x2, 3x3) convolution would leave for its transforms on a Node backend: the direct
// 3x3 'same' convolution (tfjs's fused conv2d with bias) against the 16 separate products
// [T, Cin] x [Cin, Cout] (T = B * ceil(H/2)^2 tiles) that would replace it, for the full U-Net's layers at
// the teacher step's batch 128. Medians of 5, ms. Usage: npm run build && node scripts/probe-winograd.mjs [backend]
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../dist/src/engine/backend.js';

await initNodeBackend(process.argv[2] ?? 'wasm');
const median = (f) => {
  tf.dispose(f());
  const ts = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    const y = f();
    (Array.isArray(y) ? y[y.length - 1] : y).dataSync();
    ts.push(performance.now() - t);
    tf.dispose(y);
  }
  return ts.sort((a, b) => a - b)[2];
};
for (const [B, H, Ci, Co] of [[128, 14, 64, 64], [128, 7, 96, 96], [128, 14, 128, 64]]) {
  const x = tf.randomNormal([B, H, H, Ci]);
  const w = tf.randomNormal([3, 3, Ci, Co]);
  const b = tf.randomNormal([Co]);
  const direct = median(() => tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same' }));
  const T = B * Math.ceil(H / 2) ** 2;
  const V = Array.from({ length: 16 }, () => tf.randomNormal([T, Ci]));
  const U = Array.from({ length: 16 }, () => tf.randomNormal([Ci, Co]));
  const products = median(() => V.map((v, i) => tf.matMul(v, U[i])));
  console.log(JSON.stringify({ layer: [B, H, H, Ci, Co], direct_ms: +direct.toFixed(1), products16_ms: +products.toFixed(1), left_for_transforms_ms: +(direct - products).toFixed(1) }));
  tf.dispose([x, w, b, ...V, ...U]);
}

// Winograd F(2×2, 3×3) on the wasm backend (src/engine/wasm-winograd.ts): the forward convolution (Conv2D,
// FusedConv2D with a bias), the stride-1 input gradient (the flipped kernel) and the filter gradient
// (F(3×3, 2×2)) against a float64 direct computation and against tfjs's direct convolutions
// (setWinograd(false)); the shapes it does not cover run the direct path; no tensors are left behind.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { setWinograd, winogradCalls } from '../src/engine/wasm-winograd.js';
import { Rng } from '../src/engine/rng.js';
import { refConv } from './helpers.js';

before(async () => {
  await initNodeBackend('wasm');
});

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) assert.fail(`${what}: [${i}] ${got[i]} vs ${want[i]}`);
  }
}

/** the forward, dx, dW and db of a fused conv layer (bias, 'same') through tf.grads, and how many Winograd calls ran */
function layer(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, g: tf.Tensor) {
  const c0 = winogradCalls();
  const f = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: k as tf.Tensor4D, bias: c, strides: 1, pad: 'same' });
  const y = f(x, w, b);
  const [dx, dW, db] = tf.grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => f(a, k, c).mul(g).sum())([x, w, b]);
  const out = { y: y.dataSync(), dx: dx.dataSync(), dW: dW.dataSync(), db: db.dataSync(), calls: winogradCalls() - c0 };
  tf.dispose([y, dx, dW, db]);
  return out;
}

// [B, H, W, Ci, Co]: odd and even sizes, a 1×1 image, filter gradients covered or not: with 8 | Co on the heap
// product (Ci ≥ 8, any size), else on XNNPACK's (even H, W, channels ≥ 16, 4 | tiles)
const SHAPES: [number, number, number, number, number, number][] = [
  // ... and the Winograd calls expected: two forwards (y, and again inside tf.grads) + the input gradient (+ the filter gradient)
  [4, 6, 6, 16, 20, 4], // XNNPACK's products
  [4, 8, 4, 16, 16, 4],
  [3, 7, 5, 8, 12, 3], // Co = 12 and Ci < 16: the taps
  [2, 5, 5, 4, 8, 3], // Ci = 4: the taps
  [1, 1, 1, 4, 4, 3],
  [4, 6, 6, 4, 16, 3], // Cin = 4: the taps
  [2, 6, 6, 16, 20, 3], // XNNPACK's products, 2·9 tiles, not a multiple of 4: the taps
  [2, 6, 6, 16, 16, 4], // the same tiles on the heap product
  [3, 7, 7, 8, 8, 4], // odd sizes on the heap product
  [2, 7, 5, 12, 16, 4], // Ci a multiple of 4, not 8
  [8, 14, 14, 8, 24, 4], // 392 tiles: two of the heap product's row blocks (256 + 136); g scaled (G_SCALE)
];
// dW of [8, 14, 14, 8] sums 1,568 terms: there g is scaled as a mean loss's gradient would be, so that dW is of
// order 1 (unscaled, its entries are of order 40 and float32 rounding alone exceeds 2e-5 of 1 + |dW|, in
// tfjs's direct path as much as in Winograd's: 3.3e-5 and 4.1e-5)
const G_SCALE = (B: number, H: number, W: number) => (B * H * W > 1000 ? 1 / Math.sqrt(B * H * W) : 1);

test('Winograd forward, input and filter gradients equal a float64 direct convolution, and tfjs\'s direct path', () => {
  const rng = new Rng(11);
  for (const [B, H, W, Ci, Co, expected] of SHAPES) {
    const xs = [B, H, W, Ci];
    const x = tf.tensor4d(rng.normalArray(B * H * W * Ci), xs as [number, number, number, number]);
    const w = tf.tensor4d(rng.normalArray(9 * Ci * Co), [3, 3, Ci, Co]);
    const b = tf.tensor1d(rng.normalArray(Co));
    const gs = G_SCALE(B, H, W);
    const g = tf.tensor4d(rng.normalArray(B * H * W * Co).map((v) => v * gs), [B, H, W, Co]);
    const ref = refConv(x.dataSync() as Float32Array, xs, w.dataSync() as Float32Array, [3, 3, Ci, Co], g.dataSync() as Float32Array, g.shape, 1, 1, 1);
    const bias = b.dataSync();
    for (let i = 0; i < ref.y.length; i++) ref.y[i] += bias[i % Co]; // y = conv(x, w) + b
    const what = `[${xs}] → ${Co}`;
    const wino = layer(x, w, b, g);
    assert.equal(wino.calls, expected, `${what}: Winograd calls`);
    const prev = setWinograd(false);
    let direct;
    try {
      direct = layer(x, w, b, g);
    } finally {
      setWinograd(prev);
    }
    assert.equal(direct.calls, 0, `${what}: switched off`);
    for (const [name, got] of [['winograd', wino], ['direct', direct]] as const) {
      close(got.y, ref.y, 2e-5, `${what} ${name} y`);
      close(got.dx, ref.dx, 2e-5, `${what} ${name} dx`);
      close(got.dW, ref.dW, 2e-5, `${what} ${name} dW`);
    }
    close(wino.db, direct.db, 0, `${what} db`);
    tf.dispose([x, w, b, g]);
  }
});

test('Winograd: Conv2D without a bias, and the shapes it does not cover run the direct convolution', () => {
  const rng = new Rng(12);
  const x = tf.tensor4d(rng.normalArray(2 * 6 * 6 * 8), [2, 6, 6, 8]);
  const w = tf.tensor4d(rng.normalArray(9 * 8 * 4), [3, 3, 8, 4]);
  let c0 = winogradCalls();
  const y = tf.conv2d(x, w, 1, 'same');
  assert.equal(winogradCalls() - c0, 1);
  const prev = setWinograd(false);
  const yd = tf.conv2d(x, w, 1, 'same');
  setWinograd(prev);
  close(y.dataSync(), yd.dataSync(), 2e-5, 'conv2d, no bias');
  c0 = winogradCalls();
  const x3 = tf.tensor4d(rng.normalArray(2 * 6 * 6 * 3), [2, 6, 6, 3]);
  const w5 = tf.tensor4d(rng.normalArray(25 * 8 * 4), [5, 5, 8, 4]);
  const others = [
    tf.conv2d(x, w, 2, 'same'), // strided
    tf.conv2d(x, w, 1, 'valid'), // no padding
    tf.conv2d(x, w5, 1, 'same'), // 5×5
    tf.conv2d(x3, tf.tensor4d(rng.normalArray(9 * 3 * 4), [3, 3, 3, 4]), 1, 'same'), // 3 input channels
    tf.conv2d(x, tf.tensor4d(rng.normalArray(9 * 8 * 3), [3, 3, 8, 3]), 1, 'same'), // 3 output channels
    tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation: 'relu' }), // an activation
  ];
  assert.equal(winogradCalls() - c0, 0, 'not covered: the direct path');
  tf.dispose([x, w, y, yd, x3, w5, ...others]);
});

test('Winograd: no tensors left behind, results the same from call to call', () => {
  const rng = new Rng(13);
  const x = tf.tensor4d(rng.normalArray(4 * 6 * 6 * 16), [4, 6, 6, 16]);
  const w = tf.tensor4d(rng.normalArray(9 * 16 * 16), [3, 3, 16, 16]);
  const b = tf.tensor1d(rng.normalArray(16));
  const g = tf.tensor4d(rng.normalArray(4 * 6 * 6 * 16), [4, 6, 6, 16]);
  const first = layer(x, w, b, g);
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const again = layer(x, w, b, g);
    assert.equal(again.calls, 4);
    close(again.dW, first.dW, 0, 'dW again');
    close(again.y, first.y, 0, 'y again');
  }
  assert.equal(tf.memory().numTensors, n0);
  tf.dispose([x, w, b, g]);
});

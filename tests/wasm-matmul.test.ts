// The heap kernels' products on the wasm backend (src/engine/wasm-matmul.ts heapMatMul: gemm_nn / gemm_tn in
// place of XNNPACK's for BatchMatMul and _FusedMatMul): bit for bit XNNPACK's where there is no bias (the same
// tiles, k in order), a float64 reference's within rounding with one; the shapes they do not cover run
// XNNPACK's; no tensors are left behind. (wasm's products are float32 only: other dtypes throw there.)
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { heapMatMulRuns, setHeapMatMul } from '../src/engine/wasm-matmul.js';
import { Rng } from '../src/engine/rng.js';

before(async () => {
  await initNodeBackend('wasm');
});

/** the product and how many heap products it ran, with the heap kernels on or off */
function product(on: boolean, f: () => tf.Tensor): { v: Float32Array; runs: number } {
  const prev = setHeapMatMul(on);
  try {
    const r0 = heapMatMulRuns();
    const y = f();
    const v = y.dataSync() as Float32Array;
    y.dispose();
    return { v, runs: heapMatMulRuns() - r0 };
  } finally {
    setHeapMatMul(prev);
  }
}

/** float64 a·b (+ bias) of [Q, M, K] by [Q, K, N] given as flat arrays, transposes applied */
function reference(a: Float32Array, b: Float32Array, Q: number, M: number, K: number, N: number, tA: boolean, tB: boolean, bias?: Float32Array): Float64Array {
  const out = new Float64Array(Q * M * N);
  for (let q = 0; q < Q; q++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = bias ? bias[n] : 0;
    for (let k = 0; k < K; k++) s += a[q * M * K + (tA ? k * M + m : m * K + k)] * b[q * K * N + (tB ? n * K + k : k * N + n)];
    out[(q * M + m) * N + n] = s;
  }
  return out;
}

test('heap products equal XNNPACK\'s bit for bit (no bias) and a float64 reference (with a bias): transposes, batches, odd rows and depths', () => {
  const rng = new Rng(21);
  const before = tf.memory().numTensors;
  // [Q, M, K, N, transposeA, transposeB]: M % 4 ≠ 0 (rows one by one), K = 1, K past a row block (256), batches
  const cases: [number, number, number, number, boolean, boolean][] = [
    [1, 8, 5, 8, false, false], [1, 7, 3, 16, false, false], [1, 33, 1, 8, false, true], [1, 64, 300, 24, true, false],
    [1, 12, 600, 16, true, false], [3, 9, 17, 8, false, true], [2, 8, 40, 16, true, true], [1, 130, 64, 32, false, false],
    // N % 8 columns (scalar): the 2D student's head width, N = 97, plain, transposed and batched; N = 71 past a row block
    [1, 21, 30, 97, false, false], [2, 16, 33, 97, true, false], [1, 8, 520, 71, true, false], [2, 5, 9, 67, false, true],
  ];
  for (const [Q, M, K, N, tA, tB] of cases) {
    const what = `[${Q}] ${M}×${K}·${K}×${N}${tA ? ' tA' : ''}${tB ? ' tB' : ''}`;
    const a = tf.tensor3d(rng.normalArray(Q * M * K), tA ? [Q, K, M] : [Q, M, K]);
    const b = tf.tensor3d(rng.normalArray(Q * K * N), tB ? [Q, N, K] : [Q, K, N]);
    const bias = tf.tensor1d(rng.normalArray(N));
    const f = () => tf.matMul(a, b, tA, tB);
    const heap = product(true, f);
    const xnn = product(false, f);
    assert.equal(heap.runs, 1, `${what}: heap product ran`);
    assert.equal(xnn.runs, 0);
    for (let i = 0; i < heap.v.length; i++) if (!Object.is(heap.v[i], xnn.v[i])) assert.fail(`${what}: [${i}] ${heap.v[i]} vs XNNPACK's ${xnn.v[i]}`);
    const ref = reference(a.dataSync() as Float32Array, b.dataSync() as Float32Array, Q, M, K, N, tA, tB, bias.dataSync() as Float32Array);
    const fused = product(true, () => tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias }));
    assert.equal(fused.runs, 1, `${what}: fused with a bias ran`);
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(fused.v[i] - ref[i]) <= 1e-5 * (Math.sqrt(K) + Math.abs(ref[i])), `${what} + bias: [${i}] ${fused.v[i]} vs ${ref[i]}`);
    }
    tf.dispose([a, b, bias]);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('heap products: shapes and attributes they do not cover run XNNPACK\'s', () => {
  const rng = new Rng(22);
  const t = (shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((p, q) => p * q, 1)), shape);
  const a = t([6, 5]);
  const cases: [string, () => tf.Tensor][] = [
    ['N = 60 (not a multiple of 8, under 64)', () => tf.matMul(a, t([5, 60]))],
    ['N = 4', () => tf.matMul(a, t([5, 4]))],
    ['transposeA with M = 6', () => tf.matMul(t([5, 6]), t([5, 8]), true, false)],
    ['a relu', () => tf.fused.matMul({ a, b: t([5, 8]), activation: 'relu' })],
  ];
  for (const [what, f] of cases) assert.equal(product(true, () => tf.tidy(f)).runs, 0, what);
  assert.equal(product(true, () => tf.tidy(() => tf.matMul(a, t([5, 8])))).runs, 1, 'N = 8 is covered');
  a.dispose();
});

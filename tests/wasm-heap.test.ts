// The SIMD wasm heap kernels (src/engine/wasm-heap.ts): the transpose and column sums in place on the
// wasm backend's heap, and the host Adam update, each equal (bit for bit) to the JavaScript loop it
// replaces, which stays as the fallback (setHeapKernels(false)).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { wasmBackendMemory } from '../src/engine/backend-extras.js';
import { heapKernelsError, heapKernelsFor, ownHeapKernels, setHeapKernels } from '../src/engine/wasm-heap.js';
import { adamUpdate } from '../src/engine/optim.js';
import { broadcastBlocks, sliceRuns } from '../src/engine/wasm-binary.js';
import { Rng } from '../src/engine/rng.js';
import { sumOverAxes } from './helpers.js';
import { timeEmbeddingInto, timeFreqs } from '../src/models/embedding.js';

before(async () => {
  await initNodeBackend('wasm');
});

/** runs f with the kernels on and off; returns both results */
function bothWays<T>(f: () => T): { simd: T; js: T } {
  const prev = setHeapKernels(true);
  try {
    const simd = f();
    setHeapKernels(false);
    const js = f();
    return { simd, js };
  } finally {
    setHeapKernels(prev);
  }
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: [${i}] ${a[i]} (SIMD) vs ${b[i]} (JS)`);
  }
}

test('the heap kernels load in Node and bind to the wasm backend’s own memory', () => {
  assert.equal(heapKernelsError(), null);
  const mem = wasmBackendMemory();
  assert.ok(mem, 'the wasm backend exposes its WebAssembly.Memory');
  const x = tf.ones([4, 4]);
  const view = (tf.backend() as unknown as { typedArrayFromHeap(t: unknown): Float32Array }).typedArrayFromHeap({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
  const k = heapKernelsFor(view.buffer);
  assert.ok(k && k.memory === mem, 'the kernels work on that memory');
  assert.ok(ownHeapKernels(), 'and on a memory of their own (the Adam update)');
  x.dispose();
  const prev = setHeapKernels(false);
  assert.equal(ownHeapKernels(), null, 'switched off: the JS loops');
  setHeapKernels(prev);
});

test('wasm matrix transposes: the SIMD kernel (4 × 4 blocks) equals the JS tiles and a direct computation, batched and not; other sizes fall back', () => {
  const rng = new Rng(31);
  // multiples of 4 take the kernel (tiles of 16 and their edges), the others the JS tiles
  const cases: [number[], number[]][] = [
    [[2048, 256], [1, 0]], [[36, 68], [1, 0]], [[4, 4], [1, 0]], [[3, 20, 44], [0, 2, 1]], [[2, 2, 12, 8], [0, 1, 3, 2]],
    [[1, 128, 96], [0, 2, 1]], [[37, 70], [1, 0]], [[5, 12, 6], [0, 2, 1]],
  ];
  for (const [shape, perm] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 7 - 3) : Float32Array.from(rng.normalArray(n));
      const x = tf.tensor(vals, shape, dtype);
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const y = tf.transpose(x, perm);
        const d = y.dataSync().slice();
        y.dispose();
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      sameBits(simd, js, `${shape} ${perm} ${dtype}`);
      // direct: out[.., c, r] = in[.., r, c]
      const R = shape[shape.length - 2];
      const C = shape[shape.length - 1];
      for (let o = 0; o < n; o += 1 + (o % 5)) {
        const b = Math.floor(o / (R * C));
        const c = Math.floor((o % (R * C)) / R);
        const r = o % R;
        assert.equal(simd[o], vals[b * R * C + r * C + c], `${shape} ${perm} ${dtype}: [${o}]`);
      }
      x.dispose();
    }
  }
});

test('wasm Sum and Mean over leading and middle axes: the SIMD kernel equals the JS loop bit for bit and a float64 computation', () => {
  const rng = new Rng(32);
  const cases: [number[], number[]][] = [
    [[2048, 256], [0]], [[7, 12], [0]], [[3, 5, 8], [1]], [[2, 3, 4, 5, 4], [1, 2]], [[6, 5, 4], [0, 1]], [[3, 9, 6], [1]], [[4, 8, 3], [0, 2]],
  ];
  for (const [shape, axes] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    // large and small magnitudes, so that summation order and precision would show
    const vals = Float32Array.from(rng.normalArray(n).map((v, i) => v * (i % 7 === 0 ? 1e4 : 1)));
    const x = tf.tensor(vals, shape);
    const ref = sumOverAxes(vals, shape, axes);
    const outSize = ref.length;
    const count = n / outSize;
    for (const op of ['sum', 'mean'] as const) {
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const y = op === 'sum' ? tf.sum(x, axes) : tf.mean(x, axes);
        const d = y.dataSync().slice();
        y.dispose();
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      sameBits(simd, js, `${op} ${shape} over ${axes}`);
      for (let i = 0; i < outSize; i++) {
        const want = op === 'sum' ? ref[i] : ref[i] / count;
        assert.ok(Math.abs(simd[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)) * 4, `${op} ${shape} over ${axes}: [${i}] ${simd[i]} vs ${want}`);
      }
    }
    x.dispose();
  }
});

test('the host Adam update: the SIMD kernel equals the loop bit for bit (odd and even sizes, clipping scale, first and later steps)', () => {
  const rng = new Rng(33);
  for (const n of [1, 2, 7, 256, 1001]) {
    const g = Float32Array.from(rng.normalArray(n).map((v, i) => v * (i % 3 === 0 ? 1e-6 : 3)));
    const w = Float32Array.from(rng.normalArray(n));
    const m0 = Float32Array.from(rng.normalArray(n).map((v) => v * 0.1));
    const v0 = Float32Array.from(rng.normalArray(n).map((v) => v * v * 0.01));
    for (const [t, scale] of [[1, 1], [7, 0.37]] as const) {
      const k = { scale, b1: 0.9, b2: 0.999, lr: 1e-3, c1: 1 / (1 - 0.9 ** t), c2: 1 / (1 - 0.999 ** t), eps: 1e-8 };
      const run = () => {
        const m = m0.slice();
        const v = v0.slice();
        const out = new Float32Array(n);
        adamUpdate(g, w, m, v, out, k);
        return { m, v, out };
      };
      const { simd, js } = bothWays(run);
      sameBits(simd.m, js.m, `m n=${n} t=${t}`);
      sameBits(simd.v, js.v, `v n=${n} t=${t}`);
      sameBits(simd.out, js.out, `w n=${n} t=${t}`);
      // and it is an Adam step: w moves against the gradient's sign by about lr (m̂/√v̂ ≈ ±1 on a first step from zero moments)
      if (t === 1) {
        const z = new Float32Array(n);
        const m = z.slice();
        const v = z.slice();
        const out = new Float32Array(n);
        adamUpdate(g, w, m, v, out, k);
        for (let i = 0; i < n; i++) {
          if (Math.abs(g[i]) > 1e-3) assert.ok(Math.abs(w[i] - out[i] - 1e-3 * Math.sign(g[i])) < 1e-6, `first step [${i}]`);
        }
      }
    }
  }
});

test('the committed heap-kernel module is what scripts/build-wasm-heap.mjs builds from its text', () => {
  const r = spawnSync(process.execPath, ['scripts/build-wasm-heap.mjs', '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
});

test('wasm Sin and Cos on the heap kernel (float64, two values a vector) equal Math.sin / Math.cos rounded to float32 on 2^20 embedding-like angles, large, tiny and special ones', () => {
  const rng = new Rng(34);
  // the coordinate embedding's angles (|x| up to ~6,000), time-embedding-like ones, small ones; then values past
  // the kernel's reduction limit (redone by Math.sin), ±0, exact multiples of π/2, non-finite; odd length
  const n = (1 << 20) + 1;
  const vals = Float32Array.from(rng.normalArray(n).map((v, i) => v * [5000, 300, 3, 1e-3, 1e-30][i % 5]));
  vals.set([0, -0, Math.PI / 2, -Math.PI, 1e5 + 3, -2e5, 1e30, Infinity, -Infinity, NaN, 3e-39], 0);
  const x = tf.tensor(vals);
  const before = tf.memory().numTensors;
  for (const [name, op, ref] of [['Sin', tf.sin, Math.sin], ['Cos', tf.cos, Math.cos]] as const) {
    const { simd, js } = bothWays(() => {
      const y = op(x);
      const d = y.dataSync().slice();
      y.dispose();
      return d;
    });
    sameBits(simd, js, name);
    for (let i = 0; i < n; i++) {
      const want = Math.fround(ref(vals[i]));
      if (!Object.is(simd[i], want)) assert.fail(`${name}(${vals[i]}) = ${simd[i]}, expected ${want}`);
    }
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

test('the time embedding on the heap kernel equals the Math.cos / Math.sin loop bit for bit (distinct and repeated sigmas, odd half-widths, rows in a wider stride)', () => {
  const rng = new Rng(35);
  for (const [timeDim, B, stride] of [[64, 4099, 64], [6, 301, 6], [64, 257, 128], [10, 40, 13]] as const) {
    // distinct sigmas, runs of equal ones (sampling), the ends of [0, 1], a time past the kernel's reduction limit
    const sigma = Float64Array.from({ length: B }, (_, i) => (i % 97 < 50 ? rng.uniform() : Math.floor(i / 10) / (B / 10)));
    sigma.set([0, 1, 0.5, 0.5, 0.5, 1e-9, 250], 0);
    const { simd, js } = bothWays(() => {
      const out = new Float32Array(B * stride).fill(7); // what lies outside the rows stays
      timeEmbeddingInto(sigma, timeDim, out, stride);
      return out;
    });
    sameBits(simd, js, `timeDim ${timeDim}, B ${B}, stride ${stride}`);
    const h = timeDim / 2;
    const f = timeFreqs(timeDim);
    for (let i = 0; i < B; i += 7) {
      for (let j = 0; j < h; j++) {
        assert.equal(simd[i * stride + j], Math.fround(Math.cos(1000 * sigma[i] * f[j])), `cos row ${i} col ${j}`);
        assert.equal(simd[i * stride + h + j], Math.fround(Math.sin(1000 * sigma[i] * f[j])), `sin row ${i} col ${j}`);
      }
      if (stride > timeDim) assert.equal(simd[i * stride + timeDim], 7, 'the rest of the row is untouched');
    }
  }
});

test('broadcastBlocks merges a broadcast into [A, M, G, Cg] blocks, or refuses', () => {
  assert.deepEqual(broadcastBlocks([128, 14, 14, 8, 8], [128, 14, 14, 8, 8], [128, 1, 1, 8, 1]), [128, 196, 8, 8]);
  assert.deepEqual(broadcastBlocks([6, 3, 4, 4], [6, 3, 4, 4], [6, 1, 1, 1]), [1, 1, 6, 48]); // per sample
  assert.deepEqual(broadcastBlocks([5, 8], [5, 8], []), [1, 1, 1, 40]); // a scalar
  assert.deepEqual(broadcastBlocks([5, 8], [5, 8], [8]), [1, 5, 8, 1]); // a bias row (Cg 1: left to wasm)
  assert.equal(broadcastBlocks([2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [1, 3, 1, 5, 1]), null); // too many blocks
  assert.equal(broadcastBlocks([4, 6], [4, 1], [1, 6]), null); // neither operand is full
  assert.equal(broadcastBlocks([4, 6], [4, 6], [2, 6]), null); // not a broadcast
});

test('wasm Multiply, Add and Sub with one operand broadcast (GroupNorm, per-sample factors): the heap kernel equals wasm’s own bit for bit, either order; gradients flow', () => {
  const rng = new Rng(36);
  const cases: [number[], number[]][] = [
    [[4, 5, 5, 2, 8], [4, 1, 1, 2, 1]], [[4, 1, 1, 2, 1], [4, 5, 5, 2, 8]], [[3, 4, 6, 6], [3, 1, 1, 1]], [[3, 1, 1, 1], [3, 4, 6, 6]],
    [[7, 12], []], [[], [7, 12]], [[4, 6, 6, 3], [4, 1, 1, 3]], [[5, 7], [7]], [[2, 3, 4], [2, 3, 4]], [[2, 12, 4], [2, 1, 4]],
    // short full runs (the float32 loop): a point against its K means, either order; three channels; one
    [[6, 1, 2], [6, 32, 2]], [[6, 32, 2], [6, 1, 2]], [[5, 7, 3], [5, 1, 3]], [[9, 1, 1], [9, 4, 1]],
  ];
  for (const [sa, sb] of cases) {
    const na = sa.reduce((p, d) => p * d, 1);
    const nb = sb.reduce((p, d) => p * d, 1);
    const a = tf.tensor(Float32Array.from(rng.normalArray(na)), sa);
    const b = tf.tensor(Float32Array.from(rng.normalArray(nb).map((v) => v + 0.5)), sb);
    for (const [name, op] of [['mul', tf.mul], ['add', tf.add], ['sub', tf.sub]] as const) {
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const y = op(a, b);
        const d = { shape: y.shape, v: y.dataSync().slice() };
        y.dispose();
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(simd.shape, js.shape);
      sameBits(simd.v, js.v, `${name} [${sa}] [${sb}]`);
    }
    tf.dispose([a, b]);
  }
  // int32 stays with wasm's kernel
  const i = tf.mul(tf.tensor([[1, 2, 3, 4]], [1, 4], 'int32'), tf.tensor([3], [1], 'int32'));
  assert.deepEqual(Array.from(i.dataSync()), [3, 6, 9, 12]);
  i.dispose();
  // d/dx Σ (x − m)·r with m, r broadcast: r; d/dm: −Σ r over the block
  const x = tf.randomNormal([2, 3, 3, 1, 4], 0, 1, 'float32', 3);
  const m = tf.tensor([0.5, -1], [2, 1, 1, 1, 1]);
  const r = tf.tensor([2, 3], [2, 1, 1, 1, 1]);
  const [gx, gm] = tf.grads((xx: tf.Tensor, mm: tf.Tensor) => xx.sub(mm).mul(r).sum())([x, m]);
  const gxv = gx.dataSync();
  for (let k = 0; k < gxv.length; k++) assert.equal(gxv[k], k < 36 ? 2 : 3);
  assert.deepEqual(Array.from(gm.dataSync()), [-72, -108]);
  tf.dispose([x, m, r, gx, gm]);
});

test('wasm Slice and SplitV cutting one axis: the heap kernel’s runs equal wasm’s own bit for bit (float32 and int32); other slices fall back', () => {
  assert.deepEqual(sliceRuns([4, 6, 8], [0, 2, 0], [4, 3, 8]), { outer: 4, len: 24, stride: 48, offset: 16 });
  assert.deepEqual(sliceRuns([4, 6, 8], [1, 0, 0], [2, 6, 8]), { outer: 1, len: 96, stride: 192, offset: 48 });
  assert.equal(sliceRuns([4, 6, 8], [1, 1, 0], [2, 3, 8]), null); // two cut axes
  assert.equal(sliceRuns([4, 6], [0, 0], [4, 6]), null); // the whole tensor
  const rng = new Rng(37);
  const cases: [number[], number[], number[]][] = [
    [[5, 6, 7, 9], [0, 0, 0, 3], [5, 6, 7, 5]], [[5, 6, 7, 9], [2, 0, 0, 0], [3, 6, 7, 9]], [[5, 6, 7, 9], [0, 1, 0, 0], [5, 4, 7, 9]],
    [[5, 6, 7, 9], [0, 0, 2, 0], [-1, -1, 5, -1]], [[5, 6, 7, 9], [1, 1, 0, 0], [2, 2, 7, 9]], [[13], [3], [7]], [[4, 6], [0, 2], [4, 0]],
  ];
  for (const dtype of ['float32', 'int32'] as const) {
    for (const [shape, begin, size] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 3 - 7) : Float32Array.from(rng.normalArray(n)), shape, dtype);
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const y = tf.slice(x, begin, size);
        const d = { shape: y.shape, v: y.dataSync().slice() };
        y.dispose();
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(simd.shape, js.shape);
      sameBits(simd.v, js.v, `slice [${shape}] at [${begin}] size [${size}] ${dtype}`);
      x.dispose();
    }
    const x = tf.tensor(Float32Array.from(rng.normalArray(3 * 4 * 10)), [3, 4, 10]).cast(dtype);
    for (const [splits, axis] of [[2, 2], [[3, -1, 5], 2], [[1, 3], 1], [3, 0]] as [number | number[], number][]) {
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const ys = tf.split(x, splits, axis);
        const d = ys.map((y) => ({ shape: y.shape, v: y.dataSync().slice() }));
        tf.dispose(ys);
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      assert.equal(simd.length, js.length);
      simd.forEach((p, i) => {
        assert.deepEqual(p.shape, js[i].shape);
        sameBits(p.v, js[i].v, `split ${JSON.stringify(splits)} axis ${axis} ${dtype} part ${i}`);
      });
    }
    x.dispose();
  }
  // a slice's gradient still flows (pad back into place)
  const a = tf.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]);
  const g = tf.grad((t: tf.Tensor) => tf.slice(t, [0, 1], [2, 2]).mul(tf.tensor([[1, 2], [3, 4]])).sum())(a);
  assert.deepEqual(Array.from(g.dataSync()), [0, 1, 2, 0, 0, 3, 4, 0]);
  tf.dispose([a, g]);
});

test('wasm Concat by strided copies equals wasm’s own bit for bit: any axis, several inputs, int32, empty parts; gradients flow', () => {
  const rng = new Rng(38);
  const cases: [number[][], number][] = [
    [[[3, 4, 5], [3, 4, 7]], 2], [[[3, 4, 5], [3, 2, 5], [3, 1, 5]], 1], [[[2, 4, 5], [3, 4, 5]], 0], [[[6, 3], [6, 0], [6, 5]], 1],
    [[[6, 0], [6, 5]], 1], [[[1], [2], [3]], 0],
  ];
  for (const dtype of ['float32', 'int32'] as const) {
    for (const [shapes, axis] of cases) {
      const xs = shapes.map((s) => {
        const n = s.reduce((a, b) => a * b, 1);
        return tf.tensor(dtype === 'int32' ? Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 100)) : Float32Array.from(rng.normalArray(n)), s, dtype);
      });
      const before = tf.memory().numTensors;
      const { simd, js } = bothWays(() => {
        const y = tf.concat(xs, axis);
        const d = { shape: y.shape, v: y.dataSync().slice() };
        y.dispose();
        return d;
      });
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(simd.shape, js.shape);
      sameBits(simd.v, js.v, `concat ${JSON.stringify(shapes)} axis ${axis} ${dtype}`);
      tf.dispose(xs);
    }
  }
  const a = tf.tensor([[1, 2], [3, 4]]);
  const b = tf.tensor([[5], [6]]);
  const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.concat([p, q], 1).mul(tf.tensor([[1, 2, 3], [4, 5, 6]])).sum())([a, b]);
  assert.deepEqual(Array.from(ga.dataSync()), [1, 2, 4, 5]);
  assert.deepEqual(Array.from(gb.dataSync()), [3, 6]);
  tf.dispose([a, b, ga, gb]);
});

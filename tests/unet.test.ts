import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { sumOverAxes } from './helpers.js';
import { pointwiseGradRuns, setSubPixelInputGrad, setWasmFilterGradMode, stridedTapGradRuns, subPixelInputGradRuns } from '../src/engine/wasm-conv.js';
import { refConv } from './helpers.js';
import { wasmFastTrigInstalled } from '../src/engine/wasm-trig.js';
import {
  DEFAULT_UNET, createImageNet, initImageStudentFromTeacher, patchify, splitImageDxOutput, splitImageGmflowOutput,
  unetParamCount, unpatchify, type UNetConfig,
} from '../src/models/unet.js';
import { loadImageNet, saveImageNet } from '../src/models/image-io-node.js';

before(async () => {
  await initNodeBackend('wasm');
});

const TINY: UNetConfig = { ...DEFAULT_UNET, base: 16, mid: 16, groups: 4, embDim: 32, timeDim: 16 };

/** random x, w and an output gradient g for conv2d(x, w, s, padding), with the float64 reference (refConv) */
function convCase(rng: Rng, xs: number[], ws: number[], s: number, padding: 'same' | 'valid' | number) {
  const x = tf.tensor4d(rng.normalArray(xs.reduce((a, b) => a * b)), xs as [number, number, number, number]);
  const w = tf.tensor4d(rng.normalArray(ws.reduce((a, b) => a * b)), ws as [number, number, number, number]);
  const out = tf.conv2d(x, w, s, padding);
  const g = tf.tensor(rng.normalArray(out.size), out.shape);
  const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], ws as [number, number, number, number], s, 1, padding);
  const ref = refConv(x.dataSync() as Float32Array, xs, w.dataSync() as Float32Array, ws, g.dataSync() as Float32Array, out.shape, s, info.padInfo.top, info.padInfo.left);
  return { x, w, out, g, ref };
}

test('wasm conv gradients (filter: per-tap products, conv and im2col forms, 1×1 as one product; input, strided too) equal a direct computation', () => {
  const rng = new Rng(3);
  const cases: [number, number, number, 'same' | 'valid'][] = [
    [3, 1, 6, 'same'], [3, 2, 6, 'same'], [1, 1, 5, 'same'], [3, 2, 7, 'same'], [3, 2, 8, 'valid'], [3, 3, 8, 'same'],
    [2, 2, 7, 'valid'], [5, 2, 9, 'same'], [1, 2, 6, 'valid'],
  ];
  for (const [k, s, H, padding] of cases) {
    const { x, w, out, g, ref } = convCase(rng, [2, H, H, 3], [k, k, 3, 4], s, padding);
    for (const mode of ['taps', 'conv', 'im2col'] as const) {
      setWasmFilterGradMode(mode);
      const pw0 = pointwiseGradRuns();
      const [dx, dW] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, padding).mul(g).sum())([x, w]);
      const dWv = dW.dataSync();
      const dxv = dx.dataSync();
      for (let i = 0; i < dWv.length; i++) assert.ok(Math.abs(dWv[i] - ref.dW[i]) < 1e-3, `${mode} k${k} s${s} ${padding}: dW[${i}] ${dWv[i]} vs ${ref.dW[i]}`);
      for (let i = 0; i < dxv.length; i++) assert.ok(Math.abs(dxv[i] - ref.dx[i]) < 1e-3, `k${k} s${s} ${padding}: dx[${i}] ${dxv[i]} vs ${ref.dx[i]}`);
      // a 1×1 stride-1 convolution's gradients are single products (the filter gradient in 'taps' mode only)
      assert.equal(pointwiseGradRuns() - pw0, k === 1 && s === 1 ? (mode === 'taps' ? 2 : 1) : 0, `k${k} s${s} ${mode}: 1×1 products`);
      tf.dispose([dx, dW]);
    }
    setWasmFilterGradMode('taps');
    tf.dispose([x, w, out, g]);
  }
});

test('wasm strided input gradient in sub-pixel form (one stride-1 conv a phase) equals a direct computation; shapes it does not cover take the dilated form', () => {
  const rng = new Rng(4);
  // [kernel, stride, size, padding, covered]: 'same' at an even size pads 0 before (s = 2), an explicit 1 pads 1
  // before; 5×5 and 4×4 kernels, stride 3; an odd size and a kernel smaller than the stride are not covered
  const cases: [number, number, number, 'same' | 'valid' | number, boolean][] = [
    [3, 2, 8, 'same', true], [3, 2, 8, 1, true], [5, 2, 8, 'same', true], [4, 2, 8, 'same', true], [3, 3, 9, 'same', true],
    [2, 2, 8, 'valid', true], [3, 2, 7, 'same', false], [1, 2, 6, 'valid', false],
  ];
  const tensorsBefore = tf.memory().numTensors;
  for (const [k, s, H, padding, covered] of cases) {
    const { x, w, out, g, ref } = convCase(rng, [3, H, H, 5], [k, k, 5, 6], s, padding);
    const dxOf = (on: boolean) => {
      const prev = setSubPixelInputGrad(on);
      try {
        const runs = subPixelInputGradRuns();
        const dx = tf.grad((a: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, w, s, padding).mul(g).sum())(x);
        const v = dx.dataSync();
        dx.dispose();
        return { v, ran: subPixelInputGradRuns() - runs };
      } finally {
        setSubPixelInputGrad(prev);
      }
    };
    const sub = dxOf(true);
    const dilated = dxOf(false);
    const label = `k${k} s${s} H${H} pad ${padding}`;
    assert.equal(sub.ran, covered ? 1 : 0, `${label}: sub-pixel form ran`);
    assert.equal(dilated.ran, 0);
    for (let i = 0; i < ref.dx.length; i++) {
      assert.ok(Math.abs(sub.v[i] - ref.dx[i]) < 1e-4 * (1 + Math.abs(ref.dx[i])), `${label}: dx[${i}] ${sub.v[i]} vs ${ref.dx[i]}`);
      assert.ok(Math.abs(dilated.v[i] - ref.dx[i]) < 1e-4 * (1 + Math.abs(ref.dx[i])), `${label} (dilated): dx[${i}] ${dilated.v[i]} vs ${ref.dx[i]}`);
    }
    tf.dispose([x, w, out, g]);
  }
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('wasm strided filter gradient as per-tap heap products equals a direct computation and the swapped-axes form; uncovered channel counts take that form', () => {
  const rng = new Rng(5);
  // [kernel, stride, size, padding, Cin, Cout, covered]: Cin % 4 = 0 and (8 | Cout or Cout ≥ 64)
  const cases: [number, number, number, 'same' | 'valid', number, number, boolean][] = [
    [3, 2, 8, 'same', 4, 8, true], [3, 2, 7, 'same', 8, 16, true], [5, 2, 9, 'valid', 4, 67, true], [3, 3, 10, 'same', 12, 8, true],
    [2, 2, 6, 'valid', 8, 24, true], [3, 2, 8, 'same', 6, 8, false], [3, 2, 8, 'same', 4, 12, false],
  ];
  const tensorsBefore = tf.memory().numTensors;
  for (const [k, s, H, padding, Ci, Co, covered] of cases) {
    const { x, w, out, g, ref } = convCase(rng, [3, H, H, Ci], [k, k, Ci, Co], s, padding);
    const label = `k${k} s${s} H${H} ${padding} ${Ci} → ${Co}`;
    for (const mode of ['taps', 'conv'] as const) {
      setWasmFilterGradMode(mode);
      const r0 = stridedTapGradRuns();
      const dW = tf.grad((b: tf.Tensor) => tf.conv2d(x, b as tf.Tensor4D, s, padding).mul(g).sum())(w);
      const v = dW.dataSync();
      dW.dispose();
      assert.equal(stridedTapGradRuns() - r0, covered && mode === 'taps' ? 1 : 0, `${label} ${mode}: per-tap products ran`);
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - ref.dW[i]) < 1e-4 * (1 + Math.abs(ref.dW[i])), `${label} ${mode}: dW[${i}] ${v[i]} vs ${ref.dW[i]}`);
    }
    setWasmFilterGradMode('taps');
    tf.dispose([x, w, out, g]);
  }
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('U-Net: parameter counts (recipe size 677,540) and output shapes per head', () => {
  const full = createImageNet(DEFAULT_UNET, new Rng(0));
  assert.equal(unetParamCount(full.model), 677540);
  full.dispose();
  const x = tf.randomNormal([2, 1, 28, 28]) as tf.Tensor4D;
  const sig = Float64Array.from([0.3, 0.9]);
  for (const [cfg, J] of [[TINY, 1], [{ ...TINY, kind: 'gmflow', k: 3 }, 6], [{ ...TINY, kind: 'dx', n: 4 }, 4]] as const) {
    const net = createImageNet(cfg as UNetConfig, new Rng(1));
    const o = net.apply(x, sig);
    assert.deepEqual(o.out.shape, [2, J, 28, 28]);
    if (cfg.kind === 'gmflow') {
      assert.deepEqual(o.logstd!.shape, [2, 1]);
      const p = splitImageGmflowOutput(o, 3, 1);
      assert.deepEqual(p.means.shape, [2, 3, 1, 28, 28]);
      assert.deepEqual(p.logweights.shape, [2, 3, 1, 28, 28]);
      assert.deepEqual(p.logstds.shape, [2, 1, 1, 1, 1]);
      assert.ok(Math.abs(p.logstds.dataSync()[0] - Math.log(0.05)) < 1e-6);
      const ws = tf.exp(p.logweights).sum(1).dataSync();
      for (const v of ws) assert.ok(Math.abs(v - 1) < 1e-5);
      tf.dispose([p.means, p.logweights, p.logstds]);
    }
    if (cfg.kind === 'dx') assert.deepEqual(splitImageDxOutput(o, 4, 1).shape, [2, 4, 1, 28, 28]);
    o.out.dispose();
    o.logstd?.dispose();
    net.dispose();
  }
  // patchify/unpatchify are inverse
  const back = unpatchify(patchify(x));
  assert.deepEqual(back.dataSync(), x.dataSync());
  x.dispose();
});

test('U-Net: save/load round trip gives identical outputs; bad weights give a clear error', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unet-'));
  try {
    const cfg: UNetConfig = { ...TINY, kind: 'gmflow', k: 2 };
    const net = createImageNet(cfg, new Rng(5));
    const x = tf.randomNormal([2, 1, 28, 28], 0, 1, 'float32', 1) as tf.Tensor4D;
    const sig = Float64Array.from([0.2, 0.7]);
    const a = net.apply(x, sig);
    await saveImageNet(net, path.join(dir, 'm'), { note: 'x' });
    const loaded = await loadImageNet(path.join(dir, 'm'), 'gmflow');
    assert.deepEqual(loaded.meta, { note: 'x' });
    const b = loaded.apply(x, sig);
    assert.deepEqual(b.out.dataSync(), a.out.dataSync());
    assert.deepEqual(b.logstd!.dataSync(), a.logstd!.dataSync());
    await assert.rejects(loadImageNet(path.join(dir, 'm'), 'teacher'), /expected a 'teacher' network/);
    await fs.writeFile(path.join(dir, 'm', 'weights.bin'), new Uint8Array(10));
    await assert.rejects(loadImageNet(path.join(dir, 'm')), /weights.bin: 10 bytes, expected/);
    tf.dispose([x, a.out, a.logstd!, b.out, b.logstd!]);
    net.dispose();
    loaded.dispose();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('student init from teacher: means == teacher u (zero noise), DX points too; gradients reach every weight', () => {
  const teacher = createImageNet(TINY, new Rng(2));
  // make the zero-initialised convs non-zero so the check is not trivial
  tf.tidy(() => {
    for (const l of teacher.model.layers) if (l.name.endsWith('_conv2')) l.setWeights(l.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.05, 'float32', 9)));
  });
  const x = tf.randomNormal([2, 1, 28, 28], 0, 1, 'float32', 2) as tf.Tensor4D;
  const sig = Float64Array.from([0.4, 0.8]);
  const u = teacher.apply(x, sig).out;
  const gm = createImageNet({ ...TINY, kind: 'gmflow', k: 3 }, new Rng(3));
  initImageStudentFromTeacher(gm, teacher, new Rng(4), { noiseStd: 0 });
  const p = splitImageGmflowOutput(gm.apply(x, sig), 3, 1);
  const uv = u.dataSync();
  const mv = p.means.dataSync();
  for (let k = 0; k < 3; k++) {
    for (let b = 0; b < 2; b++) for (let i = 0; i < 784; i++) {
      const d = Math.abs(mv[(b * 3 + k) * 784 + i] - uv[b * 784 + i]);
      assert.ok(d < 1e-4, `k${k} b${b} i${i}: ${d}`);
    }
  }
  for (const v of tf.exp(p.logweights).dataSync()) assert.ok(Math.abs(v - 1 / 3) < 1e-5);
  const dx = createImageNet({ ...TINY, kind: 'dx', n: 2 }, new Rng(3));
  initImageStudentFromTeacher(dx, teacher, new Rng(4));
  const d = splitImageDxOutput(dx.apply(x, sig), 2, 1).dataSync();
  for (let i = 0; i < 784; i++) assert.ok(Math.abs(d[784 + i] - uv[i]) < 1e-4);
  // gradients flow into every trainable weight of the student
  const vars = gm.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { grads } = tf.variableGrads(() => {
    const q = splitImageGmflowOutput(gm.apply(x, sig), 3, 1);
    return q.means.square().mean().add(q.logweights.mul(q.means).mean()).add(q.logstds.sum()) as tf.Scalar;
  }, vars);
  for (const v of vars) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${v.name}`);
    const n = g.abs().sum().dataSync()[0];
    assert.ok(Number.isFinite(n), `${v.name}: non-finite gradient`);
    if (!v.name.includes('logstd1')) assert.ok(n > 0, `${v.name}: zero gradient`); // logstd1 feeds a zero kernel
  }
  tf.dispose(grads);
  teacher.dispose();
  gm.dispose();
  dx.dispose();
});

test('wasm Identity and same-dtype Cast share data by reference count: values, independence, memory freed', () => {
  const bytes0 = tf.memory().numBytes;
  const a = tf.tensor1d([1, 2, 3]);
  const b = a.clone();
  const c = tf.cast(a, 'float32');
  const d = tf.cast(a, 'int32'); // another dtype: a real conversion
  a.dispose();
  assert.deepEqual([...b.dataSync()], [1, 2, 3]);
  assert.deepEqual([...c.dataSync()], [1, 2, 3]);
  assert.equal(d.dtype, 'int32');
  const e = b.add(1); // a fresh output; b and c unchanged
  assert.deepEqual([...c.dataSync()], [1, 2, 3]);
  assert.deepEqual([...e.dataSync()], [2, 3, 4]);
  tf.dispose([b, c, d, e]);
  assert.equal(tf.memory().numBytes, bytes0);
  // the gradient tape saves tensors with Identity: gradients are still right
  const g = tf.grad((x: tf.Tensor) => x.square().mul(x).sum())(tf.tensor1d([1, 2]));
  assert.deepEqual([...g.dataSync()], [3, 12]);
});

test('wasm Sum and Mean over non-innermost axes (matrix product with ones) equal a direct computation', () => {
  const rng = new Rng(12);
  const cases: [number[], number[]][] = [
    [[6, 5, 4], [0, 1]], [[6, 5, 4], [0]], [[3, 7, 5], [1]], [[2, 3, 4, 5, 3], [1, 2, 4]], [[4, 6, 3], [0, 2]],
    [[5, 1, 4], [0, 1]], [[2, 3, 4], [0, 1, 2]], [[3, 4], [1]], [[2, 3, 4, 5], [0, 2]], [[4, 5], [0]],
  ];
  for (const [shape, axes] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = rng.normalArray(n);
    const x = tf.tensor(vals, shape);
    // direct: each element added into its output cell
    const ref = sumOverAxes(vals, shape, axes);
    const outSize = ref.length;
    const count = n / outSize;
    for (const keepDims of [false, true]) {
      const before = tf.memory().numTensors;
      const s = tf.sum(x, axes, keepDims);
      const m = tf.mean(x, axes, keepDims);
      const want = shape.map((d, i) => (axes.includes(i) ? 1 : d)).filter((_, i) => keepDims || !axes.includes(i));
      assert.deepEqual(s.shape, want, `${shape} ${axes}`);
      assert.deepEqual(m.shape, want);
      const sv = s.dataSync();
      const mv = m.dataSync();
      for (let i = 0; i < outSize; i++) {
        assert.ok(Math.abs(sv[i] - ref[i]) < 1e-4, `sum ${shape} over ${axes}: [${i}] ${sv[i]} vs ${ref[i]}`);
        assert.ok(Math.abs(mv[i] - ref[i] / count) < 1e-5, `mean ${shape} over ${axes}: [${i}] ${mv[i]} vs ${ref[i] / count}`);
      }
      tf.dispose([s, m]);
      assert.equal(tf.memory().numTensors, before);
    }
    x.dispose();
  }
});

test('wasm Transpose (above rank 4: merged axes or a loop over the heap; matrix transposes: tiles) equals a direct computation', () => {
  const rng = new Rng(21);
  const cases: [number[], number[]][] = [
    [[3, 4, 5, 2, 2, 2], [0, 3, 1, 4, 2, 5]], [[2, 3, 4, 5, 2], [0, 2, 1, 4, 3]], [[2, 3, 1, 4, 2], [4, 0, 3, 2, 1]],
    [[3, 2, 2, 4, 5, 2], [0, 1, 4, 2, 5, 3]], [[2, 3, 4, 5, 6], [0, 1, 2, 4, 3]], [[1, 2, 3, 1, 4, 1], [5, 4, 3, 2, 1, 0]],
    // (batched) matrix transposes, sizes off the 32 × 32 tiles: dense backprop's xᵀ, a merged [5, 7] swap,
    // a [B, R, C] swap, and a rank-3 permutation that is no swap (wasm's own kernel)
    [[37, 70], [1, 0]], [[1, 130, 97], [0, 2, 1]], [[5, 1, 7], [2, 1, 0]], [[3, 33, 65], [0, 2, 1]], [[2, 3, 4, 5], [0, 1, 3, 2]],
    [[2, 3, 4], [1, 0, 2]], [[4, 6], [0, 1]],
  ];
  for (const [shape, perm] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 7 - 3) : Float32Array.from(rng.normalArray(n));
      const x = tf.tensor(vals, shape, dtype);
      const y = tf.transpose(x, perm);
      const outShape = perm.map((p) => shape[p]);
      assert.deepEqual(y.shape, outShape);
      const got = y.dataSync();
      const inStr = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
      const idx = new Array(shape.length).fill(0);
      for (let o = 0; o < n; o++) {
        let src = 0;
        perm.forEach((p, d) => (src += idx[d] * inStr[p]));
        assert.equal(got[o], vals[src], `${shape} ${perm} ${dtype}: [${o}]`);
        for (let d = shape.length - 1; d >= 0; d--) if (++idx[d] < outShape[d]) break; else idx[d] = 0;
      }
      tf.dispose([x, y]);
    }
  }
  // gradients through a rank-6 transpose (patchify/unpatchify) still flow
  const g = tf.grad((a: tf.Tensor) => tf.transpose(a, [0, 3, 1, 4, 2, 5]).mul(tf.range(0, 48).reshape([1, 2, 2, 2, 2, 3])).sum())(tf.ones([1, 2, 2, 2, 2, 3]));
  assert.equal(g.shape.length, 6);
  assert.equal(g.sum().dataSync()[0], (47 * 48) / 2);
});

test('wasm Sin and Cos (a loop of Math.sin / Math.cos over the heap) give sin/cos correctly rounded to float32 (the C kernels are up to 2.5e-7 off); gradients flow; no leaks', () => {
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(wasmFastTrigInstalled(), 'the loops replace the wasm kernels');
  const rng = new Rng(22);
  // angles like the coordinate embedding's (|x| up to ~5,000), small ones, exact multiples of π/2, ±0, non-finite
  const vals = Float32Array.from([...rng.normalArray(3000).map((v, i) => v * (i % 3 === 0 ? 5000 : i % 3 === 1 ? 3 : 1e-3)),
    0, -0, Math.PI / 2, Math.PI, 1e30, -1e30, Infinity, -Infinity, NaN]);
  const before = tf.memory().numTensors;
  const x = tf.tensor(vals, [vals.length / 3, 3]);
  for (const [name, op, ref] of [['Sin', tf.sin, Math.sin], ['Cos', tf.cos, Math.cos]] as const) {
    const y = op(x);
    assert.deepEqual(y.shape, x.shape);
    const got = y.dataSync();
    vals.forEach((v, i) => {
      const want = Math.fround(ref(v));
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got[i]), `${name}(${v}) = ${got[i]}, expected NaN`);
      else assert.equal(got[i], want, `${name}(${v})`);
    });
    y.dispose();
  }
  // d/dx Σ sin(x)·w = cos(x)·w; d/dx Σ cos(x) = −sin(x)
  const small = tf.tensor([0.3, -1.2, 2.5, 40]);
  const [gs] = tf.grads((a: tf.Tensor) => tf.sin(a).mul(tf.tensor([1, 2, 3, 4])).sum())([small]);
  const [gc] = tf.grads((a: tf.Tensor) => tf.cos(a).sum())([small]);
  [0.3, -1.2, 2.5, 40].forEach((v, i) => {
    assert.ok(Math.abs(gs.dataSync()[i] - Math.cos(v) * (i + 1)) < 1e-5, `sin' at ${v}`);
    assert.ok(Math.abs(gc.dataSync()[i] + Math.sin(v)) < 1e-6, `cos' at ${v}`);
  });
  tf.dispose([x, small, gs, gc]);
  assert.equal(tf.memory().numTensors, before);
});

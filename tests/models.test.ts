import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { embed2d, embedDims } from '../src/models/embedding.js';
import {
  createMlp,
  createToyNet,
  initStudentFromTeacher,
  paramCount,
  splitDxOutput,
  splitGmflowOutput,
  type MlpConfig,
} from '../src/models/mlp.js';
import { loadToyNet, saveToyNet } from '../src/models/io-node.js';

const TEACHER: MlpConfig = { kind: 'teacher', width: 256, depth: 4 };
const GMFLOW: MlpConfig = { kind: 'gmflow', width: 256, depth: 4, k: 32 };
const DX: MlpConfig = { kind: 'dx', width: 64, depth: 2, n: 10 };

before(async () => {
  await initNodeBackend('wasm');
});

/** Run `fn`, then check that no tensors leaked. */
async function noLeak(fn: () => unknown | Promise<unknown>): Promise<void> {
  const base = tf.memory().numTensors;
  await fn();
  assert.equal(tf.memory().numTensors, base, 'tensor leak');
}

const batch = (rng: Rng, B: number) => ({
  x: tf.tensor2d(rng.normalArray(2 * B, 2), [B, 2]),
  sigma: Float64Array.from({ length: B }, () => rng.uniform()),
});

test('parameter counts: teacher 230,914, gmflow K=32 255,329', () =>
  noLeak(() => {
    assert.equal(paramCount(TEACHER), 230914);
    assert.equal(paramCount(GMFLOW), 255329);
    for (const cfg of [TEACHER, GMFLOW, DX]) {
      const m = createMlp(cfg, new Rng(0));
      assert.equal(m.countParams(), paramCount(cfg));
      assert.deepEqual(m.outputs[0].shape, [null, cfg.kind === 'teacher' ? 2 : cfg.kind === 'gmflow' ? 97 : 20]);
      m.dispose();
    }
  }));

test('init: Kaiming normal (untruncated) from the Rng, zero biases, gmflow logweight/logstd columns zero', () =>
  noLeak(() => {
    const a = createMlp(GMFLOW, new Rng(3));
    const b = createMlp(GMFLOW, new Rng(3));
    const c = createMlp(GMFLOW, new Rng(4));
    const wa = a.getWeights().map((w) => w.dataSync() as Float32Array);
    const wb = b.getWeights().map((w) => w.dataSync());
    assert.deepEqual(wa, wb);
    assert.notDeepEqual(wa[2], c.getWeights()[2].dataSync());
    const k1 = wa[2]; // [256, 256]
    const std = Math.sqrt(k1.reduce((s, v) => s + v * v, 0) / k1.length);
    assert.ok(Math.abs(std / Math.sqrt(2 / 256) - 1) < 0.02, `std ${std}`);
    assert.ok(k1.some((v) => Math.abs(v) > 2.5 * std), 'looks truncated');
    for (let i = 1; i < wa.length; i += 2) assert.ok(wa[i].every((v) => v === 0), 'bias not zero');
    const head = wa[8]; // [256, 97]
    for (let r = 0; r < 256; r++) {
      for (let col = 0; col < 97; col++) assert.equal(head[r * 97 + col] === 0, col >= 64, `head[${r},${col}]`);
    }
    [a, b, c].forEach((m) => m.dispose());
  }));

test('embedding matches hand-computed values (x first, then y; cos/sin time; sin/cos coords)', () =>
  noLeak(() => {
    const pts = [
      [0.5, -1.25, 0.3],
      [3.9, 2.0, 0.999],
      [-0.01, 0.2, 0.999], // same sigma as the previous row (copied time row)
    ];
    const x = tf.tensor2d(pts.map((p) => [p[0], p[1]]));
    const sigma = Float64Array.from(pts.map((p) => p[2]));
    const e = embed2d(x, sigma);
    assert.deepEqual(e.shape, [3, 128]);
    const got = e.dataSync();
    x.dispose();
    e.dispose();
    const f32 = Math.fround;
    for (let r = 0; r < pts.length; r++) {
      const [cx, cy, s] = pts[r];
      const row = got.subarray(128 * r, 128 * (r + 1));
      for (let j = 0; j < 32; j++) {
        const a = 1000 * s * Math.exp((-Math.log(10000) * j) / 31);
        assert.ok(Math.abs(row[j] - Math.cos(a)) < 1e-6 && Math.abs(row[32 + j] - Math.sin(a)) < 1e-6, `time j=${j}`);
      }
      [cx, cy].forEach((c, ci) => {
        for (let j = 0; j < 16; j++) {
          const p = Math.exp(Math.log(5e-3) + (j * (Math.log(50) - Math.log(5e-3))) / 15);
          const g = (2 * Math.PI) / p;
          const b32 = f32(f32(c) * f32(g)); // the float32 phase the backend computes
          const o = 64 + 32 * ci;
          assert.ok(Math.abs(row[o + j] - Math.sin(b32)) < 2e-5, `coord ${ci} sin j=${j}`);
          assert.ok(Math.abs(row[o + 16 + j] - Math.cos(b32)) < 2e-5, `coord ${ci} cos j=${j}`);
          const tol = 1e-5 + 1e-7 * Math.abs(c * g); // vs float64 phase: float32 rounding of c*g
          assert.ok(Math.abs(row[o + j] - Math.sin(c * g)) < tol && Math.abs(row[o + 16 + j] - Math.cos(c * g)) < tol);
        }
      });
    }
    assert.deepEqual(embedDims({ timeDim: 16, coordDim: 8 }), { timeDim: 16, coordDim: 8, embedDim: 32 });
    const zeros = tf.zeros([4, 2]) as tf.Tensor2D;
    const small = embed2d(zeros, new Float64Array(4), { timeDim: 16, coordDim: 8 });
    assert.deepEqual(small.shape, [4, 32]);
    tf.dispose([zeros, small]);
    const z = tf.zeros([2, 2]) as tf.Tensor2D;
    assert.throws(() => embed2d(z, new Float64Array(3)), /sigma has length 3, expected B = 2/);
    assert.throws(() => embed2d(z, new Float64Array(2), { timeDim: 7 }), /timeDim/);
    z.dispose();
  }));

test('student init from teacher (noiseStd 0): every GMFlow mean equals the teacher u; weights uniform; logstd ln 0.05', () =>
  noLeak(() => {
    const rng = new Rng(11);
    const teacher = createToyNet(TEACHER, rng);
    const student = createToyNet(GMFLOW, rng);
    initStudentFromTeacher(student.model, teacher.model, GMFLOW, rng, { noiseStd: 0 });
    const { x, sigma } = batch(rng, 64);
    const u = teacher.apply(x, sigma);
    const out = student.apply(x, sigma);
    const { means, logweights, logstds } = splitGmflowOutput(out, 32);
    assert.deepEqual([means.shape, logweights.shape, logstds.shape], [[64, 32, 2], [64, 32, 1], [64, 1, 1]]);
    const ud = u.dataSync();
    const md = means.dataSync();
    for (let b = 0; b < 64; b++) {
      for (let k = 0; k < 32; k++) {
        for (let c = 0; c < 2; c++) assert.equal(md[(b * 32 + k) * 2 + c], ud[b * 2 + c], `mean[${b},${k},${c}]`);
      }
    }
    for (const v of logweights.dataSync()) assert.ok(Math.abs(v + Math.log(32)) < 1e-6);
    for (const v of logstds.dataSync()) assert.ok(Math.abs(v - Math.log(0.05)) < 1e-6);
    tf.dispose([x, u, out, means, logweights, logstds]);
    teacher.dispose();
    student.dispose();
  }));

test('student init from teacher: default bias noise N(0, 0.05^2) per component, constant over the batch; DX copies', () =>
  noLeak(() => {
    const rng = new Rng(12);
    const teacher = createToyNet(TEACHER, rng);
    const student = createToyNet(GMFLOW, rng);
    initStudentFromTeacher(student.model, teacher.model, GMFLOW, rng);
    const { x, sigma } = batch(rng, 16);
    const u = teacher.apply(x, sigma);
    const out = student.apply(x, sigma);
    const { means, logweights, logstds } = splitGmflowOutput(out, 32);
    const ud = u.dataSync();
    const md = means.dataSync();
    const noise: number[] = [];
    for (let k = 0; k < 32; k++) {
      for (let c = 0; c < 2; c++) {
        const n0 = md[k * 2 + c] - ud[c];
        noise.push(n0);
        for (let b = 1; b < 16; b++) assert.ok(Math.abs(md[(b * 32 + k) * 2 + c] - ud[b * 2 + c] - n0) < 1e-5);
      }
    }
    const std = Math.sqrt(noise.reduce((s, v) => s + v * v, 0) / noise.length);
    assert.ok(std > 0.035 && std < 0.065, `bias noise std ${std}`);
    tf.dispose([x, u, out, means, logweights, logstds]);

    const tSmall = createToyNet({ kind: 'teacher', width: 64, depth: 2 }, rng);
    const dx = createToyNet(DX, rng);
    initStudentFromTeacher(dx.model, tSmall.model, DX, rng);
    const b2 = batch(rng, 8);
    const u2 = tSmall.apply(b2.x, b2.sigma);
    const o2 = dx.apply(b2.x, b2.sigma);
    const d = splitDxOutput(o2, 10);
    assert.deepEqual(d.shape, [8, 10, 2]);
    const dd = d.dataSync();
    const u2d = u2.dataSync();
    dd.forEach((v, i) => assert.equal(v, u2d[Math.floor(i / 20) * 2 + (i % 2)]));
    assert.throws(() => initStudentFromTeacher(dx.model, teacher.model, DX, rng), /teacher.*do not match/);
    tf.dispose([b2.x, u2, o2, d]);
    [teacher, student, tSmall, dx].forEach((n) => n.dispose());
  }));

test('ToyNet.apply is differentiable wrt all weights', () =>
  noLeak(() => {
    const rng = new Rng(13);
    const net = createToyNet(DX, rng);
    const { x, sigma } = batch(rng, 32);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(net.apply(x, sigma))) as tf.Scalar);
    assert.equal(Object.keys(grads).length, 6);
    for (const g of Object.values(grads)) assert.ok(g.dataSync().some((v) => v !== 0), 'zero gradient');
    tf.dispose([value, x, ...Object.values(grads)]);
    net.dispose();
  }));

test('save -> load round trip gives identical outputs; overwrite is atomic; load errors name the file', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'toynet-'));
  try {
    await noLeak(async () => {
      const rng = new Rng(21);
      const { x, sigma } = batch(rng, 32);
      for (const cfg of [TEACHER, GMFLOW, DX]) {
        const net = createToyNet(cfg, rng);
        const dir = path.join(root, cfg.kind);
        await saveToyNet(net, dir, { step: 7 });
        await saveToyNet(net, dir, { step: 8 }); // overwrite an existing save
        assert.deepEqual((await fs.readdir(dir)).sort(), ['config.json', 'model.json', 'weights.bin']);
        const loaded = await loadToyNet(dir, cfg.kind);
        assert.deepEqual(loaded.cfg, cfg);
        assert.deepEqual(loaded.meta, { step: 8 });
        const [a, b] = [net.apply(x, sigma), loaded.apply(x, sigma)];
        assert.deepEqual(b.dataSync(), a.dataSync());
        tf.dispose([a, b]);
        net.dispose();
        loaded.dispose();
      }
      x.dispose();
    });
    assert.deepEqual((await fs.readdir(root)).sort(), ['dx', 'gmflow', 'teacher'], 'temp dirs left behind');

    const dir = path.join(root, 'teacher');
    await assert.rejects(loadToyNet(dir, 'gmflow'), /config\.json: expected a 'gmflow' network, found kind 'teacher'/);
    const modelJson = path.join(dir, 'model.json');
    const good = await fs.readFile(modelJson, 'utf8');
    await fs.writeFile(modelJson, good.slice(0, good.length / 2));
    await assert.rejects(loadToyNet(dir), /model\.json: bad JSON/);
    await fs.writeFile(modelJson, good.replace('"units":256', '"units":128'));
    await assert.rejects(loadToyNet(dir), /model\.json/);
    await fs.writeFile(modelJson, good);
    const weights = path.join(dir, 'weights.bin');
    const wb = await fs.readFile(weights);
    await fs.writeFile(weights, wb.subarray(0, wb.length - 4));
    await assert.rejects(loadToyNet(dir), /weights\.bin: 923652 bytes, expected 923656/);
    await fs.rm(weights);
    await assert.rejects(loadToyNet(dir), /weights\.bin: cannot read/);
    // a config that disagrees with the stored model
    await fs.cp(path.join(root, 'gmflow', 'weights.bin'), weights);
    await fs.cp(path.join(root, 'gmflow', 'model.json'), modelJson);
    await assert.rejects(loadToyNet(dir), /model\.json vs .*config\.json: weights do not match config \(kind teacher\)/);
    await fs.writeFile(path.join(dir, 'config.json'), '{"config": {"kind": "gmflow", "width": 256, "depth": 4}}');
    await assert.rejects(loadToyNet(dir), /config\.json: gmflow needs a positive integer k/);
    await assert.rejects(loadToyNet(path.join(root, 'nope')), /nope.config\.json: cannot read/);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

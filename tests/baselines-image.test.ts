/**
 * The baselines on the image layout (tiny U-Nets, a few iterations): the same cores as the 2D
 * baselines (runtime/baselines.ts) through mnist.ts's U-Net parts; the CLI's `distill --method
 * shortcut|dmd` on an MNIST teacher, then `sample` and `evaluate` of the baseline student.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { eulerSample } from '../src/engine/sample.js';
import { createImageNet, TINY_UNET, type ImageNet } from '../src/models/unet.js';
import { loadImageNet, saveImageNet } from '../src/models/image-io-node.js';
import { ImageDmdDistiller, ImageShortcutDistiller, imageBaselineParts, imageTeacherVelocity, sampleImageTeacher } from '../src/runtime/mnist.js';
import { segmentStates } from '../src/runtime/baselines.js';
import { meanPairDistance } from '../src/metrics/fidelity.js';
import { runCli } from './helpers.js';

before(async () => {
  await initNodeBackend('wasm');
});

/** an untrained tiny U-Net is a valid (if meaningless) velocity field for the baselines */
const tinyTeacher = (): ImageNet => createImageNet(TINY_UNET, new Rng(11));
const weightsOf = async (n: ImageNet) => Promise.all(n.model.getWeights().map((w) => w.data()));

test('image segment states: F + 1 boundaries of the teacher ODE in chunks, the same as one pass', async () => {
  const teacher = tinyTeacher();
  const parts = imageBaselineParts(teacher);
  const chunked = segmentStates(parts.teacher, parts.shape, 5, 2, 4, new Rng(3), 2);
  const whole = segmentStates(parts.teacher, parts.shape, 5, 2, 4, new Rng(3));
  assert.equal(chunked.length, 3);
  assert.deepEqual(Array.from(chunked[0]), Array.from(new Rng(3).normalArray(5 * 784), Math.fround), 'σ = 1: the noise itself');
  for (let k = 0; k < 3; k++) assert.ok(meanPairDistance(chunked[k], whole[k], 784) < 1e-5, `boundary ${k}: chunks = one pass`);
  const x = tf.tensor4d(new Rng(3).normalArray(5 * 784), [5, 1, 28, 28]);
  const end = eulerSample(imageTeacherVelocity(teacher), x, 4);
  assert.ok(meanPairDistance(chunked[2], (await end.data()) as Float32Array, 784) < 1e-5, 'σ = 0: the 4-step Euler sample');
  tf.dispose([x, end]);
  teacher.dispose();
});

test('image shortcut regression: starts as the teacher, loss falls, no leaks, seeded; save → load → resume gives the same student', async () => {
  const teacher = tinyTeacher();
  const cfg = { nfe: 2, teacherSteps: 4, pool: 8, batch: 4, seed: 2, adam: { lr: 3e-3 } };
  const d = new ImageShortcutDistiller(teacher, cfg);
  assert.deepEqual(await weightsOf(d.student), await weightsOf(teacher), 'initialised from the teacher');
  const first = (await d.step()).loss;
  const n0 = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 12; i++) last = (await d.step()).loss;
  assert.equal(tf.memory().numTensors, n0, 'no tensors left behind');
  assert.ok(Number.isFinite(last) && last < 0.8 * first, `regression loss ${first} → ${last}`);
  const again = new ImageShortcutDistiller(teacher, cfg);
  assert.equal((await again.step()).loss, first, 'same seed, same loss');
  again.dispose();
  again.student.dispose();
  // save/load round trip: the loaded student samples exactly as the trained one, and resumes training
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'piflow-img-shortcut-'));
  try {
    await saveImageNet(d.student, path.join(dir, 's'), { method: 'shortcut', nfe: 2 });
    const loaded = await loadImageNet(path.join(dir, 's'));
    assert.equal(loaded.cfg.kind, 'teacher', 'a velocity-format student');
    assert.deepEqual(loaded.meta.method, 'shortcut');
    assert.deepEqual(await sampleImageTeacher(loaded, 3, 2, 5), await sampleImageTeacher(d.student, 3, 2, 5));
    const resumed = new ImageShortcutDistiller(teacher, cfg, loaded);
    assert.equal(resumed.student, loaded, 'resumes the given student');
    const l = (await resumed.step()).loss;
    assert.ok(Number.isFinite(l) && l < first, `resumed loss ${l} (first ${first})`);
    resumed.dispose();
    loaded.dispose();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  d.dispose();
  d.student.dispose();
  assert.throws(() => new ImageShortcutDistiller(teacher, { nfe: 0 }), /nfe must be an integer/);
  teacher.dispose();
});

test('image DMD-style generator: finite losses, the generator and the fake net move, no leaks, seeded, fake net freed', async () => {
  const teacher = tinyTeacher();
  const run = async () => {
    const d = new ImageDmdDistiller(teacher, { batch: 3, fakeUpdates: 2, seed: 4, generatorAdam: { lr: 1e-3 }, fakeAdam: { lr: 1e-3 } });
    const g0 = await weightsOf(d.student);
    const f0 = await weightsOf(d.fake);
    assert.deepEqual(g0, await weightsOf(teacher), 'generator initialised from the teacher');
    assert.deepEqual(f0, await weightsOf(teacher), 'fake net initialised from the teacher');
    const first = await d.step();
    const n0 = tf.memory().numTensors;
    const losses = [first.loss, first.fakeLoss!];
    for (let i = 0; i < 3; i++) {
      const s = await d.step();
      assert.ok(Number.isFinite(s.loss) && Number.isFinite(s.fakeLoss!), JSON.stringify(s));
      losses.push(s.loss, s.fakeLoss!);
    }
    assert.equal(tf.memory().numTensors, n0, 'no tensors left behind');
    const moved = (a: Float32Array[] | ArrayLike<number>[], b: typeof a) => a.some((w, i) => Array.from(w).some((v, j) => v !== b[i][j]));
    const gMoved = moved(await weightsOf(d.student), g0);
    const fMoved = moved(await weightsOf(d.fake), f0);
    const samples = await sampleImageTeacher(d.student, 2, 1, 9);
    const before = tf.memory().numTensors;
    d.dispose();
    assert.ok(tf.memory().numTensors < before, 'dispose frees the fake network');
    d.student.dispose();
    return { losses, gMoved, fMoved, samples };
  };
  const a = await run();
  const b = await run();
  assert.ok(a.gMoved && a.fMoved, 'generator and fake net weights changed');
  assert.ok(a.samples.every(Number.isFinite));
  assert.deepEqual(a.losses, b.losses, 'same seed, same losses');
  assert.deepEqual(a.samples, b.samples);
  assert.throws(() => new ImageDmdDistiller(teacher, { sigmaMin: 0.9, sigmaMax: 0.5 }), /σ_min < σ_max/);
  teacher.dispose();
});

test('CLI: distill --method shortcut|dmd on an MNIST teacher → sample (its own NFE) → evaluate; the π-ID options are refused', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'piflow-mnist-baselines-'));
  try {
    const teacher = path.join(dir, 'teacher');
    await saveImageNet(tinyTeacher(), teacher, { dataset: 'mnist' });
    const runs: [string, string[], number][] = [
      ['shortcut', ['--method', 'shortcut', '--nfe', '2', '--pool', '6', '--teacher-steps', '4', '--batch', '3'], 2],
      ['dmd', ['--method', 'dmd', '--fake-updates', '2', '--batch', '3'], 1],
    ];
    for (const [name, flags, nfe] of runs) {
      const out = path.join(dir, name);
      let r = runCli(['distill', '--teacher', teacher, '--dataset', 'mnist', ...flags, '--iters', '2', '--save-every', '1', '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      const cfg = JSON.parse(await fs.readFile(path.join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.config.kind, 'teacher');
      assert.deepEqual([cfg.meta.method, cfg.meta.nfe, cfg.meta.itersDone], [name, nfe, 2]);
      r = runCli(['sample', '--model', out, '--count', '4', '--out', path.join(dir, `${name}.png`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await fs.readFile(path.join(dir, `${name}.f32`))).length, 4 * 784 * 4);
      r = runCli(['sample', '--model', out, '--count', '4', '--steps', '3', '--out', path.join(dir, `${name}-x.png`)]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--steps is for teachers/);
      r = runCli(['evaluate', '--model', out, '--count', '20']);
      assert.equal(r.code, 0, r.stderr);
      const ev = JSON.parse(r.stdout.trim());
      assert.equal(ev.kind, `student ${name} nfe ${nfe}`);
      assert.ok(Number.isFinite(ev.frechet));
      r = runCli(['distill', '--teacher', out, '--dataset', 'mnist', '--iters', '1', '--out', path.join(dir, 'again')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /is a .* student .*not a teacher/);
    }
    const r = runCli(['distill', '--teacher', teacher, '--dataset', 'mnist', '--method', 'shortcut', '--k', '4', '--iters', '1', '--out', path.join(dir, 'x')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--k is an option of π-ID/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

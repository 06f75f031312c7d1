/** Exact resume (issue 12): k iterations + save to disk + load + N − k iterations == N iterations straight, bit for bit. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { setFusedTraining } from '../src/engine/fused.js';
import { GuardedAdam } from '../src/engine/optim.js';
import { createToyNet, ToyNet } from '../src/models/mlp.js';
import { loadToyNet, saveToyNet } from '../src/models/io-node.js';
import { datasetSource, Distiller, TeacherTrainer, trainableVars } from '../src/runtime/toy.js';
import { DmdDistiller, ShortcutDistiller } from '../src/runtime/baselines.js';
import { createImageNet, TINY_UNET, type ImageNet } from '../src/models/unet.js';
import { loadImageNet, saveImageNet } from '../src/models/image-io-node.js';
import { ImageDistiller, ImageDmdDistiller, ImageShortcutDistiller, imageTrainableVars } from '../src/runtime/mnist.js';
import { decodeTrainerState, encodeTrainerState, trainStateFiles, Resumable, TRAIN_STATE_BIN, TRAIN_STATE_JSON } from '../src/runtime/train-state.js';

before(() => useBackend('wasm'));

const dir = mkdtempSync(path.join(tmpdir(), 'piflow-resume-'));

async function tinyTeacher(): Promise<ToyNet> {
  const net = createToyNet({ kind: 'teacher', width: 16, depth: 2 }, new Rng(21));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 64, { lr: 3e-3 }, 2);
  for (let i = 0; i < 10; i++) await t.step();
  t.dispose();
  return net;
}

const weightsOf = (net: ToyNet) => trainableVars(net).map((v) => Float32Array.from(v.dataSync() as Float32Array));

type Trainer = Resumable & { student: ToyNet; step: () => Promise<unknown>; dispose: () => void };

/** N straight vs k + save/load (weights and state on disk) + N − k; the weights must be identical. */
async function checkResume(name: string, make: (student?: ToyNet) => Trainer, N: number, k: number): Promise<void> {
  const straight = make();
  for (let i = 0; i < N; i++) await straight.step();
  const want = weightsOf(straight.student);
  straight.dispose();
  straight.student.dispose();

  const before = tf.memory().numTensors;
  const first = make();
  for (let i = 0; i < k; i++) await first.step();
  const out = path.join(dir, name);
  await saveToyNet(first.student, out, { test: name }, trainStateFiles(first.exportState()));
  first.dispose();
  first.student.dispose();
  assert.equal(tf.memory().numTensors, before, `${name}: the first part leaks`);

  const loaded = await loadToyNet(out);
  const atK = weightsOf(loaded);
  const state = decodeTrainerState(readFileSync(path.join(out, TRAIN_STATE_JSON), 'utf8'), readFileSync(path.join(out, TRAIN_STATE_BIN)), out);
  assert.equal(state.iteration, k);
  const second = make(loaded);
  second.importState(state);
  for (let i = k; i < N; i++) await second.step();
  const got = weightsOf(second.student);
  second.dispose();
  second.student.dispose();
  assert.equal(tf.memory().numTensors, before, `${name}: the resumed part leaks`);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.deepEqual(g, want[i], `${name}: variable ${i} differs from the uninterrupted run`));
  assert.notDeepEqual(atK, want, `${name}: the resumed iterations moved the weights (the comparison is not vacuous)`);
}

for (const fused of [true, false]) {
  const label = fused ? 'host Adam' : 'tfjs Adam';
  test(`resume (${label}): shortcut, DMD and π-ID continue bit-identically from a saved state`, async () => {
    const was = setFusedTraining(fused);
    try {
      const teacher = await tinyTeacher();
      const sc = { nfe: 2, teacherSteps: 8, pool: 64, batch: 16, seed: 3, adam: { lr: 1e-3 } };
      await checkResume(`shortcut-${fused}`, (s) => new ShortcutDistiller(teacher, sc, s), 5, 2);
      const dc = { batch: 16, fakeUpdates: 2, seed: 4, generatorAdam: { lr: 1e-3 }, fakeAdam: { lr: 1e-3 } };
      await checkResume(`dmd-${fused}`, (s) => new DmdDistiller(teacher, null, dc, s), 4, 2);
      const pc = { policy: 'gmflow' as const, k: 4, nfe: 2, batch: 16, seed: 5, numIntermediateStates: 2, numDecayIters: 6, adam: { lr: 1e-3 } };
      await checkResume(`piid-${fused}`, (s) => new Distiller(teacher, datasetSource('checkerboard'), pc, s), 5, 3);
      teacher.dispose();
    } finally {
      setFusedTraining(was);
    }
  });
}

test('Adam state: a state for other variables is a clear error and changes nothing', async () => {
  const a = tf.variable(tf.ones([3])), b = tf.variable(tf.ones([2, 2]));
  const opt = new GuardedAdam({ lr: 0.1 });
  await opt.minimize(() => a.square().sum().add(b.sum()) as tf.Scalar, [a, b]);
  const s = opt.exportState([a, b]);
  assert.equal(s.step, 1);
  assert.throws(() => opt.importState(s, [a]), /2 variables saved, the model has 1/);
  assert.throws(() => opt.importState(s, [b, a]), /variable 0 has shape \[3\], the model's is \[2,2\]/);
  assert.deepEqual(opt.exportState([a, b]), s, 'unchanged by the refused imports');
  opt.dispose();
  tf.dispose([a, b]);
});

test('train-state files: truncated or foreign files are clear errors', () => {
  const s = { kind: 'piid', iteration: 3, adam: [], rng: [new Rng(1).getState()], nets: [[Float32Array.from([1, 2, 3])]] };
  const enc = encodeTrainerState(s);
  const back = decodeTrainerState(enc.json, enc.bin, 'x');
  assert.deepEqual(back, s);
  assert.throws(() => decodeTrainerState(enc.json, enc.bin.subarray(0, 8), 'x'), /x: train-state.bin holds 8 bytes, train-state.json expects 12/);
  assert.throws(() => decodeTrainerState('{', enc.bin, 'x'), /not valid JSON/);
  assert.throws(() => decodeTrainerState('{"format":"other"}', enc.bin, 'x'), /not a training state/);
});

test('resume on U-Nets (the same cores): image shortcut and DMD continue bit-identically through save/load', async () => {
  const teacher = createImageNet(TINY_UNET, new Rng(11));
  const wOf = (n: ImageNet) => imageTrainableVars(n).map((v) => Float32Array.from(v.dataSync() as Float32Array));
  const cases: [string, (s?: ImageNet) => Resumable & { student: ImageNet; step: () => Promise<unknown>; dispose: () => void }][] = [
    ['img-shortcut', (s) => new ImageShortcutDistiller(teacher, { nfe: 2, teacherSteps: 4, pool: 8, batch: 2, seed: 2, adam: { lr: 3e-3 } }, s)],
    ['img-dmd', (s) => new ImageDmdDistiller(teacher, { batch: 2, fakeUpdates: 1, seed: 4, generatorAdam: { lr: 1e-3 }, fakeAdam: { lr: 1e-3 } }, s)],
  ];
  for (const [name, make] of cases) {
    const straight = make();
    for (let i = 0; i < 3; i++) await straight.step();
    const want = wOf(straight.student);
    straight.dispose();
    straight.student.dispose();
    const before = tf.memory().numTensors;
    const first = make();
    await first.step();
    const enc = encodeTrainerState(first.exportState());
    await saveImageNet(first.student, path.join(dir, name), {});
    first.dispose();
    first.student.dispose();
    const loaded = await loadImageNet(path.join(dir, name));
    const second = make(loaded);
    second.importState(decodeTrainerState(enc.json, enc.bin, name));
    for (let i = 1; i < 3; i++) await second.step();
    const got = wOf(second.student);
    second.dispose();
    second.student.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: leaks`);
    got.forEach((g, i) => assert.deepEqual(g, want[i], `${name}: variable ${i} differs from the uninterrupted run`));
  }
  teacher.dispose();
});

test('resume on U-Nets: image π-ID (GMFlow with GM dropout and a teacher-ratio decay, DX) continues bit-identically from the saved student and train-state files', async () => {
  const teacher = createImageNet(TINY_UNET, new Rng(11));
  const data = (n: number, r: Rng) => Float32Array.from(r.normalArray(n * 784), (v) => Math.tanh(v));
  const wOf = (n: ImageNet) => imageTrainableVars(n).map((v) => Float32Array.from(v.dataSync() as Float32Array));
  const N = 4, k = 2;
  const cases: [string, Partial<ConstructorParameters<typeof ImageDistiller>[2]>][] = [
    // the decay spans the split: iterations 3 and 4 read a teacher ratio that only the saved iteration gives
    ['img-piid-gmflow', { policy: 'gmflow', k: 2, gmDropout: 0.5, numDecayIters: 4, batch: 2, totalSubsteps: 8, numIntermediateStates: 1, seed: 6, adam: { lr: 1e-3, warmupSteps: 3 } }],
    ['img-piid-dx', { policy: 'dx', n: 3, windowSubsteps: 3, batch: 2, totalSubsteps: 8, numIntermediateStates: 1, seed: 7, adam: { lr: 1e-3 } }],
  ];
  for (const [name, cfg] of cases) {
    const make = (s?: ImageNet) => new ImageDistiller(teacher, data, cfg, s);
    const straight = make();
    const ratios: number[] = [];
    for (let i = 0; i < N; i++) ratios.push((await straight.step()).teacherRatio);
    const want = wOf(straight.student);
    const wantState = encodeTrainerState(straight.exportState());
    straight.dispose();
    straight.student.dispose();

    const before = tf.memory().numTensors;
    const first = make();
    for (let i = 0; i < k; i++) await first.step();
    const out = path.join(dir, name);
    await saveImageNet(first.student, out, { test: name }, trainStateFiles(first.exportState()));
    first.dispose();
    first.student.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: the first part leaks`);

    const loaded = await loadImageNet(out);
    const atK = wOf(loaded);
    const state = decodeTrainerState(readFileSync(path.join(out, TRAIN_STATE_JSON), 'utf8'), readFileSync(path.join(out, TRAIN_STATE_BIN)), out);
    assert.equal(state.kind, 'piid');
    assert.equal(state.iteration, k);
    const second = make(loaded);
    assert.equal(second.student, loaded, `${name}: the distiller trains the saved student`);
    second.importState(state);
    const got: number[] = [];
    for (let i = k; i < N; i++) got.push((await second.step()).teacherRatio);
    const gotW = wOf(second.student);
    const gotState = encodeTrainerState(second.exportState());
    second.dispose();
    second.student.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: the resumed part leaks`);
    assert.deepEqual(got, ratios.slice(k), `${name}: the resumed iterations read the uninterrupted run's teacher ratios`);
    assert.equal(gotW.length, want.length);
    gotW.forEach((g, i) => assert.deepEqual(g, want[i], `${name}: variable ${i} differs from the uninterrupted run`));
    assert.equal(gotState.json, wantState.json, `${name}: the resumed run ends at the uninterrupted run's iteration, streams and optimizer step`);
    assert.deepEqual(gotState.bin, wantState.bin, `${name}: and at its Adam moments`);
    assert.notDeepEqual(atK, want, `${name}: the resumed iterations moved the weights (the comparison is not vacuous)`);
  }
  // a state of another kind is refused before anything is restored
  const shortcut = new ImageShortcutDistiller(teacher, { nfe: 2, teacherSteps: 2, pool: 2, batch: 1, seed: 1 });
  const foreign = shortcut.exportState();
  shortcut.dispose();
  shortcut.student.dispose();
  const d = new ImageDistiller(teacher, data, cases[1][1]);
  assert.throws(() => d.importState(foreign), /written by a 'shortcut' run, this is a 'piid' run/);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

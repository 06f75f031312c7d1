/**
 * Exact resume in the labs (issue 12; the 2D lab and, with tiny U-Nets, the MNIST lab): a student saved while distilling carries its distiller's
 * training state (train-state.json / .bin as extra files of the artifacts, through browser storage and
 * downloads in userDefinedMetadata), so distill k, save, load, distill N − k ends at the weights of
 * distill N, bit for bit; the same through a worker checkpoint (snapshot → restore), even one taken
 * while the loop runs. An older save without the state still loads and distills (iteration and
 * schedule only); a corrupt state is a clear error and the current student stays; no tensor leaks.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Lab } from '../src/runtime/lab.js';
import { trainableVars } from '../src/runtime/toy.js';
import { setFusedTraining } from '../src/engine/fused.js';
import { fromModelArtifacts, toModelArtifacts, TRAIN_STATE_BIN, TRAIN_STATE_JSON, type NetArtifacts } from '../src/models/io-handlers.js';
import type { ToyNetArtifacts } from '../src/models/artifacts.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { MnistLab } from '../src/runtime/mnist-lab.js';
import { imageTrainableVars } from '../src/runtime/mnist.js';

before(() => useBackend('wasm'));

const TEACHER = { width: 16, depth: 2, lr: 3e-3, batch: 64, steps: 6, seed: 1 };
const PIID = { k: 4, batch: 32, totalSubsteps: 16, numDecayIters: 6, seed: 5, adam: { lr: 3e-3 } };
const N = 6;
const K = 2;

let teacherArt: ToyNetArtifacts;

async function teacherOnce(): Promise<ToyNetArtifacts> {
  if (!teacherArt) {
    const lab = new Lab();
    lab.newTeacher(TEACHER);
    await lab.trainTeacher();
    teacherArt = await lab.saveTeacher();
    lab.dispose();
  }
  return teacherArt;
}

/** A lab with the shared teacher loaded (as a fresh page or a fresh worker would have it). */
async function labWithTeacher(): Promise<Lab> {
  const lab = new Lab();
  await lab.loadTeacher(await teacherOnce(), 'teacher');
  return lab;
}

const weightsOf = (lab: Lab) => trainableVars(lab.student!).map((v) => Float32Array.from(v.dataSync() as Float32Array));

function assertSameWeights(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.deepEqual(g, want[i], `${what}: variable ${i} differs from the uninterrupted run`));
}

/** The artifacts as browser storage or a download carry them (tfjs ModelArtifacts, metadata through JSON). */
function throughBrowserFormat<A extends NetArtifacts<unknown>>(art: A): A {
  const m = toModelArtifacts(art);
  return fromModelArtifacts({ ...m, userDefinedMetadata: JSON.parse(JSON.stringify(m.userDefinedMetadata)) }) as A;
}

async function straight(): Promise<Float32Array[]> {
  const lab = await labWithTeacher();
  lab.newStudent(PIID);
  await lab.distill(N);
  const w = weightsOf(lab);
  lab.dispose();
  return w;
}

for (const fused of [true, false]) {
  const label = fused ? 'host Adam' : 'tfjs Adam';
  test(`lab (${label}): distill k, saveStudent, loadStudent in a fresh lab, distill N − k == distill N, bit for bit (also through the browser format)`, async () => {
    const was = setFusedTraining(fused);
    try {
      const want = await straight();
      const n0 = tf.memory().numTensors;
      const first = await labWithTeacher();
      first.newStudent(PIID);
      await first.distill(K);
      const art = await first.saveStudent();
      const atK = weightsOf(first);
      first.dispose();
      assert.deepEqual(art.extra?.map((f) => f.name).sort(), [TRAIN_STATE_BIN, TRAIN_STATE_JSON]);
      assert.equal(art.file.meta?.itersDone, K);

      for (const [how, a] of [['artifacts', art], ['browser format', throughBrowserFormat(art)]] as const) {
        const second = await labWithTeacher();
        const note = await second.loadStudent(a, 'saved student');
        assert.match(note, new RegExp(`exactly from iteration ${K}`));
        assert.equal(second.studentIteration, K);
        await second.distill(N - K);
        assert.equal(second.studentIteration, N);
        assertSameWeights(weightsOf(second), want, `${label}, ${how}`);
        second.dispose();
      }
      assert.notDeepEqual(atK, want, 'the resumed iterations moved the weights (the comparison is not vacuous)');
      assert.equal(tf.memory().numTensors, n0, 'save, load and the resumed run leak no tensors');
    } finally {
      setFusedTraining(was);
    }
  });
}

test('lab: a checkpoint (snapshot → restore into a fresh lab), also one taken while the loop runs, resumes exactly', async () => {
  const want = await straight();
  const n0 = tf.memory().numTensors;
  // between runs
  const a = await labWithTeacher();
  a.newStudent(PIID);
  await a.distill(K);
  const snap = await a.snapshot();
  a.dispose();
  const b = new Lab();
  assert.deepEqual(await b.restore(snap), ['teacher', 'student']);
  assert.equal(b.studentIteration, K);
  await b.distill(N - K);
  assertSameWeights(weightsOf(b), want, 'restored checkpoint');
  b.dispose();

  // while the loop runs, as the worker's progress hook takes it (not awaited by the loop)
  const c = await labWithTeacher();
  c.newStudent(PIID);
  let pending: Promise<Awaited<ReturnType<Lab['snapshot']>>> | null = null;
  await c.distill(N, {
    progressMs: 0,
    yieldMs: 0,
    onProgress: (p) => {
      if (p.iter >= 1 && pending === null) pending = c.snapshot();
    },
  });
  assert.ok(pending !== null, 'a snapshot was requested during the run');
  const live = await pending!;
  c.dispose();
  const d = new Lab();
  await d.restore(live);
  const j = d.studentIteration;
  assert.ok(j >= 1 && j <= N, `the live checkpoint is at iteration ${j}`);
  if (j < N) await d.distill(N - j);
  assertSameWeights(weightsOf(d), want, `checkpoint taken while running (iteration ${j})`);
  d.dispose();

  // a save asked for while a step is in flight (the first step has drawn its batch) waits for the step's end
  const e = await labWithTeacher();
  e.newStudent(PIID);
  const run = e.distill(N);
  const mid = e.saveStudent();
  await run;
  const midArt = await mid;
  e.dispose();
  assert.equal(midArt.file.meta?.itersDone, 1, 'saved after the step that was in flight');
  const f = await labWithTeacher();
  await f.loadStudent(midArt, 'saved mid-step');
  await f.distill(N - 1);
  assertSameWeights(weightsOf(f), want, 'a save asked for mid-step');
  f.dispose();
  assert.equal(tf.memory().numTensors, n0, 'snapshot and restore leak no tensors');
});

test('lab: an old save without a training state still loads and distills (iteration and schedule, fresh optimizer), and says so', async () => {
  const lab = await labWithTeacher();
  lab.newStudent(PIID);
  await lab.distill(K);
  const art = await lab.saveStudent();
  lab.dispose();
  const { extra: _extra, ...old } = art;
  const n0 = tf.memory().numTensors;
  const fresh = await labWithTeacher();
  const note = await fresh.loadStudent(old, 'old save');
  assert.match(note, /from iteration 2 \(the schedule\); this save has no training state, so the optimizer and random stream start afresh/);
  assert.ok(fresh.canDistill);
  assert.equal(fresh.studentIteration, K);
  const ratios: number[] = [];
  await fresh.distill(2, { onProgress: (p) => ratios.push(p.teacherRatio ?? -1), progressMs: 0 });
  assert.equal(fresh.studentIteration, K + 2);
  assert.equal(ratios[ratios.length - 1], 1 - (K + 1) / PIID.numDecayIters, 'the schedule follows the saved iteration');
  // and its own save now carries the state
  const again = await fresh.saveStudent();
  assert.ok(again.extra?.some((f) => f.name === TRAIN_STATE_JSON));
  fresh.dispose();
  // a student saved without π-ID settings (a shipped one) loads with nothing to say
  const plain = await labWithTeacher();
  const file = old.file as { config: unknown; meta: Record<string, unknown> };
  const { piid: _p, ...meta } = file.meta;
  assert.equal(await plain.loadStudent({ ...old, file: { ...file, meta } }, 'shipped'), '');
  assert.ok(!plain.canDistill);
  plain.dispose();
  assert.equal(tf.memory().numTensors, n0, 'no tensors left');
});

test('lab: a corrupt or mismatched training state is a clear error; the current student stays; nothing leaks', async () => {
  const lab = await labWithTeacher();
  lab.newStudent(PIID);
  await lab.distill(K);
  const art = await lab.saveStudent();
  await lab.distill(1);
  const other = await lab.saveStudent(); // iteration K + 1
  lab.dispose();
  const bin = art.extra!.find((f) => f.name === TRAIN_STATE_BIN)!.data as Uint8Array;
  const json = art.extra!.find((f) => f.name === TRAIN_STATE_JSON)!.data as string;
  const with_ = (files: { name: string; data: Uint8Array | string }[]) => ({ ...art, extra: files });

  const target = await labWithTeacher();
  target.newStudent({ ...PIID, seed: 9 });
  await target.distill(1);
  const before = weightsOf(target);
  const samples = await target.studentSamples(16, 3);
  const n0 = tf.memory().numTensors;
  const cases: [string, ToyNetArtifacts, RegExp][] = [
    ['truncated bin', with_([{ name: TRAIN_STATE_BIN, data: bin.slice(0, bin.length - 8) }, { name: TRAIN_STATE_JSON, data: json }]), /truncated bin \(training state\): train-state\.bin holds \d+ bytes, train-state\.json expects \d+ \(truncated or from another save\)/],
    ['bad json', with_([{ name: TRAIN_STATE_BIN, data: bin }, { name: TRAIN_STATE_JSON, data: json.slice(0, 20) }]), /bad json \(training state\): train-state\.json is not valid JSON/],
    ['bin missing', with_([{ name: TRAIN_STATE_JSON, data: json }]), /bin missing \(training state\): train-state\.bin is missing; the save is incomplete/],
    ['other save', with_(other.extra!), /other save \(train-state\.json\): training state: it is at iteration 3, the model's meta\.itersDone at 2 \(from another save\); the current student is kept/],
    ['wrong kind', with_([{ name: TRAIN_STATE_BIN, data: bin }, { name: TRAIN_STATE_JSON, data: json.replace('"kind":"piid"', '"kind":"dmd"') }]), /wrong kind \(train-state\.json\): training state: written by a 'dmd' run, this is a 'piid' run/],
    ['wrong shape', with_([{ name: TRAIN_STATE_BIN, data: bin }, { name: TRAIN_STATE_JSON, data: json.replace(/"shape":\[(\d+),/, (_m, d) => `"shape":[${Number(d) + 1},`) }]), /wrong shape \(train-state\.json\): Adam state: variable \d+ has shape \[\d+,/],
  ];
  for (const [name, a, re] of cases) {
    await assert.rejects(target.loadStudent(a, name), re, name);
    assert.equal(tf.memory().numTensors, n0, `${name}: the failed load leaks nothing`);
    assert.equal(target.studentIteration, 1, `${name}: the current student's run stays`);
  }
  assertSameWeights(weightsOf(target), before, 'the current student');
  assert.deepEqual(await target.studentSamples(16, 3), samples);
  await target.distill(1); // and it still distills
  assert.equal(target.studentIteration, 2);
  target.dispose();

  // a corrupt state in browser storage or a download: the handlers' decoding names it
  const m = toModelArtifacts(art);
  const meta = JSON.parse(JSON.stringify(m.userDefinedMetadata)) as { piflowExtra: { name: string; base64?: string }[] };
  meta.piflowExtra.find((e) => e.name === TRAIN_STATE_BIN)!.base64 = '***not base64***';
  assert.throws(() => fromModelArtifacts({ ...m, userDefinedMetadata: meta }), /userDefinedMetadata\.piflowExtra 'train-state\.bin': not base64 \(the saved model is corrupt\)/);
  assert.throws(() => fromModelArtifacts({ ...m, userDefinedMetadata: { ...meta, piflowExtra: 'x' } }), /piflowExtra: expected a list of \{name, text \| base64\}/);
});

test('lab: saveStudent without a distiller (a shipped student) carries no state; repeated save/load/restore keeps the tensor count', async () => {
  const lab = await labWithTeacher();
  lab.newStudent(PIID);
  await lab.distill(1);
  const art = await lab.saveStudent();
  const file = art.file as { config: unknown; meta: Record<string, unknown> };
  const { piid: _p, ...meta } = file.meta;
  const { extra: _e, ...bare } = art;
  await lab.loadStudent({ ...bare, file: { ...file, meta } }, 'shipped');
  assert.equal((await lab.saveStudent()).extra, undefined);
  await lab.loadStudent(art, 'saved');
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const a = await lab.saveStudent();
    await lab.loadStudent(a, `round ${i}`);
    const snap = await lab.snapshot();
    const other = new Lab();
    await other.restore(snap);
    other.dispose();
  }
  assert.equal(tf.memory().numTensors, n0, 'save, load and restore leak no tensors');
  lab.dispose();
});

test('MNIST lab (tiny U-Nets): distill k, save, load in a fresh lab, distill N − k == distill N, bit for bit; and through a checkpoint', async () => {
  const test10k = await loadMnist('test');
  const tlab = new MnistLab();
  tlab.setTestData(test10k);
  tlab.newTeacher({ size: 'tiny', lr: 2e-3, batch: 4, steps: 2, seed: 0, ema: 0 });
  await tlab.trainTeacher();
  const teacher = await tlab.saveTeacher();
  tlab.dispose();
  const fresh = async () => {
    const lab = new MnistLab();
    lab.setTestData(test10k);
    await lab.loadTeacher(teacher, 'teacher');
    return lab;
  };
  const cfg = { policy: 'gmflow' as const, k: 2, batch: 2, totalSubsteps: 8, nfe: 2, seed: 1, numDecayIters: 3 };
  const imageWeights = (lab: MnistLab) => imageTrainableVars(lab.student!).map((v) => Float32Array.from(v.dataSync() as Float32Array));
  const MN = 3, MK = 1;
  const a = await fresh();
  a.newStudent(cfg);
  await a.distill(MN);
  const want = imageWeights(a);
  a.dispose();

  const n0 = tf.memory().numTensors;
  const b = await fresh();
  b.newStudent(cfg);
  await b.distill(MK);
  const art = await b.saveStudent();
  const snap = await b.snapshot();
  const atK = imageWeights(b);
  b.dispose();
  assert.ok(art.extra?.some((f) => f.name === TRAIN_STATE_BIN));
  const c = await fresh();
  assert.match(await c.loadStudent(throughBrowserFormat(art), 'saved'), /exactly from iteration 1/);
  await c.distill(MN - MK);
  assertSameWeights(imageWeights(c), want, 'MNIST lab, saved student');
  c.dispose();
  const d = new MnistLab();
  d.setTestData(test10k);
  assert.deepEqual(await d.restore(snap), ['teacher', 'student']);
  await d.distill(MN - MK);
  assertSameWeights(imageWeights(d), want, 'MNIST lab, checkpoint');
  d.dispose();
  assert.notDeepEqual(atK, want);
  assert.equal(tf.memory().numTensors, n0, 'the MNIST lab leaks no tensors');
});

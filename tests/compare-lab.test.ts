/**
 * The comparison lab (src/runtime/compare-lab.ts): π-Flow and the baselines trained round-robin on one
 * teacher with one seed and one budget; bad settings are refused before anything is allocated; every
 * method steps once per round; the evaluation scores every sampler from the same noise (the teacher's
 * many-step row has fidelity 0); seeded; no tensor leaks across rounds; reset releases every student.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { createToyNet } from '../src/models/mlp.js';
import { toyNetToArtifacts } from '../src/models/artifacts.js';
import { datasetSource, TeacherTrainer } from '../src/runtime/toy.js';
import { CompareLab, COMPARE_METHODS, type CompareConfig } from '../src/runtime/compare-lab.js';
import { toyNetFromArtifacts } from '../src/models/artifacts.js';
import { baselineOf } from '../src/models/methods.js';
import { validateStudentPolicyConfig, type StudentPolicyConfig } from '../src/runtime/student.js';
import { sampleStudent, sampleTeacher } from '../src/runtime/toy.js';

before(() => useBackend('wasm'));

async function teacherArtifacts() {
  const net = createToyNet({ kind: 'teacher', width: 32, depth: 2 }, new Rng(21));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 128, { lr: 3e-3 }, 2);
  for (let i = 0; i < 30; i++) await t.step();
  t.dispose();
  const art = await toyNetToArtifacts(net, { dataset: 'checkerboard' });
  net.dispose();
  return art;
}

const SMALL: Partial<CompareConfig> = { iters: 3, batch: 32, pool: 256, seed: 3, nfe: 1 };

async function labWithTeacher(): Promise<CompareLab> {
  const lab = new CompareLab();
  lab.setData('checkerboard');
  await lab.loadTeacher(await teacherArtifacts(), 'tiny teacher');
  return lab;
}

test('compare lab: bad settings are clear errors and allocate nothing', async () => {
  const lab = await labWithTeacher();
  const before = tf.memory().numTensors;
  const bad: [Partial<CompareConfig>, RegExp][] = [
    [{ methods: [] }, /at least one/],
    [{ methods: ['gmflow', 'nope' as never] }, /unknown method 'nope'/],
    [{ methods: ['dmd', 'dmd'] }, /at most once/],
    [{ nfe: 3 }, /nfe must be an integer in \[1, 2\], got 3/],
    [{ iters: 0 }, /iters must be an integer in \[1, 100000\]/],
    [{ batch: 8 }, /batch must be an integer in \[16, 4096\], got 8/],
    [{ lr: NaN }, /learning rate must be a number in \(0, 0.1\), got NaN/],
    [{ dmdLr: 0 }, /DMD learning rate/],
    [{ seed: -1 }, /seed must be an integer/],
    [{ k: 0 }, /k must be an integer in \[1, 64\]/],
  ];
  for (const [cfg, re] of bad) assert.throws(() => lab.newRace({ ...SMALL, ...cfg }), re, JSON.stringify(cfg));
  assert.equal(tf.memory().numTensors, before, 'nothing allocated by a refused config');
  assert.throws(() => lab.setData('nope'), /unknown dataset 'nope'/);
  await assert.rejects(() => lab.race({}), /no race/);
  await assert.rejects(() => new CompareLab().evaluate(100, 1), /no teacher/);
  await assert.rejects(() => lab.evaluate(5, 1), /samples must be an integer in \[16, 8192\]/);
  assert.throws(() => new CompareLab().newRace(SMALL), /load a teacher first/);
  lab.dispose();
});

test('compare lab: every method steps once per round, scores are finite, fidelity is to the teacher from the same noise, no leaks, reset releases', async () => {
  const lab = await labWithTeacher();
  const teacherOnly = tf.memory().numTensors;
  lab.newRace(SMALL);
  await lab.race({}, 1); // the optimizers' slots exist after the first round
  const afterOne = tf.memory().numTensors;
  await lab.race({}, 2);
  assert.equal(tf.memory().numTensors, afterOne, 'no tensor leak across rounds');
  assert.equal(lab.rounds, 3);
  const methods = lab.methods();
  assert.deepEqual(methods.map((m) => m.method), [...COMPARE_METHODS]);
  for (const m of methods) {
    assert.equal(m.iteration, 3, `${m.method}: one iteration per round`);
    assert.ok(Number.isFinite(m.loss), `${m.method}: finite loss`);
  }
  assert.deepEqual(methods.map((m) => m.nfe), [1, 1, 1, 1]);
  const ev = await lab.evaluate(200, 5);
  assert.equal(tf.memory().numTensors, afterOne, 'no tensor leak in the evaluation');
  assert.deepEqual(ev.rows.map((r) => r.id), ['teacher-many', 'teacher-few', ...COMPARE_METHODS]);
  for (const r of ev.rows) {
    assert.equal(r.samples.length, 400);
    for (const v of [r.swd, r.precision, r.entropy, r.fidelity]) assert.ok(Number.isFinite(v), `${r.id}: finite metrics`);
    assert.ok(r.precision >= 0 && r.precision <= 1 && r.entropy >= 0 && r.entropy <= 1 + 1e-9);
    assert.equal(r.modes, 8);
  }
  assert.equal(ev.rows[0].fidelity, 0, 'the many-step teacher is the fidelity reference');
  assert.ok(ev.rows[1].fidelity > 0.1, 'teacher Euler 1 step lands far from its 128-step sample');
  assert.equal(ev.rows[2].iteration, 3);
  // the same seed and settings reproduce a race
  const again = await labWithTeacher();
  again.newRace(SMALL);
  await again.race({});
  const ev2 = await again.evaluate(200, 5);
  for (let i = 0; i < ev.rows.length; i++) assert.deepEqual(Array.from(ev2.rows[i].samples), Array.from(ev.rows[i].samples), `${ev.rows[i].id}: seeded`);
  again.dispose();
  lab.reset();
  assert.equal(tf.memory().numTensors, teacherOnly, 'reset releases every student, optimizer and fake network');
  assert.equal(lab.methods().length, 0);
  lab.dispose();
});

test('compare lab: at 2 NFE the students sample with 2 steps and DMD stays a one-step generator; pause holds the round counter', async () => {
  const lab = await labWithTeacher();
  lab.newRace({ ...SMALL, nfe: 2, methods: ['shortcut', 'dmd'], iters: 50 });
  assert.deepEqual(lab.methods().map((m) => [m.method, m.nfe]), [['shortcut', 2], ['dmd', 1]]);
  let rounds = 0;
  let onPause!: () => void;
  const pausedSeen = new Promise<void>((r) => (onPause = r));
  // the loop reports progress when it reaches a pause (and, with this progressMs, only then and at the end)
  const run = lab.race({ onLoss: () => { rounds++; if (rounds === 2) lab.pause(); }, onProgress: () => lab.isPaused && onPause(), progressMs: 1e12, yieldMs: 0 });
  await pausedSeen;
  assert.equal(lab.rounds, 2, 'paused after two rounds');
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
  assert.equal(lab.rounds, 2, 'no round while paused (twenty turns of the event loop later)');
  lab.stop();
  await run;
  const ev = await lab.evaluate(64, 1);
  assert.equal(ev.rows[1].title, 'teacher, Euler 2 steps');
  assert.deepEqual(ev.rows.map((r) => r.nfe), [128, 2, 2, 1]);
  lab.dispose();
});

async function studentWeights(lab: CompareLab): Promise<Float32Array[]> {
  const snap = await lab.snapshot();
  assert.ok(snap.racers, 'the checkpoint holds the students');
  return snap.racers!.map((r) => new Float32Array(r.student.weights));
}

test('compare lab: a checkpoint between rounds restores the race exactly (students, optimizers, noise): k + restore + (N − k) equals N straight', async () => {
  const cfg = { ...SMALL, iters: 4 };
  const straight = await labWithTeacher();
  straight.newRace(cfg);
  await straight.race();
  const want = await studentWeights(straight);
  const wantLoss = straight.methods().map((m) => m.loss);

  const lab = await labWithTeacher();
  lab.newRace(cfg);
  await lab.race({}, 2);
  const snap = await lab.snapshot();
  await lab.race({}, 1); // the original goes on: the checkpoint must not share its state
  assert.equal(snap.round, 2);
  assert.deepEqual(snap.racers!.map((r) => r.method), [...COMPARE_METHODS]);
  const fresh = new CompareLab();
  const tensorsBefore = tf.memory().numTensors;
  const restored = await fresh.restore(snap);
  assert.deepEqual(restored, ['teacher', 'the race at round 2']);
  assert.equal(fresh.rounds, 2);
  assert.deepEqual(fresh.methods().map((m) => m.iteration), [2, 2, 2, 2]);
  await fresh.race();
  assert.equal(fresh.rounds, 4);
  const got = await studentWeights(fresh);
  got.forEach((w, i) => assert.deepEqual(w, want[i], `${COMPARE_METHODS[i]}: weights after the restored race equal the straight race's`));
  assert.deepEqual(fresh.methods().map((m) => m.loss), wantLoss);
  fresh.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the restored race released everything it made');
  lab.dispose();
  straight.dispose();
});

test('compare lab: a checkpoint without students restarts the race; a corrupt one is a clear error and leaves no race', async () => {
  const lab = await labWithTeacher();
  lab.newRace(SMALL);
  const empty = await lab.snapshot(); // before any round: round 0 with fresh students
  assert.equal(empty.round, 0);
  const old = { dataset: empty.dataset, teacher: empty.teacher, config: empty.config }; // an earlier checkpoint's shape
  const a = new CompareLab();
  assert.deepEqual((await a.restore(old)).map((s) => s.split(' ')[0]), ['teacher', 'the']);
  assert.equal(a.rounds, 0);
  assert.equal(a.methods().length, 4);
  a.dispose();
  await lab.race({}, 1);
  const snap = await lab.snapshot();
  const before = tf.memory().numTensors;
  const b = new CompareLab();
  const wrongOrder = { ...snap, racers: [...snap.racers!].reverse() };
  await assert.rejects(() => b.restore(wrongOrder), /students dmd, shortcut, constant, gmflow do not match the race's methods gmflow, constant, shortcut, dmd/);
  assert.equal(b.config, null);
  const badState = { ...snap, racers: snap.racers!.map((r, i) => (i === 1 ? { ...r, state: { ...r.state, adam: [] } } : r)) };
  await assert.rejects(() => b.restore(badState), /state/i);
  assert.equal(b.config, null);
  assert.equal(b.methods().length, 0);
  b.dispose();
  assert.equal(tf.memory().numTensors, before, 'nothing left behind by the refused checkpoints');
  lab.dispose();
});

test('compare lab: an evaluation owns its arrays (a worker transfers them; the next evaluation is whole)', async () => {
  const lab = await labWithTeacher();
  const a = await lab.evaluate(64, 2);
  for (const r of a.rows) structuredClone(r.samples, { transfer: [r.samples.buffer] }); // what postMessage does
  const b = await lab.evaluate(64, 2);
  assert.deepEqual(b.rows.map((r) => r.samples.length), [128, 128]);
  assert.ok(b.rows.every((r) => Number.isFinite(r.swd)));
  lab.dispose();
});

test('compare lab: a non-finite step stops the race with the method named, the round unfinished, the lab idle', async () => {
  const { NonFiniteLossError } = await import('../src/engine/optim.js');
  const lab = await labWithTeacher();
  lab.newRace({ ...SMALL, methods: ['shortcut', 'dmd'], iters: 10 });
  await lab.race({}, 1);
  // the DMD generator's next step diverges (what GuardedAdam throws for a NaN loss; the step is not applied)
  const racers = (lab as unknown as { racers: { method: string; step: () => Promise<{ loss: number }> }[] }).racers;
  racers.find((r) => r.method === 'dmd')!.step = async () => { throw new NonFiniteLossError(1, NaN, NaN); };
  await assert.rejects(() => lab.race({}), /^Error: DMD-style: training diverged at iteration 1: loss = NaN/);
  assert.equal(lab.rounds, 1, 'the round with the failed step does not count');
  assert.equal(lab.running, 'idle');
  assert.deepEqual(lab.methods().map((m) => m.iteration), [2, 1], 'shortcut took its step of the unfinished round, DMD did not');
  lab.dispose();
});

test('compare lab: an evaluation overtaken by a reset says it is stale instead of sampling released students', async () => {
  const lab = await labWithTeacher();
  lab.newRace(SMALL);
  await lab.race({}, 1);
  const pending = lab.evaluate(64, 3);
  lab.reset(); // while the evaluation waits for the teacher's samples
  const ev = await pending;
  assert.equal(ev.stale, true);
  assert.equal(ev.rows.length, 0, 'no row from a released race');
  const next = await lab.evaluate(64, 3);
  assert.equal(next.stale, false);
  assert.equal(next.rows.length, 2);
  lab.dispose();
});

test("the comparison notebook's controls offer exactly what the lab accepts, with the lab's defaults", async () => {
  const { methodsSchema: s } = await import('../notebooks/schemas.js');
  const { COMPARE_LIMITS, DEFAULT_COMPARE, validateCompare } = await import('../src/runtime/compare-lab.js');
  for (const key of ['nfe', 'iters', 'batch', 'k'] as const) {
    assert.deepEqual([s[key].min, s[key].max], [...COMPARE_LIMITS[key]], `${key}: the control's range is the lab's`);
    assert.equal(s[key].default, DEFAULT_COMPARE[key], `${key}: the same default`);
  }
  for (const key of ['lr', 'dmdLr'] as const) {
    assert.equal(s[key].default, DEFAULT_COMPARE[key]);
    assert.ok(s[key].exclusiveMin && s[key].exclusiveMax && s[key].min === 0 && s[key].max === 0.1, `${key}: (0, 0.1) as the lab checks it`);
  }
  assert.equal(s.seed.max, 0xffffffff);
  assert.doesNotThrow(() => validateCompare({ ...DEFAULT_COMPARE, seed: s.seed.max!, batch: s.batch.max!, iters: s.iters.max! }));
});

test('compare lab: each student saves in the CLI / notebook format (π-ID: policy and settings; baselines: method and NFE) and samples as in the race', async () => {
  const lab = await labWithTeacher();
  await assert.rejects(() => lab.saveStudent('gmflow'), /no gmflow student in this race/);
  lab.newRace({ ...SMALL, nfe: 2 });
  await lab.race({}, 2);
  const ev = await lab.evaluate(64, 11);
  const before = tf.memory().numTensors;
  for (const method of COMPARE_METHODS) {
    const art = await lab.saveStudent(method);
    const net = await toyNetFromArtifacts(art, { config: 'c', model: 'm', weights: 'w' });
    assert.equal(net.meta.dataset, 'checkerboard');
    assert.equal(net.meta.itersDone, 2);
    const row = ev.rows.find((r) => r.id === method)!;
    let samples: Float32Array;
    if (method === 'gmflow' || method === 'constant') {
      assert.equal(baselineOf(net.meta), null);
      const policy = net.meta.policy as StudentPolicyConfig;
      validateStudentPolicyConfig(policy);
      assert.equal(policy.policy, method);
      assert.equal(policy.nfe, 2);
      samples = await sampleStudent(net, policy, 64, 11, { chunk: 64 });
    } else {
      const mark = baselineOf(net.meta);
      assert.deepEqual(mark, { method, nfe: method === 'dmd' ? 1 : 2 });
      samples = await sampleTeacher(net, 64, mark!.nfe, 11, 64);
    }
    assert.deepEqual(samples, row.samples, `${method}: the saved student samples what the race's did`);
    net.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  lab.dispose();
});

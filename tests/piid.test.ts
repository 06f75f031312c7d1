import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { NonFiniteLossError } from '../src/engine/optim.js';
import { createToyNet, ToyNet } from '../src/models/mlp.js';
import { datasetSource, Distiller, DistillConfig, TeacherTrainer } from '../src/runtime/toy.js';

before(() => useBackend('wasm'));

const SMALL = { kind: 'teacher' as const, width: 32, depth: 2 };

async function smallTeacher(steps = 30): Promise<ToyNet> {
  const net = createToyNet(SMALL, new Rng(11));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 128, { lr: 3e-3 }, 1);
  for (let i = 0; i < steps; i++) await t.step();
  t.dispose();
  return net;
}

function distiller(teacher: ToyNet, cfg: Partial<DistillConfig>): Distiller {
  return new Distiller(teacher, datasetSource('checkerboard'), { batch: 64, k: 4, n: 4, totalSubsteps: 32, ...cfg });
}

test('200 π-ID iterations leave tf.memory().numTensors at its baseline (GMFlow, dropout, decay, window)', async () => {
  const teacher = await smallTeacher(5);
  const d = distiller(teacher, { gmDropout: 0.2, numDecayIters: 50, windowSubsteps: 2, nfe: 2 });
  await d.step(); // optimizer slots exist from here on
  const baseline = tf.memory().numTensors;
  for (let i = 0; i < 200; i++) await d.step();
  assert.equal(tf.memory().numTensors, baseline);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('DX and data-free iterations leave no tensors behind either', async () => {
  const teacher = await smallTeacher(5);
  for (const cfg of [{ policy: 'dx' as const, windowSubsteps: 3 }, { dataFree: true, nfe: 3, numDecayIters: 10 }, { policy: 'dx' as const, dataFree: true, dxMode: 'polynomial' as const }]) {
    const d = distiller(teacher, cfg);
    await d.step();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const s = await d.step();
      assert.ok(Number.isFinite(s.loss), JSON.stringify(cfg));
    }
    assert.equal(tf.memory().numTensors, baseline, JSON.stringify(cfg));
    d.dispose();
    d.student.dispose();
  }
  teacher.dispose();
});

test('same seed, same losses; another seed, other losses', async () => {
  const teacher = await smallTeacher(5);
  const run = async (seed: number) => {
    const d = distiller(teacher, { seed, gmDropout: 0.1 });
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) losses.push((await d.step()).loss);
    d.dispose();
    d.student.dispose();
    return losses;
  };
  const a = await run(7);
  assert.deepEqual(await run(7), a);
  assert.notDeepEqual(await run(8), a);
  teacher.dispose();
});

test('the teacher ratio decays linearly and π-ID reports it', async () => {
  const teacher = await smallTeacher(2);
  const d = distiller(teacher, { numDecayIters: 4 });
  const ratios: number[] = [];
  for (let i = 0; i < 6; i++) ratios.push((await d.step()).teacherRatio);
  assert.deepEqual(ratios, [1, 0.75, 0.5, 0.25, 0, 0]);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('π-ID lowers its loss on a fixed teacher', async () => {
  const teacher = await smallTeacher(60);
  const d = distiller(teacher, { adam: { lr: 1e-3 }, batch: 256 });
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) losses.push((await d.step()).loss);
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(last < 0.9 * first, `loss ${first} -> ${last}`); // measured: 0.43 -> 0.34
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('a NaN loss throws a clear error and leaves the student and optimizer untouched', async () => {
  const teacher = await smallTeacher(2);
  const d = distiller(teacher, {});
  await d.step();
  const weightsBefore = d.student.model.getWeights().map((w) => w.dataSync().slice());
  // poison the teacher: every target becomes NaN
  const w0 = teacher.model.getWeights().map((w) => w.clone()); // getWeights aliases the variables
  teacher.model.setWeights(w0.map((w, i) => (i === w0.length - 1 ? tf.fill(w.shape, NaN) : w)));
  await assert.rejects(d.step(), (e: unknown) => e instanceof NonFiniteLossError && /diverged at iteration 2/.test((e as Error).message));
  const weightsAfter = d.student.model.getWeights().map((w) => w.dataSync());
  weightsBefore.forEach((w, i) => assert.deepEqual(weightsAfter[i], w));
  assert.equal(d.optimizer.step, 1);
  // training resumes once the teacher is healthy again
  teacher.model.setWeights(w0);
  w0.forEach((w) => w.dispose());
  assert.ok(Number.isFinite((await d.step()).loss));
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('invalid π-ID hyperparameters are refused with the option, the value and the range', async () => {
  const teacher = await smallTeacher(1);
  const bad: [Partial<DistillConfig>, RegExp][] = [
    [{ k: 0 }, /K must be an integer >= 1, got 0/],
    [{ policy: 'dx', n: 0 }, /N must be an integer >= 1, got 0/],
    [{ nfe: 0 }, /nfe must be an integer >= 1, got 0/],
    [{ totalSubsteps: 0 }, /totalSubsteps must be an integer >= 1, got 0/],
    [{ gmDropout: 1.5 }, /gmDropout must be in \[0, 1\), got 1.5/],
    [{ adam: { lr: NaN } }, /learning rate must be a finite number > 0, got NaN/],
    [{ adam: { lr: -1 } }, /learning rate must be a finite number > 0, got -1/],
    [{ policy: 'ddim' as 'dx' }, /policy must be gmflow, dx or constant, got 'ddim'/],
    [{ finalStepSizeScale: 0 }, /finalStepSizeScale must be in \(0, 1\], got 0/],
    [{ numIntermediateStates: 0 }, /numIntermediateStates must be an integer >= 1, got 0/],
  ];
  const n0 = tf.memory().numTensors;
  for (const [cfg, re] of bad) assert.throws(() => distiller(teacher, cfg), re);
  assert.equal(tf.memory().numTensors, n0, 'a refused configuration allocates nothing');
  teacher.dispose();
});

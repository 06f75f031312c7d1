import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { eulerSample } from '../src/engine/sample.js';
import { createToyNet, ToyNet } from '../src/models/mlp.js';
import { datasetSource, sampleTeacher, teacherVelocity, TeacherTrainer } from '../src/runtime/toy.js';
import { DmdDistiller, ShortcutDistiller, teacherSegmentStates } from '../src/runtime/baselines.js';
import { meanPairDistance } from '../src/metrics/fidelity.js';

before(() => useBackend('wasm'));

async function tinyTeacher(steps = 40): Promise<ToyNet> {
  const net = createToyNet({ kind: 'teacher', width: 32, depth: 2 }, new Rng(21));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 128, { lr: 3e-3 }, 2);
  for (let i = 0; i < steps; i++) await t.step();
  t.dispose();
  return net;
}

test('meanPairDistance: mean Euclidean distance of paired rows; bad shapes are clear errors', () => {
  const a = Float32Array.from([0, 0, 1, 1]);
  const b = Float32Array.from([3, 4, 1, 1]);
  assert.equal(meanPairDistance(a, b, 2), 2.5);
  assert.equal(meanPairDistance(a, a, 2), 0);
  assert.throws(() => meanPairDistance(a, Float32Array.from([1, 2]), 2), /same length/);
  assert.throws(() => meanPairDistance(a, b, 0), /dims/);
});

test('teacher segment states: F + 1 boundaries of the teacher ODE, the last is its many-step sample', async () => {
  const teacher = await tinyTeacher(5);
  const states = teacherSegmentStates(teacher, 64, 2, 16, new Rng(4));
  assert.equal(states.length, 3);
  const noise = new Rng(4).normalArray(128);
  assert.deepEqual(Array.from(states[0]), Array.from(noise), 'σ = 1: the noise itself');
  const x = tf.tensor2d(noise, [64, 2]);
  const end = eulerSample(teacherVelocity(teacher), x, 16);
  const want = await end.data();
  tf.dispose([x, end]);
  assert.ok(meanPairDistance(states[2], want as Float32Array, 2) < 1e-6, 'σ = 0: the 16-step Euler sample');
  assert.ok(meanPairDistance(states[1], states[2], 2) > 1e-3, 'the midpoint differs from the end');
  teacher.dispose();
});

test('shortcut regression: loss falls, its one-step samples move towards the teacher ODE from the same noise, no leaks, seeded', async () => {
  const teacher = await tinyTeacher();
  const d = new ShortcutDistiller(teacher, { nfe: 1, teacherSteps: 32, pool: 512, batch: 256, seed: 1, adam: { lr: 3e-3 } });
  const seed = 9;
  const target = await sampleTeacher(teacher, 400, 32, seed);
  const before = meanPairDistance(await sampleTeacher(d.student, 400, 1, seed), target, 2);
  const first = (await d.step()).loss;
  const baseline = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 80; i++) last = (await d.step()).loss;
  assert.equal(tf.memory().numTensors, baseline, 'no tensors left behind');
  assert.ok(last < 0.7 * first, `regression loss ${first} → ${last}`);
  const after = meanPairDistance(await sampleTeacher(d.student, 400, 1, seed), target, 2);
  assert.ok(after < 0.7 * before, `1-step distance to the teacher's 32-step sample: ${before} → ${after}`);
  // same seed, same losses
  const again = new ShortcutDistiller(teacher, { nfe: 1, teacherSteps: 32, pool: 512, batch: 256, seed: 1, adam: { lr: 3e-3 } });
  assert.equal((await again.step()).loss, first);
  for (const x of [d, again]) {
    x.dispose();
    x.student.dispose();
  }
  teacher.dispose();
});

test('shortcut regression for 2 NFE regresses each segment onto the teacher state at its end', async () => {
  const teacher = await tinyTeacher(10);
  const d = new ShortcutDistiller(teacher, { nfe: 2, teacherSteps: 16, pool: 256, batch: 128, seed: 3, adam: { lr: 3e-3 } });
  const l0 = (await d.step()).loss;
  let l = l0;
  for (let i = 0; i < 40; i++) l = (await d.step()).loss;
  assert.ok(Number.isFinite(l) && l < l0, `${l0} → ${l}`);
  assert.throws(() => new ShortcutDistiller(teacher, { nfe: 0 }), /nfe must be an integer/);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('DMD-style generator: finite losses for generator and fake net, no leaks, seeded, the generator moves', async () => {
  const teacher = await tinyTeacher(20);
  const run = async () => {
    const d = new DmdDistiller(teacher, null, { batch: 128, fakeUpdates: 2, seed: 5, generatorAdam: { lr: 1e-3 }, fakeAdam: { lr: 1e-3 } });
    const w0 = (await d.student.model.getWeights()[0].data()).slice();
    const first = await d.step();
    const baseline = tf.memory().numTensors;
    const losses = [first.loss];
    for (let i = 0; i < 6; i++) {
      const s = await d.step();
      assert.ok(Number.isFinite(s.loss) && Number.isFinite(s.fakeLoss!), JSON.stringify(s));
      losses.push(s.loss);
    }
    assert.equal(tf.memory().numTensors, baseline, 'no tensors left behind');
    const w1 = await d.student.model.getWeights()[0].data();
    const moved = w1.some((v, i) => v !== w0[i]);
    d.dispose();
    d.student.dispose();
    return { losses, moved };
  };
  const a = await run();
  const b = await run();
  assert.ok(a.moved, 'the generator weights changed');
  assert.deepEqual(a.losses, b.losses, 'same seed, same losses');
  assert.throws(() => new DmdDistiller(teacher, null, { sigmaMin: 0.9, sigmaMax: 0.5 }), /σ_min < σ_max/);
  teacher.dispose();
});

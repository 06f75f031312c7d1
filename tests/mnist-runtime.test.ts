import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { ImageSampler } from '../src/data/mnist.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { DEFAULT_UNET, createImageNet, type UNetConfig } from '../src/models/unet.js';
import { ImageDistiller, ImageTeacherTrainer, sampleImageStudent, sampleImageTeacher } from '../src/runtime/mnist.js';
import { policyConfigOf } from '../src/runtime/toy.js';

before(async () => {
  await initNodeBackend('wasm');
});

const TINY: UNetConfig = { ...DEFAULT_UNET, base: 8, mid: 8, groups: 4, embDim: 16, timeDim: 16 };

test('MNIST: short teacher → GMFlow and DX students → samples (tiny shapes), no tensor leaks', async () => {
  const { images, labels } = await loadMnist('test');
  const sampler = new ImageSampler(images, labels);
  const data = (n: number, rng: Rng) => sampler.sample(n, rng);
  const teacher = createImageNet(TINY, new Rng(0));
  const tr = new ImageTeacherTrainer(teacher, data, 8, { lr: 2e-3, warmupSteps: 2, clipNorm: 1 }, 0);
  const losses: number[] = [];
  for (let i = 0; i < 6; i++) losses.push((await tr.step()).loss);
  assert.ok(losses.every(Number.isFinite));
  const before = tf.memory().numTensors;
  await tr.step();
  assert.equal(tf.memory().numTensors, before, 'teacher step leaks tensors');
  tr.dispose();
  for (const policy of ['gmflow', 'dx'] as const) {
    const d = new ImageDistiller(teacher, data, { policy, k: 2, n: 3, batch: 4, totalSubsteps: 8, windowSubsteps: policy === 'dx' ? 3 : 0, seed: 1 });
    const s1 = await d.step();
    assert.ok(Number.isFinite(s1.loss) && s1.policyEvals > 0);
    const m = tf.memory().numTensors;
    await d.step();
    assert.equal(tf.memory().numTensors, m, `${policy} π-ID step leaks tensors`);
    const xs = await sampleImageStudent(d.student, policyConfigOf(d.cfg), 3, 7, { chunk: 2 });
    assert.equal(xs.length, 3 * 784);
    assert.ok(xs.every(Number.isFinite));
    d.dispose();
    d.student.dispose();
  }
  const t = await sampleImageTeacher(teacher, 3, 2, 7, 2);
  assert.equal(t.length, 3 * 784);
  assert.ok(t.every(Number.isFinite));
  teacher.dispose();
});

test('image teacher EMA: withEmaWeights swaps the averaged weights in and puts the live ones back', async () => {
  const data = (n: number, rng: Rng) => rng.normalArray(n * 784).map((v) => Math.tanh(v));
  const net = createImageNet(TINY, new Rng(0));
  const tr = new ImageTeacherTrainer(net, data, 4, { lr: 1e-2 }, 0, 0.5);
  for (let i = 0; i < 3; i++) await tr.step();
  const x = tf.randomNormal([2, 1, 28, 28], 0, 1, 'float32', 1) as tf.Tensor4D;
  const sig = Float64Array.from([0.3, 0.6]);
  const live = net.apply(x, sig).out.dataSync().slice();
  const ema = await tr.withEmaWeights(async () => net.apply(x, sig).out.dataSync().slice());
  const again = net.apply(x, sig).out.dataSync().slice();
  assert.deepEqual(again, live);
  assert.notDeepEqual(ema, live);
  const n = tf.memory().numTensors;
  await tr.step();
  assert.equal(tf.memory().numTensors, n, 'EMA step leaks tensors');
  tr.dispose();
  net.dispose();
  x.dispose();
});

/**
 * The shipped MNIST models keep the claims, scaled down to run in CI (the full-size numbers,
 * from 10,000 samples, are in the README): the pretrained GMFlow student at 2 NFE is within 1.5× of the
 * teacher's 32-step Euler Fréchet distance and far below the teacher's own 2-step distance, and it
 * covers all ten classes with near-uniform predicted-class entropy. Same noise seed for every sampler;
 * the Fréchet distance is against the whole test set in the shipped classifier's feature space.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initNodeBackend } from '../../src/engine/backend.js';
import { loadMnist } from '../../src/data/mnist-node.js';
import { readArtifactsDir } from '../../src/models/io-node.js';
import { MnistLab } from '../../src/runtime/mnist-lab.js';

const COUNT = 500;

before(async () => {
  await initNodeBackend('wasm');
});

test(`shipped MNIST teacher and GMFlow student: quality and diversity on ${COUNT} samples`, async (t) => {
  const lab = new MnistLab();
  lab.setTestData(await loadMnist('test'));
  await lab.setClassifier(await readArtifactsDir('static/classifier'), 'static/classifier');
  await lab.loadTeacher(await readArtifactsDir('static/pretrained/mnist/teacher'), 'static/pretrained/mnist/teacher');
  await lab.loadStudent(await readArtifactsDir('static/pretrained/mnist/gmflow'), 'static/pretrained/mnist/gmflow');
  assert.equal(lab.studentPolicy?.policy, 'gmflow');
  const seed = 2024;
  const teacher32 = await lab.quality(await lab.teacherSamples(COUNT, 32, seed));
  const teacher2 = await lab.quality(await lab.teacherSamples(COUNT, 2, seed));
  const student2 = await lab.quality(await lab.studentSamples(COUNT, seed, { nfe: 2 }));
  const line = (n: string, q: typeof student2) => `${n}: FD ${q.frechet.toFixed(1)}, entropy ${(q.stats.entropy / Math.log(10)).toFixed(3)}·ln10, classes ${q.stats.classesCovered}`;
  const report = [line('teacher Euler-32', teacher32), line('teacher Euler-2', teacher2), line('student 2 NFE', student2)].join('; ');
  t.diagnostic(report);
  assert.ok(student2.frechet <= 1.5 * teacher32.frechet, `student within 1.5× of the teacher's 32 steps: ${report}`);
  assert.ok(student2.frechet <= 0.5 * teacher2.frechet, `student well below the teacher's 2 steps: ${report}`);
  assert.equal(student2.stats.classesCovered, 10, report);
  assert.ok(student2.stats.entropy >= 0.95 * Math.log(10), report);
  lab.dispose();
});

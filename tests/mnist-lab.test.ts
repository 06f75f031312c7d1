/**
 * The MNIST lab (what the MNIST notebook's worker runs), in Node on wasm with tiny U-Nets and the
 * real test set and shipped classifier: teacher training, π-ID, paths with x̂₀, classifier quality,
 * checkpoints (snapshot → restore), clear errors, no tensor leaks.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { readArtifactsDir } from '../src/models/io-node.js';
import { MnistLab } from '../src/runtime/mnist-lab.js';
import { fitPca, projectPca } from '../src/metrics/pca.js';
import { jacobiEigen, meanCov } from '../src/metrics/frechet.js';
import { Rng } from '../src/engine/rng.js';

before(async () => {
  await initNodeBackend('wasm');
});

async function equippedLab(): Promise<MnistLab> {
  const lab = new MnistLab();
  lab.setTestData(await loadMnist('test'));
  await lab.setClassifier(await readArtifactsDir('static/classifier'), 'static/classifier');
  return lab;
}

test('MNIST lab: teacher → student → paths, samples, quality; snapshot/restore; no leaks', async () => {
  const lab = await equippedLab();
  assert.throws(() => lab.newTeacher({ size: 'huge' as never, lr: 1e-3, batch: 4, steps: 3, seed: 0, ema: 0 }), /size must be one of tiny, small, full/);
  assert.throws(() => lab.newTeacher({ size: 'tiny', lr: NaN, batch: 4, steps: 3, seed: 0, ema: 0 }), /learning rate must be a finite number/);
  lab.newTeacher({ size: 'tiny', lr: 2e-3, batch: 4, steps: 3, seed: 0, ema: 0 });
  const losses: number[] = [];
  await lab.trainTeacher({ onLoss: (_i, l) => losses.push(l) });
  assert.equal(lab.teacherIteration, 3);
  assert.equal(losses.length, 3);
  assert.ok(losses.every(Number.isFinite));

  assert.throws(() => lab.newStudent({ policy: 'gmflow', k: 0 }), /K must be an integer >= 1/);
  lab.newStudent({ policy: 'gmflow', k: 2, batch: 2, totalSubsteps: 8, nfe: 2, seed: 1 });
  await lab.distill(2);
  assert.equal(lab.studentIteration, 2);

  const paths = await lab.paths(2, 5, { teacherSteps: 4 });
  const D = 784;
  assert.equal(paths.dim, D);
  assert.deepEqual(paths.teacher.sigma.map((s) => +s.toFixed(3)), [1, 0.75, 0.5, 0.25, 0]);
  assert.equal(paths.teacher.states.length, 5 * 2 * D);
  assert.equal(paths.teacher.x0.length, 5 * 2 * D);
  // at σ = 0 the teacher's x̂₀ is the state itself; at σ = 1, x − u
  assert.deepEqual(Array.from(paths.teacher.x0.subarray(4 * 2 * D)), Array.from(paths.teacher.states.subarray(4 * 2 * D)));
  const policy = paths.policy!;
  const Tp = policy.sigma.length;
  assert.equal(policy.states.length, Tp * 2 * D);
  assert.equal(policy.nfeIndices.length, 2);
  assert.equal(policy.sigma[0], 1);
  assert.equal(policy.sigma[Tp - 1], 0);
  assert.ok(policy.x0.every(Number.isFinite));
  const before = tf.memory().numTensors;
  await lab.paths(2, 5, { teacherSteps: 4 });
  await lab.studentSamples(3, 1, { nfe: 1 });
  await lab.teacherSamples(3, 2, 1);
  assert.equal(tf.memory().numTensors, before, 'paths and sampling leak no tensors');

  const samples = await lab.teacherSamples(20, 4, 9);
  const q = await lab.quality(samples);
  assert.equal(q.count, 20);
  assert.ok(Number.isFinite(q.frechet) && q.frechet > 0);
  assert.equal(q.stats.histogram.reduce((a, b) => a + b, 0), 20);
  // real test images score far better than an untrained tiny teacher's samples
  const real = await lab.quality(lab.dataSamples(200, 3));
  assert.ok(real.frechet < q.frechet, `test images ${real.frechet} vs untrained samples ${q.frechet}`);
  assert.ok(real.stats.classesCovered === 10);
  await assert.rejects(lab.quality(new Float32Array(100)), /at least 2 images of 28×28/);

  // checkpoint → a fresh lab (as after a lost device) goes on where this one was
  const snap = await lab.snapshot();
  const again = await equippedLab();
  assert.deepEqual(await again.restore(snap), ['teacher', 'student']);
  assert.equal(again.teacherIteration, 3);
  assert.equal(again.studentIteration, 2);
  assert.ok(again.canDistill);
  await again.distill(1);
  assert.equal(again.studentIteration, 3);
  // a teacher is not a student; the current student stays
  await assert.rejects(again.loadStudent(snap.teacher!, 'teacher files'), /this is a teacher, not a π-Flow student/);
  assert.equal(again.studentIteration, 3);
  lab.dispose();
  again.dispose();
});

test('PCA through the Gram matrix matches the covariance eigenvectors', () => {
  const rng = new Rng(3);
  const n = 40;
  const d = 6;
  const data = new Float32Array(n * d);
  const scales = [5, 2, 1, 0.5, 0.2, 0.1];
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = rng.normal() * scales[j] + j;
  const pca = fitPca(data, n, d, 2);
  const { cov } = meanCov(data, n, d); // the sample covariance (n − 1)
  const eig = jacobiEigen(cov, d);
  const order = Array.from(eig.values.keys()).sort((a, b) => eig.values[b] - eig.values[a]);
  for (let c = 0; c < 2; c++) {
    const k = order[c];
    assert.ok(Math.abs(pca.variances[c] - eig.values[k]) < 1e-6 * eig.values[k], `variance ${c}: ${pca.variances[c]} vs ${eig.values[k]}`);
    let dot = 0;
    for (let j = 0; j < d; j++) dot += pca.components[c * d + j] * eig.vectors[j * d + k];
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-6, `component ${c} is the eigenvector (|dot| = ${Math.abs(dot)})`);
  }
  const proj = projectPca(pca, data, n);
  assert.equal(proj.length, n * 2);
  let mean0 = 0;
  for (let i = 0; i < n; i++) mean0 += proj[2 * i] / n;
  assert.ok(Math.abs(mean0) < 1e-4, 'projections are centred');
  assert.throws(() => fitPca(data, n, d + 1), /expected 40×7 values/);
});

test('MNIST lab: a baseline student (distill --method shortcut|dmd) is refused as a teacher; the teacher stays', async () => {
  const lab = await equippedLab();
  lab.newTeacher({ size: 'tiny', lr: 2e-3, batch: 4, steps: 1, seed: 0, ema: 0 });
  const art = await lab.saveTeacher();
  const file = art.file as { meta: Record<string, unknown> };
  const marked = { ...art, file: { ...file, meta: { ...file.meta, method: 'dmd', nfe: 1 } } };
  await assert.rejects(lab.loadTeacher(marked, 'dmd-student'), /dmd-student: a dmd baseline student .*not a teacher/);
  await lab.loadTeacher(art, 'teacher');
  assert.equal(lab.teacherIteration, 0);
  lab.dispose();
});

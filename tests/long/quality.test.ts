/**
 * End-to-end quality, scaled down from the workload (README "Quality"): a small checkerboard teacher
 * and a GMFlow student distilled by π-ID at 2 NFE. Bounds are set from measurements on this machine
 * (wasm): teacher Euler-2 1.05, Euler-64 0.100, student 2-NFE 0.097, data-vs-data floor 0.061
 * (5,000 samples, 128 projections).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers.js';
import { Rng } from '../../src/engine/rng.js';
import { createToyNet } from '../../src/models/mlp.js';
import { sample2d } from '../../src/data/toy2d.js';
import { slicedWasserstein1 } from '../../src/metrics/swd.js';
import { datasetSource, Distiller, policyConfigOf, sampleStudent, sampleTeacher, TeacherTrainer } from '../../src/runtime/toy.js';

before(() => useBackend('wasm'));

test('a 2-NFE GMFlow student reaches the many-step teacher and beats its own 2-step Euler by far', async () => {
  const teacher = createToyNet({ kind: 'teacher', width: 64, depth: 3 }, new Rng(0));
  const tt = new TeacherTrainer(teacher, datasetSource('checkerboard'), 512, { lr: 2e-3 }, 0);
  for (let i = 0; i < 1500; i++) await tt.step();
  tt.dispose();
  const d = new Distiller(teacher, datasetSource('checkerboard'), { nfe: 2, batch: 512, k: 8, adam: { lr: 3e-4 } });
  for (let i = 0; i < 800; i++) await d.step();
  const N = 5000;
  const data = sample2d('checkerboard', N, new Rng(99));
  const swd = (s: Float32Array) => slicedWasserstein1(s, data, 2, 128, new Rng(5));
  const euler2 = swd(await sampleTeacher(teacher, N, 2, 1));
  const euler64 = swd(await sampleTeacher(teacher, N, 64, 1));
  const student = swd(await sampleStudent(d.student, policyConfigOf(d.cfg), N, 1));
  const report = JSON.stringify({ euler2, euler64, student });
  assert.ok(euler2 > 0.5, report); // the 2-step Euler teacher is far off
  assert.ok(euler64 < 0.15, report);
  assert.ok(student <= 1.25 * euler64 + 0.02, report);
  assert.ok(student < 0.2 * euler2, report);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
  assert.ok(tf.memory().numTensors < 10, `tensors left: ${tf.memory().numTensors}`);
});

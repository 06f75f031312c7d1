import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { createToyNet, initStudentFromTeacher } from '../src/models/mlp.js';
import { eulerSample, piflowSample } from '../src/engine/sample.js';
import { densityGrid, policyPaths, teacherPaths, velocityField } from '../src/runtime/inspect2d.js';
import { StudentPolicyConfig, studentPolicy, teacherVelocity } from '../src/runtime/toy.js';

before(() => useBackend('wasm'));

test('teacher and policy paths end where the samplers end, with every substep and NFE marked', async () => {
  const rng = new Rng(2);
  const teacher = createToyNet({ kind: 'teacher', width: 16, depth: 2 }, rng);
  const cfg = { kind: 'gmflow' as const, width: 16, depth: 2, k: 4 };
  const student = createToyNet(cfg, rng);
  initStudentFromTeacher(student.model, teacher.model, cfg, rng);
  const p: StudentPolicyConfig = { policy: 'gmflow', dxMode: 'grid', nfe: 2, finalStepSizeScale: 1, shift: 1, totalSubsteps: 32 };
  const P = 6;
  const noise = rng.normalArray(2 * P);
  const n0 = tf.memory().numTensors;
  const tp = await teacherPaths(teacher, noise, 8);
  const pp = await policyPaths(student, p, noise, { nfe: 4, temperature: 0.7 });
  assert.equal(tf.memory().numTensors, n0);
  assert.equal(tp.sigma.length, 9);
  assert.equal(tp.states.length, 9 * P * 2);
  assert.deepEqual(pp.nfeIndices, [0, 8, 16, 24]);
  assert.equal(pp.sigma.length, 33);
  assert.equal(pp.sigma[0], 1);
  assert.equal(pp.sigma[32], 0);
  assert.equal(pp.steps.length, 4);
  assert.equal(pp.steps[0].kind, 'gmflow');
  // ends agree with the plain samplers on the same noise
  const x = tf.tensor2d(noise, [P, 2]);
  const te = eulerSample(teacherVelocity(teacher), x, 8);
  const make = studentPolicy(student, p);
  const se = piflowSample((xs, s) => make(xs, s, 1e-4), x, { nfe: 4, totalSubsteps: 32, shift: 1, finalStepSizeScale: 1, temperature: 0.7 });
  const [ted, sed] = [await te.data(), await se.data()];
  assert.deepEqual(Array.from(tp.states.slice(8 * P * 2)), Array.from(ted));
  assert.deepEqual(Array.from(pp.states.slice(32 * P * 2)), Array.from(sed));
  // at the last state σ = 0 the policy's x̂₀ is the state itself (GMFlow: u = (x − x̂₀)/ε stays finite)
  [x, te, se].forEach((t) => t.dispose());
  const vf = await velocityField(teacher, 0.5, 5, 4);
  assert.equal(vf.positions.length, 50);
  assert.ok(vf.vectors.every(Number.isFinite));
  teacher.dispose();
  student.dispose();
});

test('density grid is a normalised histogram', () => {
  const g = densityGrid(Float32Array.from([0.1, 0.1, -3.9, -3.9, 3.9, 3.9, 9, 9]), 4, 4);
  assert.equal(g.length, 16);
  assert.ok(Math.abs(g.reduce((a, b) => a + b) - 1) < 1e-6);
  assert.ok(Math.abs(g[0] - 1 / 3) < 1e-6); // (−3.9, −3.9) in the first cell
});

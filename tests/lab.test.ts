import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Lab } from '../src/runtime/lab.js';

before(() => useBackend('wasm'));

const small = { width: 16, depth: 2, lr: 3e-3, batch: 64, steps: 40, seed: 1 };

test('train, pause, resume and stop a teacher; progress and losses are reported', async () => {
  const lab = new Lab();
  lab.newTeacher(small);
  const losses: number[] = [];
  let last: { iter: number } | null = null;
  const run = lab.trainTeacher({ onLoss: (_i, l) => losses.push(l), onProgress: (p) => (last = p), yieldMs: 0 });
  await new Promise((r) => setTimeout(r, 5));
  lab.pause();
  await new Promise((r) => setTimeout(r, 30));
  const atPause = lab.teacherIteration;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(lab.teacherIteration, atPause, 'paused: no steps');
  assert.ok(atPause < 40);
  assert.throws(() => lab.newTeacher(small), /busy: the teacher is training/);
  lab.resume();
  await run;
  assert.equal(lab.teacherIteration, 40);
  assert.equal(losses.length, 40);
  assert.equal(last!.iter, 40);
  // stop ends a loop early
  lab.newStudent({ k: 4, batch: 32, totalSubsteps: 16 });
  const d = lab.distill(1000, { yieldMs: 0 });
  await new Promise((r) => setTimeout(r, 20));
  lab.stop();
  await d;
  assert.ok(lab.studentIteration > 0 && lab.studentIteration < 1000);
  lab.dispose();
});

test('save and load round-trip; a malformed or mismatched file leaves the current model untouched', async () => {
  const lab = new Lab();
  lab.newTeacher({ ...small, steps: 5 });
  await lab.trainTeacher();
  lab.newStudent({ policy: 'dx', n: 3, batch: 32, totalSubsteps: 16 });
  await lab.distill(3);
  const tArt = await lab.saveTeacher();
  const sArt = await lab.saveStudent();
  const noise = new Float32Array([0.1, -0.2, 0.5, 0.3]);
  const before = await lab.studentSamples(8, 3);
  const lab2 = new Lab();
  await lab2.loadTeacher(tArt, 'teacher.json');
  await lab2.loadStudent(sArt, 'student.json');
  assert.deepEqual(await lab2.studentSamples(8, 3), before);
  assert.deepEqual((await lab2.teacherPaths(noise, 4)).states, (await lab.teacherPaths(noise, 4)).states);
  // malformed: truncated weights → clear error, models untouched
  await assert.rejects(lab2.loadTeacher({ ...tArt, weights: tArt.weights.slice(0, 100) }, 'bad.json'), /bad\.json \(weights\): 100 bytes, expected \d+/);
  await assert.rejects(lab2.loadStudent(tArt, 'teacher-as-student.json'), /this is a teacher, not a π-Flow student/);
  await assert.rejects(lab2.loadTeacher(sArt, 'student-as-teacher.json'), /expected a 'teacher' network, found kind 'dx'/);
  await assert.rejects(lab2.loadTeacher({ ...tArt, file: { config: { kind: 'teacher', width: -1, depth: 2 } } }, 'cfg.json'), /width and depth must be positive integers/);
  assert.deepEqual(await lab2.studentSamples(8, 3), before, 'student unchanged');
  lab.dispose();
  lab2.dispose();
});

test('custom data and invalid settings get clear messages and allocate nothing', async () => {
  const lab = new Lab();
  const n0 = tf.memory().numTensors;
  assert.throws(() => lab.setData({ kind: 'builtin', name: 'galaxy' }), /unknown dataset 'galaxy'/);
  assert.throws(() => lab.setData({ kind: 'points', points: new Float32Array(0) }), /at least one/);
  assert.throws(() => lab.newTeacher({ ...small, lr: NaN }), /learning rate must be a finite number in \(0, 1\), got NaN/);
  assert.throws(() => lab.newTeacher({ ...small, width: 0 }), /width must be an integer in \[1, 1024\], got 0/);
  assert.throws(() => lab.newStudent({ k: 4 }), /train or load a teacher first/);
  assert.equal(tf.memory().numTensors, n0);
  lab.setData({ kind: 'points', points: new Float32Array([1, 1, -1, -1, 1, -1]), name: 'drawn' });
  lab.newTeacher({ ...small, steps: 3 });
  await lab.trainTeacher();
  assert.throws(() => lab.newStudent({ k: 0 }), /K must be an integer >= 1, got 0/);
  const s = lab.dataSamples(100, 1);
  for (let i = 0; i < s.length; i++) assert.equal(Math.abs(s[i]), 1);
  lab.dispose();
  assert.equal(tf.memory().numTensors, n0);
});

test('a student saved while distilling resumes where it stopped (iteration and schedule), a teacher with its training settings goes on training', async () => {
  const lab = new Lab();
  lab.newTeacher({ ...small, steps: 6 });
  await lab.trainTeacher();
  lab.newStudent({ k: 4, batch: 32, totalSubsteps: 16, numDecayIters: 10 });
  await lab.distill(4);
  const t = await lab.saveTeacher();
  const s = await lab.saveStudent();
  const lab2 = new Lab();
  await lab2.loadTeacher(t, 'checkpoint');
  await lab2.loadStudent(s, 'checkpoint');
  assert.equal(lab2.studentIteration, 4);
  const ratios: number[] = [];
  await lab2.distill(2, { onProgress: (p) => ratios.push(p.teacherRatio ?? -1) });
  assert.equal(lab2.studentIteration, 6);
  assert.equal(ratios[ratios.length - 1], 0.5, 'the teacher ratio follows the restored iteration');
  assert.equal(lab2.teacherIteration, 6);
  await lab2.trainTeacher({}, 3);
  assert.equal(lab2.teacherIteration, 9);
  lab.dispose();
  lab2.dispose();
});

test('loadTeacher refuses a baseline student (velocity-format weights marked by meta.method); the teacher stays', async () => {
  const lab = new Lab();
  lab.newTeacher({ ...small, steps: 2 });
  await lab.trainTeacher();
  const tArt = await lab.saveTeacher();
  const noise = new Float32Array([0.1, -0.2, 0.5, 0.3]);
  const lab2 = new Lab();
  await lab2.loadTeacher(tArt, 'teacher.json');
  const before = (await lab2.teacherPaths(noise, 4)).states;
  const file = tArt.file as { config: unknown; meta: Record<string, unknown> };
  const baseline = { ...tArt, file: { ...file, meta: { ...file.meta, method: 'shortcut', nfe: 2 } } };
  await assert.rejects(lab2.loadTeacher(baseline, 'shortcut.json'), /shortcut\.json: a shortcut baseline student .*2 NFE.*not a teacher/);
  assert.deepEqual((await lab2.teacherPaths(noise, 4)).states, before, 'teacher unchanged');
  lab.dispose();
  lab2.dispose();
});

test('continueStudent: π-ID goes on from the same network (weights kept), refuses another family or size, leaks nothing', async () => {
  const lab = new Lab();
  lab.newTeacher({ ...small, steps: 5 });
  await lab.trainTeacher();
  assert.throws(() => lab.continueStudent({ k: 4 }), /no student to continue from: start from the teacher/);
  lab.newStudent({ k: 4, batch: 32, totalSubsteps: 16, seed: 2 });
  await lab.distill(3);
  const before = await lab.studentSamples(16, 5);
  const n0 = tf.memory().numTensors;
  // refused: another K, another family; the student and its samples stay
  assert.throws(() => lab.continueStudent({ k: 8, batch: 32, totalSubsteps: 16 }), /cannot continue the loaded student: it has K = 4, these settings ask for K = 8; match its settings or start from the teacher/);
  assert.throws(() => lab.continueStudent({ policy: 'dx', n: 4, batch: 32, totalSubsteps: 16 }), /cannot continue the loaded student: it is a GMFlow student, these settings ask for DX/);
  assert.equal(tf.memory().numTensors, n0, 'a refused continue allocates nothing');
  assert.deepEqual(await lab.studentSamples(16, 5), before);
  // continued: the same weights to start with (same samples), iterations from 0, then it trains on
  lab.continueStudent({ k: 4, batch: 32, totalSubsteps: 16, nfe: 1, seed: 3 });
  assert.equal(lab.studentIteration, 0);
  assert.equal(lab.studentPolicy!.nfe, 1, 'distilled for the new NFE');
  assert.deepEqual(await lab.studentSamples(16, 5, { nfe: 2 }), before, 'the network was kept, not re-copied from the teacher');
  await lab.distill(2);
  assert.equal(lab.studentIteration, 2);
  assert.notDeepEqual(await lab.studentSamples(16, 5, { nfe: 2 }), before, 'and it trains on');
  lab.dispose();
});

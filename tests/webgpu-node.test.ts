/**
 * WebGPU correctness in Node: tfjs-backend-webgpu on Dawn's Node bindings (the `webgpu` package).
 * Without a GPU, Dawn runs on the SwiftShader Vulkan driver that Debian's chromium ships; the test
 * runner (scripts/test.mjs) puts it in the environment (see src/engine/webgpu-node.ts). Tiny shapes:
 * SwiftShader compiles every WebGPU program on the CPU.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FIXTURES, useBackend } from './helpers.js';
import { parseGoldenFile, runGolden } from '../src/engine/conformance.js';
import { nodeWebGpuAdapter } from '../src/engine/webgpu-node.js';
import { Rng } from '../src/engine/rng.js';
import { createToyNet } from '../src/models/mlp.js';
import { datasetSource, Distiller, TeacherTrainer } from '../src/runtime/toy.js';

before(async () => {
  await useBackend('webgpu');
});

test('the webgpu backend runs on a Dawn adapter', () => {
  assert.equal(tf.getBackend(), 'webgpu');
  const a = nodeWebGpuAdapter();
  assert.ok(a, 'adapter info recorded');
  assert.ok(a.vendor.length + a.architecture.length + a.description.length > 0, JSON.stringify(a));
});

test('every golden case passes on webgpu', async () => {
  const file = path.join(FIXTURES, 'cases.json');
  const golden = parseGoldenFile(readFileSync(file, 'utf8'), file);
  const results = await runGolden(golden);
  const failed = results.filter((r) => !r.pass).map((r) => `${r.id}: ${r.message ?? r.worstExcess}`);
  assert.equal(results.length, golden.cases.length);
  assert.deepEqual(failed, []);
});

/** A tiny teacher and a few π-ID iterations from fixed seeds on the current backend: the losses. */
async function tinyRun(policy: 'gmflow' | 'dx'): Promise<{ teacher: number[]; piid: number[]; leaked: number }> {
  const net = createToyNet({ kind: 'teacher', width: 16, depth: 1 }, new Rng(5));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 64, { lr: 3e-3 }, 1);
  const teacher: number[] = [];
  for (let i = 0; i < 3; i++) teacher.push((await t.step()).loss);
  t.dispose();
  const d = new Distiller(net, datasetSource('checkerboard'), { policy, batch: 32, k: 4, n: 4, nfe: 2, totalSubsteps: 16, seed: 3, windowSubsteps: policy === 'dx' ? 3 : 0 });
  const piid = [(await d.step()).loss];
  const baseline = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) piid.push((await d.step()).loss);
  const leaked = tf.memory().numTensors - baseline;
  d.dispose();
  d.student.dispose();
  net.dispose();
  return { teacher, piid, leaked };
}

for (const policy of ['gmflow', 'dx'] as const) {
  test(`${policy}: teacher steps and π-ID iterations on webgpu match cpu, and leave no tensors`, async () => {
    const gpu = await tinyRun(policy);
    await tf.setBackend('cpu');
    const cpu = await tinyRun(policy);
    await tf.setBackend('webgpu');
    assert.equal(gpu.leaked, 0, 'π-ID iterations on webgpu leave tf.memory().numTensors at its baseline');
    const close = (a: number[], b: number[], what: string) =>
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 2e-3 * Math.max(1, Math.abs(b[i])), `${what} ${i}: webgpu ${v} vs cpu ${b[i]}`));
    close(gpu.teacher, cpu.teacher, 'teacher loss');
    close(gpu.piid, cpu.piid, 'π-ID loss');
  });
}

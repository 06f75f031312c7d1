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
import { FIXTURES, runCli, useBackend } from './helpers.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseGoldenFile, runGolden } from '../src/engine/conformance.js';
import { nodeWebGpuAdapter } from '../src/engine/webgpu-node.js';
import { Rng } from '../src/engine/rng.js';
import { createToyNet } from '../src/models/mlp.js';
import { datasetSource, Distiller, TeacherTrainer } from '../src/runtime/toy.js';
import { policyRollout, setFusedRollouts, type Policy } from '../src/engine/policy.js';
import { GMFlowPolicy } from '../src/engine/gmflow.js';
import { DXPolicy } from '../src/engine/dx.js';
import { ConstantVelocityPolicy } from '../src/engine/constant.js';
import { warpTimes } from '../src/engine/time.js';
import { countGpuDispatches } from '../src/engine/webgpu-dispatches.js';

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

test('fused rollouts on webgpu (GMFlow: one WGSL program) match the generic substeps, with frozen samples, and leave no tensors', async () => {
  const shift = 3;
  const rawStart = [1, 0.9, 0.5, 0.3, 0.77, 1];
  const rawEnd = [0.5, 0.1, 0.45, 0, 0.7, 0]; // 16, 26, 2, 10, 2, 32 substeps of 32
  const B = rawStart.length;
  const sigma = warpTimes(rawStart, shift);
  const rng = new Rng(21);
  const randn = (shape: number[], scale = 1, offset = 0) =>
    tf.tensor(Float32Array.from(rng.normalArray(shape.reduce((a, b) => a * b, 1)), (v) => v * scale + offset), shape);
  const makers: [string, number[], (x: tf.Tensor) => Policy][] = [
    ['gmflow points', [2], (x) => gmflowPolicy(x, 5)],
    ['gmflow image', [1, 3, 2], (x) => gmflowPolicy(x, 3)],
    ['dx grid points', [2], (x) => owning(randn([B, 4, 2], 0.8), (d) => new DXPolicy(d, x, sigma, { segmentSize: 0.5, shift, mode: 'grid' }))],
    ['constant points', [2], (x) => owning(randn(x.shape), (u) => new ConstantVelocityPolicy(u, x, sigma))],
  ];
  // the policies copy their network output: build, then dispose the output
  function owning(t: tf.Tensor, make: (t: tf.Tensor) => Policy): Policy {
    const p = make(t);
    t.dispose();
    return p;
  }
  function gmflowPolicy(x: tf.Tensor, K: number): Policy {
    const [, C, ...S] = x.shape;
    const out = tf.tidy(() => {
      const l = randn([B, K, 1, ...S], 1.5);
      return { means: randn([B, K, C, ...S], 0.7), logweights: l.sub(tf.logSumExp(l, 1, true)), logstds: randn([B, 1, 1, ...S.map(() => 1)], 0.3, -1) };
    });
    const p = new GMFlowPolicy(out, x, sigma, 1e-4);
    tf.dispose([out.means, out.logweights, out.logstds]);
    return p;
  }
  for (const [name, feat, make] of makers) {
    const before = tf.memory().numTensors;
    const x = randn([B, ...feat]);
    const p = make(x);
    const roll = async (fused: boolean) => {
      const prev = setFusedRollouts(fused);
      const r = policyRollout(p, x, sigma, Float64Array.from(rawStart), Float64Array.from(rawEnd), 32, shift);
      setFusedRollouts(prev);
      const v = await r.xTEnd.data();
      r.xTEnd.dispose();
      return v;
    };
    const generic = await roll(false);
    const fused = await roll(true);
    // float32 on both sides, summed in a different order: within 1e-5·(1 + |x|) (see tests/fused.test.ts)
    generic.forEach((g, i) => assert.ok(Math.abs(fused[i] - g) <= 1e-5 * (1 + Math.abs(g)), `${name} [${i}]: fused ${fused[i]} vs generic ${g}`));
    p.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: no tensors left`);
  }
});

test('AddN of more tensors than a shader may bind (gradients of a tensor used many times) sums right, no leaks', async () => {
  const { webGpuAddNGroup } = await import('../src/engine/webgpu-addn.js');
  const group = webGpuAddNGroup(tf.backend());
  assert.ok(group >= 2 && group <= 64, `group ${group}`);
  const n = 3 * group + 2; // three full groups and a remainder: two levels of partial sums
  const before = tf.memory().numTensors;
  const parts = Array.from({ length: n }, (_, i) => tf.tensor1d([i + 1, -(i + 1) / 2, 0.25 * i]));
  const sum = tf.addN(parts);
  const got = await sum.data();
  const want = [n * (n + 1) / 2, -n * (n + 1) / 4, 0.25 * n * (n - 1) / 2];
  got.forEach((v, j) => assert.ok(Math.abs(v - want[j]) <= 1e-4 * Math.abs(want[j]) + 1e-5, `component ${j}: ${v} vs ${want[j]}`));
  tf.dispose([sum, ...parts]);
  // autodiff: x used n times; d/dx sum_i (c_i x) = sum_i c_i is an AddN of n gradient terms
  const x = tf.tensor1d([0.5, -1]);
  const g = tf.grad((v: tf.Tensor) => tf.addN(Array.from({ length: n }, (_, i) => v.mul(i + 1))).sum())(x);
  const gv = await g.data();
  gv.forEach((v) => assert.ok(Math.abs(v - n * (n + 1) / 2) < 1e-3, `gradient ${v} vs ${n * (n + 1) / 2}`));
  tf.dispose([x, g]);
  assert.equal(tf.memory().numTensors, before, 'the partial sums are released');
});

test("Adam's webgpu path (two WGSL programs a variable) matches tfjs's Adam, resumes exactly, falls back to the host path off webgpu, and leaves no tensors", async () => {
  const { GuardedAdam } = await import('../src/engine/optim.js');
  const { setFusedTraining } = await import('../src/engine/fused.js');
  const shapes = [[5, 3], [3], [130]];
  const init = shapes.map((s, i) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(1 + i * 7 + j * 0.37)));
  const grad = (step: number, i: number, n: number) => Float32Array.from({ length: n }, (_, j) => Math.cos(step * 0.9 + i * 3 + j * 0.11) * (1 + step));
  const cfg = { lr: 0.05, warmupSteps: 2, clipNorm: 5, beta1: 0.9, beta2: 0.95 };
  /** `steps` updates from `from` (or fresh) on the current backend and fused setting; the weights, the optimizer */
  const run = async (steps: number, fused: boolean, start = 0, state?: Awaited<ReturnType<InstanceType<typeof GuardedAdam>['exportStateAsync']>>, w0?: Float32Array[]) => {
    const was = setFusedTraining(fused);
    const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(tf.tensor(w0?.[i] ?? init[i], s), true)));
    const opt = new GuardedAdam(cfg);
    if (state) opt.importState(state, vars);
    let dispatches = 0;
    for (let k = start; k < start + steps; k++) {
      const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(grad(k, i, v.size), v.shape)]));
      dispatches += await countOrRun(() => opt.apply(tf.scalar(1), grads).then(() => undefined));
    }
    const weights = await Promise.all(vars.map(async (v) => Float32Array.from(await v.data())));
    const exported = await opt.exportStateAsync(vars); // webgpu cannot read synchronously in Node
    opt.dispose();
    vars.forEach((v) => v.dispose());
    setFusedTraining(was);
    return { weights, exported, dispatches };
  };
  const countOrRun = async (f: () => Promise<void>) => (await countGpuDispatches(f)).dispatches ?? 0;
  const before = tf.memory().numTensors;
  const gpu = await run(4, true);
  assert.equal(gpu.exported.path, 'webgpu');
  const ref = await run(4, false);
  assert.equal(ref.exported.path, 'tfjs');
  gpu.weights.forEach((w, i) => w.forEach((x, j) => assert.ok(Math.abs(x - ref.weights[i][j]) <= 1e-5 * Math.max(1, Math.abs(ref.weights[i][j])), `var ${i}[${j}]: webgpu path ${x} vs tfjs ${ref.weights[i][j]}`)));
  // the update is 2 programs a variable (after the guard's norm): far fewer than tfjs's ~14 a variable
  assert.ok(gpu.dispatches < ref.dispatches / 2, `dispatches: webgpu path ${gpu.dispatches} vs tfjs ${ref.dispatches}`);
  assert.ok(gpu.dispatches <= 4 * (2 * shapes.length + 2 * shapes.length + 4) + 1, `webgpu path: ${gpu.dispatches} dispatches in 4 steps`);
  // 2 + export/import + 2 == 4 straight, on webgpu
  const half = await run(2, true);
  const rest = await run(2, true, 2, half.exported, half.weights);
  rest.weights.forEach((w, i) => assert.deepEqual(w, gpu.weights[i], `resumed var ${i} equals the straight run`));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  // a webgpu state restored on cpu (a checkpoint on the fallback backend) goes on with the host loop
  await tf.setBackend('cpu');
  try {
    const cpu = await run(2, true, 2, half.exported, half.weights);
    assert.equal(cpu.exported.path, 'host');
    cpu.weights.forEach((w, i) => w.forEach((x, j) => assert.ok(Math.abs(x - gpu.weights[i][j]) <= 1e-5 * Math.max(1, Math.abs(x)), `cpu continuation var ${i}[${j}]: ${x} vs ${gpu.weights[i][j]}`)));
  } finally {
    await tf.setBackend('webgpu');
  }
});

test('the CLI trains, distills (saving its training state: no synchronous readback) and resumes on webgpu', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'piflow-webgpu-'));
  const teacher = path.join(dir, 'teacher'), student = path.join(dir, 'student');
  let r = runCli(['train-teacher', '--dataset', 'checkerboard', '--steps', '3', '--width', '16', '--depth', '1', '--batch', '32', '--out', teacher, '--backend', 'webgpu']);
  assert.equal(r.code, 0, r.stderr);
  r = runCli(['distill', '--teacher', teacher, '--iters', '2', '--save-every', '1', '--batch', '16', '--k', '2', '--out', student, '--backend', 'webgpu']);
  assert.equal(r.code, 0, r.stderr);
  const state = JSON.parse(readFileSync(path.join(student, 'train-state.json'), 'utf8'));
  assert.equal(state.state.iteration, 2);
  assert.equal(state.state.adam[0].path, 'webgpu');
  r = runCli(['distill', '--teacher', teacher, '--iters', '3', '--batch', '16', '--k', '2', '--out', student, '--resume', student, '--backend', 'webgpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).resumedFrom, 2);
});

/**
 * The policy-family registry (engine/families.ts + policies.ts) and its third family, the
 * constant-velocity policy (engine/constant.ts): every family's head width, construction from a
 * network output on both layouts, defaults and validation; the constant policy's π, x̂₀ and rollout
 * (exact Euler); π-ID, sampling and the image distiller with it; no tensor leaks.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { policyRollout, type Policy } from '../src/engine/policy.js';
import { piflowSample } from '../src/engine/sample.js';
import { ConstantVelocityPolicy } from '../src/engine/constant.js';
import { GMFlowPolicy } from '../src/engine/gmflow.js';
import { DXPolicy } from '../src/engine/dx.js';
import { fillTimes, segmentBase, warpT } from '../src/engine/time.js';
import {
  familySize, headWidth, POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily, policyFromOutput, validateFamilyConfig, type PolicyContext,
} from '../src/engine/policies.js';
import { createToyNet, outDim, ToyNet } from '../src/models/mlp.js';
import { createImageNet, DEFAULT_UNET, headChannels, UNetConfig } from '../src/models/unet.js';
import { datasetSource, Distiller, DistillConfig, sampleStudent, studentPolicy, TeacherTrainer, policyConfigOf } from '../src/runtime/toy.js';
import { ImageDistiller, sampleImageStudent } from '../src/runtime/mnist.js';

before(() => useBackend('wasm'));

const CTX: PolicyContext = { nfe: 2, finalStepSizeScale: 1, shift: 1, dxMode: 'grid', eps: 1e-4 };

test('registry: names, labels, sizes and defaults of every family', () => {
  assert.deepEqual([...POLICY_FAMILY_NAMES], ['gmflow', 'dx', 'constant']);
  for (const f of POLICY_FAMILY_NAMES) {
    const def = policyFamily(f);
    assert.equal(def.name, f);
    assert.ok(def.title.length > 0 && def.label.length > 0);
    assert.ok(def.initNoiseStd >= 0);
  }
  assert.deepEqual([POLICY_FAMILIES.gmflow.size?.key, POLICY_FAMILIES.dx.size?.key, POLICY_FAMILIES.constant.size], ['k', 'n', null]);
  assert.deepEqual(POLICY_FAMILY_NAMES.map((f) => POLICY_FAMILIES[f].defaults.windowSubsteps), [0, 3, 0]);
  assert.deepEqual(POLICY_FAMILY_NAMES.map((f) => POLICY_FAMILIES[f].temperature), [true, false, false]);
  assert.deepEqual(POLICY_FAMILY_NAMES.map((f) => POLICY_FAMILIES[f].gmDropout), [true, false, false]);
  assert.deepEqual(POLICY_FAMILY_NAMES.map((f) => POLICY_FAMILIES[f].inspector), ['mixture', 'points', 'none']);
  assert.deepEqual(POLICY_FAMILIES.dx.modes, ['grid', 'polynomial']);
  assert.equal(familySize(POLICY_FAMILIES.gmflow, { k: 7, n: 3 }), 7);
  assert.equal(familySize(POLICY_FAMILIES.dx, { k: 7, n: 3 }), 3);
  assert.equal(familySize(POLICY_FAMILIES.constant, { k: 7, n: 3 }), 1);
});

test('registry: head widths per layout, as the models build them', () => {
  // points [C]: gmflow K·C + K + 1, dx N·C, constant C
  assert.equal(headWidth('gmflow', 32, 2, 'points'), 97);
  assert.equal(headWidth('dx', 10, 2, 'points'), 20);
  assert.equal(headWidth('constant', 1, 2, 'points'), 2);
  assert.equal(headWidth('gmflow', 4, 3, 'points'), 4 * 3 + 4 + 1);
  // images [C, H, W], per pixel (the GMFlow log-std is a second output): K·(C+1), N·C, C
  assert.equal(headWidth('gmflow', 8, 1, 'images'), 16);
  assert.equal(headWidth('dx', 10, 1, 'images'), 10);
  assert.equal(headWidth('constant', 1, 3, 'images'), 3);
  assert.equal(outDim({ kind: 'constant', width: 8, depth: 1 }), 2);
  assert.equal(outDim({ kind: 'gmflow', width: 8, depth: 1, k: 5 }), 16);
  const img: UNetConfig = { ...DEFAULT_UNET, kind: 'constant' };
  assert.equal(headChannels(img), 1);
  assert.equal(headChannels({ ...img, kind: 'dx', n: 4 }), 4);
});

test('registry: validation errors name the field, the value and what is allowed', () => {
  assert.throws(() => policyFamily('ddim'), /policy must be gmflow, dx or constant, got 'ddim'/);
  assert.throws(() => validateFamilyConfig({ policy: 'gmflow', k: 0 }), /K must be an integer >= 1, got 0/);
  assert.throws(() => validateFamilyConfig({ policy: 'gmflow', k: 2.5 }), /K must be an integer >= 1, got 2.5/);
  assert.throws(() => validateFamilyConfig({ policy: 'dx', n: 2e6 }), /N must be an integer >= 1 and <= 1000000, got 2000000/);
  assert.throws(() => validateFamilyConfig({ policy: 'dx', n: 3, dxMode: 'cubic' }), /dx mode must be one of grid, polynomial, got 'cubic'/);
  // the constant family has no size and no mode: nothing of the others' is asked of it
  assert.equal(validateFamilyConfig({ policy: 'constant', k: 0, n: 0, dxMode: 'cubic' }).name, 'constant');
  assert.equal(validateFamilyConfig({ policy: 'gmflow', k: 3 }).name, 'gmflow');
  assert.throws(() => new ConstantVelocityPolicy(tf.zeros([2, 3]), tf.zeros([2, 2]), fillTimes(2, 0.5)), /the velocity must have x's shape \[2,2\], got \[2,3\]/);
  assert.throws(() => policyFromOutput('gmflow', { out: tf.zeros([2, 9]) }, 2, tf.zeros([2, 2]), fillTimes(2, 0.5), CTX), /GMFlow: expected a head output \[B, 7\]/);
  assert.throws(() => policyFromOutput('dx', { out: tf.zeros([2, 9]) }, 2, tf.zeros([2, 2]), fillTimes(2, 0.5), CTX), /DX: expected a head output \[B, 4\]/);
});

test('registry: every family builds its policy from a network output on both layouts, without leaks', () => {
  const rng = new Rng(5);
  const layouts: [string, number[]][] = [['points', [3, 2]], ['images', [2, 1, 4, 4]]];
  const expected = { gmflow: GMFlowPolicy, dx: DXPolicy, constant: ConstantVelocityPolicy };
  for (const [layout, xShape] of layouts) {
    for (const f of POLICY_FAMILY_NAMES) {
      const size = f === 'constant' ? 1 : 3;
      const [B, C, ...S] = xShape;
      const J = headWidth(f, size, C, layout as 'points' | 'images');
      const before = tf.memory().numTensors;
      const x = tf.tensor(rng.normalArray(x_size(xShape)), xShape);
      const out = tf.tensor(rng.normalArray(B * J * x_size(S)), [B, J, ...S]);
      const logstd = layout === 'images' && POLICY_FAMILIES[f].head(size).logstd ? tf.fill([B, 1], Math.log(0.1)) : undefined;
      const sigma = fillTimes(B, 0.7);
      const p: Policy = policyFromOutput(f, { out, logstd }, size, x, sigma, CTX);
      assert.equal(p.constructor, expected[f], `${f} on ${layout}`);
      const u = p.pi(x, fillTimes(B, 0.4));
      assert.deepEqual(u.shape, xShape, `${f} on ${layout}`);
      assert.ok(Array.from(u.dataSync()).every(Number.isFinite));
      const v = p.view?.() ?? { draw: 'none' as const };
      assert.equal(v.draw, POLICY_FAMILIES[f].inspector, `${f}: the policy's view matches the registry's drawing`);
      if (v.draw === 'mixture') tf.dispose([v.means, v.weights, v.std]);
      if (v.draw === 'points') v.points.dispose();
      tf.dispose([u, out, x, ...(logstd ? [logstd] : [])]);
      p.dispose();
      assert.equal(tf.memory().numTensors, before, `${f} on ${layout} leaks`);
    }
  }
});

function x_size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

test('constant policy: π = u everywhere, x̂₀ = x_t − σ_t·u, and its rollout is exact Euler', () => {
  const rng = new Rng(2);
  const B = 4;
  const xSrc = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
  const u = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
  const sigmaSrc = Float64Array.from([1, 0.8, 0.5, 0.3]);
  const p = new ConstantVelocityPolicy(u, xSrc, sigmaSrc);
  const xt = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
  const st = Float64Array.from([0.9, 0.4, 0.2, 0.1]);
  const pi = p.pi(xt, st);
  assert.deepEqual(Array.from(pi.dataSync()), Array.from(u.dataSync()));
  const x0 = p.x0(xt, st);
  const [xv, uv, x0v] = [xt.dataSync(), u.dataSync(), x0.dataSync()];
  for (let i = 0; i < 2 * B; i++) assert.ok(Math.abs(x0v[i] - (xv[i] - st[Math.floor(i / 2)] * uv[i])) < 1e-6);
  // rollout from σ_src to raw time 0 over 128 substeps (shift 3) = x_src + (σ_end − σ_src)·u in one step
  const shift = 3;
  const rawSrc = sigmaSrc.map((s) => s / (shift + (1 - shift) * s));
  const r = policyRollout(p, xSrc, sigmaSrc, rawSrc, fillTimes(B, 0), 128, shift);
  const [xs, xe] = [xSrc.dataSync(), r.xTEnd.dataSync()];
  for (let i = 0; i < 2 * B; i++) {
    const b = Math.floor(i / 2);
    const want = xs[i] + (r.sigmaTEnd[b] - sigmaSrc[b]) * uv[i];
    assert.ok(Math.abs(xe[i] - want) < 1e-5, `sample ${b}: ${xe[i]} vs ${want}`);
  }
  assert.ok(Array.from(r.sigmaTEnd).every((v) => Math.abs(v) < 1e-12), `σ at the end ${r.sigmaTEnd}`);
  assert.ok(r.numEvals > 1, 'the rollout did take many substeps');
  // no temperature, dropout or inspector view: the capabilities are absent
  const asPolicy: Policy = p;
  assert.equal(asPolicy.temperature, undefined);
  assert.equal(asPolicy.dropout, undefined);
  assert.equal(asPolicy.view, undefined);
  tf.dispose([xSrc, u, xt, pi, x0, r.xTEnd]);
  p.dispose();
});

test('constant policy: detach stops the gradient, the attached one carries it', () => {
  const w = tf.variable(tf.tensor2d([[1, 2]]));
  const x = tf.zeros([1, 2]);
  const s = fillTimes(1, 0.5);
  const g = tf.variableGrads(() => {
    const p = new ConstantVelocityPolicy(w.mul(2), x, s);
    const d = p.detach();
    const loss = p.pi(x, s).sum().add(d.pi(x, s).sum().mul(100)) as tf.Scalar;
    return loss;
  }, [w]);
  // only the attached policy's π contributes: d/dw of sum(2w) = 2
  assert.deepEqual(Array.from(g.grads[w.name].dataSync()), [2, 2]);
  tf.dispose([g.value, g.grads[w.name], x, w]);
});

test('constant-velocity sampling with one step is one Euler step of the network', () => {
  const rng = new Rng(9);
  const B = 3;
  const noise = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
  const u = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
  const x = piflowSample((xs, sg) => new ConstantVelocityPolicy(u, xs, sg), noise, { nfe: 1, totalSubsteps: 64, shift: 1, finalStepSizeScale: 1 });
  const want = noise.sub(u); // σ from 1 to 0: x₀ = x₁ − u
  const diff = x.sub(want).abs().max().dataSync()[0];
  assert.ok(diff < 1e-5, `max difference ${diff}`);
  tf.dispose([noise, u, x, want]);
});

async function smallTeacher(steps: number): Promise<ToyNet> {
  const net = createToyNet({ kind: 'teacher', width: 32, depth: 2 }, new Rng(11));
  const t = new TeacherTrainer(net, datasetSource('checkerboard'), 128, { lr: 3e-3 }, 1);
  for (let i = 0; i < steps; i++) await t.step();
  t.dispose();
  return net;
}

function constantDistiller(teacher: ToyNet, cfg: Partial<DistillConfig> = {}): Distiller {
  return new Distiller(teacher, datasetSource('checkerboard'), { policy: 'constant', batch: 64, totalSubsteps: 32, ...cfg });
}

test('π-ID with the constant policy: finite iterations, no tensor leaks (data and data-free), a 2-wide student head', async () => {
  const teacher = await smallTeacher(5);
  for (const cfg of [{ numDecayIters: 10, windowSubsteps: 2 }, { dataFree: true, nfe: 3 }] as Partial<DistillConfig>[]) {
    const d = constantDistiller(teacher, cfg);
    assert.equal(d.student.cfg.kind, 'constant');
    assert.deepEqual(d.student.model.outputs[0].shape, [null, 2]);
    await d.step();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const s = await d.step();
      assert.ok(Number.isFinite(s.loss) && s.policyEvals > 0, JSON.stringify(cfg));
    }
    assert.equal(tf.memory().numTensors, baseline, JSON.stringify(cfg));
    const pts = await sampleStudent(d.student, policyConfigOf(d.cfg), 64, 3);
    assert.ok(pts.every(Number.isFinite));
    assert.equal(tf.memory().numTensors, baseline, `sampling, ${JSON.stringify(cfg)}`);
    d.dispose();
    d.student.dispose();
  }
  teacher.dispose();
});

test('the constant student starts as the teacher and π-ID lowers its loss on a fixed teacher', async () => {
  const teacher = await smallTeacher(60);
  const d = constantDistiller(teacher, { adam: { lr: 1e-3 }, batch: 256 });
  // init: the head is a copy of the teacher's (no noise), so the first policy's velocity is the teacher's
  const x = tf.tensor2d(new Rng(4).normalArray(16), [8, 2]);
  const s = fillTimes(8, 0.6);
  const p = studentPolicy(d.student, policyConfigOf(d.cfg))(x, s, 1e-4);
  const ut = teacher.apply(x, s);
  const up = p.pi(x, s);
  assert.ok(up.sub(ut).abs().max().dataSync()[0] < 1e-6);
  tf.dispose([x, ut, up]);
  p.dispose();
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) losses.push((await d.step()).loss);
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(last < 0.95 * first, `loss ${first} -> ${last}`);
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('the image distiller trains and samples a constant-velocity U-Net student', async () => {
  const TINY: UNetConfig = { ...DEFAULT_UNET, base: 8, mid: 8, groups: 4, embDim: 16, timeDim: 16 };
  const teacher = createImageNet(TINY, new Rng(0));
  const rng = new Rng(1);
  const data = (n: number) => Float32Array.from(rng.normalArray(n * 28 * 28));
  const d = new ImageDistiller(teacher, data, { policy: 'constant', batch: 2, totalSubsteps: 8, seed: 1 });
  assert.equal(d.student.cfg.kind, 'constant');
  assert.equal(d.student.model.outputs.length, 1, 'no log-std output');
  await d.step();
  const baseline = tf.memory().numTensors;
  const s = await d.step();
  assert.ok(Number.isFinite(s.loss));
  assert.equal(tf.memory().numTensors, baseline);
  const imgs = await sampleImageStudent(d.student, policyConfigOf(d.cfg), 2, 5, { nfe: 2 });
  assert.equal(imgs.length, 2 * 28 * 28);
  assert.ok(imgs.every(Number.isFinite));
  d.dispose();
  d.student.dispose();
  teacher.dispose();
});

test('segmentBase: 1/(nfe − 1 + max(f, ε)), the DX segment and the π-ID segment sizes', () => {
  assert.equal(segmentBase(2, 1), 0.5);
  assert.ok(Math.abs(segmentBase(3, 0.5) - 1 / 2.5) < 1e-15);
  assert.ok(Math.abs(segmentBase(1, 0) - 1 / 1e-4) < 1e-6);
  assert.equal(warpT(segmentBase(4, 1), 1), 0.25);
});

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { GMFlowPolicy } from '../src/engine/gmflow.js';
import { DXPolicy } from '../src/engine/dx.js';
import { policyRollout, rolloutSchedule } from '../src/engine/policy.js';
import { stopGradient } from '../src/engine/tensors.js';
import { fillTimes, piflowSampleT, roundHalfEven } from '../src/engine/time.js';
import { teacherRatioAt } from '../src/engine/piid.js';

before(() => useBackend('wasm'));

function randomGm(rng: Rng, B: number, K: number, C = 2) {
  return {
    means: tf.tensor3d(rng.normalArray(B * K * C), [B, K, C]),
    logweights: tf.tidy(() => tf.logSoftmax(tf.tensor2d(rng.normalArray(B * K), [B, K])).reshape([B, K, 1])),
    logstds: tf.tensor3d(rng.normalArray(B, 0.5).map((v) => v - 1.5), [B, 1, 1]),
  };
}

async function maxAbs(a: tf.Tensor, b?: tf.Tensor): Promise<number> {
  const t = tf.tidy(() => (b ? a.sub(b) : a).abs().max());
  const v = (await t.data())[0];
  t.dispose();
  return v;
}
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => maxAbs(a, b);

test('round half to even, as torch.round', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3]);
  assert.equal(roundHalfEven(-0.5) + 0, 0);
});

test('rollout schedule: per-sample substep counts, finished samples frozen', () => {
  const s = rolloutSchedule(Float64Array.from([1, 1, 0.5]), Float64Array.from([0.5, 0.9, 0.5]), Float64Array.from([1, 1, 0.5]), 128, 1);
  assert.equal(s.steps, 64);
  assert.deepEqual(Array.from(s.n), [64, 13, 1]);
  assert.ok(Math.abs(s.sigma[64][0] - 0.5) < 1e-12);
  assert.ok(Math.abs(s.sigma[13][1] - 0.9) < 1e-12);
  assert.equal(s.sigma[64][1], s.sigma[13][1]);
});

test('fused GMFlow substep equals x + π(x, σ)·dt (points layout), dropout included', async () => {
  const rng = new Rng(3);
  const B = 64;
  const K = 8;
  const out = randomGm(rng, B, K);
  const xSrc = tf.tensor2d(rng.normalArray(B * 2), [B, 2]);
  const sigmaSrc = Float64Array.from({ length: B }, () => 0.2 + 0.8 * rng.uniform());
  const base = new GMFlowPolicy(out, xSrc, sigmaSrc, 1e-4);
  const policy = base.dropout(0.3, rng);
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(rng.normalArray(B * 2), [B, 2]);
  for (const frac of [0.999, 0.6, 0.1, 0.001]) {
    const sigma = sigmaSrc.map((s) => s * frac);
    const dt = sigma.map((s) => -0.01 * s);
    const fused = policy.advance(x, sigma, dt);
    const generic = tf.tidy(() => x.add(policy.pi(x, sigma).mul(tf.tensor2d(Float32Array.from(dt), [B, 1]))));
    const scale = await maxAbs(generic);
    assert.ok((await maxAbsDiff(fused, generic)) <= 1e-5 * Math.max(1, scale), `σ fraction ${frac}`);
    fused.dispose();
    generic.dispose();
  }
  x.dispose();
  policy.dispose();
  assert.equal(tf.memory().numTensors, before - 3, 'x, the policy and its rollout constants released');
  base.dispose();
  xSrc.dispose();
  Object.values(out).forEach((t) => t.dispose());
});

test('GM dropout never drops every component, drops about p, and dropped components get no weight', async () => {
  const rng = new Rng(5);
  const B = 400;
  const K = 4;
  const out = randomGm(rng, B, K);
  const xSrc = tf.tensor2d(rng.normalArray(B * 2), [B, 2]);
  const sigmaSrc = fillTimes(B, 0.7);
  const p = new GMFlowPolicy(out, xSrc, sigmaSrc, 1e-4);
  const d = p.dropout(0.5, rng);
  const lw = await d.logweights.data();
  let dropped = 0;
  for (let b = 0; b < B; b++) {
    let alive = 0;
    for (let k = 0; k < K; k++) {
      if (lw[b * K + k] === -Infinity) dropped++;
      else alive++;
    }
    assert.ok(alive >= 1, `sample ${b} lost every component`);
  }
  const frac = dropped / (B * K);
  assert.ok(frac > 0.4 && frac < 0.5, `dropped fraction ${frac}`); // 0.5 less the all-dropped rows kept
  // at the source, x̂₀ is the prior mean over the components that remain
  const x0 = d.x0(xSrc, sigmaSrc);
  const mu = await d.means.data();
  const got = await x0.data();
  const lwp = await p.logweights.data();
  for (const b of [0, 17, 399]) {
    let z = 0;
    const m = [0, 0];
    for (let k = 0; k < K; k++) {
      if (lw[b * K + k] === -Infinity) continue;
      const w = Math.exp(lwp[b * K + k]);
      z += w;
      m[0] += w * mu[(b * K + k) * 2];
      m[1] += w * mu[(b * K + k) * 2 + 1];
    }
    assert.ok(Math.abs(got[2 * b] - m[0] / z) < 1e-4 && Math.abs(got[2 * b + 1] - m[1] / z) < 1e-4);
  }
  [x0, xSrc, ...Object.values(out)].forEach((t) => t.dispose());
  d.dispose();
  p.dispose();
});

test('detach: no gradient flows through a detached policy', () => {
  const v = tf.variable(tf.tensor3d([[[0.5, -0.2]], [[1, 2]]]));
  const xSrc = tf.tensor2d([[0.1, 0.2], [0.3, -0.4]]);
  const sigma = Float64Array.from([0.8, 0.6]);
  const lw = tf.zeros([2, 1, 1]);
  const ls = tf.fill([2, 1, 1], Math.log(0.1));
  const grads = tf.variableGrads(() => {
    const p = new GMFlowPolicy({ means: v, logweights: lw, logstds: ls }, xSrc, sigma, 1e-4);
    const d = p.detach();
    const q = Float64Array.from([0.5, 0.3]);
    const loss = p.pi(xSrc, q).sum().add(d.pi(xSrc, q).sum().mul(1000)) as tf.Scalar;
    return loss;
  }, [v]);
  const g = grads.grads[v.name].arraySync() as number[][][];
  // only the non-detached term contributes: ∂/∂means of Σ u, bounded, not ~1000×
  for (const row of g.flat(2)) assert.ok(Math.abs(row) < 50, `gradient ${row} leaked through detach`);
  const t = tf.tensor([1, 2]);
  const s = stopGradient(t);
  t.dispose();
  assert.deepEqual(Array.from(s.dataSync()), [1, 2]);
  s.dispose();
  [v, xSrc, lw, ls, grads.value, ...Object.values(grads.grads)].forEach((x) => x.dispose());
});

test('DX fused substep equals x + π(x, σ)·dt, grid and polynomial', async () => {
  const rng = new Rng(9);
  const B = 32;
  const N = 5;
  for (const mode of ['grid', 'polynomial'] as const) {
    const d = tf.tensor3d(rng.normalArray(B * N * 2), [B, N, 2]);
    const xSrc = tf.tensor2d(rng.normalArray(B * 2), [B, 2]);
    const sigmaSrc = Float64Array.from({ length: B }, () => 0.3 + 0.7 * rng.uniform());
    const p = new DXPolicy(d, xSrc, sigmaSrc, { segmentSize: 0.5, shift: 3, mode, eps: 1e-4 });
    const sigma = sigmaSrc.map((s) => s * 0.7);
    const dt = sigma.map((s) => -0.02 * s);
    const fused = p.advance(xSrc, sigma, dt);
    const generic = tf.tidy(() => xSrc.add(p.pi(xSrc, sigma).mul(tf.tensor2d(Float32Array.from(dt), [B, 1]))));
    assert.ok((await maxAbsDiff(fused, generic)) < 1e-5, mode);
    [d, xSrc, fused, generic].forEach((t) => t.dispose());
    p.dispose();
  }
});

test('rollout leaves no tensors behind and is deterministic', async () => {
  const rng = new Rng(1);
  const B = 16;
  const out = randomGm(rng, B, 4);
  const xSrc = tf.tensor2d(rng.normalArray(B * 2), [B, 2]);
  const sigma = fillTimes(B, 1);
  const before = tf.memory().numTensors;
  const runs: Float32Array[] = [];
  for (let r = 0; r < 2; r++) {
    const p = new GMFlowPolicy(out, xSrc, sigma, 1e-4);
    const { xTEnd } = policyRollout(p, xSrc, sigma, fillTimes(B, 1), fillTimes(B, 0), 128, 1);
    runs.push((await xTEnd.data()) as Float32Array);
    xTEnd.dispose();
    p.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(runs[0], runs[1]);
  [xSrc, ...Object.values(out)].forEach((t) => t.dispose());
});

test('π-ID time sampling and teacher-ratio schedule', () => {
  const t = piflowSampleT(Float64Array.from([0.1, 0.5, 0.51, 0.99]), { nfe: 2, finalStepSizeScale: 1, shift: 1 });
  assert.deepEqual(Array.from(t.rawTSrc), [0.5, 0.5, 1, 1]);
  assert.deepEqual(Array.from(t.segmentSize), [0.5, 0.5, 0.5, 0.5]);
  assert.deepEqual([0, 500, 1000, 2000].map((i) => teacherRatioAt(i, 1000)), [1, 0.5, 0, 0]);
  assert.equal(teacherRatioAt(10, 0), 0);
});

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { GMFlowPolicy, gmflowImageOutput } from '../src/engine/gmflow.js';
import { perSample } from '../src/engine/tensors.js';

before(async () => {
  await initNodeBackend('wasm');
});

test('GMFlow fused image advance (C = 1) equals x + π(x, σ)·dt, values and gradients; C = 2 unchanged', () => {
  for (const C of [1, 2]) {
    const B = 3;
    const K = 4;
    const [H, W] = [5, 6];
    const means = tf.randomNormal([B, K, C, H, W], 0, 1, 'float32', 1);
    const l0 = tf.randomNormal([B, K, 1, H, W], 0, 1, 'float32', 2);
    const lw = l0.sub(tf.logSumExp(l0, 1, true));
    const logstds = tf.tensor([-1, -2, -0.5], [B, 1, 1, 1, 1]);
    const xSrc = tf.randomNormal([B, C, H, W], 0, 1, 'float32', 3);
    const sigmaSrc = Float64Array.from([0.9, 0.6, 1]);
    const x = tf.randomNormal([B, C, H, W], 0, 1, 'float32', 4);
    const s = Float64Array.from([0.7, 0.5, 0.3]);
    const dt = Float64Array.from([-0.05, 0, -0.2]);
    const f = (m: tf.Tensor, ls: tf.Tensor, fused: boolean) => {
      const p = new GMFlowPolicy({ means: m, logweights: lw, logstds: ls }, xSrc, sigmaSrc, 1e-6);
      const y = fused ? p.advance(x, s, dt) : x.add(p.pi(x, s).mul(perSample(dt, 4)));
      p.dispose();
      return y;
    };
    const a = f(means, logstds, true);
    const b = f(means, logstds, false);
    const av = a.dataSync();
    const bv = b.dataSync();
    for (let i = 0; i < av.length; i++) assert.ok(Math.abs(av[i] - bv[i]) < 1e-4 * (1 + Math.abs(bv[i])), `C${C} [${i}]: ${av[i]} vs ${bv[i]}`);
    const g = tf.randomNormal(a.shape, 0, 1, 'float32', 5);
    const grads = (fused: boolean) => tf.grads((m: tf.Tensor, ls: tf.Tensor) => f(m, ls, fused).mul(g).sum())([means, logstds]);
    const [ga, gb] = [grads(true), grads(false)];
    for (let j = 0; j < 2; j++) {
      const u = ga[j].dataSync();
      const w = gb[j].dataSync();
      for (let i = 0; i < u.length; i++) assert.ok(Math.abs(u[i] - w[i]) < 1e-3 * (1 + Math.abs(w[i])), `C${C} grad ${j}[${i}]: ${u[i]} vs ${w[i]}`);
    }
    tf.dispose([means, l0, lw, logstds, xSrc, x, a, b, g, ...ga, ...gb]);
  }
});

test('image head: the log-weights are tf.logSumExp-normalised (the same values); their gradient needs no max routing (no Equal kernel) and matches autodiff through tf.logSumExp', async () => {
  const K = 4;
  const out = tf.randomNormal([3, K * 2, 5, 5], 0, 3, 'float32', 11);
  const ls = tf.randomNormal([3, 1], 0, 1, 'float32', 12);
  const w = tf.randomNormal([3, K, 1, 5, 5], 0, 1, 'float32', 13);
  const before = tf.memory().numTensors;
  const viaLse = (o: tf.Tensor) => tf.tidy(() => {
    const l = tf.split(o, [K, K], 1)[1].reshape([3, K, 1, 5, 5]);
    return l.sub(tf.logSumExp(l, 1, true));
  });
  const head = (o: tf.Tensor) => {
    const g = gmflowImageOutput(o, ls, K, 1);
    tf.dispose([g.means, g.logstds]);
    return g.logweights;
  };
  const got = head(out);
  const want = viaLse(out);
  const gv = got.dataSync();
  want.dataSync().forEach((v, i) => assert.ok(Object.is(gv[i], v), `logweights[${i}] ${gv[i]} vs ${v}`));
  tf.dispose([got, want]);
  const g = tf.grad((o: tf.Tensor) => head(o).mul(w).sum())(out);
  const gRef = tf.grad((o: tf.Tensor) => viaLse(o).mul(w).sum())(out);
  const a = g.dataSync();
  gRef.dataSync().forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `gradient[${i}] ${a[i]} vs ${v}`));
  tf.dispose([g, gRef]);
  const prof = await tf.profile(() => {
    const gg = tf.grad((o: tf.Tensor) => head(o).mul(w).sum())(out);
    gg.dispose();
  });
  assert.equal(prof.kernels.filter((k) => k.name === 'Equal').length, 0, 'no max-gradient routing');
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([out, ls, w]);
});

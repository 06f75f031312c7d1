// The 2D networks' forward pass without tf.layers (src/models/mlp-fast.ts, fused training): the same
// outputs and gradients, bit for bit, as model.apply, on wasm and cpu; applyConstant computes no input gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../src/engine/backend.js';
import { setFusedTraining } from '../src/engine/fused.js';
import { Rng } from '../src/engine/rng.js';
import { createToyNet, toyNetFromModel, type MlpConfig } from '../src/models/mlp.js';
import { isPlainMlp } from '../src/models/mlp-fast.js';
import { setHeapKernels } from '../src/engine/wasm-heap.js';

function run(net: ReturnType<typeof createToyNet>, x: tf.Tensor2D, sig: Float64Array, w: tf.Tensor, fused: boolean, constant: boolean) {
  const prev = setFusedTraining(fused);
  try {
    const vars = net.model.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
    const f = () => (constant ? net.applyConstant(x, sig) : net.apply(x, sig)).mul(w).sum() as tf.Scalar;
    const { value, grads } = tf.variableGrads(f, vars);
    const gx = tf.grad((xx: tf.Tensor) => net.apply(xx as tf.Tensor2D, sig).mul(w).sum())(x);
    const out = net.apply(x, sig);
    const r = { out: out.dataSync().slice(), v: value.dataSync()[0], g: vars.map((v) => grads[v.name].dataSync().slice()), gx: gx.dataSync().slice() };
    tf.dispose([value, gx, out, ...Object.values(grads)]);
    return r;
  } finally {
    setFusedTraining(prev);
  }
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: [${i}] ${a[i]} vs ${b[i]}`);
}

for (const backend of ['wasm', 'cpu', 'wasm, JS loops']) {
  test(`${backend}: the fast MLP forward equals tf.layers' (outputs, weight and input gradients, bit for bit); no leaks`, async (t) => {
    await initNodeBackend(backend.startsWith('wasm') ? 'wasm' : 'cpu');
    const prevHeap = setHeapKernels(backend !== 'wasm, JS loops');
    t.after(() => setHeapKernels(prevHeap));
    const rng = new Rng(41);
    // widths and batches off multiples of 4 (the SIMD kernels' tails), a GMFlow student and a teacher
    for (const [cfg, B] of [[{ kind: 'gmflow', k: 5, width: 18, depth: 3 }, 7], [{ kind: 'teacher', width: 64, depth: 2 }, 64]] as [MlpConfig, number][]) {
      const net = createToyNet(cfg, rng.fork());
      assert.ok(isPlainMlp(net.model));
      // non-zero biases so that every term shows
      net.model.setWeights(net.model.getWeights().map((wt) => tf.tidy(() => wt.add(tf.randomNormal(wt.shape, 0, 0.3, 'float32', 5)))));
      const x = tf.tensor2d(rng.normalArray(2 * B), [B, 2]);
      const sig = Float64Array.from({ length: B }, () => rng.uniform());
      const outW = tf.randomNormal([B, net.model.outputs[0].shape[1] as number], 0, 1, 'float32', 6);
      const ref = run(net, x, sig, outW, false, false);
      for (const constant of [false, true]) {
        const before = tf.memory().numTensors;
        const got = run(net, x, sig, outW, true, constant);
        assert.equal(tf.memory().numTensors, before, 'no tensors left');
        const what = `${cfg.kind} ${constant ? 'applyConstant' : 'apply'}`;
        sameBits(got.out, ref.out, `${what}: output`);
        assert.ok(Object.is(got.v, ref.v), `${what}: loss`);
        got.g.forEach((g, i) => sameBits(g, ref.g[i], `${what}: gradient ${i}`));
        sameBits(got.gx, ref.gx, `${what}: input gradient`);
      }
      tf.dispose([x, outW]);
      net.dispose();
    }
  });
}

test('a network with other layers than createMlp builds runs through tf.layers (no fast path)', async () => {
  await initNodeBackend('cpu');
  const build = (hidden: string, head: string) => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 8, activation: hidden as never, inputShape: [128] }));
    m.add(tf.layers.dense({ units: 8, activation: 'swish' }));
    m.add(tf.layers.dense({ units: 2, activation: head as never }));
    return m;
  };
  assert.equal(isPlainMlp(build('swish', 'linear')), true);
  for (const [hidden, head] of [['relu', 'linear'], ['swish', 'tanh']]) {
    const m = build(hidden, head);
    assert.equal(isPlainMlp(m), false, `${hidden} / ${head}`);
    const net = toyNetFromModel({ kind: 'teacher', width: 8, depth: 2 }, m);
    const x = tf.tensor2d([0.1, 0.2, -0.3, 0.4], [2, 2]);
    const sig = Float64Array.from([0.3, 0.9]);
    const outs = [true, false].map((fused) => {
      const prev = setFusedTraining(fused);
      try {
        const y = net.apply(x, sig);
        const d = y.dataSync().slice();
        y.dispose();
        return d;
      } finally {
        setFusedTraining(prev);
      }
    });
    sameBits(outs[0], outs[1], `${hidden} / ${head}`);
    x.dispose();
    net.dispose();
  }
});

test("tf.layers' swish (Dense and Activation layers, as in the U-Net) runs as one op under fused training: the same values and gradients, fewer kernels", async () => {
  await initNodeBackend('wasm');
  const inp = tf.input({ shape: [6, 6, 3] });
  let h = tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', name: 'c1' }).apply(inp) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'swish', name: 'a1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 7, activation: 'swish', name: 'd1' }).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: h });
  const x = tf.randomNormal([3, 6, 6, 3], 0, 1, 'float32', 7);
  const w = tf.randomNormal([3, 7], 0, 1, 'float32', 8);
  const vars = m.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
  const runOnce = (fused: boolean) => {
    const prev = setFusedTraining(fused);
    try {
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => (m.apply(x) as tf.Tensor).mul(w).sum() as tf.Scalar, vars);
      const r = { v: value.dataSync()[0], g: vars.map((v) => grads[v.name].dataSync().slice()) };
      tf.dispose([value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before);
      return r;
    } finally {
      setFusedTraining(prev);
    }
  };
  const ref = runOnce(false);
  const got = runOnce(true);
  assert.ok(Object.is(got.v, ref.v), 'loss');
  got.g.forEach((g, i) => sameBits(g, ref.g[i], `gradient ${i}`));
  // the fast form dispatches fewer kernels (no α multiply, SiLU's gradient in one op)
  const count = async (fused: boolean) => {
    const prev = setFusedTraining(fused);
    try {
      const p = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => (m.apply(x) as tf.Tensor).mul(w).sum() as tf.Scalar, vars);
        tf.dispose([value, ...Object.values(grads)]);
      });
      return p.kernels.filter((k) => k.name === 'PiflowSiluGrad').length;
    } finally {
      setFusedTraining(prev);
    }
  };
  assert.equal(await count(true), 2, 'both swish layers use the one-op gradient');
  assert.equal(await count(false), 0);
  tf.dispose([x, w]);
  m.dispose();
});

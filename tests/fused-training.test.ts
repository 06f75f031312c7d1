/**
 * The fused training paths (fused.ts `setFusedTraining`: π-ID's one student forward per segment and
 * batched teacher queries, the GMFlow velocity with its analytic gradient, the host Adam update) give
 * the reference path's losses and gradients within float32 rounding, on every policy family, layout
 * and π-ID variant, and leave no tensors behind.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { setFusedTraining, setGmflowHostPass1 } from '../src/engine/fused.js';
import { GuardedAdam, NonFiniteLossError } from '../src/engine/optim.js';
import { GMFlowPolicy } from '../src/engine/gmflow.js';
import { createToyNet } from '../src/models/mlp.js';
import { datasetSource, Distiller, DistillConfig } from '../src/runtime/toy.js';
import { DEFAULT_UNET, createImageNet, type UNetConfig } from '../src/models/unet.js';
import { ImageDistiller } from '../src/runtime/mnist.js';

before(() => useBackend('wasm'));

/** What the comparison needs of a distiller (2D or image). */
interface AnyDistiller {
  optimizer: unknown;
  student: { dispose(): void };
  step(): Promise<unknown>;
  dispose(): void;
}

interface Captured {
  loss: number;
  grads: Map<string, Float32Array>;
}

/**
 * One π-ID iteration's loss and gradients, with the fused paths on or off: the optimizer's `apply` is
 * replaced by a recorder (nothing is applied, so both paths see the same weights).
 */
async function lossAndGrads(d: AnyDistiller, fused: boolean): Promise<Captured> {
  const prev = setFusedTraining(fused);
  let got: Captured | null = null;
  const opt = d.optimizer as unknown as { apply: (l: tf.Scalar, g: tf.NamedTensorMap) => Promise<unknown> };
  const orig = opt.apply;
  opt.apply = async (loss, grads) => {
    const names = Object.keys(grads); // the student's variables, in order (names differ between models)
    got = { loss: (await loss.data())[0], grads: new Map(names.map((n) => [n, grads[n].dataSync().slice() as Float32Array])) };
    loss.dispose();
    names.forEach((n) => grads[n].dispose());
    return { loss: got.loss, gradNorm: 0, lr: 0 };
  };
  try {
    await d.step();
  } finally {
    opt.apply = orig;
    setFusedTraining(prev);
  }
  return got!;
}

/**
 * Worst |a − b| over a gradient, relative to that gradient's largest entry. The bound, 5·10⁻³, is
 * float32 rounding of the reference path itself: at states with σ near 0 the velocity
 * (x − x̂₀)/max(σ, 10⁻⁶) amplifies it. Measured on these cases: the reference path on wasm and on cpu
 * differ by up to 2.5·10⁻⁴ in the head's gradient (1.5·10⁻² data-free, 3 NFE), the fused path and the
 * reference on one backend by up to 2.8·10⁻³ (data-free; 3·10⁻⁴ otherwise), and the trunk's gradients
 * by ≤ 10⁻⁵. The losses agree to 10⁻⁵, and the GMFlow op alone agrees with the generic ops and their
 * gradients to ~10⁻⁶ (test below), which is where a wrong formula would show.
 */
function compare(a: Captured, b: Captured, what: string): number {
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss) + 1e-7, `${what}: loss ${a.loss} vs ${b.loss}`);
  const ka = [...a.grads.keys()];
  assert.equal(ka.length, b.grads.size, what);
  let worst = 0;
  let j = 0;
  for (const [n, gb] of b.grads) {
    const ga = a.grads.get(ka[j++])!;
    assert.equal(ga.length, gb.length, `${what}: ${n}`);
    let scale = 0;
    for (const v of gb) scale = Math.max(scale, Math.abs(v));
    let diff = 0;
    for (let i = 0; i < gb.length; i++) diff = Math.max(diff, Math.abs(ga[i] - gb[i]));
    const rel = diff / Math.max(scale, 1e-12);
    worst = Math.max(worst, rel);
    assert.ok(rel <= 5e-3, `${what}: gradient ${n} differs by ${diff} (scale ${scale})`);
  }
  return worst;
}

/** Two distillers of the same seed and teacher step once, one on each path; their losses and gradients agree. */
async function checkEqual(make: () => AnyDistiller, what: string, iters = 2): Promise<void> {
  const ref = make();
  const fused = make();
  try {
    for (let i = 0; i < iters; i++) {
      const before = tf.memory().numTensors;
      const b = await lossAndGrads(ref, false);
      const a = await lossAndGrads(fused, true);
      assert.equal(tf.memory().numTensors, before, `${what}: tensors left behind`);
      compare(a, b, `${what}, iteration ${i + 1}`);
    }
  } finally {
    for (const d of [ref, fused]) {
      d.dispose();
      d.student.dispose();
    }
  }
}

const SMALL = { kind: 'teacher' as const, width: 32, depth: 2 };

test('2D π-ID: fused and reference paths give the same losses and gradients (every family and variant)', async () => {
  const teacher = createToyNet(SMALL, new Rng(3));
  const cases: [string, Partial<DistillConfig>][] = [
    ['gmflow, 2 states, no teacher intervals (batched teacher)', { numIntermediateStates: 2 }],
    ['gmflow, 3 states, teacher intervals (ratio 1), dropout', { numIntermediateStates: 3, numDecayIters: 10, gmDropout: 0.2 }],
    ['gmflow, window 2', { windowSubsteps: 2 }],
    ['gmflow, data-free, 3 NFE', { dataFree: true, nfe: 3 }],
    ['dx, window 3', { policy: 'dx', windowSubsteps: 3 }],
    ['dx polynomial, data-free', { policy: 'dx', dxMode: 'polynomial', dataFree: true }],
    ['constant', { policy: 'constant' }],
  ];
  for (const [what, cfg] of cases) {
    await checkEqual(() => new Distiller(teacher, datasetSource('checkerboard'), { batch: 64, k: 4, n: 4, totalSubsteps: 32, seed: 5, ...cfg }), what);
  }
  teacher.dispose();
});

const TINY: UNetConfig = { ...DEFAULT_UNET, base: 8, mid: 8, groups: 4, embDim: 16, timeDim: 16 };

test('image π-ID (tiny U-Net): fused and reference paths give the same losses and gradients', async () => {
  const teacher = createImageNet(TINY, new Rng(0));
  const data = (n: number, r: Rng) => Float32Array.from(r.normalArray(n * 784), (v) => Math.tanh(v));
  for (const [what, cfg] of [
    ['gmflow images', { policy: 'gmflow' as const, k: 3 }],
    ['gmflow images, data-free, window 2', { policy: 'gmflow' as const, k: 3, dataFree: true, windowSubsteps: 2 }],
    ['dx images, window 3', { policy: 'dx' as const, n: 3, windowSubsteps: 3 }],
  ] as const) {
    await checkEqual(() => new ImageDistiller(teacher, data, { batch: 3, totalSubsteps: 8, seed: 2, ...cfg }), what, 1);
  }
  teacher.dispose();
});

test('host Adam (cpu, wasm) = tfjs Adam: warm-up, clipping, a refused non-finite step, no kernels, no tensors left', async () => {
  const shapes = [[7, 5], [5], [3, 2, 4]];
  const rng = new Rng(4);
  const init = shapes.map((sh) => rng.normalArray(sh.reduce((a, b) => a * b, 1)));
  const makeVars = (tag: string) => shapes.map((sh, i) => tf.variable(tf.tensor(init[i], sh), true, `adam_test_${tag}_${i}`));
  const cfg = { lr: 1e-2, warmupSteps: 3, clipNorm: 2, beta2: 0.99 };
  const run = async (fused: boolean, tag: string) => {
    const prev = setFusedTraining(fused);
    const vars = makeVars(tag);
    const opt = new GuardedAdam(cfg);
    const gRng = new Rng(8);
    const norms: number[] = [];
    let kernels = 0;
    try {
      for (let s = 0; s < 6; s++) {
        const scale = s === 2 ? 10 : 1; // one step over the clip norm
        const grads: tf.NamedTensorMap = {};
        vars.forEach((v) => (grads[v.name] = tf.tensor(gRng.normalArray(v.size).map((x) => x * scale), v.shape)));
        if (s === 4) {
          // a NaN loss: refused, nothing applied
          tf.dispose(Object.values(grads));
          const g2: tf.NamedTensorMap = {};
          vars.forEach((v) => (g2[v.name] = tf.zerosLike(v)));
          await assert.rejects(opt.apply(tf.scalar(NaN), g2), NonFiniteLossError);
          continue;
        }
        const before = tf.memory().numTensors;
        const prof = await tf.profile(async () => {
          norms.push((await opt.apply(tf.scalar(1), grads)).gradNorm);
        });
        kernels += prof.kernels.length;
        // the gradients are consumed and nothing else is left (tfjs makes its two moments a variable at its first step)
        if (s > 0) assert.equal(tf.memory().numTensors, before - vars.length, `step ${s + 1} leaves tensors`);
      }
      return { values: vars.map((v) => v.dataSync().slice()), norms, kernels, step: opt.step };
    } finally {
      opt.dispose();
      vars.forEach((v) => v.dispose());
      setFusedTraining(prev);
    }
  };
  const ref = await run(false, 'ref');
  const host = await run(true, 'host');
  assert.equal(host.kernels, 0);
  assert.ok(ref.kernels > 0);
  assert.equal(host.step, 5);
  assert.equal(ref.step, 5);
  host.norms.forEach((n, i) => assert.ok(Math.abs(n - ref.norms[i]) <= 1e-5 * ref.norms[i], `norm ${n} vs ${ref.norms[i]}`));
  host.values.forEach((w, j) => w.forEach((x, i) => {
    const r = ref.values[j][i];
    assert.ok(Math.abs(x - r) <= 1e-6 + 1e-5 * Math.abs(r), `variable ${j}[${i}]: ${x} vs ${r}`);
    assert.notEqual(x, init[j][i]); // it moved
  }));
});

test('GMFlow velocity op (host, analytic gradient) = the generic ops and their gradients, points and images', () => {
  for (const [C, S] of [[2, 1], [1, 1], [3, 1], [1, 6], [2, 3]]) {
    const B = 5;
    const K = 4;
    const F = S === 1 ? [C] : [C, S];
    const x = tf.randomNormal([B, ...F], 0, 1, 'float32', 1);
    const sigma = Float64Array.from([0.9, 0.5, 0.7, 0.3, 0.95]);
    const states = [tf.randomNormal([B, ...F], 0, 1, 'float32', 2), tf.randomNormal([B, ...F], 0, 1, 'float32', 3)];
    const sigmas = [Float64Array.from([0.6, 0.3, 0.5, 0.2, 0.8]), Float64Array.from([0.4, 0.1, 0.2, 0.05, 0.6])];
    const sp = S === 1 ? [] : [S];
    const m0 = tf.randomNormal([B, K, ...F], 0, 1, 'float32', 4);
    const l0 = tf.randomNormal([B, K, 1, ...sp], 0, 1, 'float32', 5);
    const s0 = tf.randomNormal([B, 1, 1, ...sp.map(() => 1)], -1, 0.3, 'float32', 6);
    const w = tf.randomNormal([2 * B, ...F], 0, 1, 'float32', 7);
    const policy = (m: tf.Tensor, l: tf.Tensor, s: tf.Tensor) =>
      new GMFlowPolicy({ means: m, logweights: l.sub(tf.logSumExp(l, 1, true)), logstds: s }, x, sigma, 1e-6);
    const generic = (m: tf.Tensor, l: tf.Tensor, s: tf.Tensor) => {
      const p = policy(m, l, s);
      return tf.concat(states.map((st, i) => p.pi(st, sigmas[i])), 0).mul(w).sum();
    };
    const fused = (m: tf.Tensor, l: tf.Tensor, s: tf.Tensor) => policy(m, l, s).localVelocities(states, sigmas)!.mul(w).sum();
    const before = tf.memory().numTensors;
    const a = tf.valueAndGrads(fused)([m0, l0, s0]);
    const b = tf.valueAndGrads(generic)([m0, l0, s0]);
    const va = a.value.dataSync()[0];
    const vb = b.value.dataSync()[0];
    assert.ok(Math.abs(va - vb) <= 1e-5 * Math.abs(vb), `C ${C} S ${S}: ${va} vs ${vb}`);
    ['means', 'logweights', 'logstds'].forEach((name, i) => {
      const ga = a.grads[i].dataSync();
      const gb = b.grads[i].dataSync();
      let diff = 0;
      let scale = 0;
      gb.forEach((v, j) => {
        diff = Math.max(diff, Math.abs(ga[j] - v));
        scale = Math.max(scale, Math.abs(v));
      });
      assert.ok(scale > 0 && diff <= 2e-5 * scale, `C ${C} S ${S}: ∂/∂${name} differs by ${diff} (scale ${scale})`);
    });
    tf.dispose([a.value, b.value, ...a.grads, ...b.grads]);
    assert.equal(tf.memory().numTensors, before, `C ${C} S ${S}: tensors left`);
    tf.dispose([x, ...states, m0, l0, s0, w]);
  }
});

test('GMFlow velocity op, one channel (the images): the specialised loop gives the general loop’s values and gradients bit for bit', () => {
  for (const S of [1, 6, 49]) {
    const B = 4;
    const K = 5;
    const F = S === 1 ? [1] : [1, S];
    const sp = S === 1 ? [] : [S];
    const x = tf.randomNormal([B, ...F], 0, 1, 'float32', 21);
    const sigma = Float64Array.from([0.9, 0.5, 0.7, 1]);
    const states = [tf.randomNormal([B, ...F], 0, 1, 'float32', 22), tf.randomNormal([B, ...F], 0, 1, 'float32', 23)];
    const sigmas = [Float64Array.from([0.6, 0.3, 0.5, 0.2]), Float64Array.from([0.4, 0.1, 0.2, 0])];
    const m0 = tf.randomNormal([B, K, ...F], 0, 2, 'float32', 24);
    const l0 = tf.randomNormal([B, K, 1, ...sp], 0, 3, 'float32', 25);
    const s0 = tf.randomNormal([B, 1, 1, ...sp.map(() => 1)], -1, 0.5, 'float32', 26);
    const w = tf.randomNormal([2 * B, ...F], 0, 1, 'float32', 27);
    const f = (m: tf.Tensor, l: tf.Tensor, s: tf.Tensor) =>
      new GMFlowPolicy({ means: m, logweights: l.sub(tf.logSumExp(l, 1, true)), logstds: s }, x, sigma, 1e-6).localVelocities(states, sigmas)!.mul(w).sum();
    const run = (on: boolean) => {
      const prev = setGmflowHostPass1(on);
      try {
        const r = tf.valueAndGrads(f)([m0, l0, s0]);
        const out = [r.value.dataSync().slice(), ...r.grads.map((g) => g.dataSync().slice())];
        tf.dispose([r.value, ...r.grads]);
        return out;
      } finally {
        setGmflowHostPass1(prev);
      }
    };
    const a = run(true);
    const b = run(false);
    a.forEach((arr, i) => arr.forEach((v, j) => assert.ok(Object.is(v, b[i][j]), `S ${S}, output ${i}[${j}]: ${v} vs ${b[i][j]}`)));
    tf.dispose([x, ...states, m0, l0, s0, w]);
  }
});

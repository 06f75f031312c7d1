/**
 * Fused rollouts (engine/fused.ts and the policies' `rolloutFused`): a whole gradient-free rollout
 * segment as one program must give the generic substep-by-substep path's end state (the reference),
 * for every family and layout, with uneven per-sample substep counts (frozen samples), on cpu and wasm
 * (webgpu: tests/webgpu-node.test.ts), without leaking tensors; the generic path stays in use under a
 * gradient tape and with an observer.
 *
 * Tolerance: |fused − generic| ≤ TOL·(1 + |generic|) with TOL = 1e-5. The generic path rounds every
 * substep's state and host coefficients to float32 (ε ≈ 6e-8) over up to 32 substeps here (≈ 2e-6
 * accumulated in the worst case), while the fused host loops run in float64 (DX: the affine substeps
 * composed in float64; the 2D GMFlow SIMD wasm program: float32 logits, weights and sums, float64
 * coefficients and states); the bound leaves a margin for the posterior's 1/σ factors near a segment's
 * end. Observed worst differences: 0.4–3·10⁻⁷ on cpu and wasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './helpers.js';
import { Rng } from '../src/engine/rng.js';
import { policyRollout, rolloutSchedule, setFusedRollouts, type Policy, type RolloutSchedule } from '../src/engine/policy.js';
import { GMFlowPolicy } from '../src/engine/gmflow.js';
import { DXPolicy } from '../src/engine/dx.js';
import { ConstantVelocityPolicy } from '../src/engine/constant.js';
import { warpTimes } from '../src/engine/time.js';
import { spawnSync } from 'node:child_process';
import { exp64, fusedStats, gmflowCoefficients, gmflowRolloutHost, type GMFlowFusedInputs } from '../src/engine/fused.js';
import { setWasmRollout, wasmRolloutActive, wasmRolloutError } from '../src/engine/wasm-rollout.js';

const TOL = 1e-5;
const SHIFT = 3;
const TOTAL = 32;
// per-sample raw intervals: uneven substep counts (16, 26, 2, 10, 2, 32 of 32), one ending at 0
const RAW_START = [1, 0.9, 0.5, 0.3, 0.77, 1];
const RAW_END = [0.5, 0.1, 0.45, 0, 0.7, 0];
const B = RAW_START.length;

function randn(rng: Rng, shape: number[], scale = 1, offset = 0): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from(rng.normalArray(n), (v) => v * scale + offset), shape);
}

type Make = (x: tf.Tensor, sigma: Float64Array, rng: Rng) => Policy;

function gmflow(K: number, eps: number, dropout = false, meanScale = 0.7): Make {
  return (x, sigma, rng) => {
    const [, C, ...S] = x.shape;
    const ones = S.map(() => 1);
    const out = tf.tidy(() => ({
      means: randn(rng, [B, K, C, ...S], meanScale),
      logweights: tf.tidy(() => {
        const l = randn(rng, [B, K, 1, ...S], 1.5);
        return l.sub(tf.logSumExp(l, 1, true));
      }),
      logstds: randn(rng, [B, 1, 1, ...ones], 0.3, -1),
    }));
    const p = new GMFlowPolicy(out, x, sigma, eps);
    tf.dispose([out.means, out.logweights, out.logstds]);
    if (!dropout) return p;
    const d = p.dropout(0.5, rng);
    p.dispose();
    return d;
  };
}

function dx(N: number, mode: 'grid' | 'polynomial'): Make {
  return (x, sigma, rng) => {
    const d = randn(rng, [B, N, ...x.shape.slice(1)], 0.8);
    const p = new DXPolicy(d, x, sigma, { segmentSize: 0.5, shift: SHIFT, mode });
    d.dispose();
    return p;
  };
}

const constant: Make = (x, sigma, rng) => {
  const u = randn(rng, x.shape);
  const p = new ConstantVelocityPolicy(u, x, sigma);
  u.dispose();
  return p;
};

const CASES: [string, number[], Make][] = [
  ['gmflow points C=2 K=5 eps 1e-4', [2], gmflow(5, 1e-4)],
  ['gmflow points C=3 K=4 eps 1e-6', [3], gmflow(4, 1e-6)],
  ['gmflow points C=2 K=6 with GM dropout', [2], gmflow(6, 1e-6, true)],
  // wide means: logits that move by more than the one-pass softmax's slack between substeps (see below)
  ['gmflow points C=2 K=7 wide means', [2], gmflow(7, 1e-4, false, 40)],
  ['gmflow image C=1 K=3 [1,4,3]', [1, 4, 3], gmflow(3, 1e-4)],
  ['gmflow image C=1 K=4 [1,3,3] wide means', [1, 3, 3], gmflow(4, 1e-4, false, 40)],
  // four pixels a vector in the SIMD wasm program (S a multiple of 4; its far-moving logits: the direct test
  // below; with wide means here the generic float32 path itself ends 1.04e-5 from the float64 loop)
  ['gmflow image C=1 K=5 [1,4,4]', [1, 4, 4], gmflow(5, 1e-4)],
  ['gmflow image C=2 K=2 [2,3,3]', [2, 3, 3], gmflow(2, 1e-4)],
  ['dx grid points N=6', [2], dx(6, 'grid')],
  ['dx grid points N=1', [2], dx(1, 'grid')],
  ['dx polynomial points N=4', [2], dx(4, 'polynomial')],
  ['dx grid image N=3 [1,4,4]', [1, 4, 4], dx(3, 'grid')],
  ['constant points', [2], constant],
  ['constant image [1,3,3]', [1, 3, 3], constant],
];

function run(p: Policy, x: tf.Tensor, sigma: Float64Array, fused: boolean): Float32Array {
  const prev = setFusedRollouts(fused);
  try {
    const r = policyRollout(p, x, sigma, Float64Array.from(RAW_START), Float64Array.from(RAW_END), TOTAL, SHIFT);
    const v = r.xTEnd.dataSync() as Float32Array;
    r.xTEnd.dispose();
    return Float32Array.from(v);
  } finally {
    setFusedRollouts(prev);
  }
}

// 'wasm, JS loop': the 2D GMFlow host rollout without its SIMD wasm program (setWasmRollout(false))
for (const backend of ['cpu', 'wasm', 'wasm, JS loop']) {
  for (const [name, feat, make] of CASES) {
    test(`${backend}: ${name}: fused rollout = generic rollout (frozen samples), no leaks`, async (t) => {
      await useBackend(backend === 'cpu' ? 'cpu' : 'wasm');
      const prevWasm = setWasmRollout(backend !== 'wasm, JS loop');
      t.after(() => setWasmRollout(prevWasm));
      const before = tf.memory().numTensors;
      const rng = new Rng(11);
      const x = randn(rng, [B, ...feat]);
      const sigma = warpTimes(RAW_START, SHIFT);
      const p = make(x, sigma, rng);
      assert.ok(p.rolloutFused, 'the family has a fused rollout');
      const generic = run(p, x, sigma, false);
      const mid = tf.memory().numTensors;
      const fused = run(p, x, sigma, true);
      assert.equal(tf.memory().numTensors, mid, 'the fused rollout leaves no tensors');
      let worst = 0;
      for (let i = 0; i < generic.length; i++) {
        assert.ok(Number.isFinite(fused[i]), `fused[${i}] = ${fused[i]}`);
        worst = Math.max(worst, Math.abs(fused[i] - generic[i]) / (1 + Math.abs(generic[i])));
      }
      assert.ok(worst <= TOL, `worst scaled difference ${worst} > ${TOL}`);
      // the state moved (the comparison is not vacuous) and samples with 2 substeps differ from 32
      const x0 = x.dataSync();
      assert.ok(generic.some((v, i) => Math.abs(v - x0[i]) > 1e-3));
      p.dispose();
      x.dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  }
}

test('exp64 matches Math.exp to float64 rounding on the rollouts\' range, and at its edges', () => {
  const rng = new Rng(5);
  let worst = 0;
  for (let i = 0; i < 200000; i++) {
    // x ≤ 0 mostly (softmax arguments), some positive; magnitudes from 1e-6 to 700
    const x = (rng.uniform() < 0.9 ? -1 : 1) * 10 ** (rng.uniform() * 8.8 - 6);
    const e = Math.exp(x);
    worst = Math.max(worst, Math.abs(exp64(x) - e) / e);
  }
  assert.ok(worst < 1e-14, `worst relative error ${worst}`);
  for (const x of [0, -0, 1, -1, Math.LN2, -Math.LN2 / 64, -708, 708]) {
    assert.ok(Math.abs(exp64(x) - Math.exp(x)) <= 1e-14 * Math.exp(x), `exp64(${x}) = ${exp64(x)}, Math.exp ${Math.exp(x)}`);
  }
  assert.equal(exp64(-Infinity), 0);
  assert.equal(exp64(-800), 0);
  assert.ok(Number.isNaN(exp64(NaN)));
  assert.ok(exp64(-720) > 0 && exp64(-720) < 1e-310, 'subnormal results below -708');
});

test('the 2D and single-channel GMFlow host rollouts redo a substep max-subtracted when its logits move far, and only then', async () => {
  // the 'wide means' cases above compare the end states; here: the fallback really runs there, and not
  // in the ordinary cases
  await useBackend('cpu');
  const before = tf.memory().numTensors;
  const prevWasm = setWasmRollout(true);
  // the 2D cases twice: the SIMD wasm program and the JS loop
  for (const [feat, scale, expectRedos, simd] of [[[2], 40, true, true], [[2], 0.7, false, true], [[2], 40, true, false], [[2], 0.7, false, false],
    [[1, 3, 3], 40, true, true], [[1, 3, 3], 0.7, false, true]] as const) {
    setWasmRollout(simd);
    const rng = new Rng(11);
    const x = randn(rng, [B, ...feat]);
    const sigma = warpTimes(RAW_START, SHIFT);
    const p = gmflow(7, 1e-4, false, scale)(x, sigma, rng);
    const r0 = fusedStats.softmaxRedos;
    const fused = run(p, x, sigma, true);
    const redos = fusedStats.softmaxRedos - r0;
    assert.equal(redos > 0, expectRedos, `[${feat}], mean scale ${scale}: ${redos} redone substeps`);
    assert.ok(fused.every(Number.isFinite));
    p.dispose();
    x.dispose();
  }
  setWasmRollout(prevWasm);
  assert.equal(tf.memory().numTensors, before);
});

/**
 * The SIMD wasm host rollout against the float64 JS loop on `inp`, end state and every state: the same
 * redo counts, finite states within 1e-6 (scaled), the NaN entries (`isNaNAt`: an index within a state)
 * NaN in both after the start, and states that moved. `steps` substeps; the samples `frozen` picks stop
 * half-way. Returns the loop's redo count (every-state run).
 */
function simdAgainstLoop(inp: GMFlowFusedInputs, steps: number, frozen: (i: number) => boolean, what: string, isNaNAt: (k: number) => boolean): number {
  const Bn = inp.raSrc.length;
  const per = inp.x.size; // values a state
  const coef = new Float64Array(steps * Bn * 4);
  for (let i = 0; i < Bn; i++) {
    const n = frozen(i) ? Math.floor(steps / 2) : steps;
    for (let j = 0; j < n; j++) coef.set([0.5 + j / steps, 0.2 + j / steps, -1 / steps, 1], (j * Bn + i) * 4);
  }
  const x0 = inp.x.dataSync();
  let redos = 0;
  for (const every of [false, true]) {
    const runWith = (simd: boolean) => {
      setWasmRollout(simd);
      const r0 = fusedStats.softmaxRedos;
      const out = gmflowRolloutHost(inp, coef, steps, every);
      return { out, redos: fusedStats.softmaxRedos - r0 };
    };
    const js = runWith(false);
    const simd = runWith(true);
    const tag = `${what}, every ${every}`;
    assert.equal(simd.out.length, js.out.length, tag);
    assert.equal(simd.redos, js.redos, `${tag}: redone substeps`);
    redos = js.redos;
    let worst = 0;
    for (let i = 0; i < js.out.length; i++) {
      if (isNaNAt(i % per) && i >= per * (every ? 1 : 0)) {
        assert.ok(Number.isNaN(simd.out[i]) && Number.isNaN(js.out[i]), `${tag}: the NaN entry stays NaN in both`);
        continue;
      }
      assert.ok(Number.isFinite(simd.out[i]), `${tag}: [${i}] = ${simd.out[i]}`);
      worst = Math.max(worst, Math.abs(simd.out[i] - js.out[i]) / (1 + Math.abs(js.out[i])));
    }
    // float32 logits, weights and sums against the loop's float64 (observed: at most 1.9e-7)
    assert.ok(worst <= 1e-6, `${tag}: worst scaled difference ${worst}`);
    assert.ok(js.out.some((v, i) => i < per && Math.abs(v - x0[i]) > 1e-3) || every, `${tag}: the states moved`);
  }
  return redos;
}

test('the SIMD wasm 2D GMFlow rollout gives the JS loop\'s states and redo counts (odd K, K = 1, every state, frozen samples, far-moving logits, NaN)', async () => {
  await useBackend('wasm');
  assert.ok(wasmRolloutActive(), `the SIMD module loads in Node (${wasmRolloutError()})`);
  const before = tf.memory().numTensors;
  const rng = new Rng(31);
  const prevWasm = wasmRolloutActive();
  for (const [Bn, K, steps, spread, nanAt] of [[64, 32, 16, 1, -1], [33, 7, 9, 3, -1], [300, 32, 64, 1, -1], [50, 1, 5, 1, -1], [40, 8, 12, 200, -1], [20, 4, 6, 1, 3]]) {
    const mk = (n: number, sc = 1) => Float32Array.from(rng.normalArray(n), (v) => v * sc);
    const mu = mk(Bn * K * 2, spread);
    if (nanAt >= 0) mu[nanAt * K * 2] = NaN; // sample nanAt's first component
    const inp: GMFlowFusedInputs = {
      x: tf.tensor(mk(Bn * 2), [Bn, 2]), xSrc: tf.tensor(mk(Bn * 2), [Bn, 2]), means: tf.tensor(mu, [Bn, K, 2]), logweights: tf.tensor(mk(Bn * K), [Bn, K]),
      gmVars: tf.tensor(Float32Array.from(mk(Bn), (v) => 0.01 + 0.05 * v * v), [Bn]), raSrc: Float64Array.from({ length: Bn }, (_, i) => 0.1 + i / Bn),
      K, C: 2, S: 1, eps: 1e-6,
    };
    // every fifth sample frozen half-way; the NaN sample's two coordinates stay NaN
    simdAgainstLoop(inp, steps, (i) => i % 5 === 0, `B ${Bn}, K ${K}, ${steps} substeps, spread ${spread}`, (k) => Math.floor(k / 2) === nanAt);
    tf.dispose([inp.x, inp.xSrc, inp.means, inp.logweights, inp.gmVars]);
  }
  setWasmRollout(prevWasm);
  assert.equal(tf.memory().numTensors, before);
});

test('the SIMD wasm one-channel GMFlow rollout (four pixels a vector) gives the JS loop\'s states and redo counts (odd K, K = 1, every state, frozen samples, far-moving logits, NaN)', async () => {
  await useBackend('wasm');
  assert.ok(wasmRolloutActive(), `the SIMD module loads in Node (${wasmRolloutError()})`);
  const before = tf.memory().numTensors;
  const rng = new Rng(32);
  const prevWasm = wasmRolloutActive();
  for (const [Bn, K, S, steps, spread, nanAt] of [[5, 8, 16, 12, 1, -1], [3, 7, 8, 9, 3, -1], [4, 8, 12, 10, 200, -1], [3, 1, 4, 5, 1, -1], [2, 4, 8, 6, 1, 1], [64, 8, 784, 4, 1, -1]]) {
    const mk = (n: number, sc = 1) => Float32Array.from(rng.normalArray(n), (v) => v * sc);
    const mu = mk(Bn * K * S, spread);
    if (nanAt >= 0) mu[nanAt * K * S + 5] = NaN; // sample nanAt's first component at pixel 5
    const inp: GMFlowFusedInputs = {
      x: tf.tensor(mk(Bn * S), [Bn, 1, S]), xSrc: tf.tensor(mk(Bn * S), [Bn, 1, S]), means: tf.tensor(mu, [Bn, K, 1, S]), logweights: tf.tensor(mk(Bn * K * S), [Bn, K, 1, S]),
      gmVars: tf.tensor(Float32Array.from(mk(Bn), (v) => 0.01 + 0.05 * v * v), [Bn]), raSrc: Float64Array.from({ length: Bn }, (_, i) => 0.1 + i / Bn),
      K, C: 1, S, eps: 1e-6,
    };
    // every third sample frozen half-way; the NaN pixel stays NaN
    const redos = simdAgainstLoop(inp, steps, (i) => i % 3 === 1, `B ${Bn}, K ${K}, S ${S}, ${steps} substeps, spread ${spread}`, (k) => nanAt >= 0 && k === nanAt * S + 5);
    if (spread > 100) assert.ok(redos > 0, `B ${Bn}, K ${K}, S ${S}: far-moving logits are redone`);
    tf.dispose([inp.x, inp.xSrc, inp.means, inp.logweights, inp.gmVars]);
  }
  setWasmRollout(prevWasm);
  assert.equal(tf.memory().numTensors, before);
});

test('gmflowCoefficients into a caller\'s buffer: the same rows at a padded stride, the padding left alone, frozen entries 0', () => {
  const sigma = warpTimes(RAW_START, SHIFT);
  const sched = rolloutSchedule(Float64Array.from(RAW_START), Float64Array.from(RAW_END), sigma, TOTAL, SHIFT);
  assert.ok(sched.n.some((n) => n < sched.steps), 'some samples freeze early');
  const plain = gmflowCoefficients(sched, sigma, 1e-4);
  assert.equal(plain.length, sched.steps * B * 4);
  const R = B + 2;
  const out = new Float64Array(sched.steps * R * 4).fill(7);
  assert.equal(gmflowCoefficients(sched, sigma, 1e-4, out, R), out);
  for (let j = 0; j < sched.steps; j++) {
    for (let i = 0; i < R; i++) {
      for (let c = 0; c < 4; c++) {
        const v = out[(j * R + i) * 4 + c];
        if (i >= B) assert.equal(v, 7, `padding [${j}, ${i}, ${c}]`);
        else {
          assert.equal(v, plain[(j * B + i) * 4 + c], `[${j}, ${i}, ${c}]`);
          if (j >= sched.n[i]) assert.equal(v, 0, `frozen [${j}, ${i}, ${c}]`);
        }
      }
    }
  }
  // a stale buffer: frozen entries are written, not left
  const stale = new Float64Array(plain.length).fill(3);
  assert.deepEqual(gmflowCoefficients(sched, sigma, 1e-4, stale), plain);
});

test('a uniform schedule (every sample alike) and its coefficients: the general path\'s values', () => {
  // five alike samples, alone (the uniform path) and beside a sixth that differs (the general path)
  const start = [0.8, 0.8, 0.8, 0.8, 0.8];
  const end = [0.3, 0.3, 0.3, 0.3, 0.3];
  const uni = rolloutSchedule(Float64Array.from(start), Float64Array.from(end), warpTimes(start, SHIFT), TOTAL, SHIFT);
  const gen = rolloutSchedule(Float64Array.from([...start, 1]), Float64Array.from([...end, 0]), warpTimes([...start, 1], SHIFT), TOTAL, SHIFT);
  assert.equal(uni.uniform, true);
  assert.ok(!gen.uniform);
  assert.deepEqual([...uni.n], [...gen.n].slice(0, 5));
  for (let j = 0; j <= uni.steps; j++) assert.deepEqual([...uni.sigma[j]], [...gen.sigma[j]].slice(0, 5), `σ at substep ${j}`);
  const src = warpTimes(start, SHIFT);
  const fast = gmflowCoefficients(uni, src, 1e-4);
  assert.deepEqual([...fast], [...gmflowCoefficients({ ...uni, uniform: false }, src, 1e-4)]);
  // samples from different sources are not alike, whatever the schedule says
  const src2 = Float64Array.from(src, (v, i) => (i === 2 ? 0.5 : v));
  assert.deepEqual([...gmflowCoefficients(uni, src2, 1e-4)], [...gmflowCoefficients({ ...uni, uniform: false }, src2, 1e-4)]);
});

test('the committed wasm rollout module is what scripts/build-wasm-rollout.mjs builds from its text', () => {
  const r = spawnSync(process.execPath, ['scripts/build-wasm-rollout.mjs', '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr.slice(-2000)}`);
});

test('the generic path runs under a gradient tape and with an observer; the fused one otherwise', async () => {
  await useBackend('cpu');
  let fusedCalls = 0;
  const x = tf.tensor2d([[0.5, -1], [1, 2]]);
  const u = tf.variable(tf.tensor2d([[1, 1], [2, -1]]));
  const sigma = warpTimes([1, 0.5], SHIFT);
  const base = new ConstantVelocityPolicy(null, x, sigma, u);
  const spy: Policy = {
    batch: 2, xTSrc: x, sigmaTSrc: sigma,
    pi: (xt, s) => base.pi(xt, s), x0: (xt, s) => base.x0(xt, s), advance: (xt, s, dt) => base.advance(xt, s, dt),
    rolloutFused: (xt: tf.Tensor, sched: RolloutSchedule, every?: boolean) => {
      if (!every) fusedCalls++;
      return base.rolloutFused(xt, sched, every); // null for every state: the generic substeps
    },
    detach: () => spy, dispose: () => undefined,
  };
  const roll = (observe?: () => void) => policyRollout(spy, x, sigma, Float64Array.from([1, 0.5]), Float64Array.from([0.5, 0]), 8, SHIFT, observe).xTEnd;
  tf.dispose(roll());
  assert.equal(fusedCalls, 1);
  tf.dispose(roll(() => undefined));
  assert.equal(fusedCalls, 1, 'an observer asks for every state (the constant family has none: generic substeps)');
  const { value, grads } = tf.variableGrads(() => roll().sum() as tf.Scalar, [u]);
  assert.equal(fusedCalls, 1, 'under a tape the rollout stays generic (differentiable)');
  // d(Σ x_end)/du = σ_end − σ_src per sample, in each channel
  const g = grads[u.name].arraySync() as number[][];
  const d = [warpTimes([0.5], SHIFT)[0] - sigma[0], 0 - sigma[1]];
  g.forEach((row, i) => row.forEach((v) => assert.ok(Math.abs(v - d[i]) < 1e-5, `${v} vs ${d[i]}`)));
  tf.dispose([value, grads[u.name]]);
  u.dispose();
  x.dispose();
});

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: GMFlow observers see the fused program's every state; the last is the sampler's end`, async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const rng = new Rng(5);
    const x = randn(rng, [B, 2]);
    const sigma = warpTimes(RAW_START, SHIFT);
    const p = gmflow(4, 1e-4)(x, sigma, rng);
    const seen = (fused: boolean) => {
      const prev = setFusedRollouts(fused);
      const states: number[][] = [];
      const sig: number[][] = [];
      const r = policyRollout(p, x, sigma, Float64Array.from(RAW_START), Float64Array.from(RAW_END), TOTAL, SHIFT, (_j, xs, s) => {
        states.push(Array.from(xs.dataSync()));
        sig.push(Array.from(s));
      });
      setFusedRollouts(prev);
      const end = Array.from(r.xTEnd.dataSync());
      r.xTEnd.dispose();
      return { states, sig, end };
    };
    const g = seen(false);
    const f = seen(true);
    assert.equal(f.states.length, g.states.length);
    assert.deepEqual(f.sig, g.sig);
    assert.deepEqual(f.end, f.states[f.states.length - 1]);
    assert.deepEqual(f.end, Array.from(run(p, x, sigma, true)), 'the observed end is the unobserved fused end');
    f.states.forEach((st, j) => st.forEach((v, i) => assert.ok(Math.abs(v - g.states[j][i]) <= TOL * (1 + Math.abs(g.states[j][i])), `state ${j} [${i}]`)));
    p.dispose();
    x.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
}

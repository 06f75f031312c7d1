/**
 * Fused rollout programs: a whole gradient-free rollout segment (every substep, every sample, frozen
 * samples included) as one program, instead of ~10–15 kernels and an upload per substep.
 *
 * - cpu and wasm: the policy's tensors are read once (`dataSync`: a memcpy on wasm), the schedule runs
 *   as one JavaScript loop over Float64 state, and the end state is uploaded as one tensor.
 * - webgpu: one WGSL program through tfjs-backend-webgpu's custom-program path
 *   (`backend.runWebGPUProgram`), one invocation per sample (and pixel), the per-substep host
 *   coefficients in one input buffer.
 * Other backends (webgl) get null: the caller runs the generic substeps.
 *
 * The math is the generic path's (gmflow.ts `advance` / `x0`), with the same host time coefficients
 * (time.ts, rolloutSchedule) and the same eps handling; only the float rounding differs (float64 host
 * loop, or float32 in a different order on the GPU).
 */
import * as tf from '@tensorflow/tfjs';
import type { RolloutSchedule } from './policy.js';
import type { Times } from './time.js';
import { gmflowRollout1Wasm, gmflowRollout2Wasm, type CoefficientFill } from './wasm-rollout.js';

/** Fused programs run so far (host loops and WGSL dispatches; tf.profile does not see them): for the benchmark. */
export const fusedStats = {
  programs: 0,
  /** substeps of the 2D and single-channel GMFlow host rollouts (after each sample's or pixel's first) whose one-pass softmax was redone max-subtracted: for the tests */
  softmaxRedos: 0,
};

let fusedTrainingOn = true;

/**
 * Switches the fused training paths on or off (on by default): π-ID's one student forward per segment
 * (the detached policy read off the taped one) and its batched teacher queries, the host Adam update
 * and the GMFlow velocity with its analytic gradient on cpu and wasm. Off, π-ID and the optimizer run
 * the reference (generic) path. Returns the previous setting.
 */
export function setFusedTraining(on: boolean): boolean {
  const prev = fusedTrainingOn;
  fusedTrainingOn = on;
  return prev;
}

/** Whether the fused training paths are on (`setFusedTraining`). */
export function fusedTraining(): boolean {
  return fusedTrainingOn;
}

/** Where a fused program exists: 'host' (cpu, wasm: one JS loop), 'webgpu' (one WGSL program), or null. */
export function fusedTarget(): 'host' | 'webgpu' | null {
  const b = tf.getBackend();
  if (b === 'cpu' || b === 'wasm') return 'host';
  if (b === 'webgpu') return 'webgpu';
  return null;
}

/**
 * GMFlow per-substep host coefficients, mirroring GMFlowPolicy.timeCoefficients and the substep's
 * dt/b: for substep j and sample i, [cx = r_b/b, ζ = r_b² − r_a², c = dt/b, active (1 while j < n_i)]
 * as a [steps, B, 4] row-major array; into `out` when given, substep j's row at j·rowSamples·4 (rows
 * padded to rowSamples ≥ B samples: the padding is left as it is).
 */
export function gmflowCoefficients(sched: RolloutSchedule, sigmaTSrc: Times, eps: number, out?: Float64Array, rowSamples?: number): Float64Array {
  const B = sigmaTSrc.length;
  const R = rowSamples ?? B;
  const o4 = out ?? new Float64Array(sched.steps * R * 4);
  const raSq = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    const a = Math.max(sigmaTSrc[i], eps);
    const ra = (1 - a) / a;
    raSq[i] = ra * ra;
  }
  let same = sched.uniform === true;
  for (let i = 1; same && i < B; i++) same = raSq[i] === raSq[0];
  if (same && B > 0) {
    // one schedule for all samples (a sampler's segment): each substep's four values once, copied along the row
    for (let j = 0; j < sched.steps; j++) {
      const s = sched.sigma[j][0];
      const b = Math.max(s, eps);
      const rb = (1 - b) / b;
      const row = j * R * 4;
      o4[row] = rb / b;
      o4[row + 1] = rb * rb - raSq[0];
      o4[row + 2] = (sched.sigma[j + 1][0] - s) / b;
      o4[row + 3] = 1;
      for (let done = 4; done < B * 4; done *= 2) o4.copyWithin(row + done, row, row + Math.min(done, B * 4 - done));
    }
    return o4;
  }
  // substep by substep (sequential writes)
  for (let j = 0; j < sched.steps; j++) {
    const sj = sched.sigma[j];
    const sn = sched.sigma[j + 1];
    for (let i = 0; i < B; i++) {
      const o = (j * R + i) * 4;
      if (j >= sched.n[i]) {
        o4[o] = o4[o + 1] = o4[o + 2] = o4[o + 3] = 0; // frozen
        continue;
      }
      const s = sj[i];
      const b = Math.max(s, eps);
      const rb = (1 - b) / b;
      o4[o] = rb / b;
      o4[o + 1] = rb * rb - raSq[i];
      o4[o + 2] = (sn[i] - s) / b;
      o4[o + 3] = 1;
    }
  }
  return o4;
}

/** The coefficients as an array [steps, B, 4], or as a fill of a caller's buffer (rows of rowSamples ≥ B). */
export type GMFlowCoefficients = Float64Array | CoefficientFill;

/** The coefficients of `sched` as a fill: the wasm program has them written straight into its memory. */
export function gmflowCoefficientFill(sched: RolloutSchedule, sigmaTSrc: Times, eps: number): CoefficientFill {
  return (out, rowSamples) => void gmflowCoefficients(sched, sigmaTSrc, eps, out, rowSamples);
}

export interface GMFlowFusedInputs {
  /** x at the start [B, C, S] (S = 1 for points) */
  x: tf.Tensor;
  /** x_src [B, C, S] */
  xSrc: tf.Tensor;
  /** μ [B, K, C, S] */
  means: tf.Tensor;
  /** l [B, K, S] */
  logweights: tf.Tensor;
  /** v [B] */
  gmVars: tf.Tensor;
  /** r_a/a per sample */
  raSrc: Times;
  K: number;
  C: number;
  S: number;
  eps: number;
}

/** 2^n for the integers n in [−1100, 1024] (index n + 1100; 2^1024 = ∞) and 2^(i/32), i = 0…31: `exp64`'s scales. */
const POW2 = (() => {
  const t = new Float64Array(2125);
  for (let i = 0; i < t.length; i++) t[i] = 2 ** (i - 1100);
  return t;
})();
export const POW2_32 = (() => {
  const t = new Float64Array(32);
  for (let i = 0; i < 32; i++) t[i] = 2 ** (i / 32);
  return t;
})();
export const INV_LN2_32 = 32 / Math.LN2;
export const LN2_32_HI = 6.93147180369123816490e-1 / 32; // ln 2 split as in fdlibm (n·HI exact for |n| < 2^21), over 32
export const LN2_32_LO = 1.90821492927058770002e-10 / 32;
export const ROUND_MAGIC = 6755399441055744; // 1.5·2^52: (y + M) − M rounds y to the nearest integer (|y| < 2^51)

/**
 * exp(x) as plain float64 arithmetic that V8 inlines into the rollout loops (Math.exp is a call, and
 * its one long polynomial is latency-bound): x = (n/32)·ln 2 + r with |r| ≤ ln 2 / 64, exp(r) by its
 * Taylor polynomial to r⁵ (remainder < 3e−15), times 2^(n mod 32 / 32) and 2^⌊n/32⌋ from tables.
 * Relative error below 1e−14 against Math.exp (measured 2.6e−15; float32's rounding is 6e−8) for x in
 * [−708, 709]; exp(−∞) = 0, NaN stays NaN; below −708 it goes to 0 through subnormals as Math.exp does
 * (0 from −745); from 709 it is exp(709) (the rollouts only pass x ≤ 0: logits minus their maximum).
 */
export function exp64(x: number): number {
  const y = x > -745 ? (x < 709 ? x : 709) : -745; // clamps ±∞; NaN fails both tests and is returned below
  const n = y * INV_LN2_32 + ROUND_MAGIC - ROUND_MAGIC;
  const r = y - n * LN2_32_HI - n * LN2_32_LO;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
  const ni = n | 0;
  return x === x ? p * POW2_32[ni & 31] * POW2[(ni >> 5) + 1100] : x;
}

/**
 * The GMFlow rollout on the host: per sample and pixel, per substep,
 *   ν = cx·x − (r_a/a)·x_src,  D⁻¹ = 1/max(v·ζ + 1, ε),
 *   logit_k = l_k + (μ_k·ν − ζ|μ_k|²/2)·D⁻¹,  x̂₀ = (v·ν + Σ_k softmax(logit)_k μ_k)·D⁻¹,
 *   x ← x + (x − x̂₀)·dt/b.
 * Returns the end state as a flat Float32Array [B·C·S], or with `every` every substep's state
 * [(steps + 1)·B·C·S] (state 0 the start; frozen samples repeat their last state).
 */
export function gmflowRolloutHost(inp: GMFlowFusedInputs, coefIn: GMFlowCoefficients, steps: number, every = false): Float32Array {
  const { K, C, S, eps, raSrc } = inp;
  const x = inp.x.dataSync() as Float32Array;
  const xSrc = inp.xSrc.dataSync() as Float32Array;
  const mu = inp.means.dataSync() as Float32Array;
  const lw = inp.logweights.dataSync() as Float32Array;
  const gv = inp.gmVars.dataSync() as Float32Array;
  const B = gv.length;
  fusedStats.programs++;
  if (C === 2 && S === 1) {
    const w = gmflowRollout2Wasm(x, xSrc, mu, lw, gv, raSrc, K, eps, coefIn, steps, every); // SIMD wasm when loaded
    if (w) {
      fusedStats.softmaxRedos += w.redos;
      return w.out;
    }
  }
  if (C === 1) {
    const w = gmflowRollout1Wasm(x, xSrc, mu, lw, gv, raSrc, K, S, eps, coefIn, steps, every); // four pixels a vector
    if (w) {
      fusedStats.softmaxRedos += w.redos;
      return w.out;
    }
  }
  // the JS loops: a fill is materialised
  let coef = coefIn as Float64Array;
  if (typeof coefIn === 'function') {
    coef = new Float64Array(steps * B * 4);
    coefIn(coef, B);
  }
  if (C === 2 && S === 1) {
    return gmflowRolloutHost2(x, xSrc, mu, lw, gv, raSrc, K, eps, coef, steps, every);
  }
  if (C === 1) return gmflowRolloutHost1(x, xSrc, mu, lw, gv, raSrc, K, S, eps, coef, steps, every);
  const NS = B * C * S;
  const last = every ? steps : 0;
  const out = new Float32Array((last + 1) * NS);
  const xs = new Float64Array(C);
  const xr = new Float64Array(C); // (r_a/a)·x_src
  const nu = new Float64Array(C);
  const acc = new Float64Array(C);
  const muL = new Float64Array(K * C); // this pixel's means, k-major
  const muSqHalf = new Float64Array(K);
  const l = new Float64Array(K);
  const logit = new Float64Array(K);
  for (let b = 0; b < B; b++) {
    const v = gv[b];
    const ra = raSrc[b];
    for (let s = 0; s < S; s++) {
      for (let c = 0; c < C; c++) {
        const idx = (b * C + c) * S + s;
        xs[c] = x[idx];
        xr[c] = ra * xSrc[idx];
      }
      for (let k = 0; k < K; k++) {
        let q = 0;
        for (let c = 0; c < C; c++) {
          const m = mu[((b * K + k) * C + c) * S + s];
          muL[k * C + c] = m;
          q += m * m;
        }
        muSqHalf[k] = 0.5 * q;
        l[k] = lw[(b * K + k) * S + s];
      }
      const put = (jj: number) => {
        for (let c = 0; c < C; c++) out[jj * NS + (b * C + c) * S + s] = xs[c];
      };
      if (every) put(0);
      let j = 0;
      for (; j < steps; j++) {
        const o = (j * B + b) * 4;
        if (coef[o + 3] === 0) break; // frozen from here on
        const cx = coef[o];
        const zeta = coef[o + 1];
        const cdt = coef[o + 2];
        const invDen = 1 / Math.max(v * zeta + 1, eps);
        for (let c = 0; c < C; c++) {
          nu[c] = cx * xs[c] - xr[c];
          acc[c] = 0;
        }
        let mx = -Infinity;
        for (let k = 0; k < K; k++) {
          let d = 0;
          for (let c = 0; c < C; c++) d += muL[k * C + c] * nu[c];
          const z = l[k] + (d - zeta * muSqHalf[k]) * invDen;
          logit[k] = z;
          mx = Math.max(mx, z); // branch-free (NaN logits give NaN, as before)
        }
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const e = exp64(logit[k] - mx);
          sum += e;
          for (let c = 0; c < C; c++) acc[c] += e * muL[k * C + c];
        }
        const invSum = 1 / sum;
        for (let c = 0; c < C; c++) {
          const x0 = (v * nu[c] + acc[c] * invSum) * invDen;
          xs[c] += (xs[c] - x0) * cdt;
        }
        if (every) put(j + 1);
      }
      for (let jj = every ? j + 1 : 0; jj <= last; jj++) put(jj); // frozen states, or the end
    }
  }
  return out;
}

/**
 * Largest |max logit − shift| for which the host rollouts (`gmflowRolloutHost1`, `gmflowRolloutHost2` and
 * the SIMD wasm program, see scripts/build-wasm-rollout.mjs) keep a substep's one-pass softmax: its
 * weights exp(logit − shift) then neither overflow nor lose the dominant terms to subnormals, so the
 * ratio Σ e·μ / Σ e is the max-subtracted one up to rounding. 50 fits the wasm program's float32 weights
 * (e^50·K finite, the largest weight at least e^−50, its floor e^−87); the float64 loops use the same
 * bound so that all of them redo the same substeps.
 */
export const SHIFT_SLACK = 50;

/**
 * `gmflowRolloutHost` specialised to one channel (C = 1: 1D points, single-channel images such as MNIST),
 * per pixel; the softmax in one pass shifted by the previous substep's maximum, as in `gmflowRolloutHost2`.
 */
function gmflowRolloutHost1(
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times,
  K: number, S: number, eps: number, coef: Float64Array, steps: number, every: boolean,
): Float32Array {
  const B = gv.length;
  const NS = B * S;
  const last = every ? steps : 0;
  const out = new Float32Array((last + 1) * NS);
  const K3 = 3 * K;
  const m = new Float64Array(K3); // per component: μ_k, μ_k²/2, l_k
  // per substep and sample: D⁻¹, ζ·D⁻¹ (shared by the pixels)
  const invDenAll = new Float64Array(steps * B);
  for (let j = 0; j < steps; j++) {
    for (let b = 0; b < B; b++) invDenAll[j * B + b] = 1 / Math.max(gv[b] * coef[(j * B + b) * 4 + 1] + 1, eps);
  }
  for (let b = 0; b < B; b++) {
    const v = gv[b];
    const ra = raSrc[b];
    for (let s = 0; s < S; s++) {
      let xc = x[b * S + s];
      const xr = ra * xSrc[b * S + s];
      for (let k = 0; k < K; k++) {
        const a = mu[(b * K + k) * S + s];
        m[3 * k] = a;
        m[3 * k + 1] = 0.5 * a * a;
        m[3 * k + 2] = lw[(b * K + k) * S + s];
      }
      const idx = b * S + s;
      if (every) out[idx] = xc;
      let shift = NaN; // the first substep runs the two passes
      let j = 0;
      for (; j < steps; j++) {
        const o = (j * B + b) * 4;
        if (coef[o + 3] === 0) break; // frozen from here on
        const invDen = invDenAll[j * B + b];
        const nu = coef[o] * xc - xr;
        const q = nu * invDen;
        const z = coef[o + 1] * invDen;
        let mx = -Infinity;
        let sum = 0;
        let acc = 0;
        if (shift === shift) {
          for (let k = 0; k < K3; k += 3) {
            const c = m[k];
            const t = m[k + 2] + c * q - z * m[k + 1];
            mx = Math.max(mx, t); // branch-free: near-equal logits made `if (t > mx)` mispredict (NaN: redone below)
            const e = exp64(t - shift);
            sum += e;
            acc += e * c;
          }
        }
        if (!(mx - shift <= SHIFT_SLACK && mx - shift >= -SHIFT_SLACK)) {
          if (j > 0) fusedStats.softmaxRedos++;
          mx = -Infinity;
          for (let k = 0; k < K3; k += 3) {
            const t = m[k + 2] + m[k] * q - z * m[k + 1];
            if (t > mx) mx = t;
          }
          sum = 0;
          acc = 0;
          for (let k = 0; k < K3; k += 3) {
            const c = m[k];
            const e = exp64(m[k + 2] + c * q - z * m[k + 1] - mx);
            sum += e;
            acc += e * c;
          }
        }
        shift = mx;
        const y = (v * nu + acc / sum) * invDen;
        xc += (xc - y) * coef[o + 2];
        if (every) out[(j + 1) * NS + idx] = xc;
      }
      for (let jj = every ? j + 1 : 0; jj <= last; jj++) out[jj * NS + idx] = xc; // frozen states, or the end
    }
  }
  return out;
}

/**
 * `gmflowRolloutHost` specialised to 2D points (C = 2, S = 1: the toy workload), scalar state.
 * The softmax over K is one pass per substep: the weights are exp(logit − shift) with the shift the
 * previous substep's maximum logit (softmax is shift-invariant; the logits move little between
 * substeps), and the substep is redone max-subtracted (two passes) when its maximum is more than
 * SHIFT_SLACK from the shift (and on the first substep). Per component the constants sit together:
 * [μ_k0, μ_k1, |μ_k|²/2, l_k].
 */
function gmflowRolloutHost2(
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times,
  K: number, eps: number, coef: Float64Array, steps: number, every: boolean,
): Float32Array {
  const B = gv.length;
  const NS = B * 2;
  const last = every ? steps : 0;
  const out = new Float32Array((last + 1) * NS);
  const K4 = 4 * K;
  const m = new Float64Array(K4); // per component: μ_k0, μ_k1, |μ_k|²/2, l_k
  for (let b = 0; b < B; b++) {
    const v = gv[b];
    const ra = raSrc[b];
    let x0c = x[2 * b];
    let x1c = x[2 * b + 1];
    const xr0 = ra * xSrc[2 * b];
    const xr1 = ra * xSrc[2 * b + 1];
    for (let k = 0; k < K; k++) {
      const a = mu[(b * K + k) * 2];
      const c = mu[(b * K + k) * 2 + 1];
      m[4 * k] = a;
      m[4 * k + 1] = c;
      m[4 * k + 2] = 0.5 * (a * a + c * c);
      m[4 * k + 3] = lw[b * K + k];
    }
    if (every) {
      out[2 * b] = x0c;
      out[2 * b + 1] = x1c;
    }
    let shift = NaN; // no previous maximum yet: the first substep runs the two passes
    let j = 0;
    for (; j < steps; j++) {
      const o = (j * B + b) * 4;
      if (coef[o + 3] === 0) break; // frozen from here on
      const cx = coef[o];
      const zeta = coef[o + 1];
      const cdt = coef[o + 2];
      const invDen = 1 / Math.max(v * zeta + 1, eps);
      const nu0 = cx * x0c - xr0;
      const nu1 = cx * x1c - xr1;
      // logit_k = l_k + (μ_k·ν − ζ|μ_k|²/2)·D⁻¹ = l_k + μ_k·q − z·|μ_k|²/2 with q = ν·D⁻¹, z = ζ·D⁻¹
      const q0 = nu0 * invDen;
      const q1 = nu1 * invDen;
      const z = zeta * invDen;
      let mx = -Infinity;
      let sum = 0;
      let a0 = 0;
      let a1 = 0;
      if (shift === shift) {
        for (let k = 0; k < K4; k += 4) {
          const c0 = m[k];
          const c1 = m[k + 1];
          const t = m[k + 3] + c0 * q0 + c1 * q1 - z * m[k + 2];
          mx = Math.max(mx, t); // branch-free: near-equal logits made `if (t > mx)` mispredict (NaN: redone below)
          const e = exp64(t - shift);
          sum += e;
          a0 += e * c0;
          a1 += e * c1;
        }
      }
      if (!(mx - shift <= SHIFT_SLACK && mx - shift >= -SHIFT_SLACK)) {
        // first substep, a far-moved maximum, or non-finite logits: the max-subtracted two passes
        if (j > 0) fusedStats.softmaxRedos++;
        mx = -Infinity;
        for (let k = 0; k < K4; k += 4) {
          const t = m[k + 3] + m[k] * q0 + m[k + 1] * q1 - z * m[k + 2];
          if (t > mx) mx = t;
        }
        sum = 0;
        a0 = 0;
        a1 = 0;
        for (let k = 0; k < K4; k += 4) {
          const c0 = m[k];
          const c1 = m[k + 1];
          const e = exp64(m[k + 3] + c0 * q0 + c1 * q1 - z * m[k + 2] - mx);
          sum += e;
          a0 += e * c0;
          a1 += e * c1;
        }
      }
      shift = mx;
      const inv = 1 / sum;
      const y0 = (v * nu0 + a0 * inv) * invDen;
      const y1 = (v * nu1 + a1 * inv) * invDen;
      x0c += (x0c - y0) * cdt;
      x1c += (x1c - y1) * cdt;
      if (every) {
        out[(j + 1) * NS + 2 * b] = x0c;
        out[(j + 1) * NS + 2 * b + 1] = x1c;
      }
    }
    for (let jj = every ? j + 1 : 0; jj <= last; jj++) {
      // frozen states, or the end
      out[jj * NS + 2 * b] = x0c;
      out[jj * NS + 2 * b + 1] = x1c;
    }
  }
  return out;
}

/** The part of tfjs-backend-webgpu's backend a custom WGSL program needs. */
export interface WebGpuBackendLike {
  runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], outputDtype: 'float32', uniforms?: { type: string; data: number[] }[]): tf.TensorInfo;
}

/** Workgroup size of this project's WGSL programs. */
export const WORKGROUP = 64;

/** The GMFlow rollout as one WGSL program: one invocation per (sample, pixel), K, C baked in. */
class GMFlowRolloutProgram {
  variableNames = ['xin', 'xsrc', 'mu', 'lw', 'gv', 'ra', 'coef'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'count : i32, steps : i32, batch : i32, eps : f32,';

  constructor(readonly B: number, readonly K: number, readonly C: number, readonly S: number) {
    this.outputShape = [B * C * S];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil((B * S) / WORKGROUP), 1, 1];
    this.shaderKey = `piflow_gmflow_rollout_${K}_${C}_${S}`;
  }

  getUserCode(): string {
    const { K, C, S } = this;
    return `
      fn main(index : i32) {
        if (index >= uniforms.count) { return; }
        let b = index / ${S};
        let s = index - b * ${S};
        let v = gv[b];
        let rab = ra[b];
        var xs : array<f32, ${C}>;
        var xr : array<f32, ${C}>;
        var nu : array<f32, ${C}>;
        var acc : array<f32, ${C}>;
        for (var c = 0; c < ${C}; c++) {
          let idx = (b * ${C} + c) * ${S} + s;
          xs[c] = xin[idx];
          xr[c] = rab * xsrc[idx];
        }
        for (var j = 0; j < uniforms.steps; j++) {
          let o = (j * uniforms.batch + b) * 4;
          if (coef[o + 3] == 0.0) { break; }
          let cx = coef[o];
          let zeta = coef[o + 1];
          let cdt = coef[o + 2];
          let invDen = 1.0 / max(v * zeta + 1.0, uniforms.eps);
          for (var c = 0; c < ${C}; c++) {
            nu[c] = cx * xs[c] - xr[c];
            acc[c] = 0.0;
          }
          // online softmax over the K components (running max, rescaled sums)
          var mx = -3.402823e38;
          var sum = 0.0;
          for (var k = 0; k < ${K}; k++) {
            var d = 0.0;
            var q = 0.0;
            for (var c = 0; c < ${C}; c++) {
              let m = mu[((b * ${K} + k) * ${C} + c) * ${S} + s];
              d += m * nu[c];
              q += m * m;
            }
            let z = lw[(b * ${K} + k) * ${S} + s] + (d - zeta * 0.5 * q) * invDen;
            if (z > mx) {
              let r = exp(mx - z);
              sum *= r;
              for (var c = 0; c < ${C}; c++) { acc[c] *= r; }
              mx = z;
            }
            let e = exp(z - mx);
            sum += e;
            for (var c = 0; c < ${C}; c++) {
              acc[c] += e * mu[((b * ${K} + k) * ${C} + c) * ${S} + s];
            }
          }
          let invSum = 1.0 / sum;
          for (var c = 0; c < ${C}; c++) {
            let x0 = (v * nu[c] + acc[c] * invSum) * invDen;
            xs[c] = xs[c] + (xs[c] - x0) * cdt;
          }
        }
        for (var c = 0; c < ${C}; c++) {
          setOutputAtIndex((b * ${C} + c) * ${S} + s, xs[c]);
        }
      }
    `;
  }
}

/** The GMFlow rollout on webgpu: one program dispatch (plus the uploads of the coefficients and r_a/a). */
export function gmflowRolloutWebGpu(inp: GMFlowFusedInputs, coef: Float64Array, steps: number): tf.Tensor {
  const { K, C, S, eps } = inp;
  const B = inp.raSrc.length;
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const program = new GMFlowRolloutProgram(B, K, C, S);
  fusedStats.programs++;
  return tf.tidy(() => {
    const flat = (t: tf.Tensor) => t.reshape([t.size]);
    const coefT = tf.tensor1d(Float32Array.from(coef));
    const raT = tf.tensor1d(Float32Array.from(inp.raSrc));
    const inputs = [flat(inp.x), flat(inp.xSrc), flat(inp.means), flat(inp.logweights), flat(inp.gmVars), raT, coefT];
    const info = backend.runWebGPUProgram(program, inputs, 'float32', [
      { type: 'int32', data: [B * S] },
      { type: 'int32', data: [steps] },
      { type: 'int32', data: [B] },
      { type: 'float32', data: [eps] },
    ]);
    return tf.engine().makeTensorFromTensorInfo(info);
  });
}

/** Inputs of the GMFlow local velocity at several states: the policy's x₀-space tensors and constants. */
export interface GMFlowVelocityInputs {
  /** μ [B, K, C, …S], l [B, K, 1, …S], v [B, 1, 1, …1]: the gradient-carrying tensors */
  means: tf.Tensor;
  logweights: tf.Tensor;
  gmVars: tf.Tensor;
  /** x_src [B, C, …S] and σ_src per sample */
  xSrc: tf.Tensor;
  sigmaTSrc: Times;
  /** the M states, each [B, C, …S], and their σ per sample */
  states: tf.Tensor[];
  sigmas: Times[];
  K: number;
  C: number;
  S: number;
  eps: number;
}

/**
 * The GMFlow velocity u = (x − x̂₀)/max(σ, ε) at M states (each [B, C, …S]) as one differentiable op on
 * the host (cpu, wasm): output [M·B, C, …S] (the states concatenated on the batch axis), with an
 * analytic gradient with respect to μ, l and v (the states are constants: π-ID's detached states).
 * Forward and gradient run as JavaScript loops over Float64 values; the tape sees one node.
 *
 * Per sample b, pixel s and state (a = max(σ_src, ε), b = max(σ, ε), r = (1−·)/·, as in gmflow.ts):
 *   ν = (r_b/b)·x − (r_a/a)·x_src,  ζ = r_b² − r_a²,  D = max(vζ + 1, ε),  E_k = μ_k·ν − ζ|μ_k|²/2,
 *   w = softmax(l + E/D),  A = vν + Σ_k w_k μ_k,  x̂₀ = A/D,  u = (x − x̂₀)/b.
 * With g = ∂L/∂u, h = −g/(bD), p_k = h·μ_k, r_k = w_k(p_k − Σ_j w_j p_j):
 *   ∂L/∂μ_k = h·w_k + r_k(ν − ζμ_k)/D,  ∂L/∂l_k = r_k,
 *   ∂L/∂v = h·ν − [vζ + 1 ≥ ε]·ζ·(h·A + Σ_k r_k E_k)/D  (h·A = D·Σ_c h_c A_c/D: see the code).
 */
let hostPass1 = true;
/** Whether gmflowVelocitiesHost uses its one-channel loop for C = 1 (on by default; off: the general loop, for the tests). Returns the previous setting. */
export function setGmflowHostPass1(on: boolean): boolean {
  const prev = hostPass1;
  hostPass1 = on;
  return prev;
}

export function gmflowVelocitiesHost(inp: GMFlowVelocityInputs): tf.Tensor {
  const { K, C, S, eps, states, sigmas } = inp;
  const M = states.length;
  const B = inp.sigmaTSrc.length;
  const xSrc = inp.xSrc.dataSync() as Float32Array;
  const xs = states.map((t) => t.dataSync() as Float32Array);
  // per state and sample: [r_b/b, ζ, 1/b]
  const co = new Float64Array(M * B * 3);
  const raSrc = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    const a = Math.max(inp.sigmaTSrc[i], eps);
    const ra = (1 - a) / a;
    raSrc[i] = ra / a;
    for (let m = 0; m < M; m++) {
      const bb = Math.max(sigmas[m][i], eps);
      const rb = (1 - bb) / bb;
      const o = (m * B + i) * 3;
      co[o] = rb / bb;
      co[o + 1] = rb * rb - ra * ra;
      co[o + 2] = 1 / bb;
    }
  }
  const outShape = [M * B, ...states[0].shape.slice(1)];
  /** One pass: the velocities, or (with g) the gradients into gMu, gL, gV. */
  const pass = (mu: Float32Array, lw: Float32Array, gv: Float32Array, g: Float32Array | null, u: Float32Array | null,
    gMu: Float64Array | null, gL: Float64Array | null, gV: Float64Array | null) => {
    const nu = new Float64Array(C);
    const acc = new Float64Array(C);
    const h = new Float64Array(C);
    const logit = new Float64Array(K);
    const e = new Float64Array(K);
    const p = new Float64Array(K);
    const NS = B * C * S;
    for (let m = 0; m < M; m++) {
      const x = xs[m];
      for (let b = 0; b < B; b++) {
        const o = (m * B + b) * 3;
        const cx = co[o];
        const zeta = co[o + 1];
        const invB = co[o + 2];
        const v = gv[b];
        const raw = v * zeta + 1;
        const D = Math.max(raw, eps);
        const iD = 1 / D;
        const ra = raSrc[b];
        let dv = 0;
        for (let s = 0; s < S; s++) {
          for (let c = 0; c < C; c++) {
            const idx = (b * C + c) * S + s;
            nu[c] = cx * x[idx] - ra * xSrc[idx];
            acc[c] = 0;
          }
          let mx = -Infinity;
          for (let k = 0; k < K; k++) {
            let d = 0;
            let q = 0;
            for (let c = 0; c < C; c++) {
              const a = mu[((b * K + k) * C + c) * S + s];
              d += a * nu[c];
              q += a * a;
            }
            e[k] = d - 0.5 * zeta * q;
            const z = lw[(b * K + k) * S + s] + e[k] * iD;
            logit[k] = z;
            mx = Math.max(mx, z); // branch-free (NaN logits give NaN, as before)
          }
          let sum = 0;
          for (let k = 0; k < K; k++) {
            const w = exp64(logit[k] - mx);
            logit[k] = w; // unnormalised weight
            sum += w;
          }
          const inv = 1 / sum;
          for (let k = 0; k < K; k++) {
            const w = (logit[k] *= inv);
            for (let c = 0; c < C; c++) acc[c] += w * mu[((b * K + k) * C + c) * S + s];
          }
          if (u) {
            for (let c = 0; c < C; c++) {
              const idx = (b * C + c) * S + s;
              u[m * NS + idx] = (x[idx] - (v * nu[c] + acc[c]) * iD) * invB;
            }
            continue;
          }
          // gradients: h = ∂L/∂x̂₀ = −g/b; ∂L/∂A = h/D
          let hA = 0; // Σ_c h_c A_c
          let hNu = 0; // Σ_c h_c ν_c
          for (let c = 0; c < C; c++) {
            const idx = (b * C + c) * S + s;
            h[c] = -g![m * NS + idx] * invB;
            hA += h[c] * (v * nu[c] + acc[c]);
            hNu += h[c] * nu[c];
          }
          let wp = 0;
          for (let k = 0; k < K; k++) {
            let d = 0;
            for (let c = 0; c < C; c++) d += h[c] * mu[((b * K + k) * C + c) * S + s];
            p[k] = d * iD; // ∂L/∂w_k
            wp += logit[k] * p[k];
          }
          let rE = 0;
          for (let k = 0; k < K; k++) {
            const w = logit[k];
            const r = w * (p[k] - wp); // ∂L/∂logit_k
            gL![(b * K + k) * S + s] += r;
            rE += r * e[k];
            for (let c = 0; c < C; c++) {
              const j = ((b * K + k) * C + c) * S + s;
              gMu![j] += h[c] * iD * w + r * (nu[c] - zeta * mu[j]) * iD;
            }
          }
          // x̂₀ = A·iD, logit = l + E·iD: ∂L/∂iD = Σ h_c A_c + Σ r_k E_k; ∂iD/∂v = −ζ/D² where vζ + 1 ≥ ε
          dv += hNu * iD;
          if (raw >= eps) dv -= (hA + rE) * zeta * iD * iD;
        }
        if (gV) gV[b] += dv;
      }
    }
  };
  /** `pass` for one channel (C = 1: the MNIST images, S pixels), the same float64 operations in the same order. */
  const pass1 = (mu: Float32Array, lw: Float32Array, gv: Float32Array, g: Float32Array | null, u: Float32Array | null,
    gMu: Float64Array | null, gL: Float64Array | null, gV: Float64Array | null) => {
    const logit = new Float64Array(K);
    const e = new Float64Array(K);
    const p = new Float64Array(K);
    const NS = B * S;
    for (let m = 0; m < M; m++) {
      const x = xs[m];
      for (let b = 0; b < B; b++) {
        const o = (m * B + b) * 3;
        const cx = co[o];
        const zeta = co[o + 1];
        const invB = co[o + 2];
        const v = gv[b];
        const raw = v * zeta + 1;
        const D = Math.max(raw, eps);
        const iD = 1 / D;
        const ra = raSrc[b];
        const hz = 0.5 * zeta;
        const base = b * K * S;
        let dv = 0;
        for (let s = 0; s < S; s++) {
          const idx = b * S + s;
          const nu = cx * x[idx] - ra * xSrc[idx];
          let mx = -Infinity;
          for (let k = 0; k < K; k++) {
            const j = base + k * S + s;
            const a = mu[j];
            // 0 + y, as `pass` sums (keeps a −0 product's sign behaviour)
            const d = 0 + a * nu;
            const q = 0 + a * a;
            e[k] = d - hz * q;
            const z = lw[j] + e[k] * iD;
            logit[k] = z;
            mx = Math.max(mx, z);
          }
          let sum = 0;
          for (let k = 0; k < K; k++) {
            const w = exp64(logit[k] - mx);
            logit[k] = w;
            sum += w;
          }
          const inv = 1 / sum;
          let acc = 0;
          for (let k = 0; k < K; k++) {
            const w = (logit[k] *= inv);
            acc += w * mu[base + k * S + s];
          }
          if (u) {
            u[m * NS + idx] = (x[idx] - (v * nu + acc) * iD) * invB;
            continue;
          }
          const h = -g![m * NS + idx] * invB;
          const hA = 0 + h * (v * nu + acc);
          const hNu = 0 + h * nu;
          let wp = 0;
          for (let k = 0; k < K; k++) {
            const d = 0 + h * mu[base + k * S + s];
            p[k] = d * iD;
            wp += logit[k] * p[k];
          }
          let rE = 0;
          for (let k = 0; k < K; k++) {
            const j = base + k * S + s;
            const w = logit[k];
            const r = w * (p[k] - wp);
            gL![j] += r;
            rE += r * e[k];
            gMu![j] += h * iD * w + r * (nu - zeta * mu[j]) * iD;
          }
          dv += hNu * iD;
          if (raw >= eps) dv -= (hA + rE) * zeta * iD * iD;
        }
        if (gV) gV[b] += dv;
      }
    }
  };
  const points = C === 2 && S === 1;
  const onePass = C === 1 && hostPass1 ? pass1 : pass;
  const op = tf.customGrad(((means: tf.Tensor, logweights: tf.Tensor, gmVars: tf.Tensor) => {
    const mu = means.dataSync() as Float32Array;
    const lw = logweights.dataSync() as Float32Array;
    const gv = gmVars.dataSync() as Float32Array;
    const u = new Float32Array(M * B * C * S);
    if (points) {
      // 2D points: scalar loops, the forward's weights and energies kept for the gradient
      const W = new Float64Array(M * B * K);
      const E = new Float64Array(M * B * K);
      gmflowVelocities2(mu, lw, gv, xs, xSrc, co, raSrc, K, B, eps, u, W, E);
      fusedStats.programs++;
      return {
        value: tf.tensor(u, outShape, 'float32'),
        gradFunc: (dy: tf.Tensor) => {
          const gMu = new Float32Array(mu.length);
          const gL = new Float32Array(lw.length);
          const gV = new Float32Array(gv.length);
          gmflowVelocityGrads2(mu, gv, xs, xSrc, co, raSrc, K, B, eps, dy.dataSync() as Float32Array, W, E, gMu, gL, gV);
          fusedStats.programs++;
          return [tf.tensor(gMu, means.shape, 'float32'), tf.tensor(gL, logweights.shape, 'float32'), tf.tensor(gV, gmVars.shape, 'float32')];
        },
      };
    }
    onePass(mu, lw, gv, null, u, null, null, null);
    fusedStats.programs++;
    return {
      value: tf.tensor(u, outShape, 'float32'),
      gradFunc: (dy: tf.Tensor) => {
        const gMu = new Float64Array(mu.length);
        const gL = new Float64Array(lw.length);
        const gV = new Float64Array(gv.length);
        onePass(mu, lw, gv, dy.dataSync() as Float32Array, null, gMu, gL, gV);
        fusedStats.programs++;
        return [
          tf.tensor(Float32Array.from(gMu), means.shape, 'float32'),
          tf.tensor(Float32Array.from(gL), logweights.shape, 'float32'),
          tf.tensor(Float32Array.from(gV), gmVars.shape, 'float32'),
        ];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(inp.means, inp.logweights, inp.gmVars);
}

/**
 * gmflowVelocitiesHost's forward for 2D points (C = 2, S = 1), in scalars: u [M·B·2]; W gets the
 * softmax weights w and E the energies E_k per state, sample and component ([M·B·K]) for the gradient.
 */
function gmflowVelocities2(
  mu: Float32Array, lw: Float32Array, gv: Float32Array, xs: Float32Array[], xSrc: Float32Array, co: Float64Array,
  raSrc: Float64Array, K: number, B: number, eps: number, u: Float32Array, W: Float64Array, E: Float64Array,
): void {
  for (let m = 0; m < xs.length; m++) {
    const x = xs[m];
    for (let b = 0; b < B; b++) {
      const o = (m * B + b) * 3;
      const cx = co[o];
      const zeta = co[o + 1];
      const invB = co[o + 2];
      const v = gv[b];
      const iD = 1 / Math.max(v * zeta + 1, eps);
      const x0 = x[2 * b];
      const x1 = x[2 * b + 1];
      const nu0 = cx * x0 - raSrc[b] * xSrc[2 * b];
      const nu1 = cx * x1 - raSrc[b] * xSrc[2 * b + 1];
      const hz = 0.5 * zeta;
      const wb = (m * B + b) * K;
      const mb = 2 * b * K;
      const lb = b * K;
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        const a = mu[mb + 2 * k];
        const c = mu[mb + 2 * k + 1];
        const e = a * nu0 + c * nu1 - hz * (a * a + c * c);
        E[wb + k] = e;
        const z = lw[lb + k] + e * iD;
        W[wb + k] = z;
        mx = Math.max(mx, z); // branch-free (NaN logits give NaN, as the generic loop)
      }
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const w = exp64(W[wb + k] - mx);
        W[wb + k] = w;
        sum += w;
      }
      const inv = 1 / sum;
      let a0 = 0;
      let a1 = 0;
      for (let k = 0; k < K; k++) {
        const w = (W[wb + k] *= inv);
        a0 += w * mu[mb + 2 * k];
        a1 += w * mu[mb + 2 * k + 1];
      }
      const i = 2 * (m * B + b);
      u[i] = (x0 - (v * nu0 + a0) * iD) * invB;
      u[i + 1] = (x1 - (v * nu1 + a1) * iD) * invB;
    }
  }
}

/** gmflowVelocitiesHost's gradient for 2D points, from the forward's W and E (see its comment for the formulas). */
function gmflowVelocityGrads2(
  mu: Float32Array, gv: Float32Array, xs: Float32Array[], xSrc: Float32Array, co: Float64Array, raSrc: Float64Array,
  K: number, B: number, eps: number, g: Float32Array, W: Float64Array, E: Float64Array,
  gMu: Float32Array, gL: Float32Array, gV: Float32Array,
): void {
  const p = new Float64Array(K);
  // accumulated in float64 over the states, written once as float32
  const aMu = new Float64Array(2 * K);
  const aL = new Float64Array(K);
  const M = xs.length;
  for (let b = 0; b < B; b++) {
    aMu.fill(0);
    aL.fill(0);
    let dv = 0;
    const v = gv[b];
    const mb = 2 * b * K;
    for (let m = 0; m < M; m++) {
      const x = xs[m];
      const o = (m * B + b) * 3;
      const cx = co[o];
      const zeta = co[o + 1];
      const invB = co[o + 2];
      const raw = v * zeta + 1;
      const iD = 1 / Math.max(raw, eps);
      const nu0 = cx * x[2 * b] - raSrc[b] * xSrc[2 * b];
      const nu1 = cx * x[2 * b + 1] - raSrc[b] * xSrc[2 * b + 1];
      const wb = (m * B + b) * K;
      const i = 2 * (m * B + b);
      const h0 = -g[i] * invB;
      const h1 = -g[i + 1] * invB;
      let a0 = 0;
      let a1 = 0;
      let wp = 0;
      for (let k = 0; k < K; k++) {
        const w = W[wb + k];
        const c0 = mu[mb + 2 * k];
        const c1 = mu[mb + 2 * k + 1];
        a0 += w * c0;
        a1 += w * c1;
        const pk = (h0 * c0 + h1 * c1) * iD; // ∂L/∂w_k
        p[k] = pk;
        wp += w * pk;
      }
      const hA = h0 * (v * nu0 + a0) + h1 * (v * nu1 + a1);
      const hNu = h0 * nu0 + h1 * nu1;
      const hd0 = h0 * iD;
      const hd1 = h1 * iD;
      const n0 = nu0 * iD;
      const n1 = nu1 * iD;
      const zd = zeta * iD;
      let rE = 0;
      for (let k = 0; k < K; k++) {
        const w = W[wb + k];
        const r = w * (p[k] - wp); // ∂L/∂logit_k
        aL[k] += r;
        rE += r * E[wb + k];
        aMu[2 * k] += hd0 * w + r * (n0 - zd * mu[mb + 2 * k]);
        aMu[2 * k + 1] += hd1 * w + r * (n1 - zd * mu[mb + 2 * k + 1]);
      }
      dv += hNu * iD;
      if (raw >= eps) dv -= (hA + rE) * zeta * iD * iD;
    }
    for (let k = 0; k < K; k++) {
      gL[b * K + k] = aL[k];
      gMu[mb + 2 * k] = aMu[2 * k];
      gMu[mb + 2 * k + 1] = aMu[2 * k + 1];
    }
    gV[b] = dv;
  }
}

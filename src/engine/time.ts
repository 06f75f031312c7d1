/**
 * Time: the shift warp, π-ID training-time sampling and the FlowMap-SDE schedule.
 *
 * Conventions (π-Flow): σ is the noise level, time runs from 1 (noise) to 0 (data).
 * "Raw" time r ∈ [0, 1] relates to σ through a shift s > 0:
 *   warp(r, s)   = s·r / (1 + (s−1)·r)            (σ from raw time)
 *   unwarp(σ, s) = σ / (s + (1−s)·σ)              (raw time from σ)
 * Per-sample times are host arrays (Float64Array, length B): they fix loop counts and step sizes,
 * so they live on the CPU and never need a readback from the device.
 */

export type Times = Float64Array;

/** warp(r, s) = s·r / (1 + (s−1)·r). */
export function warpT(rawT: number, shift: number): number {
  return (shift * rawT) / (1 + (shift - 1) * rawT);
}

/** unwarp(σ, s) = σ / (s + (1−s)·σ). */
export function unwarpT(sigma: number, shift: number): number {
  return sigma / (shift + (1 - shift) * sigma);
}

export function warpTimes(rawT: ArrayLike<number>, shift: number): Times {
  const out = new Float64Array(rawT.length);
  for (let i = 0; i < rawT.length; i++) out[i] = warpT(rawT[i], shift);
  return out;
}

export function unwarpTimes(sigma: ArrayLike<number>, shift: number): Times {
  const out = new Float64Array(sigma.length);
  for (let i = 0; i < sigma.length; i++) out[i] = unwarpT(sigma[i], shift);
  return out;
}

/** A constant per-sample time array. */
export function fillTimes(n: number, value: number): Times {
  return new Float64Array(n).fill(value);
}

/** Round half to even, as torch.round does. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Number of rollout substeps for a raw-time interval: max(round(Δ·T), 1). */
export function numSubsteps(deltaRaw: number, totalSubsteps: number): number {
  return Math.max(roundHalfEven(deltaRaw * totalSubsteps), 1);
}

/**
 * The raw length of one few-step segment (all but the last, which is f'·base long):
 *   base = 1/(nfe − 1 + f'),  f' = max(finalStepSizeScale, eps).
 * The π-ID segment sampling, the data-free rollout and the DX policy's own segment size all use it.
 */
export function segmentBase(nfe: number, finalStepSizeScale: number, eps = 1e-4): number {
  return 1 / (nfe - 1 + Math.max(finalStepSizeScale, eps));
}

export interface SampledTimes {
  /** raw source time of the segment, per sample */
  rawTSrc: Times;
  /** raw length of the segment (final segment scaled by finalStepSizeScale) */
  segmentSize: Times;
  /** σ at the source */
  sigmaTSrc: Times;
}

/**
 * π-ID training-time sampling (PiFlowImitation.sample_t): map uniform raw times to the source time
 * of the few-step segment that contains them.
 *   f' = max(f, eps); base = 1/(nfe − 1 + f'); r = max(rawT, eps)
 *   idx = clip(ceil(r/base + 1 − f'), 1, nfe)
 *   rawTSrc = clip((idx − 1 + f')·base, eps, 1);  segment = idx == 1 ? f'·base : base
 */
export function piflowSampleT(
  rawT: ArrayLike<number>,
  opts: { nfe: number; finalStepSizeScale: number; shift: number; eps?: number },
): SampledTimes {
  const eps = opts.eps ?? 1e-4;
  const f = Math.max(opts.finalStepSizeScale, eps);
  const base = segmentBase(opts.nfe, opts.finalStepSizeScale, eps);
  const n = rawT.length;
  const rawTSrc = new Float64Array(n);
  const segmentSize = new Float64Array(n);
  const sigmaTSrc = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.max(rawT[i], eps);
    const idx = Math.min(Math.max(Math.ceil(r / base + 1 - f), 1), opts.nfe);
    rawTSrc[i] = Math.min(Math.max((idx - 1 + f) * base, eps), 1);
    segmentSize[i] = idx === 1 ? f * base : base;
    sigmaTSrc[i] = warpT(rawTSrc[i], opts.shift);
  }
  return { rawTSrc, segmentSize, sigmaTSrc };
}

export interface FlowMapSchedule {
  /** σ at each step's source, then 0: length nfe + 1 */
  sigmas: number[];
  /** σ the policy rolls out to at each step: length nfe (equal to sigmas[i+1] when h = 0) */
  sigmasDst: number[];
  /** the FlowMap-SDE factor m per step (1 when h = 0) */
  m: number[];
}

/**
 * FlowMap-SDE timesteps: nfe raw points from 1 towards e = (f−1)/(nfe+f−1) (e excluded), warped,
 * then 0. With h > 0 each step rolls out to σ_dst = σ_to·m / (α_to + σ_to·m) and re-noises to σ_to:
 *   m = (σ_to·α_src / (σ_src·α_to))^(h²)
 */
export function flowmapSdeTimesteps(opts: {
  nfe: number;
  shift: number;
  finalStepSizeScale: number;
  h?: number;
}): FlowMapSchedule {
  const { nfe, shift } = opts;
  const f = opts.finalStepSizeScale;
  const h = opts.h ?? 0;
  const e = (f - 1) / (nfe + f - 1);
  const sigmas: number[] = [];
  for (let k = 0; k < nfe; k++) sigmas.push(warpT(Math.max(1 + (k * (e - 1)) / nfe, 0), shift));
  sigmas.push(0);
  const sigmasDst: number[] = [];
  const m: number[] = [];
  for (let k = 0; k < nfe; k++) {
    const sSrc = sigmas[k];
    const sTo = sigmas[k + 1];
    const aSrc = 1 - sSrc;
    const aTo = 1 - sTo;
    let mk: number;
    if (h === Infinity) mk = 0;
    else if (h === 0) mk = 1;
    else mk = Math.pow((sTo * aSrc) / Math.max(sSrc * aTo, 1e-6), h * h);
    const sm = sTo * mk;
    sigmasDst.push(sm / Math.max(aTo + sm, 1e-6));
    m.push(mk);
  }
  return { sigmas, sigmasDst, m };
}

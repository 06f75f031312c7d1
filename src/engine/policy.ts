/**
 * The network-free policy interface and its rollout.
 *
 * A π-Flow student, evaluated once at (x_src, σ_src), emits a policy π(x_t, σ_t) that stays valid
 * until the next step. Rolling it out over many cheap Euler substeps moves a sample from σ_src to the
 * next step with no further network evaluation.
 *
 * Layouts: x is [B, …F] with F = [C] (points, "toy") or [C, H, W] (images). Per-sample scalars
 * (σ, raw times) are host arrays of length B.
 */
import * as tf from '@tensorflow/tfjs';
import { Times, numSubsteps, warpT } from './time.js';
import { perSample, tapeActive } from './tensors.js';
import type { Rng } from './rng.js';

/**
 * What a policy shows in the inspector, as tensors the caller owns (x₀ space, per sample):
 * a mixture (means [B, K, …F], weights [B, K] summing to 1, shared std [B]), a set of points
 * ([B, N, …F], in order), or nothing beyond the x̂₀ path every policy has.
 */
export type PolicyView =
  | { draw: 'mixture'; means: tf.Tensor; weights: tf.Tensor; std: tf.Tensor }
  | { draw: 'points'; points: tf.Tensor }
  | { draw: 'none' };

export interface Policy {
  /** batch size B */
  readonly batch: number;
  /** x_t_src: [B, …F] — the construction point */
  readonly xTSrc: tf.Tensor;
  /** σ_src per sample */
  readonly sigmaTSrc: Times;
  /** velocity u = π(x_t, σ_t); xT: [B, …F] → [B, …F] */
  pi(xT: tf.Tensor, sigmaT: Times): tf.Tensor;
  /** the policy's x₀ prediction at (x_t, σ_t): [B, …F] */
  x0(xT: tf.Tensor, sigmaT: Times): tf.Tensor;
  /**
   * One Euler substep x + π(x, σ)·dt for every sample (dt = 0 keeps a sample where it is).
   * Policies may fuse this; the default is `x.add(pi(x, σ).mul(dt))`.
   */
  advance?(xT: tf.Tensor, sigmaT: Times, dt: Times): tf.Tensor;
  /**
   * Capability: a whole gradient-free rollout segment (every substep of the schedule, every sample,
   * finished samples frozen) as one program: x at the end, [B, …F], a new tensor. Returns null where
   * this backend or layout has no fused program (the caller then runs the generic substeps). Only
   * called outside any gradient tape; the result need not be differentiable. With `everyState`
   * (trajectory observers) the result is every substep's state, [steps + 1, B, …F] (state 0 = xT),
   * or null where the policy has no such program.
   */
  rolloutFused?(xT: tf.Tensor, schedule: RolloutSchedule, everyState?: boolean): tf.Tensor | null;
  /**
   * Capability: the velocity π at several states (each [B, …F], constants) as one differentiable op,
   * [M·B, …F] (the states concatenated on the batch axis); null where this backend has none.
   */
  localVelocities?(states: tf.Tensor[], sigmas: Times[]): tf.Tensor | null;
  /** a copy through which no gradient flows */
  detach(): Policy;
  /**
   * Capability: sampling temperature (GMFlow). Returns a new policy; this one is left as it is.
   * Policies without it ignore the sampler's temperature.
   */
  temperature?(temperature: number): Policy;
  /** Capability: π-ID's dropout of mixture components on the detached policy (GMFlow). Returns a new policy. */
  dropout?(p: number, rng: Rng): Policy;
  /** Capability: what the inspector draws of this policy (tensors owned by the caller); absent: nothing. */
  view?(): PolicyView;
  /** releases the tensors the policy owns (not x_t_src, which belongs to the caller) */
  dispose(): void;
}

/** The velocity of an x₀-predicting policy: u = (x_t − x̂₀) / max(σ_t, ε), per sample. */
export function velocityFromX0(xT: tf.Tensor, x0: tf.Tensor, sigmaT: Times, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const inv = new Float64Array(sigmaT.length);
    for (let i = 0; i < sigmaT.length; i++) inv[i] = 1 / Math.max(sigmaT[i], eps);
    return xT.sub(x0).mul(perSample(inv, xT.rank));
  });
}

export interface RolloutResult {
  /** x at the end: [B, …F] */
  xTEnd: tf.Tensor;
  /** σ at the end, per sample */
  sigmaTEnd: Times;
  /** number of policy evaluations (the batch maximum of the substep counts) */
  numEvals: number;
}

/** An optional observer of every substep (trajectory views); it must not keep `x` without cloning. */
export type SubstepObserver = (j: number, x: tf.Tensor, sigma: Times) => void;

/**
 * A rollout's host schedule: substeps (batch maximum), σ per substep per sample (steps + 1 arrays),
 * per-sample counts; `uniform` when every sample has the same schedule (a sampler's segment: the host
 * coefficients are then computed once per substep).
 */
export interface RolloutSchedule {
  steps: number;
  sigma: Times[];
  n: Int32Array;
  uniform?: boolean;
}

/** Whether every entry of `a` is a[0] (NaN never is). */
function allSame(a: Times): boolean {
  const v = a[0];
  for (let i = 1; i < a.length; i++) if (a[i] !== v) return false;
  return v === v;
}

let fusedRollouts = true;

/**
 * Switches the fused rollout programs on or off (on by default); off, every rollout runs the generic
 * substeps (the reference; the benchmark's "before"). Returns the previous setting.
 */
export function setFusedRollouts(on: boolean): boolean {
  const prev = fusedRollouts;
  fusedRollouts = on;
  return prev;
}

/**
 * The host-side schedule of a rollout: per-sample substep counts n = max(round(Δr·T), 1), step size
 * h = Δr/n, and σ at each substep (samples that have finished stay frozen).
 */
export function rolloutSchedule(
  rawTStart: Times,
  rawTEnd: Times,
  sigmaTStart: Times,
  totalSubsteps: number,
  shift: number,
): RolloutSchedule {
  const B = rawTStart.length;
  const n = new Int32Array(B);
  const h = new Float64Array(B);
  let steps = 0;
  for (let i = 0; i < B; i++) {
    const delta = rawTStart[i] - rawTEnd[i];
    n[i] = numSubsteps(delta, totalSubsteps);
    h[i] = delta / n[i];
    steps = Math.max(steps, n[i]);
  }
  const sigma: Times[] = [Float64Array.from(sigmaTStart)];
  if (B > 0 && allSame(rawTStart) && allSame(rawTEnd) && allSame(sigmaTStart)) {
    // one schedule for all: the same arithmetic on one sample, copied
    let raw = rawTStart[0];
    for (let j = 0; j < steps; j++) {
      raw = Math.max(raw - h[0], 0);
      sigma.push(new Float64Array(B).fill(warpT(raw, shift)));
    }
    return { steps, sigma, n, uniform: true };
  }
  const raw = Float64Array.from(rawTStart);
  for (let j = 0; j < steps; j++) {
    const prev = sigma[j];
    const next = new Float64Array(B);
    for (let i = 0; i < B; i++) {
      if (j < n[i]) {
        raw[i] = Math.max(raw[i] - h[i], 0);
        next[i] = warpT(raw[i], shift);
      } else next[i] = prev[i];
    }
    sigma.push(next);
  }
  return { steps, sigma, n };
}

/**
 * policy_rollout: Euler integration of the policy from raw time `rawTStart` to `rawTEnd` (per sample),
 * `totalSubsteps` over the whole unit interval, σ = warp(raw, shift). The loop runs to the batch
 * maximum of substeps; finished samples stay frozen (their dt is 0).
 * Without an observer and outside any gradient tape, a policy's `rolloutFused` program runs the whole
 * segment at once (same math, float32 rounding aside); otherwise one generic substep after another.
 * xTStart: [B, …F]. Returns a new tensor; does not dispose its inputs.
 */
export function policyRollout(
  policy: Policy,
  xTStart: tf.Tensor,
  sigmaTStart: Times,
  rawTStart: Times,
  rawTEnd: Times,
  totalSubsteps: number,
  shift: number,
  observe?: SubstepObserver,
): RolloutResult {
  const sched = rolloutSchedule(rawTStart, rawTEnd, sigmaTStart, totalSubsteps, shift);
  const B = xTStart.shape[0];
  if (fusedRollouts && policy.rolloutFused && sched.steps > 0 && !tapeActive()) {
    if (!observe) {
      const xEnd = policy.rolloutFused(xTStart, sched);
      if (xEnd) return { xTEnd: xEnd, sigmaTEnd: sched.sigma[sched.steps], numEvals: sched.steps };
    } else {
      // the observer sees the states of the same program (so trajectory views end where samplers end)
      const all = policy.rolloutFused(xTStart, sched, true);
      if (all) {
        const shape = xTStart.shape;
        const size = xTStart.size;
        const flat = all.reshape([sched.steps + 1, size]);
        observe(0, xTStart, sched.sigma[0]);
        let xEnd: tf.Tensor | null = null;
        for (let j = 1; j <= sched.steps; j++) {
          const xj = tf.tidy(() => flat.slice([j, 0], [1, size]).reshape(shape));
          observe(j, xj, sched.sigma[j]);
          if (j === sched.steps) xEnd = xj;
          else xj.dispose();
        }
        flat.dispose();
        all.dispose();
        return { xTEnd: xEnd!, sigmaTEnd: sched.sigma[sched.steps], numEvals: sched.steps };
      }
    }
  }
  let x = xTStart;
  observe?.(0, x, sched.sigma[0]);
  for (let j = 0; j < sched.steps; j++) {
    const s = sched.sigma[j];
    const s1 = sched.sigma[j + 1];
    const dt = new Float64Array(B);
    for (let i = 0; i < B; i++) dt[i] = s1[i] - s[i];
    const next = tf.tidy(() =>
      policy.advance ? policy.advance(x, s, dt) : x.add(policy.pi(x, s).mul(perSample(dt, x.rank))),
    );
    if (x !== xTStart) x.dispose();
    x = next;
    observe?.(j + 1, x, s1);
  }
  if (x === xTStart) x = xTStart.clone();
  return { xTEnd: x, sigmaTEnd: sched.sigma[sched.steps], numEvals: sched.steps };
}

/** True when policy_average_u is the local velocity π(x_start, σ_start) for every sample (round(Δr·T) < 2). */
export function averageIsLocal(rawTStart: Times, rawTEnd: Times, totalSubsteps: number): boolean {
  for (let i = 0; i < rawTStart.length; i++) if (Math.round((rawTStart[i] - rawTEnd[i]) * totalSubsteps) >= 2) return false;
  return true;
}

/**
 * policy_average_u: the policy's average velocity over [rawTEnd, rawTStart]:
 *   small = round(Δr·T) < 2 → the local velocity π(x_start, σ_start)
 *   else  → (x_start − x_end) / max(σ_start − σ_end, avgEps), x_end from the rollout.
 * Differentiable through the policy (used with the gradient-carrying policy in π-ID).
 */
export function policyAverageU(
  policy: Policy,
  xTStart: tf.Tensor,
  sigmaTStart: Times,
  rawTStart: Times,
  rawTEnd: Times,
  totalSubsteps: number,
  shift: number,
  avgEps = 1e-4,
): tf.Tensor {
  const B = rawTStart.length;
  const small = new Float64Array(B);
  let anySmall = false;
  let allSmall = true;
  for (let i = 0; i < B; i++) {
    const isSmall = Math.round((rawTStart[i] - rawTEnd[i]) * totalSubsteps) < 2;
    // torch.round is half-to-even; "< 2" only differs from Math.round at 1.5, which rounds to 2 both ways
    small[i] = isSmall ? 1 : 0;
    anySmall ||= isSmall;
    allSmall &&= isSmall;
  }
  return tf.tidy(() => {
    const local = anySmall ? policy.pi(xTStart, sigmaTStart) : null;
    if (allSmall) return local!;
    const { xTEnd, sigmaTEnd } = policyRollout(policy, xTStart, sigmaTStart, rawTStart, rawTEnd, totalSubsteps, shift);
    const denom = new Float64Array(B);
    for (let i = 0; i < B; i++) denom[i] = 1 / Math.max(sigmaTStart[i] - sigmaTEnd[i], avgEps);
    const mean = xTStart.sub(xTEnd).mul(perSample(denom, xTStart.rank));
    if (!local) return mean;
    const mask = perSample(small, xTStart.rank);
    return local.mul(mask).add(mean.mul(tf.scalar(1).sub(mask)));
  });
}

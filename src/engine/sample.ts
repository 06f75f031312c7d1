/**
 * Samplers: the teacher's Euler ODE, and π-Flow few-step sampling (student → policy → rollout →
 * FlowMap-SDE step).
 */
import * as tf from '@tensorflow/tfjs';
import { Policy, policyRollout, SubstepObserver } from './policy.js';
import { fillTimes, flowmapSdeTimesteps, Times, unwarpT, warpT } from './time.js';
import { check } from './tensors.js';
import { Rng } from './rng.js';

/** A velocity model: u = f(x_t, σ_t); x: [B, …F] → [B, …F]. */
export type VelocityFn = (xT: tf.Tensor, sigmaT: Times) => tf.Tensor;

/**
 * The teacher's Euler ODE from σ = 1 to 0 over `steps` uniform raw-time steps, σ_i = warp(1 − i/steps):
 *   x ← x + u(x, σ_i)·(σ_{i+1} − σ_i).  noise: [B, …F]. `observe(i, x, σ_i)` sees every state.
 */
export function eulerSample(
  teacher: VelocityFn,
  noise: tf.Tensor,
  steps: number,
  opts: { shift?: number; observe?: (i: number, x: tf.Tensor, sigma: number) => void } = {},
): tf.Tensor {
  check(Number.isInteger(steps) && steps >= 1, `steps must be an integer >= 1, got ${steps}`);
  const shift = opts.shift ?? 1;
  const B = noise.shape[0];
  let x = noise.clone();
  opts.observe?.(0, x, 1);
  for (let i = 0; i < steps; i++) {
    const s0 = warpT(1 - i / steps, shift);
    const s1 = warpT(1 - (i + 1) / steps, shift);
    const next = tf.tidy(() => x.add(teacher(x, fillTimes(B, s0)).mul(s1 - s0)));
    x.dispose();
    x = next;
    opts.observe?.(i + 1, x, s1);
  }
  return x;
}

export interface PiFlowSampleOptions {
  nfe: number;
  totalSubsteps: number;
  /** time shift of the schedule (warp and unwarp) */
  shift: number;
  finalStepSizeScale: number;
  /** temperature of policies that have one (GMFlow), applied on every step but the last (T ≥ 1: none) */
  temperature?: number;
  /** FlowMap-SDE h: 0 is the deterministic ODE; h > 0 re-noises after each step (needs `rng`) */
  h?: number;
  rng?: Rng;
  /** sees each network evaluation: step index, its policy (valid during the call), x_src, σ_src */
  onStep?: (step: number, policy: Policy, xSrc: tf.Tensor, sigmaSrc: number) => void;
  /** sees every substep of every step's rollout */
  onSubstep?: (step: number, j: number, x: tf.Tensor, sigma: Times) => void;
}

/**
 * π-Flow few-step sampling (forward_test with the FlowMap-SDE scheduler). `makePolicy(x, σ, step)`
 * evaluates the student once and returns its policy (owned by the sampler afterwards).
 * noise: [B, …F] at σ = 1 → x₀: [B, …F].
 */
export function piflowSample(
  makePolicy: (xTSrc: tf.Tensor, sigmaTSrc: Times, step: number) => Policy,
  noise: tf.Tensor,
  opts: PiFlowSampleOptions,
): tf.Tensor {
  const { nfe, totalSubsteps, shift, finalStepSizeScale } = opts;
  check(Number.isInteger(nfe) && nfe >= 1, `nfe must be an integer >= 1, got ${nfe}`);
  check(Number.isInteger(totalSubsteps) && totalSubsteps >= 1, `totalSubsteps must be an integer >= 1, got ${totalSubsteps}`);
  const h = opts.h ?? 0;
  check(h >= 0, `h must be >= 0, got ${h}`);
  check(h === 0 || opts.rng !== undefined, 'piflowSample: h > 0 needs an rng for the re-noising');
  const temperature = opts.temperature ?? 1;
  const sched = flowmapSdeTimesteps({ nfe, shift, finalStepSizeScale, h });
  const B = noise.shape[0];
  let x = noise.clone();
  for (let i = 0; i < nfe; i++) {
    const sSrc = sched.sigmas[i];
    const sDst = sched.sigmasDst[i];
    const sigmaSrc = fillTimes(B, sSrc);
    let policy = makePolicy(x, sigmaSrc, i);
    if (policy.temperature && i < nfe - 1 && temperature < 1) {
      const tempered = policy.temperature(temperature);
      policy.dispose();
      policy = tempered;
    }
    opts.onStep?.(i, policy, x, sSrc);
    const observe: SubstepObserver | undefined = opts.onSubstep ? (j, xs, s) => opts.onSubstep!(i, j, xs, s) : undefined;
    const { xTEnd } = policyRollout(
      policy, x, sigmaSrc, fillTimes(B, unwarpT(sSrc, shift)), fillTimes(B, unwarpT(sDst, shift)), totalSubsteps, shift, observe,
    );
    policy.dispose();
    const next = flowmapSdeStep(xTEnd, sched.sigmas[i + 1], sched.m[i], opts.rng);
    if (next !== xTEnd) xTEnd.dispose();
    x.dispose();
    x = next;
  }
  return x;
}

/**
 * FlowMap-SDE step from the rollout's end x_dst to σ_to:
 *   x = (α_to + σ_to·m)·x_dst + σ_to·sqrt(max(1 − m², 0))·ε      (m = 1, i.e. h = 0: x = x_dst)
 * Returns `xDst` itself when m = 1 (no new tensor), else a new tensor.
 */
export function flowmapSdeStep(xDst: tf.Tensor, sigmaTo: number, m: number, rng?: Rng): tf.Tensor {
  if (m === 1) return xDst;
  const noiseScale = sigmaTo * Math.sqrt(Math.max(1 - m * m, 0));
  check(noiseScale === 0 || rng !== undefined, 'flowmapSdeStep: a stochastic step (m < 1) needs an rng');
  return tf.tidy(() => {
    const scaled = xDst.mul(1 - sigmaTo + sigmaTo * m);
    if (noiseScale === 0) return scaled;
    return scaled.add(tf.tensor(rng!.normalArray(xDst.size), xDst.shape).mul(noiseScale));
  });
}

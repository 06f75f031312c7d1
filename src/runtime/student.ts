/**
 * The π-Flow student core, whatever the layout (2D points or images) and whatever the policy family:
 * the policy configuration saved with a student, the distillation configuration, the student as a
 * policy factory (one network evaluation → its family's policy, through the registry), the π-ID
 * distiller and the chunked samplers. toy.ts (2D MLPs) and mnist.ts (U-Nets) are thin adapters that
 * supply a layout's networks, data and teacher. No DOM, no fs.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { GuardedAdam, AdamConfig, validateAdam } from '../engine/optim.js';
import { DEFAULT_PIID, PiFlowImitation, PiIDConfig, StudentPolicyFn, validatePiID } from '../engine/piid.js';
import { eulerSample, piflowSample, VelocityFn } from '../engine/sample.js';
import { familySize, HeadOutput, PolicyFamily, policyFromOutput, validateFamilyConfig } from '../engine/policies.js';
import type { DXMode } from '../engine/dx.js';
import type { Times } from '../engine/time.js';
import { checkTrainerState, Resumable, TrainerState } from './train-state.js';

/** Everything a student's policy needs besides the network: saved next to the weights. */
export interface StudentPolicyConfig {
  policy: PolicyFamily;
  /** DX interpolation mode (kept for every family, used by DX) */
  dxMode: DXMode;
  /** the NFE the student was distilled for (fixes the DX segment size) */
  nfe: number;
  finalStepSizeScale: number;
  shift: number;
  totalSubsteps: number;
}

export function validateStudentPolicyConfig(p: StudentPolicyConfig): void {
  check(p !== null && typeof p === 'object', 'the student policy config must be an object');
  validateFamilyConfig({ policy: p.policy, dxMode: p.dxMode }, false);
  check(Number.isInteger(p.nfe) && p.nfe >= 1, `nfe must be an integer >= 1, got ${p.nfe}`);
  check(Number.isInteger(p.totalSubsteps) && p.totalSubsteps >= 1, `substeps must be an integer >= 1, got ${p.totalSubsteps}`);
  check(Number.isFinite(p.shift) && p.shift > 0, `shift must be > 0, got ${p.shift}`);
  check(p.finalStepSizeScale > 0 && p.finalStepSizeScale <= 1, `final step scale must be in (0, 1], got ${p.finalStepSizeScale}`);
}

/**
 * A student network as a policy factory: `apply` is one evaluation at (x_src, σ_src) giving the raw
 * head output (disposed here); the family's registry entry builds the policy from it.
 * `size` is the net's K or N (1 for a family without one).
 */
export function studentPolicyFrom(apply: (xSrc: tf.Tensor, sigmaSrc: Times) => HeadOutput, size: number, p: StudentPolicyConfig): StudentPolicyFn {
  return (xSrc, sigmaSrc, eps) => {
    const head = apply(xSrc, sigmaSrc);
    try {
      return policyFromOutput(p.policy, head, size, xSrc, sigmaSrc, {
        nfe: p.nfe, finalStepSizeScale: p.finalStepSizeScale, shift: p.shift, dxMode: p.dxMode, eps,
      });
    } finally {
      tf.dispose([head.out, ...(head.logstd ? [head.logstd] : [])]);
    }
  };
}

export interface DistillConfig extends PiIDConfig {
  policy: PolicyFamily;
  k: number;
  n: number;
  dxMode: DXMode;
  batch: number;
  seed: number;
  adam: AdamConfig;
}

export const DEFAULT_DISTILL: DistillConfig = {
  ...DEFAULT_PIID,
  policy: 'gmflow',
  k: 32,
  n: 10,
  dxMode: 'grid',
  batch: 2048,
  seed: 0,
  adam: { lr: 1e-4 },
};

export function policyConfigOf(c: DistillConfig): StudentPolicyConfig {
  return {
    policy: c.policy, dxMode: c.dxMode, nfe: c.nfe, finalStepSizeScale: c.finalStepSizeScale, shift: c.shift,
    totalSubsteps: c.totalSubsteps,
  };
}

/** The student's size parameter from a distillation config (its K or N; 1 when the family has none). */
export function distillSize(c: Pick<DistillConfig, 'policy' | 'k' | 'n'>): number {
  return familySize(validateFamilyConfig(c, false), c);
}

/** What a distiller needs to know of its nets' layout (2D points or images). */
export interface DistillerParts<N> {
  /** a fresh student copied from the teacher (forks of `rng`) */
  create: (rng: Rng) => N;
  policy: (net: N, p: StudentPolicyConfig) => StudentPolicyFn;
  vars: (net: N) => tf.Variable[];
  teacher: VelocityFn;
  /** n data samples, [n, …shape] row-major */
  data: (n: number, rng: Rng) => Float32Array;
  /** the per-sample shape of x */
  shape: number[];
}

/**
 * A π-Flow student distilled from a teacher by π-ID, whatever the layout: the configuration is checked
 * in full before anything is allocated; `student` (a saved one) resumes instead of a fresh copy.
 */
export class PolicyDistiller<N> implements Resumable {
  readonly student: N;
  readonly piid: PiFlowImitation;
  readonly optimizer: GuardedAdam;
  readonly rng: Rng;

  constructor(readonly cfg: DistillConfig, private readonly parts: DistillerParts<N>, student?: N) {
    const c = cfg;
    validatePiID(c);
    validateStudentPolicyConfig(policyConfigOf(c));
    check(Number.isInteger(c.batch) && c.batch >= 1, `batch must be an integer >= 1, got ${c.batch}`);
    validateFamilyConfig(c);
    validateAdam(c.adam); // everything is checked before anything is allocated
    this.rng = new Rng(c.seed);
    this.student = student ?? parts.create(this.rng);
    this.optimizer = new GuardedAdam(c.adam);
    this.piid = new PiFlowImitation(
      c, parts.policy(this.student, policyConfigOf(c)), () => parts.vars(this.student), parts.teacher, this.optimizer, this.rng,
    );
  }

  async step() {
    const B = this.cfg.batch;
    const x0 = tf.tensor(this.parts.data(B, this.rng), [B, ...this.parts.shape]);
    try {
      return await this.piid.step(x0);
    } finally {
      x0.dispose();
    }
  }

  /** Iteration (the mixing schedule follows it), Adam state and the stream. */
  exportState(): TrainerState {
    return { kind: 'piid', iteration: this.piid.iteration, adam: [this.optimizer.exportState(this.parts.vars(this.student))], rng: [this.rng.getState()], nets: [] };
  }

  async exportStateAsync(): Promise<TrainerState> {
    const iteration = this.piid.iteration;
    const rng = this.rng.getState();
    const adam = this.optimizer.exportStateAsync(this.parts.vars(this.student));
    return { kind: 'piid', iteration, adam: [await adam], rng: [rng], nets: [] };
  }

  /** Restores exportState's state into a distiller built with the same config and the saved student. */
  importState(s: TrainerState): void {
    checkTrainerState(s, 'piid', 1, 1, 0);
    this.optimizer.importState(s.adam[0], this.parts.vars(this.student));
    this.rng.setState(s.rng[0]);
    this.piid.iteration = s.iteration;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/**
 * Draws `count` samples of shape `shape` (per sample) in chunks of `chunk`: each chunk's noise comes
 * from one seeded stream, `fn(noise, rng)` maps it to samples; results are concatenated on the host.
 */
export async function sampleInChunks(
  count: number,
  chunk: number,
  shape: number[],
  seed: number,
  fn: (noise: tf.Tensor, rng: Rng) => tf.Tensor,
): Promise<Float32Array> {
  const rng = new Rng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(per * count);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const noise = tf.tensor(rng.normalArray(n * per), [n, ...shape]);
    let t: tf.Tensor;
    try {
      t = fn(noise, rng);
    } finally {
      noise.dispose();
    }
    out.set(await t.data(), per * start);
    t.dispose();
  }
  return out;
}

/** Teacher Euler samples of any layout (host, [count, …shape]). */
export function eulerSamples(u: VelocityFn, shape: number[], count: number, steps: number, seed: number, chunk: number): Promise<Float32Array> {
  return sampleInChunks(count, chunk, shape, seed, (noise) => eulerSample(u, noise, steps));
}

export interface StudentSampleOptions {
  nfe?: number;
  temperature?: number;
  totalSubsteps?: number;
  h?: number;
  chunk?: number;
}

/** Student few-step samples of any layout (host, [count, …shape]); the default chunk is `chunk`. */
export function piflowSamples(policyOf: StudentPolicyFn, p: StudentPolicyConfig, shape: number[], count: number, seed: number, o: StudentSampleOptions, chunk: number): Promise<Float32Array> {
  return sampleInChunks(count, o.chunk ?? chunk, shape, seed, (noise, rng) =>
    piflowSample((x, s) => policyOf(x, s, 1e-4), noise, {
      nfe: o.nfe ?? p.nfe,
      totalSubsteps: o.totalSubsteps ?? p.totalSubsteps,
      shift: p.shift,
      finalStepSizeScale: p.finalStepSizeScale,
      temperature: o.temperature ?? 1,
      h: o.h ?? 0,
      rng,
    }),
  );
}

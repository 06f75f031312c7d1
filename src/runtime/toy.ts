/**
 * 2D training, distillation and sampling: the engine (π-ID, samplers) wired to the tiny MLPs and the
 * toy datasets. Shared by the CLI, the benchmark and the browser's training worker. No DOM, no fs.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { Times } from '../engine/time.js';
import { check } from '../engine/tensors.js';
import { GMFlowPolicy } from '../engine/gmflow.js';
import { DXMode, DXPolicy, DX_MODES } from '../engine/dx.js';
import { Policy } from '../engine/policy.js';
import { forwardDiffusion, flowMatchingLoss } from '../engine/forward.js';
import { GuardedAdam, AdamConfig, StepStats, validateAdam } from '../engine/optim.js';
import { DEFAULT_PIID, PiFlowImitation, PiIDConfig, StudentPolicyFn, validatePiID } from '../engine/piid.js';
import { eulerSample, piflowSample, VelocityFn } from '../engine/sample.js';
import { createToyNet, initStudentFromTeacher, MlpConfig, splitDxOutput, splitGmflowOutput, ToyNet } from '../models/mlp.js';
import { DATASETS_2D, PointSampler, sample2d } from '../data/toy2d.js';

/** A source of data batches: [n, 2] row-major. */
export type PointSource = (n: number, rng: Rng) => Float32Array;

export function datasetSource(name: string): PointSource {
  check((DATASETS_2D as readonly string[]).includes(name), `--dataset '${name}': unknown; allowed: ${DATASETS_2D.join(', ')}`);
  return (n, rng) => sample2d(name, n, rng);
}

export function pointsSource(points: Float32Array): PointSource {
  const s = new PointSampler(points);
  return (n, rng) => s.sample(n, rng);
}

/** The teacher as a velocity field u(x_t, σ_t): x [B, 2] → [B, 2]. */
export function teacherVelocity(net: ToyNet): VelocityFn {
  return (x, sigma) => net.apply(x as tf.Tensor2D, sigma);
}

/** Everything a student's policy needs besides the network: saved next to the weights. */
export interface StudentPolicyConfig {
  policy: 'gmflow' | 'dx';
  /** DX interpolation mode */
  dxMode: DXMode;
  /** the NFE the student was distilled for (fixes the DX segment size) */
  nfe: number;
  finalStepSizeScale: number;
  shift: number;
  totalSubsteps: number;
}

export function validateStudentPolicyConfig(p: StudentPolicyConfig): void {
  check(p.policy === 'gmflow' || p.policy === 'dx', `policy must be gmflow or dx, got '${p.policy}'`);
  check(DX_MODES.includes(p.dxMode), `dx mode must be one of ${DX_MODES.join(', ')}, got '${p.dxMode}'`);
  check(Number.isInteger(p.nfe) && p.nfe >= 1, `nfe must be an integer >= 1, got ${p.nfe}`);
  check(Number.isInteger(p.totalSubsteps) && p.totalSubsteps >= 1, `substeps must be an integer >= 1, got ${p.totalSubsteps}`);
  check(Number.isFinite(p.shift) && p.shift > 0, `shift must be > 0, got ${p.shift}`);
  check(p.finalStepSizeScale > 0 && p.finalStepSizeScale <= 1, `final step scale must be in (0, 1], got ${p.finalStepSizeScale}`);
}

/** The student network as a policy factory: one evaluation at (x_src, σ_src) → GMFlow or DX policy. */
export function studentPolicy(net: ToyNet, p: StudentPolicyConfig): StudentPolicyFn {
  return (xSrc, sigmaSrc, eps) => {
    const out = net.apply(xSrc as tf.Tensor2D, sigmaSrc);
    try {
      if (p.policy === 'gmflow') {
        const parts = splitGmflowOutput(out, net.cfg.k!);
        try {
          return new GMFlowPolicy(parts, xSrc, sigmaSrc, eps);
        } finally {
          parts.means.dispose();
          parts.logweights.dispose();
          parts.logstds.dispose();
        }
      }
      const d = splitDxOutput(out, net.cfg.n!);
      try {
        const f = Math.max(p.finalStepSizeScale, 1e-4);
        return new DXPolicy(d, xSrc, sigmaSrc, { segmentSize: 1 / (p.nfe - 1 + f), shift: p.shift, mode: p.dxMode, eps });
      } finally {
        d.dispose();
      }
    } finally {
      out.dispose();
    }
  };
}

export function trainableVars(net: ToyNet): tf.Variable[] {
  return net.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** Teacher flow-matching training: σ ~ U[0,1), x_t = (1−σ)x₀ + σε, loss = mean (f(x_t, σ) − (ε − x₀))². */
export class TeacherTrainer {
  readonly optimizer: GuardedAdam;
  readonly rng: Rng;
  constructor(
    readonly net: ToyNet,
    readonly data: PointSource,
    readonly batch: number,
    adam: AdamConfig,
    seed: number,
  ) {
    check(Number.isInteger(batch) && batch >= 1, `batch must be an integer >= 1, got ${batch}`);
    this.optimizer = new GuardedAdam(adam);
    this.rng = new Rng(seed);
  }

  async step(): Promise<StepStats> {
    const B = this.batch;
    const x0 = tf.tensor2d(this.data(B, this.rng), [B, 2]);
    const noise = tf.tensor2d(this.rng.normalArray(2 * B), [B, 2]);
    const sigma: Times = this.rng.uniformArray(B);
    const { xT, u } = forwardDiffusion(x0, noise, sigma);
    x0.dispose();
    noise.dispose();
    try {
      return await this.optimizer.minimize(() => flowMatchingLoss(this.net.apply(xT as tf.Tensor2D, sigma), u), trainableVars(this.net));
    } finally {
      xT.dispose();
      u.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export interface DistillConfig extends PiIDConfig {
  policy: 'gmflow' | 'dx';
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
export class PolicyDistiller<N> {
  readonly student: N;
  readonly piid: PiFlowImitation;
  readonly optimizer: GuardedAdam;
  readonly rng: Rng;

  constructor(readonly cfg: DistillConfig, private readonly parts: DistillerParts<N>, student?: N) {
    const c = cfg;
    validatePiID(c);
    validateStudentPolicyConfig(policyConfigOf(c));
    check(Number.isInteger(c.batch) && c.batch >= 1, `batch must be an integer >= 1, got ${c.batch}`);
    check(c.policy !== 'gmflow' || (Number.isInteger(c.k) && c.k >= 1), `K must be an integer >= 1, got ${c.k}`);
    check(c.policy !== 'dx' || (Number.isInteger(c.n) && c.n >= 1), `N must be an integer >= 1, got ${c.n}`);
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

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** A π-Flow student distilled from a teacher by π-ID on a 2D data source (DEFAULT_DISTILL under `cfg`). */
export class Distiller extends PolicyDistiller<ToyNet> {
  constructor(readonly teacher: ToyNet, data: PointSource, cfg: Partial<DistillConfig>, student?: ToyNet) {
    const c: DistillConfig = { ...DEFAULT_DISTILL, ...cfg, adam: { ...DEFAULT_DISTILL.adam, ...cfg.adam } };
    super(c, {
      create: (rng) => {
        const scfg: MlpConfig = { ...teacher.cfg, kind: c.policy, ...(c.policy === 'gmflow' ? { k: c.k } : { n: c.n }) };
        const net = createToyNet(scfg, rng.fork());
        initStudentFromTeacher(net.model, teacher.model, scfg, rng.fork());
        return net;
      },
      policy: studentPolicy,
      vars: trainableVars,
      teacher: teacherVelocity(teacher),
      data,
      shape: [2],
    }, student);
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

/** Teacher Euler samples: [count, 2] on the host. */
export function sampleTeacher(net: ToyNet, count: number, steps: number, seed: number, chunk = 8192): Promise<Float32Array> {
  return eulerSamples(teacherVelocity(net), [2], count, steps, seed, chunk);
}

/** Student few-step samples: [count, 2] on the host. */
export function sampleStudent(net: ToyNet, p: StudentPolicyConfig, count: number, seed: number, o: StudentSampleOptions = {}): Promise<Float32Array> {
  return piflowSamples(studentPolicy(net, p), p, [2], count, seed, o, 8192);
}

export type { Policy };

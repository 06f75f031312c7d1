/**
 * The few-step baselines π-Flow is compared with, on the same engine and the same teacher (2D):
 *
 * - **Shortcut / knowledge-distillation regression** (Luhman & Luhman 2021): a velocity-format
 *   student (the teacher's architecture, initialised from it) regressed onto the teacher's many-step
 *   Euler ODE from the same noise. For F NFE the ODE is cut into F equal raw-time segments; each
 *   training sample takes one segment k uniformly, its input is the teacher's state at the segment's
 *   start, its target velocity (x_k − x_{k+1}) / (1/F), so that one Euler step of the student lands
 *   on the teacher's state at the segment's end. The pool of teacher trajectories is computed once.
 * - **DMD-style distribution matching** (Yin et al. 2024; DMD2's per-sample normalisation, no GAN
 *   and no regression loss): a one-step generator G(z) = z − u_G(z, 1) initialised from the teacher,
 *   and a "fake" flow network (also initialised from the teacher) trained online by flow matching on
 *   detached generator samples, `fakeUpdates` times before each generator update. The generator
 *   moves along g = (x̂₀_fake − x̂₀_real) / mean_c |x − x̂₀_real| at x_t = (1−σ)·G(z) + σ·ε,
 *   σ ~ U[σ_min, σ_max]: loss ½·mean (x − sg(x − g))², whose gradient in x is g/N.
 *
 * Both students are velocity nets: they sample with the teacher's Euler sampler at their NFE
 * (`sampleTeacher(student, count, nfe, seed)`), from the same seeded noise as every other sampler.
 * The settings that worked for the PyTorch peer (../shared/peer/baselines.py): DMD 5 fake updates per
 * generator step, σ ~ U[0.02, 0.98], Adam 1e-4 for both; shortcut Adam 1e-4 on a pool of teacher
 * trajectories. Every step is seeded, guarded (a non-finite loss changes nothing) and leak-free.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { fillTimes, Times } from '../engine/time.js';
import { eulerSample } from '../engine/sample.js';
import { forwardDiffusion, flowMatchingLoss } from '../engine/forward.js';
import { AdamConfig, GuardedAdam, StepStats } from '../engine/optim.js';
import { createToyNet, ToyNet } from '../models/mlp.js';
import { PointSource, teacherVelocity, trainableVars } from './toy.js';

/** A trainable copy of a teacher-format net (same architecture and weights). */
export function copyOfTeacher(teacher: ToyNet, rng: Rng): ToyNet {
  check(teacher.cfg.kind === 'teacher', `baselines start from a teacher, got a '${teacher.cfg.kind}' net`);
  const net = createToyNet(teacher.cfg, rng);
  const w = teacher.model.getWeights();
  net.model.setWeights(w);
  return net;
}

/** What every baseline's step reports. */
export interface BaselineStats extends StepStats {
  /** DMD: the fake flow network's last flow-matching loss */
  fakeLoss?: number;
}

export interface ShortcutConfig {
  /** student steps F */
  nfe: number;
  /** teacher Euler steps of the target ODE (rounded up to a multiple of F) */
  teacherSteps: number;
  /** trajectories in the pool (the teacher's ODE from this many noise points) */
  pool: number;
  batch: number;
  seed: number;
  adam: AdamConfig;
}

export const DEFAULT_SHORTCUT: ShortcutConfig = { nfe: 1, teacherSteps: 128, pool: 16384, batch: 2048, seed: 0, adam: { lr: 1e-4 } };

export function validateShortcut(c: ShortcutConfig): void {
  check(Number.isInteger(c.nfe) && c.nfe >= 1 && c.nfe <= 64, `nfe must be an integer in [1, 64], got ${c.nfe}`);
  check(Number.isInteger(c.teacherSteps) && c.teacherSteps >= 1, `teacher steps must be an integer >= 1, got ${c.teacherSteps}`);
  check(Number.isInteger(c.pool) && c.pool >= 1, `pool must be an integer >= 1, got ${c.pool}`);
  check(Number.isInteger(c.batch) && c.batch >= 1, `batch must be an integer >= 1, got ${c.batch}`);
}

/**
 * The teacher's Euler trajectories from `pool` seeded noise points, kept at the F + 1 segment
 * boundaries σ = 1 − k/F: states[k] is [pool, 2] on the host.
 */
export function teacherSegmentStates(teacher: ToyNet, pool: number, nfe: number, teacherSteps: number, rng: Rng): Float32Array[] {
  const per = Math.ceil(teacherSteps / nfe);
  const steps = per * nfe;
  const states: Float32Array[] = [];
  const noise = tf.tensor2d(rng.normalArray(2 * pool), [pool, 2]);
  try {
    const end = eulerSample(teacherVelocity(teacher), noise, steps, {
      observe: (i, x) => {
        if (i % per === 0) states.push(x.dataSync() as Float32Array);
      },
    });
    end.dispose();
  } finally {
    noise.dispose();
  }
  return states;
}

/** Shortcut / KD regression onto the teacher's ODE, segment by segment. */
export class ShortcutDistiller {
  readonly student: ToyNet;
  readonly optimizer: GuardedAdam;
  private readonly rng: Rng;
  private readonly states: Float32Array[];
  iteration = 0;

  constructor(readonly teacher: ToyNet, cfg: Partial<ShortcutConfig> = {}) {
    this.cfg = { ...DEFAULT_SHORTCUT, ...cfg, adam: { ...DEFAULT_SHORTCUT.adam, ...cfg.adam } };
    validateShortcut(this.cfg);
    this.rng = new Rng(this.cfg.seed);
    this.student = copyOfTeacher(teacher, this.rng.fork());
    this.optimizer = new GuardedAdam(this.cfg.adam);
    this.states = teacherSegmentStates(teacher, this.cfg.pool, this.cfg.nfe, this.cfg.teacherSteps, this.rng.fork());
  }

  readonly cfg: ShortcutConfig;

  /** One regression step on a batch of (trajectory, segment) pairs drawn from the pool. */
  async step(): Promise<BaselineStats> {
    const { batch: B, nfe: F, pool: P } = this.cfg;
    const xs = new Float32Array(2 * B);
    const target = new Float32Array(2 * B);
    const sigma: Times = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const j = this.rng.int(P);
      const k = this.rng.int(F);
      const a = this.states[k], e = this.states[k + 1];
      for (let c = 0; c < 2; c++) {
        xs[2 * b + c] = a[2 * j + c];
        target[2 * b + c] = (a[2 * j + c] - e[2 * j + c]) * F;
      }
      sigma[b] = 1 - k / F;
    }
    const x = tf.tensor2d(xs, [B, 2]);
    const u = tf.tensor2d(target, [B, 2]);
    try {
      const s = await this.optimizer.minimize(() => flowMatchingLoss(this.student.apply(x, sigma), u), trainableVars(this.student));
      this.iteration++;
      return s;
    } finally {
      x.dispose();
      u.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export interface DmdConfig {
  batch: number;
  /** fake-network flow-matching updates before each generator update */
  fakeUpdates: number;
  sigmaMin: number;
  sigmaMax: number;
  seed: number;
  generatorAdam: AdamConfig;
  fakeAdam: AdamConfig;
}

export const DEFAULT_DMD: DmdConfig = {
  batch: 2048, fakeUpdates: 5, sigmaMin: 0.02, sigmaMax: 0.98, seed: 0, generatorAdam: { lr: 1e-4 }, fakeAdam: { lr: 1e-4 },
};

export function validateDmd(c: DmdConfig): void {
  check(Number.isInteger(c.batch) && c.batch >= 1, `batch must be an integer >= 1, got ${c.batch}`);
  check(Number.isInteger(c.fakeUpdates) && c.fakeUpdates >= 1, `fake updates must be an integer >= 1, got ${c.fakeUpdates}`);
  check(c.sigmaMin >= 0 && c.sigmaMax <= 1 && c.sigmaMin < c.sigmaMax, `need 0 <= σ_min < σ_max <= 1, got ${c.sigmaMin}, ${c.sigmaMax}`);
}

/** DMD-style one-step generator with an online fake flow network. */
export class DmdDistiller {
  /** the generator: a velocity net sampled with one Euler step from σ = 1 */
  readonly student: ToyNet;
  readonly fake: ToyNet;
  readonly generatorOptimizer: GuardedAdam;
  readonly fakeOptimizer: GuardedAdam;
  readonly cfg: DmdConfig;
  private readonly rng: Rng;
  iteration = 0;

  constructor(readonly teacher: ToyNet, readonly data: PointSource | null, cfg: Partial<DmdConfig> = {}) {
    this.cfg = { ...DEFAULT_DMD, ...cfg };
    validateDmd(this.cfg);
    this.rng = new Rng(this.cfg.seed);
    this.student = copyOfTeacher(teacher, this.rng.fork());
    this.fake = copyOfTeacher(teacher, this.rng.fork());
    this.generatorOptimizer = new GuardedAdam(this.cfg.generatorAdam);
    this.fakeOptimizer = new GuardedAdam(this.cfg.fakeAdam);
  }

  /** G(z) = z − u_G(z, σ = 1) (differentiable in the generator's weights) */
  private generate(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => z.sub(this.student.apply(z, fillTimes(z.shape[0], 1))) as tf.Tensor2D);
  }

  private noise(B: number): tf.Tensor2D {
    return tf.tensor2d(this.rng.normalArray(2 * B), [B, 2]);
  }

  /** `fakeUpdates` flow-matching steps of the fake network on fresh, detached generator samples. */
  private async fakeSteps(): Promise<number> {
    const B = this.cfg.batch;
    let last = NaN;
    for (let i = 0; i < this.cfg.fakeUpdates; i++) {
      const z = this.noise(B);
      const x = this.generate(z);
      z.dispose();
      const eps = this.noise(B);
      const sigma = this.rng.uniformArray(B);
      const { xT, u } = forwardDiffusion(x, eps, sigma);
      x.dispose();
      eps.dispose();
      try {
        last = (await this.fakeOptimizer.minimize(() => flowMatchingLoss(this.fake.apply(xT as tf.Tensor2D, sigma), u), trainableVars(this.fake))).loss;
      } finally {
        xT.dispose();
        u.dispose();
      }
    }
    return last;
  }

  async step(): Promise<BaselineStats> {
    const fakeLoss = await this.fakeSteps();
    const B = this.cfg.batch;
    const { sigmaMin: lo, sigmaMax: hi } = this.cfg;
    const z = this.noise(B);
    const eps = this.noise(B);
    const sigma: Times = this.rng.uniformArray(B).map((r) => lo + (hi - lo) * r);
    // the distribution-matching direction at the (detached) generator samples; no tape
    const target = tf.tidy(() => {
      const x = this.generate(z);
      const s = tf.tensor2d(Float32Array.from(sigma), [B, 1]);
      const xT = x.mul(tf.scalar(1).sub(s)).add(eps.mul(s)) as tf.Tensor2D;
      const x0Real = xT.sub(s.mul(this.teacher.apply(xT, sigma)));
      const x0Fake = xT.sub(s.mul(this.fake.apply(xT, sigma)));
      // DMD2's per-sample normalisation (guarded against a zero denominator)
      const w = x.sub(x0Real).abs().mean(1, true).maximum(1e-8);
      const g = x0Fake.sub(x0Real).div(w);
      return x.sub(g); // sg(x − g)
    });
    try {
      const stats = await this.generatorOptimizer.minimize(
        () => tf.tidy(() => this.generate(z).sub(target).square().mean().mul(0.5) as tf.Scalar),
        trainableVars(this.student),
      );
      this.iteration++;
      return { ...stats, fakeLoss };
    } finally {
      tf.dispose([z, eps, target]);
    }
  }

  dispose(): void {
    this.generatorOptimizer.dispose();
    this.fakeOptimizer.dispose();
    this.fake.dispose();
  }
}

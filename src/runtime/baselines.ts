/**
 * The few-step baselines π-Flow is compared with, on the same engine and the same teacher, whatever
 * the layout (2D points or images): the cores here are generic over the net (BaselineParts, as
 * student.ts's PolicyDistiller is); ShortcutDistiller / DmdDistiller are the 2D adapters below and
 * mnist.ts has the image ones.
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
 * (`sampleTeacher` / `sampleImageTeacher(student, count, nfe, seed)`), from the same seeded noise as every other sampler.
 * The settings that worked for the PyTorch peer (../shared/peer/baselines.py): DMD 5 fake updates per
 * generator step, σ ~ U[0.02, 0.98], Adam 1e-4 for both; shortcut Adam 1e-4 on a pool of teacher
 * trajectories. Every step is seeded, guarded (a non-finite loss changes nothing) and leak-free.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check, perSample } from '../engine/tensors.js';
import { fillTimes, Times } from '../engine/time.js';
import { eulerSample, VelocityFn } from '../engine/sample.js';
import { forwardDiffusion, flowMatchingLoss } from '../engine/forward.js';
import { AdamConfig, GuardedAdam, StepStats, validateAdam } from '../engine/optim.js';
import { createToyNet, ToyNet } from '../models/mlp.js';
import { PointSource, teacherVelocity, trainableVars } from './toy.js';
import { checkTrainerState, readVars, readVarsAsync, Resumable, TrainerState, writeVars } from './train-state.js';

/** A trainable copy of a teacher-format net (same architecture and weights). */
export function copyOfTeacher(teacher: ToyNet, rng: Rng): ToyNet {
  check(teacher.cfg.kind === 'teacher', `baselines start from a teacher, got a '${teacher.cfg.kind}' net`);
  const net = createToyNet(teacher.cfg, rng);
  const w = teacher.model.getWeights();
  net.model.setWeights(w);
  return net;
}

/** What a baseline needs to know of its nets' layout (2D points or images). */
export interface BaselineParts<N> {
  /** a trainable copy of the teacher, same architecture and weights (its random init from `rng`) */
  copy: (rng: Rng) => N;
  /** a velocity-format net as a velocity field, x [B, …shape] */
  velocity: (net: N) => VelocityFn;
  vars: (net: N) => tf.Variable[];
  teacher: VelocityFn;
  /** the per-sample shape of x */
  shape: number[];
  dispose: (net: N) => void;
  /** chunk of the teacher's pool ODE (shortcut): samples per pass */
  chunk: number;
}

/** 2D parts of a ToyNet teacher. */
export function toyBaselineParts(teacher: ToyNet): BaselineParts<ToyNet> {
  return {
    copy: (rng) => copyOfTeacher(teacher, rng), velocity: teacherVelocity, vars: trainableVars, teacher: teacherVelocity(teacher),
    shape: [2], dispose: (n) => n.dispose(), chunk: Infinity,
  };
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
  validateAdam(c.adam);
}

/**
 * The teacher's Euler trajectories from `pool` seeded noise points (one draw of pool × |shape|
 * normals, then passes of `chunk`), kept at the F + 1 segment boundaries σ = 1 − k/F: states[k] is
 * [pool, …shape] on the host.
 */
export function segmentStates(teacher: VelocityFn, shape: number[], pool: number, nfe: number, teacherSteps: number, rng: Rng, chunk = Infinity): Float32Array[] {
  const per = Math.ceil(teacherSteps / nfe);
  const steps = per * nfe;
  const d = shape.reduce((a, b) => a * b, 1);
  const all = rng.normalArray(d * pool);
  const states = Array.from({ length: nfe + 1 }, () => new Float32Array(d * pool));
  for (let start = 0; start < pool; start += Math.min(chunk, pool)) {
    const n = Math.min(chunk, pool - start);
    const noise = tf.tensor(all.subarray(d * start, d * (start + n)), [n, ...shape]);
    try {
      const end = eulerSample(teacher, noise, steps, {
        observe: (i, x) => {
          if (i % per === 0) states[i / per].set(x.dataSync() as Float32Array, d * start);
        },
      });
      end.dispose();
    } finally {
      noise.dispose();
    }
  }
  return states;
}

/** The 2D form: states[k] is [pool, 2]. */
export function teacherSegmentStates(teacher: ToyNet, pool: number, nfe: number, teacherSteps: number, rng: Rng): Float32Array[] {
  return segmentStates(teacherVelocity(teacher), [2], pool, nfe, teacherSteps, rng);
}

/**
 * Shortcut / KD regression onto the teacher's ODE, segment by segment, for any layout. `student` (a
 * saved one) resumes instead of a fresh copy of the teacher (the pool is drawn again from the seed);
 * `importState` then restores the optimizer and the stream, for the uninterrupted run.
 */
export class ShortcutRegression<N> implements Resumable {
  readonly student: N;
  readonly optimizer: GuardedAdam;
  readonly cfg: ShortcutConfig;
  private readonly rng: Rng;
  private readonly states: Float32Array[];
  iteration = 0;

  constructor(private readonly parts: BaselineParts<N>, cfg: Partial<ShortcutConfig> = {}, student?: N) {
    this.cfg = { ...DEFAULT_SHORTCUT, ...cfg, adam: { ...DEFAULT_SHORTCUT.adam, ...cfg.adam } };
    validateShortcut(this.cfg);
    this.rng = new Rng(this.cfg.seed);
    const init = this.rng.fork();
    this.student = student ?? parts.copy(init);
    this.optimizer = new GuardedAdam(this.cfg.adam);
    this.states = segmentStates(parts.teacher, parts.shape, this.cfg.pool, this.cfg.nfe, this.cfg.teacherSteps, this.rng.fork(), parts.chunk);
  }

  /** One regression step on a batch of (trajectory, segment) pairs drawn from the pool. */
  async step(): Promise<BaselineStats> {
    const { batch: B, nfe: F, pool: P } = this.cfg;
    const d = this.parts.shape.reduce((a, b) => a * b, 1);
    const xs = new Float32Array(d * B);
    const target = new Float32Array(d * B);
    const sigma: Times = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const j = this.rng.int(P);
      const k = this.rng.int(F);
      const a = this.states[k], e = this.states[k + 1];
      for (let c = 0; c < d; c++) {
        xs[d * b + c] = a[d * j + c];
        target[d * b + c] = (a[d * j + c] - e[d * j + c]) * F;
      }
      sigma[b] = 1 - k / F;
    }
    const x = tf.tensor(xs, [B, ...this.parts.shape]);
    const u = tf.tensor(target, [B, ...this.parts.shape]);
    const v = this.parts.velocity(this.student);
    try {
      const s = await this.optimizer.minimize(() => flowMatchingLoss(v(x, sigma), u), this.parts.vars(this.student));
      this.iteration++;
      return s;
    } finally {
      x.dispose();
      u.dispose();
    }
  }

  /** Iteration, Adam state and the batch stream (the pool is drawn again from the seed). */
  exportState(): TrainerState {
    return { kind: 'shortcut', iteration: this.iteration, adam: [this.optimizer.exportState(this.parts.vars(this.student))], rng: [this.rng.getState()], nets: [] };
  }

  async exportStateAsync(): Promise<TrainerState> {
    const iteration = this.iteration;
    const rng = this.rng.getState();
    const adam = this.optimizer.exportStateAsync(this.parts.vars(this.student));
    return { kind: 'shortcut', iteration, adam: [await adam], rng: [rng], nets: [] };
  }

  /** Restores exportState's state into a regression built with the same config and the saved student. */
  importState(s: TrainerState): void {
    checkTrainerState(s, 'shortcut', 1, 1, 0);
    this.optimizer.importState(s.adam[0], this.parts.vars(this.student));
    this.rng.setState(s.rng[0]);
    this.iteration = s.iteration;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** The 2D shortcut student (a ToyNet copy of the teacher). */
export class ShortcutDistiller extends ShortcutRegression<ToyNet> {
  constructor(readonly teacher: ToyNet, cfg: Partial<ShortcutConfig> = {}, student?: ToyNet) {
    super(toyBaselineParts(teacher), cfg, student);
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
  validateAdam(c.generatorAdam);
  validateAdam(c.fakeAdam);
}

/**
 * DMD-style one-step generator with an online fake flow network, for any layout. `student` (a saved
 * generator) resumes instead of a fresh copy; `importState` then restores the fake network, both
 * optimizers and the stream, for the uninterrupted run.
 */
export class DistributionMatching<N> implements Resumable {
  /** the generator: a velocity net sampled with one Euler step from σ = 1 */
  readonly student: N;
  readonly fake: N;
  readonly generatorOptimizer: GuardedAdam;
  readonly fakeOptimizer: GuardedAdam;
  readonly cfg: DmdConfig;
  private readonly rng: Rng;
  private readonly size: number;
  iteration = 0;

  constructor(private readonly parts: BaselineParts<N>, cfg: Partial<DmdConfig> = {}, student?: N) {
    this.cfg = { ...DEFAULT_DMD, ...cfg, generatorAdam: { ...DEFAULT_DMD.generatorAdam, ...cfg.generatorAdam }, fakeAdam: { ...DEFAULT_DMD.fakeAdam, ...cfg.fakeAdam } };
    validateDmd(this.cfg);
    this.rng = new Rng(this.cfg.seed);
    this.size = parts.shape.reduce((a, b) => a * b, 1);
    const init = this.rng.fork();
    this.student = student ?? parts.copy(init);
    this.fake = parts.copy(this.rng.fork());
    this.generatorOptimizer = new GuardedAdam(this.cfg.generatorAdam);
    this.fakeOptimizer = new GuardedAdam(this.cfg.fakeAdam);
  }

  /** G(z) = z − u_G(z, σ = 1) (differentiable in the generator's weights) */
  private generate(z: tf.Tensor): tf.Tensor {
    return tf.tidy(() => z.sub(this.parts.velocity(this.student)(z, fillTimes(z.shape[0], 1))));
  }

  private noise(B: number): tf.Tensor {
    return tf.tensor(this.rng.normalArray(this.size * B), [B, ...this.parts.shape]);
  }

  /** `fakeUpdates` flow-matching steps of the fake network on fresh, detached generator samples. */
  private async fakeSteps(): Promise<number> {
    const B = this.cfg.batch;
    const fake = this.parts.velocity(this.fake);
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
        last = (await this.fakeOptimizer.minimize(() => flowMatchingLoss(fake(xT, sigma), u), this.parts.vars(this.fake))).loss;
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
    const real = this.parts.teacher, fake = this.parts.velocity(this.fake);
    // the distribution-matching direction at the (detached) generator samples; no tape
    const target = tf.tidy(() => {
      const x = this.generate(z);
      const s = perSample(sigma, x.rank);
      const xT = x.mul(tf.scalar(1).sub(s)).add(eps.mul(s));
      const x0Real = xT.sub(s.mul(real(xT, sigma)));
      const x0Fake = xT.sub(s.mul(fake(xT, sigma)));
      // DMD2's per-sample normalisation: the mean |x − x̂₀_real| over every coordinate of a sample (guarded against zero)
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
      const w = x.sub(x0Real).abs().mean(axes, true).maximum(1e-8);
      const g = x0Fake.sub(x0Real).div(w);
      return x.sub(g); // sg(x − g)
    });
    try {
      const stats = await this.generatorOptimizer.minimize(
        () => tf.tidy(() => this.generate(z).sub(target).square().mean().mul(0.5) as tf.Scalar),
        this.parts.vars(this.student),
      );
      this.iteration++;
      return { ...stats, fakeLoss };
    } finally {
      tf.dispose([z, eps, target]);
    }
  }

  /** Iteration, both Adam states, the stream and the fake network's weights. */
  exportState(): TrainerState {
    const gv = this.parts.vars(this.student), fv = this.parts.vars(this.fake);
    return {
      kind: 'dmd', iteration: this.iteration, adam: [this.generatorOptimizer.exportState(gv), this.fakeOptimizer.exportState(fv)],
      rng: [this.rng.getState()], nets: [readVars(fv)],
    };
  }

  async exportStateAsync(): Promise<TrainerState> {
    const gv = this.parts.vars(this.student), fv = this.parts.vars(this.fake);
    const iteration = this.iteration;
    const rng = this.rng.getState();
    const g = this.generatorOptimizer.exportStateAsync(gv), f = this.fakeOptimizer.exportStateAsync(fv), net = readVarsAsync(fv);
    return { kind: 'dmd', iteration, adam: [await g, await f], rng: [rng], nets: [await net] };
  }

  /** Restores exportState's state into a generator built with the same config and the saved student. */
  importState(s: TrainerState): void {
    checkTrainerState(s, 'dmd', 2, 1, 1);
    const fv = this.parts.vars(this.fake);
    writeVars(fv, s.nets[0], 'the fake network');
    this.generatorOptimizer.importState(s.adam[0], this.parts.vars(this.student));
    this.fakeOptimizer.importState(s.adam[1], fv);
    this.rng.setState(s.rng[0]);
    this.iteration = s.iteration;
  }

  dispose(): void {
    this.generatorOptimizer.dispose();
    this.fakeOptimizer.dispose();
    this.parts.dispose(this.fake);
  }
}

/** The 2D DMD-style generator (a ToyNet copy of the teacher; `data` is unused: DMD needs no data). */
export class DmdDistiller extends DistributionMatching<ToyNet> {
  constructor(readonly teacher: ToyNet, readonly data: PointSource | null, cfg: Partial<DmdConfig> = {}, student?: ToyNet) {
    super(toyBaselineParts(teacher), cfg, student);
  }
}

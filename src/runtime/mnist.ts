/**
 * The image (MNIST) adapter of the student core (student.ts): the U-Net (models/unet.ts) — teacher
 * training, the image student as a policy factory, the image distiller and samplers, as toy.ts is
 * for 2D. Layout: x [B, C, H, W] (NCHW), GMFlow means [B, K, C, H, W],
 * logweights [B, K, 1, H, W], logstds [B, 1, 1, 1, 1]; DX [B, N, C, H, W]. No DOM, no fs.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { Times } from '../engine/time.js';
import { check } from '../engine/tensors.js';
import { familySize, familySizeFields, policyFamily } from '../engine/policies.js';
import { forwardDiffusion, flowMatchingLoss } from '../engine/forward.js';
import { GuardedAdam, AdamConfig, StepStats } from '../engine/optim.js';
import { StudentPolicyFn } from '../engine/piid.js';
import { VelocityFn } from '../engine/sample.js';
import {
  createImageNet, ImageNet, initImageStudentFromTeacher, UNetConfig,
} from '../models/unet.js';
import {
  DEFAULT_DISTILL, distillSize, DistillConfig, eulerSamples, piflowSamples, PolicyDistiller, StudentPolicyConfig, StudentSampleOptions,
  studentPolicyFrom,
} from './student.js';
import { BaselineParts, DistributionMatching, DmdConfig, ShortcutConfig, ShortcutRegression } from './baselines.js';

/** A source of image batches: [n, C, H, W] row-major. */
export type ImageSource = (n: number, rng: Rng) => Float32Array;

export function imageShape(cfg: UNetConfig): [number, number, number] {
  return [cfg.channels, cfg.size, cfg.size];
}

/** The teacher as a velocity field: x [B, C, H, W] → u [B, C, H, W]. */
export function imageTeacherVelocity(net: ImageNet): VelocityFn {
  return (x, sigma) => {
    const o = net.apply(x as tf.Tensor4D, sigma);
    o.logstd?.dispose();
    return o.out;
  };
}

/** The image student as a policy factory: one U-Net evaluation → its family's policy on the image layout. */
export function imageStudentPolicy(net: ImageNet, p: StudentPolicyConfig): StudentPolicyFn {
  const size = familySize(policyFamily(net.cfg.kind), net.cfg);
  return studentPolicyFrom((x, s) => net.apply(x as tf.Tensor4D, s), size, p);
}

export function imageTrainableVars(net: ImageNet): tf.Variable[] {
  return net.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** The recipe's teacher optimiser: Adam 1e-3, 200 warm-up steps, gradient clip 1.0. */
export const DEFAULT_IMAGE_TEACHER_ADAM: AdamConfig = { lr: 1e-3, warmupSteps: 200, clipNorm: 1 };

/** Flow-matching training of the image teacher: σ ~ U[0,1), x_t = (1−σ)x₀ + σε, loss = mean (u_θ − (ε − x₀))². */
export class ImageTeacherTrainer {
  readonly optimizer: GuardedAdam;
  readonly rng: Rng;
  /** EMA copies of the trainable weights (emaDecay > 0), updated after every applied step */
  private ema: tf.Variable[] | null = null;
  /**
   * @param emaDecay exponential moving average of the weights (the recipe's 0.999; 0: off). The EMA
   *   weights are what `withEmaWeights` swaps in, e.g. to save them.
   */
  constructor(
    readonly net: ImageNet,
    readonly data: ImageSource,
    readonly batch: number,
    adam: AdamConfig = DEFAULT_IMAGE_TEACHER_ADAM,
    seed = 0,
    readonly emaDecay = 0,
  ) {
    check(Number.isInteger(batch) && batch >= 1, `batch must be an integer >= 1, got ${batch}`);
    check(Number.isFinite(emaDecay) && emaDecay >= 0 && emaDecay < 1, `ema decay must be in [0, 1), got ${emaDecay}`);
    this.optimizer = new GuardedAdam(adam);
    this.rng = new Rng(seed);
  }

  private updateEma(): void {
    if (!(this.emaDecay > 0)) return;
    const vars = imageTrainableVars(this.net);
    if (!this.ema) {
      this.ema = vars.map((v) => tf.tidy(() => tf.variable(v.clone(), false)));
      return;
    }
    const d = this.emaDecay;
    tf.tidy(() => {
      vars.forEach((v, i) => this.ema![i].assign(this.ema![i].mul(d).add(v.mul(1 - d))));
    });
  }

  /** Runs `fn` with the EMA weights in the net (the live weights are put back after); without EMA just runs `fn`. */
  async withEmaWeights<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.ema) return fn();
    const vars = imageTrainableVars(this.net);
    const live = vars.map((v) => v.clone());
    vars.forEach((v, i) => v.assign(this.ema![i]));
    try {
      return await fn();
    } finally {
      vars.forEach((v, i) => v.assign(live[i]));
      tf.dispose(live);
    }
  }

  async step(): Promise<StepStats> {
    const B = this.batch;
    const shape = [B, ...imageShape(this.net.cfg)];
    const size = shape.reduce((a, b) => a * b, 1);
    const x0 = tf.tensor(this.data(B, this.rng), shape);
    const noise = tf.tensor(this.rng.normalArray(size), shape);
    const sigma: Times = this.rng.uniformArray(B);
    const { xT, u } = forwardDiffusion(x0, noise, sigma);
    tf.dispose([x0, noise]);
    try {
      const stats = await this.optimizer.minimize(() => flowMatchingLoss(imageTeacherVelocity(this.net)(xT, sigma), u), imageTrainableVars(this.net));
      this.updateEma();
      return stats;
    } finally {
      tf.dispose([xT, u]);
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    if (this.ema) tf.dispose(this.ema);
    this.ema = null;
  }
}

/** The recipe's student settings: K = 8, N = 10, Adam (0.9, 0.95) 2e-4 with 100 warm-up steps, batch 64, GM dropout 0.05. */
export const DEFAULT_IMAGE_DISTILL: DistillConfig = {
  ...DEFAULT_DISTILL,
  k: 8,
  n: 10,
  batch: 64,
  gmDropout: 0.05,
  numIntermediateStates: 2,
  totalSubsteps: 128,
  adam: { lr: 2e-4, beta1: 0.9, beta2: 0.95, warmupSteps: 100 },
};

/** A π-Flow image student distilled from an image teacher by π-ID (DEFAULT_IMAGE_DISTILL under `cfg`). */
export class ImageDistiller extends PolicyDistiller<ImageNet> {
  constructor(readonly teacher: ImageNet, data: ImageSource, cfg: Partial<DistillConfig>, student?: ImageNet) {
    const c: DistillConfig = { ...DEFAULT_IMAGE_DISTILL, ...cfg, adam: { ...DEFAULT_IMAGE_DISTILL.adam, ...cfg.adam } };
    super(c, {
      create: (rng) => {
        const { k: _k, n: _n, ...trunk } = teacher.cfg;
        const net = createImageNet({ ...trunk, kind: c.policy, ...familySizeFields(policyFamily(c.policy), distillSize(c)) }, rng.fork());
        initImageStudentFromTeacher(net, teacher, rng.fork());
        return net;
      },
      policy: imageStudentPolicy,
      vars: imageTrainableVars,
      teacher: imageTeacherVelocity(teacher),
      data,
      shape: imageShape(teacher.cfg),
    }, student);
  }
}

/** Teacher Euler samples [count, C, H, W] (host). */
export function sampleImageTeacher(net: ImageNet, count: number, steps: number, seed: number, chunk = 64): Promise<Float32Array> {
  return eulerSamples(imageTeacherVelocity(net), imageShape(net.cfg), count, steps, seed, chunk);
}

export type ImageStudentSampleOptions = StudentSampleOptions;

/** Student few-step samples [count, C, H, W] (host); same noise stream as `sampleImageTeacher` for the same seed. */
export function sampleImageStudent(net: ImageNet, p: StudentPolicyConfig, count: number, seed: number, o: ImageStudentSampleOptions = {}): Promise<Float32Array> {
  return piflowSamples(imageStudentPolicy(net, p), p, imageShape(net.cfg), count, seed, o, 64);
}

/** A trainable copy of an image teacher (same U-Net and weights), for the baselines. */
export function copyOfImageTeacher(teacher: ImageNet, rng: Rng): ImageNet {
  check(teacher.cfg.kind === 'teacher', `baselines start from a teacher, got a '${teacher.cfg.kind}' net`);
  const net = createImageNet(teacher.cfg, rng);
  net.model.setWeights(teacher.model.getWeights());
  return net;
}

/** The image parts of the baselines (runtime/baselines.ts): U-Net copies of the teacher, x [B, C, H, W]. */
export function imageBaselineParts(teacher: ImageNet): BaselineParts<ImageNet> {
  return {
    copy: (rng) => copyOfImageTeacher(teacher, rng), velocity: imageTeacherVelocity, vars: imageTrainableVars,
    teacher: imageTeacherVelocity(teacher), shape: imageShape(teacher.cfg), dispose: (n) => n.dispose(), chunk: 64,
  };
}

/** Shortcut / KD regression of an image student onto the teacher's many-step Euler ODE, per segment. */
export class ImageShortcutDistiller extends ShortcutRegression<ImageNet> {
  constructor(readonly teacher: ImageNet, cfg: Partial<ShortcutConfig> = {}, student?: ImageNet) {
    super(imageBaselineParts(teacher), cfg, student);
  }
}

/** The DMD-style one-step image generator with its online fake flow U-Net. */
export class ImageDmdDistiller extends DistributionMatching<ImageNet> {
  constructor(readonly teacher: ImageNet, cfg: Partial<DmdConfig> = {}, student?: ImageNet) {
    super(imageBaselineParts(teacher), cfg, student);
  }
}

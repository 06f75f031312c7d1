/**
 * The MNIST lab: the state of the image lesson (data, classifier, teacher, student, their trainers),
 * its loops with pause / resume / stop (LoopRunner, shared with the 2D lab), and what the MNIST views
 * show: sample grids, teacher and policy paths with x̂₀ along them, and the classifier metrics.
 * DOM-free: it runs in the MNIST worker (mnist-worker.ts) and directly in Node tests. A failed step
 * (NaN/∞) stops the loop with an error and leaves the models as they were.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { ImageSampler, MNIST_CLASSES, type MnistSet } from '../data/mnist.js';
import { createImageNet, DEFAULT_UNET, SMALL_UNET, TINY_UNET, type ImageNet, type UNetConfig } from '../models/unet.js';
import { imageNetFromArtifacts, imageNetToArtifacts, type ImageNetArtifacts, type LoadedImageNet } from '../models/image-artifacts.js';
import { classifierFromArtifacts, classifyImages, FEATURE_DIM, type Classifier } from '../models/classifier.js';
import { classStats, frechetDistance, meanCov, type ClassStats } from '../metrics/frechet.js';
import { baselineOf } from '../models/methods.js';
import type { DistillConfig } from './student.js';
import {
  ImageDistiller, ImageTeacherTrainer, imageShape, imageStudentPolicy, imageTeacherVelocity, sampleImageStudent, sampleImageTeacher,
  type ImageSource,
} from './mnist.js';
import { ModelLab, type ModelsSnapshot } from './model-lab.js';
import { policyPathsOf, teacherPathsOf } from './inspect2d.js';
import type { Policy } from '../engine/policy.js';

export type UNetSize = 'tiny' | 'small' | 'full';

export const UNET_SIZES: Record<UNetSize, UNetConfig> = { tiny: TINY_UNET, small: SMALL_UNET, full: DEFAULT_UNET };

export interface ImageTeacherTrainConfig {
  size: UNetSize;
  lr: number;
  batch: number;
  steps: number;
  seed: number;
  /** EMA decay of the weights that are sampled and saved (0: off) */
  ema: number;
}

export const DEFAULT_IMAGE_TEACHER_TRAIN: ImageTeacherTrainConfig = { size: 'small', lr: 1e-3, batch: 64, steps: 3500, seed: 0, ema: 0.999 };

export function validateImageTeacherTrain(c: ImageTeacherTrainConfig): void {
  check(c.size in UNET_SIZES, `size must be one of ${Object.keys(UNET_SIZES).join(', ')}, got '${c.size}'`);
  check(Number.isInteger(c.batch) && c.batch >= 1 && c.batch <= 1024, `batch must be an integer in [1, 1024], got ${c.batch}`);
  check(Number.isInteger(c.steps) && c.steps >= 1 && c.steps <= 1_000_000, `steps must be an integer in [1, 1000000], got ${c.steps}`);
  check(Number.isFinite(c.lr) && c.lr > 0 && c.lr < 1, `learning rate must be a finite number in (0, 1), got ${c.lr}`);
  check(Number.isInteger(c.seed) && c.seed >= 0, `seed must be an integer >= 0, got ${c.seed}`);
  check(Number.isFinite(c.ema) && c.ema >= 0 && c.ema < 1, `EMA decay must be in [0, 1), got ${c.ema}`);
}

/** Classifier metrics of a set of samples against the reference (test) set. */
export interface ImageQuality {
  count: number;
  /** Fréchet distance in the classifier's 64-d feature space */
  frechet: number;
  stats: ClassStats;
}

/** Teacher and policy paths of a few images: states and x̂₀ [T, P, D] row-major (D = C·H·W). */
export interface ImagePaths {
  numParticles: number;
  dim: number;
  teacher: { sigma: number[]; states: Float32Array; x0: Float32Array };
  /** null without a student */
  policy: { sigma: number[]; states: Float32Array; x0: Float32Array; nfeIndices: number[] } | null;
}

export type MnistLabSnapshot = ModelsSnapshot<ImageNetArtifacts>;

const where = (name: string) => ({ config: `${name} (config)`, model: `${name} (model.json)`, weights: `${name} (weights)` });

export class MnistLab extends ModelLab<LoadedImageNet, ImageNet, ImageNetArtifacts, ImageTeacherTrainer, ImageDistiller> {
  /** training images (teacher training and π-ID's data); the test set stands in when not set */
  private train: ImageSampler | null = null;
  private test: MnistSet | null = null;
  classifier: (Classifier & { meta: Record<string, unknown> }) | null = null;
  private reference: { mean: Float64Array; cov: Float64Array } | null = null;

  get dataName(): string {
    return 'mnist';
  }

  setTrainData(set: MnistSet): void {
    this.train = new ImageSampler(set.images, set.labels);
  }

  /** The reference set of the metrics (and the data panel); also the training data until setTrainData. */
  setTestData(set: MnistSet): void {
    this.test = set;
    this.reference = null;
  }

  get hasTrainData(): boolean {
    return this.train !== null;
  }

  private source(): ImageSource {
    const s = this.train ?? (this.test ? new ImageSampler(this.test.images, this.test.labels) : null);
    check(s !== null, 'no MNIST images loaded');
    return (n, rng) => s!.sample(n, rng);
  }

  async setClassifier(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string): Promise<void> {
    const c = await classifierFromArtifacts(art, where(name));
    this.classifier?.dispose();
    this.classifier = c;
    this.reference = null;
  }

  // ---- teacher ---------------------------------------------------------------------------------

  /** A fresh teacher (and its trainer); the old teacher and any student are released. */
  newTeacher(cfg: ImageTeacherTrainConfig): void {
    validateImageTeacherTrain(cfg);
    this.assertIdle();
    const data = this.source();
    this.disposeStudent();
    this.disposeTeacher();
    const rng = new Rng(cfg.seed);
    const net = createImageNet(UNET_SIZES[cfg.size], rng.fork());
    this.teacher = { ...net, meta: { dataset: 'mnist', train: cfg } };
    this.trainer = new ImageTeacherTrainer(net, data, cfg.batch, { lr: cfg.lr, warmupSteps: Math.min(200, Math.ceil(cfg.steps / 10)), clipNorm: 1 }, rng.nextU32(), cfg.ema);
    this.teacherIter = 0;
    this.teacherTotal = cfg.steps;
  }

  /** Replaces the teacher by one loaded from artifacts (validated; on error the current one stays). */
  async loadTeacher(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string): Promise<void> {
    this.assertIdle();
    const net = await imageNetFromArtifacts(art, where(name), 'teacher');
    const baseline = baselineOf(net.meta);
    if (baseline) {
      net.dispose();
      throw new Error(`${name}: a ${baseline.method} baseline student (piflow distill --method ${baseline.method}, ${baseline.nfe} NFE), not a teacher`);
    }
    this.disposeStudent();
    this.disposeTeacher();
    this.teacher = net;
    this.teacherIter = Number(net.meta.stepsDone ?? 0);
    this.teacherTotal = this.teacherIter;
  }

  /** The teacher's artifacts (its EMA weights while it trains: what would be sampled and saved). */
  async saveTeacher(): Promise<ImageNetArtifacts> {
    check(this.teacher !== null, 'no teacher to save');
    const save = () => imageNetToArtifacts(this.teacher!, { ...this.teacher!.meta, dataset: 'mnist', stepsDone: this.teacherIter });
    return this.trainer ? this.trainer.withEmaWeights(save) : save();
  }

  /** Runs `fn` with the teacher's EMA weights in place between training steps (samples show what would be saved). */
  private withTeacherWeights<T>(fn: () => Promise<T>): Promise<T> {
    return this.trainer && this.running !== 'teacher' ? this.trainer.withEmaWeights(fn) : fn();
  }

  // ---- student ---------------------------------------------------------------------------------

  protected readStudent(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string) {
    return imageNetFromArtifacts(art, where(name));
  }

  protected writeNet(net: ImageNet, meta: Record<string, unknown>): Promise<ImageNetArtifacts> {
    return imageNetToArtifacts(net, meta);
  }

  protected makeDistiller(cfg: Partial<DistillConfig>, student?: ImageNet): ImageDistiller {
    return new ImageDistiller(this.teacher!, this.source(), cfg, student);
  }

  protected override checkStudent(net: ImageNet, name: string): void {
    const t = this.teacher?.cfg;
    if (t && (net.cfg.base !== t.base || net.cfg.mid !== t.mid)) {
      throw new Error(`${name}: the student's U-Net (base ${net.cfg.base}, mid ${net.cfg.mid}) does not match the teacher's (base ${t.base}, mid ${t.mid})`);
    }
  }

  // ---- what the views show -------------------------------------------------------------------

  /** Teacher Euler samples [count, 1, 28, 28] from the noise stream of `seed`. */
  teacherSamples(count: number, steps: number, seed: number): Promise<Float32Array> {
    check(this.teacher !== null, 'no teacher');
    return this.withTeacherWeights(() => sampleImageTeacher(this.teacher!, count, steps, seed));
  }

  /** Student samples from the same noise stream as teacherSamples for the same seed. */
  studentSamples(count: number, seed: number, opts: { nfe?: number; temperature?: number } = {}): Promise<Float32Array> {
    check(this.student !== null && this.studentPolicy !== null, 'no student');
    return sampleImageStudent(this.student!, this.studentPolicy!, count, seed, opts);
  }

  /** Test-set images (seeded choice). */
  dataSamples(count: number, seed: number): Float32Array {
    check(this.test !== null, 'no MNIST test images loaded');
    return new ImageSampler(this.test!.images).sample(count, new Rng(seed));
  }

  /** The test set's class shares by its labels (10 numbers summing to 1): the reference of the predicted-class histogram. */
  testClassShares(): number[] {
    check(this.test !== null, 'no MNIST test images loaded');
    const counts = new Array<number>(MNIST_CLASSES).fill(0);
    for (const l of this.test!.labels) counts[l]++;
    return counts.map((c) => c / this.test!.labels.length);
  }

  /** Fréchet distance (classifier features) against the whole test set, and the predicted classes. */
  async quality(samples: Float32Array): Promise<ImageQuality> {
    check(this.classifier !== null, 'no classifier loaded');
    check(this.test !== null, 'no MNIST test images loaded');
    const count = samples.length / (28 * 28);
    check(Number.isInteger(count) && count >= 2, `quality needs at least 2 images of 28×28, got ${samples.length} values`);
    if (!this.reference) {
      const ref = await classifyImages(this.classifier!, this.test!.images.pixels, this.test!.images.n);
      this.reference = meanCov(ref.features, this.test!.images.n, FEATURE_DIM);
    }
    const got = await classifyImages(this.classifier!, samples, count);
    const m = meanCov(got.features, count, FEATURE_DIM);
    return { count, frechet: frechetDistance(m.mean, m.cov, this.reference.mean, this.reference.cov), stats: classStats(got.pred, MNIST_CLASSES, 0.01) };
  }

  /**
   * Teacher ODE (`teacherSteps` Euler steps) and student policy paths (every substep; none without a
   * student) from the same `count` noise images of `seed`, with the teacher's and the policy's x̂₀ at every state.
   */
  async paths(count: number, seed: number, opts: { teacherSteps?: number; nfe?: number; temperature?: number } = {}): Promise<ImagePaths> {
    check(this.teacher !== null, 'no teacher');
    check(Number.isInteger(count) && count >= 1 && count <= 64, `paths: count must be an integer in [1, 64], got ${count}`);
    const shape = [count, ...imageShape(this.teacher!.cfg)];
    const dim = shape.slice(1).reduce((a, b) => a * b, 1);
    const noise = tf.tensor(new Rng(seed).normalArray(count * dim), shape);
    try {
      const teacher = await this.withTeacherWeights(() => teacherPathsOf(imageTeacherVelocity(this.teacher!), noise, opts.teacherSteps ?? 32));
      let policy: ImagePaths['policy'] = null;
      if (this.student && this.studentPolicy) {
        const make = imageStudentPolicy(this.student, this.studentPolicy);
        const p = await policyPathsOf((x, s) => make(x, s, 1e-4) as Policy, this.studentPolicy, noise, { nfe: opts.nfe, temperature: opts.temperature });
        policy = { sigma: p.sigma, states: p.states, x0: p.x0, nfeIndices: p.nfeIndices };
      }
      return { numParticles: count, dim, teacher: { sigma: teacher.sigma, states: teacher.states, x0: teacher.x0 }, policy };
    } finally {
      noise.dispose();
    }
  }

  // ---- checkpoints -----------------------------------------------------------------------------

  snapshot(): Promise<MnistLabSnapshot> {
    return this.snapshotModels();
  }

  restore(s: MnistLabSnapshot): Promise<string[]> {
    return this.restoreModels(s);
  }

  override dispose(): void {
    super.dispose();
    this.classifier?.dispose();
    this.classifier = null;
  }
}

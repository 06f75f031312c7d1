/**
 * The 2D lab: the state of a lesson (data, teacher, student, their trainers) and its long-running loops
 * with pause / resume / stop. DOM-free and backend-agnostic: it runs inside the training worker in the
 * browser (lab-worker.ts) and directly in Node tests. Views get plain arrays (inspect2d.ts), never
 * tensors. A failed step (NaN/∞) stops the loop with an error and leaves the models as they were.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { NonFiniteLossError } from '../engine/optim.js';
import { DATASETS_2D, sample2d } from '../data/toy2d.js';
import { createToyNet, MlpConfig, ToyNet } from '../models/mlp.js';
import { LoadedToyNet, ToyNetArtifacts, toyNetFromArtifacts, toyNetToArtifacts } from '../models/artifacts.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import {
  datasetSource, DEFAULT_DISTILL, DistillConfig, Distiller, pointsSource, PointSource, policyConfigOf, sampleStudent,
  sampleTeacher, StudentPolicyConfig, TeacherTrainer, validateStudentPolicyConfig,
} from './toy.js';
import { densityGrid, Paths, PolicyPaths, policyPaths, teacherPaths, velocityField } from './inspect2d.js';

export interface LabSnapshot {
  data: DataSpec;
  teacher?: ToyNetArtifacts;
  student?: ToyNetArtifacts;
}

export type DataSpec = { kind: 'builtin'; name: string } | { kind: 'points'; points: Float32Array; name?: string };

export interface TeacherTrainConfig {
  width: number;
  depth: number;
  lr: number;
  batch: number;
  steps: number;
  seed: number;
}

export const DEFAULT_TEACHER_TRAIN: TeacherTrainConfig = { width: 128, depth: 3, lr: 2e-3, batch: 1024, steps: 2000, seed: 0 };

export function validateTeacherTrain(c: TeacherTrainConfig): void {
  const posInt = (name: keyof TeacherTrainConfig, max: number) =>
    check(Number.isInteger(c[name]) && c[name] >= 1 && c[name] <= max, `${name} must be an integer in [1, ${max}], got ${c[name]}`);
  posInt('width', 1024);
  posInt('depth', 8);
  posInt('batch', 65536);
  posInt('steps', 1_000_000);
  check(Number.isFinite(c.lr) && c.lr > 0 && c.lr < 1, `learning rate must be a finite number in (0, 1), got ${c.lr}`);
  check(Number.isInteger(c.seed) && c.seed >= 0, `seed must be an integer >= 0, got ${c.seed}`);
}

export type Phase = 'idle' | 'teacher' | 'student';

export interface Progress {
  phase: Exclude<Phase, 'idle'>;
  iter: number;
  total: number;
  loss: number;
  itPerSec: number;
  secondsLeft: number;
  /** π-ID only */
  teacherRatio?: number;
}

export interface LoopHooks {
  /** called at most every `progressMs` (and at the end) */
  onProgress?: (p: Progress) => void;
  /** every loss, in order (for the loss curve; cheap) */
  onLoss?: (iter: number, loss: number) => void;
  /** every `metricEvery` iterations: the caller may evaluate (the loop awaits it) */
  onMetric?: (iter: number) => Promise<void> | void;
  metricEvery?: number;
  progressMs?: number;
  /** yield to the event loop this often so pause/stop messages get in (ms) */
  yieldMs?: number;
}

const sleep0 = () => new Promise<void>((r) => setTimeout(r, 0));

/**
 * The loop machinery shared by the 2D and the MNIST labs: one loop at a time, pause / resume / stop,
 * throttled progress, every loss, periodic metrics, and yields so that messages get in.
 */
export class LoopRunner {
  protected paused = false;
  protected stopped = false;
  private resumeWaiters: (() => void)[] = [];
  running: Phase = 'idle';

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((r) => r());
  }

  stop(): void {
    this.stopped = true;
    this.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  protected async loop(
    phase: 'teacher' | 'student',
    h: LoopHooks,
    iterNow: () => number,
    total: number,
    step: () => Promise<{ loss: number; teacherRatio?: number }>,
  ): Promise<void> {
    this.assertIdle();
    this.running = phase;
    this.stopped = false;
    const progressMs = h.progressMs ?? 100;
    const yieldMs = h.yieldMs ?? 30;
    const t0 = performance.now();
    const i0 = iterNow();
    let lastProgress = 0;
    let lastYield = performance.now();
    let loss = NaN;
    let ratio: number | undefined;
    const report = () => {
      const secs = (performance.now() - t0) / 1000;
      const rate = (iterNow() - i0) / Math.max(secs, 1e-9);
      h.onProgress?.({ phase, iter: iterNow(), total, loss, itPerSec: rate, secondsLeft: rate > 0 ? (total - iterNow()) / rate : Infinity, teacherRatio: ratio });
    };
    try {
      while (iterNow() < total && !this.stopped) {
        if (this.paused) {
          report();
          await new Promise<void>((r) => this.resumeWaiters.push(r));
          continue;
        }
        const s = await step();
        loss = s.loss;
        ratio = s.teacherRatio;
        h.onLoss?.(iterNow(), loss);
        if (h.onMetric && h.metricEvery && iterNow() % h.metricEvery === 0) await h.onMetric(iterNow());
        const now = performance.now();
        if (now - lastProgress >= progressMs) {
          lastProgress = now;
          report();
        }
        if (now - lastYield >= yieldMs) {
          await sleep0();
          lastYield = performance.now();
        }
      }
      report();
    } catch (e) {
      if (e instanceof NonFiniteLossError) throw new Error(`${phase === 'teacher' ? 'Teacher training' : 'π-ID'}: ${e.message}`);
      throw e;
    } finally {
      this.running = 'idle';
    }
  }

  protected assertIdle(): void {
    check(this.running === 'idle', `busy: ${this.running === 'teacher' ? 'the teacher is training' : 'a student is distilling'}; pause or stop it first`);
  }

}

export class Lab extends LoopRunner {
  data: PointSource = datasetSource('checkerboard');
  dataName = 'checkerboard';
  teacher: LoadedToyNet | null = null;
  student: ToyNet | null = null;
  studentPolicy: StudentPolicyConfig | null = null;
  private trainer: TeacherTrainer | null = null;
  private distiller: Distiller | null = null;
  private teacherIter = 0;
  private teacherTotal = 0;
  private dataSpec: DataSpec = { kind: 'builtin', name: 'checkerboard' };

  setData(spec: DataSpec): void {
    this.dataSpec = spec;
    if (spec.kind === 'builtin') {
      check((DATASETS_2D as readonly string[]).includes(spec.name), `unknown dataset '${spec.name}'; allowed: ${DATASETS_2D.join(', ')}`);
      this.data = datasetSource(spec.name);
      this.dataName = spec.name;
    } else {
      check(spec.points.length >= 2 && spec.points.length % 2 === 0, 'custom data needs at least one (x, y) point');
      this.data = pointsSource(spec.points);
      this.dataName = spec.name ?? 'custom';
    }
  }

  /** A fresh teacher (and its trainer) for `cfg`; the old teacher and any student are released. */
  newTeacher(cfg: TeacherTrainConfig): void {
    validateTeacherTrain(cfg);
    this.assertIdle();
    this.disposeStudent();
    this.disposeTeacher();
    const rng = new Rng(cfg.seed);
    const net = createToyNet({ kind: 'teacher', width: cfg.width, depth: cfg.depth }, rng.fork());
    this.teacher = { ...net, meta: { dataset: this.dataName, train: cfg } };
    this.trainer = new TeacherTrainer(net, this.data, cfg.batch, { lr: cfg.lr }, rng.nextU32());
    this.teacherIter = 0;
    this.teacherTotal = cfg.steps;
  }

  /** Replaces the teacher by one loaded from artifacts (validated; on error the current one stays). */
  async loadTeacher(art: ToyNetArtifacts | { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string): Promise<void> {
    this.assertIdle();
    const net = await toyNetFromArtifacts(art, { config: `${name} (config)`, model: `${name} (model.json)`, weights: `${name} (weights)` }, 'teacher');
    this.disposeStudent();
    this.disposeTeacher();
    this.teacher = net;
    this.teacherIter = Number(net.meta.stepsDone ?? 0);
    this.teacherTotal = this.teacherIter;
    // a teacher saved mid-training carries its settings: training can go on from here
    const train = net.meta.train as TeacherTrainConfig | undefined;
    if (train) {
      try {
        validateTeacherTrain(train);
        this.trainer = new TeacherTrainer(net, this.data, train.batch, { lr: train.lr }, train.seed + this.teacherIter);
        this.teacherTotal = Math.max(train.steps, this.teacherIter);
      } catch {
        this.trainer = null;
      }
    }
  }

  /** A fresh π-ID student from the current teacher. */
  newStudent(cfg: Partial<DistillConfig>): void {
    this.assertIdle();
    check(this.teacher !== null, 'train or load a teacher first');
    const full = { ...DEFAULT_DISTILL, ...cfg, adam: { ...DEFAULT_DISTILL.adam, ...cfg.adam } };
    const d = new Distiller(this.teacher!, this.data, full); // validates before allocating
    this.disposeStudent();
    this.distiller = d;
    this.student = d.student;
    this.studentPolicy = policyConfigOf(d.cfg);
  }

  async loadStudent(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string): Promise<void> {
    this.assertIdle();
    const net = await toyNetFromArtifacts(art, { config: `${name} (config)`, model: `${name} (model.json)`, weights: `${name} (weights)` });
    if (net.cfg.kind === 'teacher') {
      net.dispose();
      throw new Error(`${name}: this is a teacher, not a π-Flow student`);
    }
    const policy = net.meta.policy as StudentPolicyConfig;
    try {
      validateStudentPolicyConfig(policy);
    } catch (e) {
      net.dispose();
      throw new Error(`${name} (config): meta.policy is not a valid student policy (${(e as Error).message})`);
    }
    this.disposeStudent();
    const piid = net.meta.piid as Partial<DistillConfig> | undefined;
    if (piid && this.teacher) {
      // a student saved while distilling carries its π-ID settings: distillation can go on
      try {
        this.distiller = new Distiller(this.teacher, this.data, piid, net);
        this.distiller.piid.iteration = Number(net.meta.itersDone ?? 0);
      } catch {
        this.distiller = null;
      }
    }
    this.student = net;
    this.studentPolicy = policy;
  }

  /** The last-good-state copy a worker keeps on the host (data choice, teacher, student). */
  async snapshot(): Promise<LabSnapshot> {
    return {
      data: this.dataSpec,
      teacher: this.teacher ? await this.saveTeacher() : undefined,
      student: this.student ? await this.saveStudent() : undefined,
    };
  }

  /** Rebuilds this (fresh) lab from a snapshot; returns what it restored. */
  async restore(s: LabSnapshot): Promise<string[]> {
    this.setData(s.data);
    const restored: string[] = [];
    if (s.teacher) {
      await this.loadTeacher(s.teacher, 'last good teacher');
      restored.push('teacher');
    }
    if (s.student) {
      await this.loadStudent(s.student, 'last good student');
      restored.push('student');
    }
    return restored;
  }

  async saveTeacher(): Promise<ToyNetArtifacts> {
    check(this.teacher !== null, 'no teacher to save');
    return toyNetToArtifacts(this.teacher!, { ...this.teacher!.meta, dataset: this.dataName, stepsDone: this.teacherIter });
  }

  async saveStudent(): Promise<ToyNetArtifacts> {
    check(this.student !== null && this.studentPolicy !== null, 'no student to save');
    return toyNetToArtifacts(this.student!, { dataset: this.dataName, policy: this.studentPolicy, piid: this.distiller?.cfg, itersDone: this.studentIteration });
  }

  /** Trains the teacher up to its step budget (or `steps` more). Resolves when done or stopped. */
  async trainTeacher(hooks: LoopHooks = {}, steps?: number): Promise<void> {
    check(this.trainer !== null, 'no teacher in training: start a new teacher first');
    if (steps !== undefined) this.teacherTotal = this.teacherIter + steps;
    await this.loop('teacher', hooks, () => this.teacherIter, this.teacherTotal, async () => {
      const s = await this.trainer!.step();
      this.teacherIter++;
      return { loss: s.loss };
    });
  }

  /** Runs `iters` π-ID iterations on the current student. */
  async distill(iters: number, hooks: LoopHooks = {}): Promise<void> {
    check(this.distiller !== null, 'no student in training: start a new student first');
    check(Number.isInteger(iters) && iters >= 1, `iterations must be an integer >= 1, got ${iters}`);
    const d = this.distiller!;
    const start = d.piid.iteration;
    await this.loop('student', hooks, () => d.piid.iteration, start + iters, async () => {
      const s = await d.step();
      return { loss: s.loss, teacherRatio: s.teacherRatio };
    });
  }

  get studentIteration(): number {
    return this.distiller?.piid.iteration ?? 0;
  }

  get teacherIteration(): number {
    return this.teacherIter;
  }

  // ---- views -------------------------------------------------------------------------------

  async teacherSamples(count: number, steps: number, seed: number): Promise<Float32Array> {
    check(this.teacher !== null, 'no teacher');
    return sampleTeacher(this.teacher!, count, steps, seed, 4096);
  }

  async studentSamples(count: number, seed: number, opts: { nfe?: number; temperature?: number } = {}): Promise<Float32Array> {
    check(this.student !== null && this.studentPolicy !== null, 'no student');
    return sampleStudent(this.student!, this.studentPolicy!, count, seed, { ...opts, chunk: 4096 });
  }

  dataSamples(count: number, seed: number): Float32Array {
    return this.data(count, new Rng(seed));
  }

  /** Sliced W1 of samples to fresh data (same count). */
  swd(samples: Float32Array, seed: number, projections = 64): number {
    const data = this.dataSamples(samples.length / 2, seed + 7919);
    return slicedWasserstein1(samples, data, 2, projections, new Rng(seed));
  }

  async teacherPaths(noise: Float32Array, steps: number): Promise<Paths> {
    check(this.teacher !== null, 'no teacher');
    return teacherPaths(this.teacher!, noise, steps);
  }

  async policyPaths(noise: Float32Array, opts: { nfe?: number; temperature?: number } = {}): Promise<PolicyPaths> {
    check(this.student !== null && this.studentPolicy !== null, 'no student');
    return policyPaths(this.student!, this.studentPolicy!, noise, opts);
  }

  async field(sigma: number, n: number, extent: number) {
    check(this.teacher !== null, 'no teacher');
    return velocityField(this.teacher!, sigma, n, extent);
  }

  density(points: Float32Array, n: number, extent: number): Float32Array {
    return densityGrid(points, n, extent);
  }

  teacherConfig(): MlpConfig | null {
    return this.teacher?.cfg ?? null;
  }

  disposeStudent(): void {
    this.distiller?.dispose();
    this.distiller = null;
    this.student?.dispose();
    this.student = null;
    this.studentPolicy = null;
  }

  disposeTeacher(): void {
    this.trainer?.dispose();
    this.trainer = null;
    this.teacher?.dispose();
    this.teacher = null;
  }

  dispose(): void {
    this.disposeStudent();
    this.disposeTeacher();
  }
}


/**
 * The 2D lab: the state of a lesson (data, teacher, student, their trainers) and its long-running loops
 * with pause / resume / stop. DOM-free and backend-agnostic: it runs inside the training worker in the
 * browser (lab-worker.ts) and directly in Node tests. Views get plain arrays (inspect2d.ts), never
 * tensors. A failed step (NaN/∞) stops the loop with an error and leaves the models as they were.
 */
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { DATASETS_2D } from '../data/toy2d.js';
import { createToyNet, MlpConfig, ToyNet } from '../models/mlp.js';
import { LoadedToyNet, ToyNetArtifacts, toyNetFromArtifacts, toyNetToArtifacts } from '../models/artifacts.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import {
  datasetSource, DistillConfig, Distiller, pointsSource, PointSource, sampleStudent, sampleTeacher, TeacherTrainer,
} from './toy.js';
import { ModelLab } from './model-lab.js';
import { densityGrid, Paths, PolicyPaths, policyPaths, teacherPaths, velocityField } from './inspect2d.js';
import { baselineOf } from '../models/methods.js';

export interface LabSnapshot {
  data: DataSpec;
  teacher?: ToyNetArtifacts;
  student?: ToyNetArtifacts;
}

export { LoopRunner, type LoopHooks, type Phase, type Progress } from './model-lab.js';

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

export class Lab extends ModelLab<LoadedToyNet, ToyNet, ToyNetArtifacts, TeacherTrainer, Distiller> {
  data: PointSource = datasetSource('checkerboard');
  private name = 'checkerboard';
  private dataSpec: DataSpec = { kind: 'builtin', name: 'checkerboard' };

  get dataName(): string {
    return this.name;
  }

  setData(spec: DataSpec): void {
    if (spec.kind === 'builtin') {
      check((DATASETS_2D as readonly string[]).includes(spec.name), `unknown dataset '${spec.name}'; allowed: ${DATASETS_2D.join(', ')}`);
      this.data = datasetSource(spec.name);
      this.name = spec.name;
    } else {
      check(spec.points.length >= 2 && spec.points.length % 2 === 0, 'custom data needs at least one (x, y) point');
      this.data = pointsSource(spec.points);
      this.name = spec.name ?? 'custom';
    }
    this.dataSpec = spec;
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
    const net = await toyNetFromArtifacts(art, whereOf(name), 'teacher');
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

  async saveTeacher(): Promise<ToyNetArtifacts> {
    check(this.teacher !== null, 'no teacher to save');
    return toyNetToArtifacts(this.teacher!, { ...this.teacher!.meta, dataset: this.dataName, stepsDone: this.teacherIter });
  }

  protected readStudent(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string) {
    return toyNetFromArtifacts(art, whereOf(name));
  }

  protected writeNet(net: ToyNet, meta: Record<string, unknown>): Promise<ToyNetArtifacts> {
    return toyNetToArtifacts(net, meta);
  }

  protected makeDistiller(cfg: Partial<DistillConfig>, student?: ToyNet): Distiller {
    return new Distiller(this.teacher!, this.data, cfg, student);
  }

  /** The last-good-state copy a worker keeps on the host (data choice, teacher, student). */
  async snapshot(): Promise<LabSnapshot> {
    return { data: this.dataSpec, ...(await this.snapshotModels()) };
  }

  /** Rebuilds this (fresh) lab from a snapshot; returns what it restored. */
  async restore(s: LabSnapshot): Promise<string[]> {
    this.setData(s.data);
    return this.restoreModels(s);
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
}

const whereOf = (name: string) => ({ config: `${name} (config)`, model: `${name} (model.json)`, weights: `${name} (weights)` });

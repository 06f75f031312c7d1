/**
 * The message protocol between a notebook page and its training worker: requests name a Lab
 * operation (`LabApi`), responses carry its value or an error message, and events stream progress,
 * losses and metrics while a loop runs. Plain, structured-clone-able data only.
 */
import type { DataSpec, Progress, TeacherTrainConfig } from './lab.js';
import type { DistillConfig, StudentPolicyConfig } from './student.js';
import type { Paths, PolicyPaths } from './inspect2d.js';
import type { ToyNetArtifacts } from '../models/artifacts.js';
import type { MlpConfig } from '../models/mlp.js';

export interface BackendInfo {
  name: string;
  fellBackFrom: string[];
  reason?: string;
  /** wasm only: its thread count, and why it is one (see BackendChoice) */
  threads?: number;
  threadsNote?: string;
}

export interface LoopOptions {
  /** evaluate the live metric every N iterations (0: never) */
  metricEvery?: number;
  /** samples for the live metric */
  metricCount?: number;
  /** student NFE for the live metric (default: as distilled) */
  metricNfe?: number;
  /** teacher Euler steps for the live metric */
  metricSteps?: number;
}

export interface LabStatus {
  backend: BackendInfo;
  dataName: string;
  teacher: MlpConfig | null;
  teacherIteration: number;
  student: MlpConfig | null;
  studentPolicy: StudentPolicyConfig | null;
  studentIteration: number;
  /** the same while the student's weights are the same (model-lab.ts `studentKey`): views skip redrawing */
  studentKey: string;
  /** a student with its π-ID run (settings, and since issue 12 its optimizer and stream): Distill can resume it */
  canDistill: boolean;
  running: 'idle' | 'teacher' | 'student';
  paused: boolean;
}

/** What both labs' workers do the same way (worker-host.ts `modelApi`): A is the artifacts, O the loop options. */
export interface ModelLabApi<A, O> {
  init(backend?: string, threads?: string): BackendInfo;
  /** the requests this worker has had, per method (tests: each view runs once on arrival) */
  requestCounts(): Record<string, number>;
  trainTeacher(opts: O & { steps?: number }): void;
  loadTeacher(art: A, name: string): void;
  saveTeacher(): A;
  newStudent(cfg: Partial<DistillConfig>): void;
  /** a π-ID run from the current student (same family and size) instead of a fresh copy of the teacher */
  continueStudent(cfg: Partial<DistillConfig>): void;
  distill(iters: number, opts: O): void;
  /** returns how distillation goes on from it: exactly (its saved training state), from its iteration only (an older save), or '' */
  loadStudent(art: A, name: string): string;
  saveStudent(): A;
  pause(): void;
  resume(): void;
  stop(): void;
  /** loses the GPU device on purpose (tests): true if there was one to lose */
  simulateDeviceLoss(): boolean;
  /** tfjs IndexedDB IO handler (`indexeddb://key`); the config rides in the model's metadata */
  saveToBrowser(which: 'teacher' | 'student', key: string): void;
  /** for a student, what loadStudent returns; '' for a teacher */
  loadFromBrowser(which: 'teacher' | 'student', key: string): string;
}

/** Operations the 2D worker performs; each returns a promise of the value. */
export interface LabApi extends ModelLabApi<ToyNetArtifacts, LoopOptions> {
  status(): LabStatus;
  setData(spec: DataSpec): void;
  newTeacher(cfg: TeacherTrainConfig): void;
  loadTeacherUrl(url: string): void;
  /** a student directory served by the page (model.json + weights.bin + config.json), e.g. a shipped one */
  loadStudentUrl(url: string): void;
  teacherSamples(count: number, steps: number, seed: number): Float32Array;
  studentSamples(count: number, seed: number, opts: { nfe?: number; temperature?: number }): Float32Array;
  dataSamples(count: number, seed: number): Float32Array;
  swd(samples: Float32Array, seed: number, projections?: number): number;
  /** share of the samples inside the built-in dataset's support (metrics/modes.ts); NaN for custom data */
  precision(samples: Float32Array): number;
  teacherPaths(noise: Float32Array, steps: number): Paths;
  policyPaths(noise: Float32Array, opts: { nfe?: number; temperature?: number }): PolicyPaths;
  field(sigma: number, n: number, extent: number): { positions: Float32Array; vectors: Float32Array };
  density(points: Float32Array, n: number, extent: number): Float32Array;
}

export type LabMethod = keyof LabApi;

export interface LabRequest {
  id: number;
  method: LabMethod;
  args: unknown[];
}

export type LabResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export type LabEvent =
  | { event: 'progress'; progress: Progress }
  | { event: 'loss'; phase: 'teacher' | 'student'; iters: number[]; losses: number[] }
  | { event: 'metric'; phase: 'teacher' | 'student'; iter: number; swd: number }
  | { event: 'backend'; backend: BackendInfo; restored: string }
  | { event: 'log'; message: string };

export function isResponse(m: LabResponse | LabEvent): m is LabResponse {
  return (m as LabResponse).id !== undefined;
}

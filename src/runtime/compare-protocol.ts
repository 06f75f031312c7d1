/**
 * The message protocol between the comparison notebook (notebooks/methods-2d.ts) and its worker
 * (compare-worker.ts): the comparison lab's operations (compare-lab.ts) and the loop's events, which
 * are the 2D lab's progress / loss / backend / log events (lab-protocol.ts).
 */
import type { BackendInfo, LabEvent } from './lab-protocol.js';
import type { CompareConfig, CompareMethod, Evaluation } from './compare-lab.js';
import type { MlpConfig } from '../models/mlp.js';
import type { ToyNetArtifacts } from '../models/artifacts.js';

export interface CompareStatus {
  backend: BackendInfo;
  dataName: string;
  teacher: MlpConfig | null;
  config: CompareConfig | null;
  /** rounds done (one round = one iteration of every method) */
  round: number;
  methods: { method: CompareMethod; title: string; nfe: number; iteration: number; loss: number }[];
  running: 'idle' | 'teacher' | 'student';
  paused: boolean;
  /** no round and no evaluation in flight: `tensors` is a settled count */
  quiet: boolean;
  /** tf.memory().numTensors in the worker */
  tensors: number;
}

export interface CompareApi {
  init(backend?: string, threads?: string): BackendInfo;
  status(): CompareStatus;
  /** a built-in 2D dataset (drops the race) */
  setData(name: string): void;
  /** a teacher directory served by the page (model.json + weights.bin + config.json) */
  loadTeacherUrl(url: string): void;
  /** a fresh race from the teacher (stops a running one first) */
  newRace(cfg: Partial<CompareConfig>): void;
  /** runs the race up to its budget; resolves when done or stopped (pending while paused) */
  race(): void;
  pause(): void;
  resume(): void;
  stop(): void;
  /** stops the race and releases every student */
  reset(): void;
  evaluate(count: number, seed: number, nfe?: number): Evaluation;
  /** one method's student (model.json, weights, config.json's {config, meta}) for a download */
  saveStudent(method: CompareMethod): ToyNetArtifacts;
  /** loses the GPU device on purpose (tests): true if there was one to lose */
  simulateDeviceLoss(): boolean;
}

export type CompareEvent = Extract<LabEvent, { event: 'progress' | 'loss' | 'backend' | 'log' }>;

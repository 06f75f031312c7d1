/**
 * The message protocol between the MNIST notebook and its worker (mnist-worker.ts): like the 2D lab's
 * (lab-protocol.ts), with image-shaped samples, classifier metrics and image paths.
 */
import type { BackendInfo, LabEvent, ModelLabApi } from './lab-protocol.js';
import type { StudentPolicyConfig } from './student.js';
import type { ImagePaths, ImageQuality, ImageTeacherTrainConfig } from './mnist-lab.js';
import type { ImageNetArtifacts } from '../models/image-artifacts.js';
import type { UNetConfig } from '../models/unet.js';

export interface MnistStatus {
  backend: BackendInfo;
  teacher: UNetConfig | null;
  teacherIteration: number;
  student: UNetConfig | null;
  studentPolicy: StudentPolicyConfig | null;
  studentIteration: number;
  /** the same while the student's weights are the same (model-lab.ts `studentKey`): views skip redrawing */
  studentKey: string;
  /** a student with π-ID settings: Distill goes on from it */
  canDistill: boolean;
  running: 'idle' | 'teacher' | 'student';
  paused: boolean;
  hasTrainData: boolean;
}

export interface MnistLoopOptions {
  /** classifier metrics every N iterations (0: never) */
  metricEvery?: number;
  /** samples for the live metrics */
  metricCount?: number;
  /** Euler steps of the teacher's live samples */
  metricSteps?: number;
}

/** Where the assets live (relative to the page): MNIST IDX files, classifier, pretrained models. */
export interface MnistAssets {
  data: string;
  classifier: string;
  teacher: string;
  student?: string;
}

export interface MnistApi extends ModelLabApi<ImageNetArtifacts, MnistLoopOptions> {
  status(): MnistStatus;
  /** test set, classifier, pretrained teacher (and student): what the lesson needs to start */
  loadAssets(assets: MnistAssets): MnistStatus & { notes: string[] };
  /** the 60,000 training images (fetched on first need: teacher training, π-ID with data) */
  loadTrainData(dataUrl: string): void;
  newTeacher(cfg: ImageTeacherTrainConfig): void;
  teacherSamples(count: number, steps: number, seed: number): Float32Array;
  studentSamples(count: number, seed: number, opts: { nfe?: number; temperature?: number }): Float32Array;
  dataSamples(count: number, seed: number): Float32Array;
  quality(samples: Float32Array): ImageQuality;
  /** the test set's class shares (labels), the class histogram's reference */
  testClassShares(): number[];
  paths(count: number, seed: number, opts: { teacherSteps?: number; nfe?: number; temperature?: number }): ImagePaths;
}

export type MnistEvent =
  | Exclude<LabEvent, { event: 'metric' }>
  | { event: 'metric'; phase: 'teacher' | 'student'; iter: number; quality: ImageQuality };

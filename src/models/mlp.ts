/**
 * The 2D networks (WORKLOAD.md §4): embedding (outside the model, see embedding.ts) ->
 * depth x Dense(width, swish == SiLU) -> Dense(outDim, linear), as a tfjs LayersModel so that
 * `model.save()` gives model.json + weights that the browser loads unchanged with `tf.loadLayersModel`.
 *
 * Heads (u-space, the toy layout of shared/reference/README.md):
 * - teacher: 2 (u = eps - x0)
 * - gmflow:  2K + K + 1 = means (column 2k+c = component k, channel c) | logweights | logstd
 * - dx:      2N (column 2n+c = grid point n, channel c)
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../engine/rng.js';
import { embed2d, embedDims } from './embedding.js';

export const MLP_KINDS = ['teacher', 'gmflow', 'dx'] as const;
export type MlpKind = (typeof MLP_KINDS)[number];

export interface MlpConfig {
  kind: MlpKind;
  width: number;
  depth: number;
  /** GMFlow components (kind 'gmflow'). */
  k?: number;
  /** DX grid points (kind 'dx'). */
  n?: number;
  timeDim?: number;
  coordDim?: number;
  dim?: 2;
}

const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Throws a clear Error for a malformed config (`where` names the source, e.g. a file). */
export function validateMlpConfig(cfg: MlpConfig, where = 'MlpConfig'): MlpConfig {
  if (cfg === null || typeof cfg !== 'object') throw new Error(`${where}: config must be an object`);
  if (!(MLP_KINDS as readonly string[]).includes(cfg.kind)) {
    throw new Error(`${where}: kind must be one of ${MLP_KINDS.join(', ')}, got '${cfg.kind}'`);
  }
  if (!posInt(cfg.width) || !posInt(cfg.depth)) {
    throw new Error(`${where}: width and depth must be positive integers, got ${cfg.width}, ${cfg.depth}`);
  }
  if (cfg.kind === 'gmflow' && !posInt(cfg.k)) throw new Error(`${where}: gmflow needs a positive integer k, got ${cfg.k}`);
  if (cfg.kind === 'dx' && !posInt(cfg.n)) throw new Error(`${where}: dx needs a positive integer n, got ${cfg.n}`);
  if (cfg.dim !== undefined && cfg.dim !== 2) throw new Error(`${where}: dim must be 2, got ${cfg.dim}`);
  embedDims(cfg);
  return cfg;
}

/** Width of the head output. */
export function outDim(cfg: MlpConfig): number {
  return cfg.kind === 'teacher' ? 2 : cfg.kind === 'gmflow' ? 3 * cfg.k! + 1 : 2 * cfg.n!;
}

/** Expected weight shapes, in model.weights order: [kernel0, bias0, ..., headKernel, headBias]. */
export function weightShapes(cfg: MlpConfig): number[][] {
  const dims = [embedDims(cfg).embedDim, ...Array<number>(cfg.depth).fill(cfg.width), outDim(cfg)];
  return dims.slice(1).flatMap((o, i) => [[dims[i], o], [o]]);
}

export function paramCount(cfg: MlpConfig): number {
  return weightShapes(cfg).reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/** Build the model. Kernels Kaiming-normal (fan_in, gain √2) from `rng`, zero biases; gmflow: logweight/logstd columns zero. */
export function createMlp(cfg: MlpConfig, rng: Rng): tf.LayersModel {
  validateMlpConfig(cfg);
  const { embedDim } = embedDims(cfg);
  const model = tf.sequential({ name: `toynet_${cfg.kind}` });
  for (let i = 0; i < cfg.depth; i++) {
    model.add(
      tf.layers.dense({
        units: cfg.width,
        activation: 'swish',
        name: `fc${i}`,
        kernelInitializer: 'zeros',
        ...(i === 0 ? { inputShape: [embedDim] } : {}),
      }),
    );
  }
  model.add(tf.layers.dense({ units: outDim(cfg), name: 'head', kernelInitializer: 'zeros' }));
  const shapes = weightShapes(cfg);
  tf.tidy(() => {
    const ws = shapes.map((sh) => {
      if (sh.length === 1) return tf.zeros(sh);
      const [fanIn, out] = sh;
      const w = rng.normalArray(fanIn * out, Math.sqrt(2 / fanIn)); // [fanIn, out] row-major
      if (cfg.kind === 'gmflow' && sh === shapes[shapes.length - 2]) {
        for (let r = 0; r < fanIn; r++) w.fill(0, r * out + 2 * cfg.k!, (r + 1) * out); // zero logweight & logstd columns
      }
      return tf.tensor2d(w, [fanIn, out]);
    });
    model.setWeights(ws);
  });
  return model;
}

/** Check a (loaded) model against its config; `where` names the source in the Error. */
export function checkModelAgainstConfig(model: tf.LayersModel, cfg: MlpConfig, where = 'model'): void {
  const want = weightShapes(cfg);
  const got = model.weights.map((w) => w.shape);
  const fmt = (s: number[][]) => s.map((x) => `[${x}]`).join(' ');
  if (got.length !== want.length || got.some((s, i) => s.join() !== want[i].join())) {
    throw new Error(`${where}: weights do not match config (kind ${cfg.kind}); expected ${want.length} weights ${fmt(want)}, got ${got.length}: ${fmt(got as number[][])}`);
  }
}

export interface InitFromTeacherOptions {
  /** Std of the N(0, std^2) noise added to the replicated mean biases (default 0.05 for gmflow, 0 for dx). */
  noiseStd?: number;
  /** Bias of the logstd output (gmflow; default ln 0.05). */
  initLogstd?: number;
}

/**
 * π-Flow student init (WORKLOAD.md §4): trunk copied from the teacher; the teacher's output layer
 * replicated K (gmflow means) or N (dx) times, k-major; replicated biases += N(0, noiseStd^2) from `rng`;
 * gmflow logweight weights/biases zero, logstd weights zero and bias initLogstd. `cfg` is the student's.
 */
export function initStudentFromTeacher(
  student: tf.LayersModel,
  teacher: tf.LayersModel,
  cfg: MlpConfig,
  rng: Rng,
  opts: InitFromTeacherOptions = {},
): void {
  validateMlpConfig(cfg);
  if (cfg.kind === 'teacher') throw new Error("initStudentFromTeacher: student kind must be 'gmflow' or 'dx'");
  checkModelAgainstConfig(student, cfg, 'initStudentFromTeacher: student');
  checkModelAgainstConfig(teacher, { ...cfg, kind: 'teacher' }, 'initStudentFromTeacher: teacher');
  const reps = cfg.kind === 'gmflow' ? cfg.k! : cfg.n!;
  const noiseStd = opts.noiseStd ?? (cfg.kind === 'gmflow' ? 0.05 : 0);
  const initLogstd = opts.initLogstd ?? Math.log(0.05);
  const tw = teacher.getWeights();
  const nTrunk = 2 * cfg.depth;
  tf.tidy(() => {
    const [kT, bT] = [tw[nTrunk] as tf.Tensor2D, tw[nTrunk + 1] as tf.Tensor1D]; // [W, 2], [2]
    let kernel = tf.tile(kT, [1, reps]); // [W, 2*reps]: column 2k+c = teacher column c
    let bias = tf.tile(bT, [reps]); // [2*reps]
    if (noiseStd > 0) bias = tf.add(bias, tf.tensor1d(rng.normalArray(2 * reps, noiseStd)));
    if (cfg.kind === 'gmflow') {
      const K = cfg.k!;
      kernel = tf.concat([kernel, tf.zeros([cfg.width, K + 1])], 1); // [W, 3K+1]
      const tail = new Float32Array(K + 1);
      tail[K] = initLogstd;
      bias = tf.concat([bias, tf.tensor1d(tail)]); // [3K+1]
    }
    student.setWeights([...tw.slice(0, nTrunk), kernel, bias]);
  });
}

/** GMFlow head output [B, 3K+1] -> means [B, K, 2], logweights [B, K, 1] (log-softmax over K), logstds [B, 1, 1]. */
export function splitGmflowOutput(
  out: tf.Tensor2D,
  K: number,
): { means: tf.Tensor3D; logweights: tf.Tensor3D; logstds: tf.Tensor3D } {
  const [B, D] = out.shape;
  if (D !== 3 * K + 1) throw new Error(`splitGmflowOutput: expected [B, ${3 * K + 1}] for K = ${K}, got [${out.shape}]`);
  return tf.tidy(() => {
    const [m, lw, ls] = tf.split(out, [2 * K, K, 1], 1);
    return {
      means: tf.reshape(m, [B, K, 2]) as tf.Tensor3D,
      logweights: tf.reshape(tf.logSoftmax(lw), [B, K, 1]) as tf.Tensor3D,
      logstds: tf.reshape(ls, [B, 1, 1]) as tf.Tensor3D,
    };
  });
}

/** DX head output [B, 2N] -> denoising output (u-space) [B, N, 2]. */
export function splitDxOutput(out: tf.Tensor2D, N: number): tf.Tensor3D {
  const [B, D] = out.shape;
  if (D !== 2 * N) throw new Error(`splitDxOutput: expected [B, ${2 * N}] for N = ${N}, got [${out.shape}]`);
  return tf.reshape(out, [B, N, 2]);
}

/** A network with its config and the embedding wired in. */
export interface ToyNet {
  readonly cfg: MlpConfig;
  readonly model: tf.LayersModel;
  /** x: [B, 2], sigma: [B] (host) -> raw head output [B, outDim]. Differentiable wrt the model weights. */
  apply(x: tf.Tensor2D, sigma: Float64Array): tf.Tensor2D;
  dispose(): void;
}

export function toyNetFromModel(cfg: MlpConfig, model: tf.LayersModel): ToyNet {
  validateMlpConfig(cfg);
  checkModelAgainstConfig(model, cfg);
  return {
    cfg,
    model,
    apply: (x, sigma) => tf.tidy(() => model.apply(embed2d(x, sigma, cfg)) as tf.Tensor2D),
    dispose: () => model.dispose(),
  };
}

export function createToyNet(cfg: MlpConfig, rng: Rng): ToyNet {
  return toyNetFromModel(cfg, createMlp(cfg, rng));
}

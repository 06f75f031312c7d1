/**
 * The 2D networks (WORKLOAD.md §4): embedding (outside the model, see embedding.ts) ->
 * depth x Dense(width, swish == SiLU) -> Dense(outDim, linear), as a tfjs LayersModel so that
 * `model.save()` gives model.json + weights that the browser loads unchanged with `tf.loadLayersModel`.
 *
 * Heads (u-space, the toy layout of shared/reference/README.md): the teacher's 2 (u = eps - x0); a
 * student's as its policy family's registry entry says (engine/policies.ts: replicas·2 + logits + logstd):
 * - gmflow:   2K + K + 1 = means (column 2k+c = component k, channel c) | logweights | logstd
 * - dx:       2N (column 2n+c = grid point n, channel c)
 * - constant: 2 (one velocity, like the teacher)
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../engine/rng.js';
import { familySize, headWidth, POLICY_FAMILY_NAMES, policyFamily, validateFamilyConfig } from '../engine/families.js';
import { gmflowPointsOutput } from '../engine/gmflow.js';
import { dxOutput } from '../engine/dx.js';
import { embed2d, embedDims } from './embedding.js';
import { applyMlpFast, isPlainMlp } from './mlp-fast.js';
import { fusedTraining } from '../engine/fused.js';

export const MLP_KINDS = ['teacher', ...POLICY_FAMILY_NAMES] as const;
export type MlpKind = (typeof MLP_KINDS)[number];

export interface MlpConfig {
  kind: MlpKind;
  width: number;
  depth: number;
  /** the family's size parameter (registry: K for 'gmflow', N for 'dx') */
  k?: number;
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
  const size = cfg.kind === 'teacher' ? null : policyFamily(cfg.kind).size;
  if (size && !posInt(cfg[size.key])) throw new Error(`${where}: ${cfg.kind} needs a positive integer ${size.key}, got ${cfg[size.key]}`);
  if (cfg.dim !== undefined && cfg.dim !== 2) throw new Error(`${where}: dim must be 2, got ${cfg.dim}`);
  embedDims(cfg);
  return cfg;
}

/** Width of the head output. */
export function outDim(cfg: MlpConfig): number {
  return cfg.kind === 'teacher' ? 2 : headWidth(cfg.kind, familySize(policyFamily(cfg.kind), cfg), 2, 'points');
}

/** Expected weight shapes, in model.weights order: [kernel0, bias0, ..., headKernel, headBias]. */
export function weightShapes(cfg: MlpConfig): number[][] {
  const dims = [embedDims(cfg).embedDim, ...Array<number>(cfg.depth).fill(cfg.width), outDim(cfg)];
  return dims.slice(1).flatMap((o, i) => [[dims[i], o], [o]]);
}

export function paramCount(cfg: MlpConfig): number {
  return weightShapes(cfg).reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/** Build the model. Kernels Kaiming-normal (fan_in, gain √2) from `rng`, zero biases; the logit/logstd columns of a family's head zero. */
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
  // the head's columns past the velocity copies (a family's logits and logstd) start at zero
  const firstExtra = cfg.kind === 'teacher' ? Infinity : 2 * policyFamily(cfg.kind).head(familySize(policyFamily(cfg.kind), cfg)).replicas;
  tf.tidy(() => {
    const ws = shapes.map((sh) => {
      if (sh.length === 1) return tf.zeros(sh);
      const [fanIn, out] = sh;
      const w = rng.normalArray(fanIn * out, Math.sqrt(2 / fanIn)); // [fanIn, out] row-major
      if (firstExtra < out && sh === shapes[shapes.length - 2]) {
        for (let r = 0; r < fanIn; r++) w.fill(0, r * out + firstExtra, (r + 1) * out); // zero logweight & logstd columns
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
  /** Std of the N(0, std^2) noise added to the replicated biases (default: the family's, 0.05 for gmflow, 0 for dx). */
  noiseStd?: number;
  /** Bias of the logstd output (families with one, gmflow; default ln 0.05). */
  initLogstd?: number;
}

/**
 * π-Flow student init (WORKLOAD.md §4): trunk copied from the teacher; the teacher's output layer
 * replicated as many times as the family's head says (K gmflow means, N dx points, 1 constant velocity),
 * k-major; replicated biases += N(0, noiseStd^2) from `rng`; logit weights/biases zero, logstd weights
 * zero and bias initLogstd. `cfg` is the student's.
 */
export function initStudentFromTeacher(
  student: tf.LayersModel,
  teacher: tf.LayersModel,
  cfg: MlpConfig,
  rng: Rng,
  opts: InitFromTeacherOptions = {},
): void {
  validateMlpConfig(cfg);
  if (cfg.kind === 'teacher') throw new Error(`initStudentFromTeacher: student kind must be a policy family (${POLICY_FAMILY_NAMES.join(', ')})`);
  checkModelAgainstConfig(student, cfg, 'initStudentFromTeacher: student');
  checkModelAgainstConfig(teacher, { ...cfg, kind: 'teacher' }, 'initStudentFromTeacher: teacher');
  const family = validateFamilyConfig({ policy: cfg.kind, k: cfg.k, n: cfg.n });
  const head = family.head(familySize(family, cfg));
  const reps = head.replicas;
  const noiseStd = opts.noiseStd ?? family.initNoiseStd;
  const initLogstd = opts.initLogstd ?? Math.log(0.05);
  const tw = teacher.getWeights();
  const nTrunk = 2 * cfg.depth;
  tf.tidy(() => {
    const [kT, bT] = [tw[nTrunk] as tf.Tensor2D, tw[nTrunk + 1] as tf.Tensor1D]; // [W, 2], [2]
    let kernel = tf.tile(kT, [1, reps]); // [W, 2*reps]: column 2k+c = teacher column c
    let bias = tf.tile(bT, [reps]); // [2*reps]
    if (noiseStd > 0) bias = tf.add(bias, tf.tensor1d(rng.normalArray(2 * reps, noiseStd)));
    const extra = head.logits + (head.logstd ? 1 : 0);
    if (extra > 0) {
      kernel = tf.concat([kernel, tf.zeros([cfg.width, extra])], 1); // gmflow: [W, 3K+1]
      const tail = new Float32Array(extra);
      if (head.logstd) tail[extra - 1] = initLogstd;
      bias = tf.concat([bias, tf.tensor1d(tail)]); // gmflow: [3K+1]
    }
    student.setWeights([...tw.slice(0, nTrunk), kernel, bias]);
  });
}

/** GMFlow head output [B, 3K+1] -> means [B, K, 2], logweights [B, K, 1] (log-softmax over K), logstds [B, 1, 1]. */
export function splitGmflowOutput(
  out: tf.Tensor2D,
  K: number,
): { means: tf.Tensor3D; logweights: tf.Tensor3D; logstds: tf.Tensor3D } {
  const D = out.shape[1];
  if (D !== 3 * K + 1) throw new Error(`splitGmflowOutput: expected [B, ${3 * K + 1}] for K = ${K}, got [${out.shape}]`);
  return gmflowPointsOutput(out, K, 2) as { means: tf.Tensor3D; logweights: tf.Tensor3D; logstds: tf.Tensor3D };
}

/** DX head output [B, 2N] -> denoising output (u-space) [B, N, 2]. */
export function splitDxOutput(out: tf.Tensor2D, N: number): tf.Tensor3D {
  const D = out.shape[1];
  if (D !== 2 * N) throw new Error(`splitDxOutput: expected [B, ${2 * N}] for N = ${N}, got [${out.shape}]`);
  return dxOutput(out, N, 2) as tf.Tensor3D;
}

/** A network with its config and the embedding wired in. */
export interface ToyNet {
  readonly cfg: MlpConfig;
  readonly model: tf.LayersModel;
  /** x: [B, 2], sigma: [B] (host) -> raw head output [B, outDim]. Differentiable wrt the model weights. */
  apply(x: tf.Tensor2D, sigma: Float64Array): tf.Tensor2D;
  /** The same as `apply` for an x that does not depend on what is differentiated: no gradient is computed for it. */
  applyConstant(x: tf.Tensor2D, sigma: Float64Array): tf.Tensor2D;
  dispose(): void;
}

export function toyNetFromModel(cfg: MlpConfig, model: tf.LayersModel): ToyNet {
  validateMlpConfig(cfg);
  checkModelAgainstConfig(model, cfg);
  // fused training: createMlp's layers without tf.layers (mlp-fast.ts: the same values, less work)
  const plain = isPlainMlp(model);
  const run = (x: tf.Tensor2D, sigma: Float64Array, constantInput: boolean) =>
    tf.tidy(() => {
      const e = embed2d(x, sigma, cfg);
      return plain && fusedTraining() ? applyMlpFast(model, e, constantInput) : (model.apply(e) as tf.Tensor2D);
    });
  return {
    cfg,
    model,
    apply: (x, sigma) => run(x, sigma, false),
    applyConstant: (x, sigma) => run(x, sigma, true),
    dispose: () => model.dispose(),
  };
}

export function createToyNet(cfg: MlpConfig, rng: Rng): ToyNet {
  return toyNetFromModel(cfg, createMlp(cfg, rng));
}

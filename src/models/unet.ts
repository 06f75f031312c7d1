/**
 * The tiny image networks (PAPER.md's MNIST recipe, sizes configurable): a patch-2 U-Net as a tfjs
 * LayersModel (functional API), so that `model.save()` gives model.json + weights that the browser
 * loads with `tf.loadLayersModel` (after importing this module, which registers the custom layers).
 *
 * Layout. The engine's tensors are NCHW ([B, C, H, W], reference image layout). tfjs convolutions are
 * channels-last, so the conversion happens at the model boundary inside `ImageNet.apply`, together with
 * the patching: x [B, C, 28, 28] → space-to-depth [B, 14, 14, 4C] (channel c·4 + 2·dy + dx) → model →
 * [B, 14, 14, 4J] → depth-to-space → [B, J, 28, 28] (NCHW again). The model itself sees 14×14 patches.
 *
 * Inputs: `x` [14, 14, 4C] and `t` [timeDim], the host time embedding of t = 1000σ (embedding.ts).
 * Trunk: temb = Dense(emb, SiLU) → Dense(emb); conv3×3 → base; ResBlock(base) (the skip);
 *   stride-2 conv3×3 → mid at 7×7; 2 × ResBlock(mid); 1×1 conv → 4·base, depth-to-space → 14×14×base;
 *   concat skip → ResBlock(2·base → base); GroupNorm, SiLU; head conv3×3 → 4J.
 * ResBlock: GN, SiLU, conv3×3, + Dense(SiLU(temb)) per channel, GN, SiLU, conv3×3 (zero init), + skip
 * (1×1 conv when the width changes). GroupNorm is a custom layer (not in tfjs-layers), registered for
 * serialization as `PiflowGroupNorm`.
 * Heads (J head channels per pixel, u-space):
 * - teacher: C
 * - gmflow: K·C means (channel k·C + c) then K logits, plus a second output [1]: the log-std, from a
 *   small MLP on the (gradient-free) sinusoidal time input
 * - dx: N·C (channel n·C + c)
 * - constant: C (one velocity, like the teacher)
 * (a student's head is its policy family's registry entry, engine/policies.ts: replicas·C + logits,
 * and the log-std output when the family has one)
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../engine/rng.js';
import { familySize, headWidth, POLICY_FAMILY_NAMES, policyFamily, type HeadLayout } from '../engine/families.js';
import { gmflowImageOutput } from '../engine/gmflow.js';
import { dxOutput } from '../engine/dx.js';
import { timeEmbedding } from './embedding.js';

export const UNET_KINDS = ['teacher', ...POLICY_FAMILY_NAMES] as const;
export type UNetKind = (typeof UNET_KINDS)[number];

export interface UNetConfig {
  arch: 'unet';
  kind: UNetKind;
  /** image channels C (1 for MNIST) */
  channels: number;
  /** image side (even) */
  size: number;
  /** width at 14×14 */
  base: number;
  /** width at 7×7 */
  mid: number;
  /** GroupNorm groups (divides base and mid) */
  groups: number;
  /** sinusoidal time input width */
  timeDim: number;
  /** time embedding width */
  embDim: number;
  k?: number;
  n?: number;
}

export const DEFAULT_UNET: UNetConfig = { arch: 'unet', kind: 'teacher', channels: 1, size: 28, base: 64, mid: 96, groups: 8, timeDim: 64, embDim: 128 };
/** A smaller trunk for quick runs and tests. */
export const SMALL_UNET: UNetConfig = { ...DEFAULT_UNET, base: 32, mid: 48, embDim: 64 };
/** A very small one for tests and smoke runs. */
export const TINY_UNET: UNetConfig = { ...DEFAULT_UNET, base: 8, mid: 8, groups: 4, embDim: 16, timeDim: 16 };

const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

export function validateUNetConfig(cfg: UNetConfig, where = 'UNetConfig'): UNetConfig {
  if (cfg === null || typeof cfg !== 'object') throw new Error(`${where}: config must be an object`);
  if (cfg.arch !== 'unet') throw new Error(`${where}: arch must be 'unet', got '${cfg.arch}'`);
  if (!(UNET_KINDS as readonly string[]).includes(cfg.kind)) throw new Error(`${where}: kind must be one of ${UNET_KINDS.join(', ')}, got '${cfg.kind}'`);
  for (const key of ['channels', 'size', 'base', 'mid', 'groups', 'timeDim', 'embDim'] as const) {
    if (!posInt(cfg[key])) throw new Error(`${where}: ${key} must be a positive integer, got ${cfg[key]}`);
  }
  if (cfg.size % 4 !== 0) throw new Error(`${where}: size must be a multiple of 4, got ${cfg.size}`);
  if (cfg.base % cfg.groups !== 0 || cfg.mid % cfg.groups !== 0) throw new Error(`${where}: groups ${cfg.groups} must divide base ${cfg.base} and mid ${cfg.mid}`);
  if (cfg.timeDim % 2 !== 0 || cfg.timeDim < 4) throw new Error(`${where}: timeDim must be an even integer >= 4, got ${cfg.timeDim}`);
  const size = cfg.kind === 'teacher' ? null : policyFamily(cfg.kind).size;
  if (size && !posInt(cfg[size.key])) throw new Error(`${where}: ${cfg.kind} needs a positive integer ${size.key}, got ${cfg[size.key]}`);
  return cfg;
}

/** The student's head layout from the registry (a teacher: one copy of the velocity head). */
function headLayout(cfg: UNetConfig): HeadLayout {
  return cfg.kind === 'teacher' ? { replicas: 1, logits: 0, logstd: false } : policyFamily(cfg.kind).head(familySize(policyFamily(cfg.kind), cfg));
}

/** Head channels per pixel J. */
export function headChannels(cfg: UNetConfig): number {
  const C = cfg.channels;
  return cfg.kind === 'teacher' ? C : headWidth(cfg.kind, familySize(policyFamily(cfg.kind), cfg), C, 'images');
}

// ---------------------------------------------------------------- custom layers

/** GroupNorm over (H, W, C/G) per group, NHWC, learned per-channel scale and shift. */
export class GroupNorm extends tf.layers.Layer {
  static className = 'PiflowGroupNorm';
  readonly groups: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  constructor(cfg: { groups: number; epsilon?: number; name?: string }) {
    super(cfg);
    this.groups = cfg.groups;
    this.epsilon = cfg.epsilon ?? 1e-5;
  }
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = inputShape as tf.Shape;
    const C = s[s.length - 1] as number;
    if (C % this.groups !== 0) throw new Error(`GroupNorm: ${this.groups} groups do not divide ${C} channels`);
    this.gamma = this.addWeight('gamma', [C], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [C], 'float32', tf.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [B, H, W, C] = x.shape;
      const g = x.reshape([B, H, W, this.groups, C / this.groups]);
      const { mean, variance } = tf.moments(g, [1, 2, 4], true);
      const n = g.sub(mean).mul(tf.rsqrt(variance.add(this.epsilon))).reshape([B, H, W, C]);
      return n.mul(this.gamma.read()).add(this.beta.read());
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(GroupNorm);

/** [x [B,H,W,C], e [B,C]] → x + e per channel. */
export class AddChannelBias extends tf.layers.Layer {
  static className = 'PiflowAddChannelBias';
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return (inputShape as tf.Shape[])[0];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, e] = inputs as tf.Tensor[];
      return x.add(e.reshape([e.shape[0], 1, 1, e.shape[1] as number]));
    });
  }
}
tf.serialization.registerClass(AddChannelBias);

/** Depth-to-space by 2 (NHWC), channel (c·4 + 2·dy + dx), as reshape + transpose (differentiable everywhere). */
export class DepthToSpace2 extends tf.layers.Layer {
  static className = 'PiflowDepthToSpace2';
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const [B, H, W, C] = inputShape as tf.Shape;
    return [B, (H as number) * 2, (W as number) * 2, (C as number) / 4];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [B, H, W, C] = x.shape;
      return x.reshape([B, H, W, C / 4, 2, 2]).transpose([0, 1, 4, 2, 5, 3]).reshape([B, 2 * H, 2 * W, C / 4]);
    });
  }
}
tf.serialization.registerClass(DepthToSpace2);

// ---------------------------------------------------------------- patching (NCHW ⇄ patch NHWC)

/** x [B, C, H, W] → [B, H/2, W/2, 4C], channel c·4 + 2·dy + dx. */
export function patchify(x: tf.Tensor): tf.Tensor4D {
  const [B, C, H, W] = x.shape;
  return tf.tidy(() => x.reshape([B, C, H / 2, 2, W / 2, 2]).transpose([0, 2, 4, 1, 3, 5]).reshape([B, H / 2, W / 2, 4 * C]));
}

/** y [B, h, w, 4J] → [B, J, 2h, 2w] (inverse of patchify). */
export function unpatchify(y: tf.Tensor): tf.Tensor4D {
  const [B, h, w, C4] = y.shape;
  const J = C4 / 4;
  return tf.tidy(() => y.reshape([B, h, w, J, 2, 2]).transpose([0, 3, 1, 4, 2, 5]).reshape([B, J, 2 * h, 2 * w]));
}

// ---------------------------------------------------------------- the model

function resBlock(x: tf.SymbolicTensor, temb: tf.SymbolicTensor, cout: number, groups: number, name: string): tf.SymbolicTensor {
  const cin = x.shape[3] as number;
  let h = new GroupNorm({ groups, name: `${name}_gn1` }).apply(x) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'swish', name: `${name}_act1` }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: cout, kernelSize: 3, padding: 'same', name: `${name}_conv1` }).apply(h) as tf.SymbolicTensor;
  const e = tf.layers.dense({ units: cout, name: `${name}_temb` }).apply(temb) as tf.SymbolicTensor;
  h = new AddChannelBias({ name: `${name}_addt` }).apply([h, e]) as tf.SymbolicTensor;
  h = new GroupNorm({ groups: gcd(groups, cout), name: `${name}_gn2` }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'swish', name: `${name}_act2` }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: cout, kernelSize: 3, padding: 'same', name: `${name}_conv2` }).apply(h) as tf.SymbolicTensor;
  const skip = cin === cout ? x : (tf.layers.conv2d({ filters: cout, kernelSize: 1, name: `${name}_skip` }).apply(x) as tf.SymbolicTensor);
  return tf.layers.add({ name: `${name}_out` }).apply([h, skip]) as tf.SymbolicTensor;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Builds the model with tfjs default initialisers (replace them with `initUNetWeights`). */
export function buildUNetModel(cfg: UNetConfig): tf.LayersModel {
  validateUNetConfig(cfg);
  const h = cfg.size / 2;
  const C = cfg.channels;
  const x = tf.input({ shape: [h, h, 4 * C], name: 'x' });
  const t = tf.input({ shape: [cfg.timeDim], name: 't' });
  let temb = tf.layers.dense({ units: cfg.embDim, activation: 'swish', name: 'temb1' }).apply(t) as tf.SymbolicTensor;
  temb = tf.layers.dense({ units: cfg.embDim, name: 'temb2' }).apply(temb) as tf.SymbolicTensor;
  const tact = tf.layers.activation({ activation: 'swish', name: 'temb_act' }).apply(temb) as tf.SymbolicTensor;
  let a = tf.layers.conv2d({ filters: cfg.base, kernelSize: 3, padding: 'same', name: 'conv_in' }).apply(x) as tf.SymbolicTensor;
  const skip = resBlock(a, tact, cfg.base, cfg.groups, 'down');
  let d = tf.layers.conv2d({ filters: cfg.mid, kernelSize: 3, strides: 2, padding: 'same', name: 'downsample' }).apply(skip) as tf.SymbolicTensor;
  d = resBlock(d, tact, cfg.mid, cfg.groups, 'mid1');
  d = resBlock(d, tact, cfg.mid, cfg.groups, 'mid2');
  let u = tf.layers.conv2d({ filters: 4 * cfg.base, kernelSize: 1, name: 'up_conv' }).apply(d) as tf.SymbolicTensor;
  u = new DepthToSpace2({ name: 'up_d2s' }).apply(u) as tf.SymbolicTensor;
  a = tf.layers.concatenate({ axis: -1, name: 'up_cat' }).apply([u, skip]) as tf.SymbolicTensor;
  a = resBlock(a, tact, cfg.base, cfg.groups, 'up');
  a = new GroupNorm({ groups: cfg.groups, name: 'out_gn' }).apply(a) as tf.SymbolicTensor;
  a = tf.layers.activation({ activation: 'swish', name: 'out_act' }).apply(a) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ filters: 4 * headChannels(cfg), kernelSize: 3, padding: 'same', name: 'head' }).apply(a) as tf.SymbolicTensor;
  const outputs = [out];
  if (headLayout(cfg).logstd) {
    const l1 = tf.layers.dense({ units: 64, activation: 'swish', name: 'logstd1' }).apply(t) as tf.SymbolicTensor;
    outputs.push(tf.layers.dense({ units: 1, name: 'logstd2' }).apply(l1) as tf.SymbolicTensor);
  }
  return tf.model({ inputs: [x, t], outputs, name: `unet_${cfg.kind}` });
}

/** Kaiming-normal (fan_in, gain √2) kernels from `rng`, zero biases, GN γ = 1 / β = 0; each block's conv2 zero; a family's logit channels and log-std output zero, log-std bias ln 0.05. */
export function initUNetWeights(model: tf.LayersModel, cfg: UNetConfig, rng: Rng, initLogstd = Math.log(0.05)): void {
  const head = headLayout(cfg);
  tf.tidy(() => {
    for (const layer of model.layers) {
      const ws = layer.getWeights();
      if (ws.length === 0) continue;
      const name = layer.name;
      const next = ws.map((w, i) => {
        const shape = w.shape;
        if (layer instanceof GroupNorm) return i === 0 ? tf.onesLike(w) : tf.zerosLike(w);
        if (shape.length === 1) {
          if (name === 'logstd2') return tf.fill(shape, initLogstd);
          return tf.zerosLike(w);
        }
        if (name.endsWith('_conv2') || name === 'logstd2') return tf.zerosLike(w);
        const fanIn = shape.slice(0, -1).reduce((p, q) => p * q, 1);
        const vals = rng.normalArray(w.size, Math.sqrt(2 / fanIn));
        if (name === 'head' && head.logits > 0) {
          const out = shape[shape.length - 1];
          const firstLogit = 4 * head.replicas * cfg.channels;
          for (let r = 0; r < w.size / out; r++) vals.fill(0, r * out + firstLogit, (r + 1) * out);
        }
        return tf.tensor(vals, shape);
      });
      layer.setWeights(next);
    }
  });
}

export function unetParamCount(model: tf.LayersModel): number {
  return model.weights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
}

/** A (loaded) model against its config: same weights as a freshly built one. */
export function checkUNetAgainstConfig(model: tf.LayersModel, cfg: UNetConfig, where = 'model'): void {
  const ref = buildUNetModel(cfg);
  try {
    const want = ref.weights.map((w) => w.shape.join('x'));
    const got = model.weights.map((w) => w.shape.join('x'));
    if (want.length !== got.length || want.some((s, i) => s !== got[i])) {
      throw new Error(`${where}: weights do not match config (kind ${cfg.kind}); expected ${want.length} weights, got ${got.length} (first difference at ${want.findIndex((s, i) => s !== got[i])})`);
    }
  } finally {
    ref.dispose();
  }
}

// ---------------------------------------------------------------- ImageNet

export interface ImageNetOutput {
  /** [B, J, H, W] (NCHW) */
  out: tf.Tensor4D;
  /** gmflow: [B, 1] */
  logstd?: tf.Tensor2D;
}

export interface ImageNet {
  readonly cfg: UNetConfig;
  readonly model: tf.LayersModel;
  /** x: [B, C, H, W] (NCHW), sigma: [B] (host) → raw outputs. Differentiable wrt the model weights. */
  apply(x: tf.Tensor4D, sigma: Float64Array): ImageNetOutput;
  dispose(): void;
}

export function imageNetFromModel(cfg: UNetConfig, model: tf.LayersModel): ImageNet {
  validateUNetConfig(cfg);
  checkUNetAgainstConfig(model, cfg);
  return {
    cfg,
    model,
    apply: (x, sigma) => {
      const [B, C, H, W] = x.shape;
      if (C !== cfg.channels || H !== cfg.size || W !== cfg.size) throw new Error(`ImageNet: x must be [B, ${cfg.channels}, ${cfg.size}, ${cfg.size}], got [${x.shape}]`);
      if (sigma.length !== B) throw new Error(`ImageNet: sigma has length ${sigma.length}, expected B = ${B}`);
      return tf.tidy(() => {
        const temb = tf.tensor2d(timeEmbedding(sigma, cfg.timeDim), [B, cfg.timeDim]);
        const res = model.apply([patchify(x), temb]) as tf.Tensor | tf.Tensor[];
        const outs = Array.isArray(res) ? res : [res];
        const out = unpatchify(outs[0]);
        return outs.length > 1 ? { out, logstd: outs[1] as tf.Tensor2D } : { out };
      }) as ImageNetOutput;
    },
    dispose: () => model.dispose(),
  };
}

export function createImageNet(cfg: UNetConfig, rng: Rng): ImageNet {
  const model = buildUNetModel(cfg);
  initUNetWeights(model, cfg, rng);
  return imageNetFromModel(cfg, model);
}

export function disposeImageOutput(o: ImageNetOutput): void {
  o.out.dispose();
  o.logstd?.dispose();
}

/** Teacher output → u [B, C, H, W] (already that layout). */
export function splitImageTeacherOutput(o: ImageNetOutput): tf.Tensor4D {
  return o.out;
}

/** GMFlow outputs → means [B, K, C, H, W], logweights [B, K, 1, H, W] (log-softmax over K), logstds [B, 1, 1, 1, 1]. */
export function splitImageGmflowOutput(o: ImageNetOutput, K: number, C: number): { means: tf.Tensor; logweights: tf.Tensor; logstds: tf.Tensor } {
  const J = o.out.shape[1];
  if (J !== K * (C + 1) || !o.logstd) throw new Error(`splitImageGmflowOutput: expected [B, ${K * (C + 1)}, H, W] and a log-std for K = ${K}, C = ${C}, got [${o.out.shape}]`);
  return gmflowImageOutput(o.out, o.logstd, K, C);
}

/** DX output → [B, N, C, H, W]. */
export function splitImageDxOutput(o: ImageNetOutput, N: number, C: number): tf.Tensor {
  const J = o.out.shape[1];
  if (J !== N * C) throw new Error(`splitImageDxOutput: expected [B, ${N * C}, H, W] for N = ${N}, got [${o.out.shape}]`);
  return dxOutput(o.out, N, C);
}

export interface ImageInitFromTeacherOptions {
  /** std of the noise on each copy's head bias (default: the family's, 0.05 for gmflow, 0 for dx) */
  noiseStd?: number;
  /** log-std bias (families with a log-std, gmflow; default ln 0.05) */
  initLogstd?: number;
}

/**
 * π-Flow student init (PAPER.md recipe): every trunk layer copied from the teacher; the head conv
 * replicated as the family's head says (K gmflow means, N dx points, 1 constant velocity), with
 * N(0, noiseStd²) on each copy's bias; logit channels zero; a log-std MLP freshly initialised with its
 * output kernel zero and bias initLogstd.
 */
export function initImageStudentFromTeacher(student: ImageNet, teacher: ImageNet, rng: Rng, opts: ImageInitFromTeacherOptions = {}): void {
  const cfg = student.cfg;
  if (cfg.kind === 'teacher') throw new Error(`initImageStudentFromTeacher: student kind must be a policy family (${POLICY_FAMILY_NAMES.join(', ')})`);
  if (teacher.cfg.kind !== 'teacher') throw new Error('initImageStudentFromTeacher: the teacher must be a teacher network');
  checkUNetAgainstConfig(teacher.model, { ...cfg, kind: 'teacher' }, 'initImageStudentFromTeacher: teacher');
  const family = policyFamily(cfg.kind);
  const head = headLayout(cfg);
  const reps = head.replicas;
  const noiseStd = opts.noiseStd ?? family.initNoiseStd;
  const C = cfg.channels;
  tf.tidy(() => {
    for (const layer of student.model.layers) {
      if (layer.getWeights().length === 0) continue;
      if (layer.name === 'logstd1' || layer.name === 'logstd2') continue;
      const src = teacher.model.getLayer(layer.name).getWeights();
      if (layer.name !== 'head') {
        layer.setWeights(src);
        continue;
      }
      const [kT, bT] = src; // [3, 3, Cin, 4C], [4C]
      let kernel = tf.tile(kT, [1, 1, 1, reps]);
      let bias = tf.tile(bT, [reps]);
      if (noiseStd > 0) bias = bias.add(tf.tensor1d(rng.normalArray(4 * C * reps, noiseStd)));
      if (head.logits > 0) {
        const [kh, kw, cin] = kT.shape;
        kernel = tf.concat([kernel, tf.zeros([kh, kw, cin, 4 * head.logits])], 3);
        bias = tf.concat([bias, tf.zeros([4 * head.logits])]);
      }
      layer.setWeights([kernel, bias]);
    }
    if (head.logstd) {
      const l1 = student.model.getLayer('logstd1');
      const [w1, b1] = l1.getWeights();
      l1.setWeights([tf.tensor(rng.normalArray(w1.size, Math.sqrt(2 / w1.shape[0])), w1.shape), tf.zerosLike(b1)]);
      const l2 = student.model.getLayer('logstd2');
      const [w2] = l2.getWeights();
      l2.setWeights([tf.zerosLike(w2), tf.fill([1], opts.initLogstd ?? Math.log(0.05))]);
    }
  });
}

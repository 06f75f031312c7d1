/**
 * The small MNIST classifier of the metrics (PAPER.md): conv3×3(32, ReLU) → max-pool 2 → conv3×3(32, ReLU)
 * → max-pool 2 → flatten → Dense(64, ReLU) = the "features" layer (penultimate, 64-d) → Dense(10).
 * 110,634 parameters. Input NCHW [B, 1, 28, 28] in [-1, 1] (reshaped to NHWC, a free reshape for C = 1).
 * Artifacts: the usual model.json + weights.bin + config.json with config {arch: 'mnist-classifier'}.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../engine/rng.js';
import { layersModelFromArtifacts } from './artifacts.js';

export const CLASSIFIER_ARCH = 'mnist-classifier';
export const FEATURE_DIM = 64;

export interface Classifier {
  readonly model: tf.LayersModel;
  /** x [B, 1, 28, 28] → logits [B, 10] and features [B, 64] */
  apply(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D };
  dispose(): void;
}

export function buildClassifierModel(): tf.LayersModel {
  const x = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }).apply(x) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tf.SymbolicTensor;
  const f = tf.layers.dense({ units: FEATURE_DIM, activation: 'relu', name: 'features' }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, name: 'logits' }).apply(f) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: [logits, f], name: 'mnist_classifier' });
}

/** Kaiming-normal kernels from `rng`, zero biases. */
export function createClassifier(rng: Rng): Classifier {
  const model = buildClassifierModel();
  tf.tidy(() => {
    model.setWeights(model.getWeights().map((w) => {
      if (w.shape.length === 1) return tf.zerosLike(w);
      const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      return tf.tensor(rng.normalArray(w.size, Math.sqrt(2 / fanIn)), w.shape);
    }));
  });
  return classifierFromModel(model);
}

export function classifierFromModel(model: tf.LayersModel): Classifier {
  return {
    model,
    apply: (x) => tf.tidy(() => {
      const [B, C, H, W] = x.shape;
      if (C !== 1 || H !== 28 || W !== 28) throw new Error(`classifier: x must be [B, 1, 28, 28], got [${x.shape}]`);
      const [logits, features] = model.apply(x.reshape([B, H, W, 1])) as tf.Tensor[];
      return { logits: logits as tf.Tensor2D, features: features as tf.Tensor2D };
    }),
    dispose: () => model.dispose(),
  };
}

export async function classifierFromArtifacts(
  art: { modelJson: unknown; weights: ArrayBuffer; file: unknown },
  where: { config: string; model: string; weights: string },
): Promise<Classifier & { meta: Record<string, unknown> }> {
  const file = art.file as { config?: { arch?: string }; meta?: Record<string, unknown> };
  if (file?.config?.arch !== CLASSIFIER_ARCH) throw new Error(`${where.config}: not an MNIST classifier (config.arch must be '${CLASSIFIER_ARCH}')`);
  const model = await layersModelFromArtifacts(art, where);
  const ref = buildClassifierModel();
  const ok = ref.weights.length === model.weights.length && ref.weights.every((w, i) => w.shape.join() === model.weights[i].shape.join());
  ref.dispose();
  if (!ok) {
    model.dispose();
    throw new Error(`${where.model}: weights do not match the MNIST classifier architecture`);
  }
  return { ...classifierFromModel(model), meta: file.meta ?? {} };
}

/** Artifacts of a classifier (for writeArtifactsDir). */
export async function classifierToArtifacts(c: Classifier, meta: Record<string, unknown> = {}) {
  let captured: { modelJson: tf.io.ModelJSON; weights: ArrayBuffer; file: unknown } | null = null;
  await c.model.save(tf.io.withSaveHandler(async (art) => {
    captured = {
      modelJson: {
        modelTopology: art.modelTopology!, format: art.format, generatedBy: art.generatedBy, convertedBy: art.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs ?? [] }],
      },
      weights: art.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(art.weightData),
      file: { config: { arch: CLASSIFIER_ARCH }, meta },
    };
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(art) };
  }));
  return captured!;
}

/** Logits' argmax and features for many images [n, 1, 28, 28] (host), in chunks. */
export async function classifyImages(c: Classifier, images: Float32Array, n: number, chunk = 500): Promise<{ pred: Uint8Array; features: Float32Array }> {
  const pred = new Uint8Array(n);
  const features = new Float32Array(n * FEATURE_DIM);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const x = tf.tensor4d(images.subarray(s * 784, (s + m) * 784), [m, 1, 28, 28]);
    const { logits, features: f } = c.apply(x);
    const am = tf.argMax(logits, 1);
    pred.set(await am.data() as Int32Array, s);
    features.set(await f.data() as Float32Array, s * FEATURE_DIM);
    tf.dispose([x, logits, f, am]);
  }
  return { pred, features };
}

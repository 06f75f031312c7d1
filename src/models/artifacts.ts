/**
 * ToyNet ⇄ tfjs artifacts, browser-safe (no fs): `model.json` (tfjs layers format) + the weights'
 * bytes + `config.json` ({config, meta}). Node writes them as files (io-node.ts); the browser keeps
 * them in IndexedDB or a downloaded file. Every check names `where` the data came from.
 */
import * as tf from '@tensorflow/tfjs';
import { checkModelAgainstConfig, toyNetFromModel, validateMlpConfig, type MlpConfig, type ToyNet } from './mlp.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const CONFIG_JSON = 'config.json';

export interface ToyNetFile {
  config: MlpConfig;
  meta?: Record<string, unknown>;
}

export interface ToyNetArtifacts {
  modelJson: tf.io.ModelJSON;
  weights: ArrayBuffer;
  file: ToyNetFile;
}

export type LoadedToyNet = ToyNet & { meta: Record<string, unknown> };

/**
 * The net's artifacts. The weights are cloned synchronously first (a snapshot that shares the data),
 * then read back: a training step that replaces the variables meanwhile (an optimizer update while a
 * GPU readback is in flight) cannot pull the data from under the read.
 */
export async function toyNetToArtifacts(net: ToyNet, meta: Record<string, unknown> = {}): Promise<ToyNetArtifacts> {
  const vars = net.model.weights;
  const snapshot = vars.map((w) => w.read().clone());
  let datas: ArrayLike<number>[];
  try {
    datas = await Promise.all(snapshot.map((t) => t.data()));
  } finally {
    snapshot.forEach((t) => t.dispose());
  }
  const total = datas.reduce((a, d) => a + d.length, 0);
  const flat = new Float32Array(total);
  let off = 0;
  for (const d of datas) {
    flat.set(d, off);
    off += d.length;
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = vars.map((w) => ({ name: w.originalName, shape: w.shape.slice() as number[], dtype: 'float32' }));
  return {
    modelJson: {
      modelTopology: net.model.toJSON(null, false) as object,
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: null,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
    },
    weights: flat.buffer,
    file: { config: net.cfg, meta },
  };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Validates artifacts and builds the net. `where` names the source in errors (files or a name). */
export async function toyNetFromArtifacts(
  art: { modelJson: unknown; weights: ArrayBuffer; file: unknown },
  where: { config: string; model: string; weights: string },
  expectKind?: MlpConfig['kind'],
): Promise<LoadedToyNet> {
  const file = art.file as ToyNetFile;
  if (file === null || typeof file !== 'object' || typeof file.config !== 'object' || file.config === null) {
    throw new Error(`${where.config}: expected {"config": {...}, "meta": {...}}`);
  }
  const cfg = validateMlpConfig(file.config, where.config);
  if (expectKind !== undefined && cfg.kind !== expectKind) {
    throw new Error(`${where.config}: expected a '${expectKind}' network, found kind '${cfg.kind}'`);
  }
  const specs = checkArtifactsManifest(art, where);
  const mj = art.modelJson as tf.io.ModelJSON;
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData: art.weights }));
  } catch (e) {
    throw new Error(`${where.model}: cannot build the model (${(e as Error).message})`);
  }
  try {
    checkModelAgainstConfig(model, cfg, `${where.model} vs ${where.config}`);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { ...toyNetFromModel(cfg, model), meta: file.meta ?? {} };
}

/** The manifest and byte-length checks shared by the 2D and image nets; returns the weight specs. */
export function checkArtifactsManifest(
  art: { modelJson: unknown; weights: ArrayBuffer },
  where: { model: string; weights: string },
): tf.io.WeightsManifestEntry[] {
  const mj = art.modelJson as tf.io.ModelJSON;
  if (mj === null || typeof mj !== 'object' || typeof mj.modelTopology !== 'object' || !Array.isArray(mj.weightsManifest)) {
    throw new Error(`${where.model}: not a tfjs layers model (needs modelTopology and weightsManifest)`);
  }
  const groups = mj.weightsManifest;
  if (groups.length !== 1 || groups[0].paths?.length !== 1 || groups[0].paths[0] !== WEIGHTS_BIN || !Array.isArray(groups[0].weights)) {
    throw new Error(`${where.model}: expected one weights group with paths ["${WEIGHTS_BIN}"]`);
  }
  const specs = groups[0].weights;
  let bytes = 0;
  for (const s of specs) {
    if (!Array.isArray(s.shape) || !(s.dtype in DTYPE_BYTES) || s.quantization) {
      throw new Error(`${where.model}: unsupported weight spec ${JSON.stringify(s)}`);
    }
    bytes += s.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[s.dtype];
  }
  if (!(art.weights instanceof ArrayBuffer) || art.weights.byteLength !== bytes) {
    const got = art.weights instanceof ArrayBuffer ? `${art.weights.byteLength} bytes` : 'no bytes';
    throw new Error(`${where.weights}: ${got}, expected ${bytes} from the manifest in ${where.model}`);
  }
  return specs;
}

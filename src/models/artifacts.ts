/**
 * ToyNet ⇄ tfjs artifacts, browser-safe (no fs): `model.json` (tfjs layers format) + the weights'
 * bytes + `config.json` ({config, meta}). Node writes them as files (io-node.ts); the browser keeps
 * them in IndexedDB or a downloaded file. Every check names `where` the data came from.
 */
import * as tf from '@tensorflow/tfjs';
import type { NetArtifacts } from './io-handlers.js';
import { checkModelAgainstConfig, toyNetFromModel, validateMlpConfig, type MlpConfig, type ToyNet } from './mlp.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const CONFIG_JSON = 'config.json';

/** config.json: a net's config and what made it */
export interface NetFile<C> {
  config: C;
  meta?: Record<string, unknown>;
}

export type ToyNetFile = NetFile<MlpConfig>;
export type ToyNetArtifacts = NetArtifacts<ToyNetFile>;

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

type RawArtifacts = { modelJson: unknown; weights: ArrayBuffer; file: unknown };
type Where = { config: string; model: string; weights: string };

/** Checks the manifest and the weights' length, then builds the tfjs model (errors name `where`). */
export async function layersModelFromArtifacts(art: { modelJson: unknown; weights: ArrayBuffer }, where: { model: string; weights: string }): Promise<tf.LayersModel> {
  const specs = checkArtifactsManifest(art, where);
  const mj = art.modelJson as tf.io.ModelJSON;
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData: art.weights }));
  } catch (e) {
    throw new Error(`${where.model}: cannot build the model (${(e as Error).message})`);
  }
}

/**
 * Any of our nets from artifacts: the {config, meta} file, its config validated by `validate` (of the
 * expected kind), the model built and checked against the config by `check`, then wrapped by `build`.
 * On any error nothing stays allocated.
 */
export async function netFromArtifacts<C extends { kind: string }, N>(
  art: RawArtifacts,
  where: Where,
  parts: { validate: (cfg: C, where: string) => C; check: (model: tf.LayersModel, cfg: C, label: string) => void; build: (cfg: C, model: tf.LayersModel) => N },
  expectKind?: C['kind'],
): Promise<N & { meta: Record<string, unknown> }> {
  const file = art.file as { config?: unknown; meta?: Record<string, unknown> } | null;
  if (file === null || typeof file !== 'object' || typeof file.config !== 'object' || file.config === null) {
    throw new Error(`${where.config}: expected {"config": {...}, "meta": {...}}`);
  }
  const cfg = parts.validate(file.config as C, where.config);
  if (expectKind !== undefined && cfg.kind !== expectKind) {
    throw new Error(`${where.config}: expected a '${expectKind}' network, found kind '${cfg.kind}'`);
  }
  const model = await layersModelFromArtifacts(art, where);
  try {
    parts.check(model, cfg, `${where.model} vs ${where.config}`);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { ...parts.build(cfg, model), meta: file.meta ?? {} };
}

/** Validates artifacts and builds the net. `where` names the source in errors (files or a name). */
export function toyNetFromArtifacts(art: RawArtifacts, where: Where, expectKind?: MlpConfig['kind']): Promise<LoadedToyNet> {
  return netFromArtifacts(art, where, { validate: validateMlpConfig, check: checkModelAgainstConfig, build: toyNetFromModel }, expectKind);
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
  // a model with NaN or infinite weights only ever produces garbage: refuse it here, naming the weight
  let off = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.dtype === 'float32' && off % 4 === 0) {
      const v = new Float32Array(art.weights, off, n);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(v[i])) throw new Error(`${where.weights}: weight '${s.name}' holds a non-finite value (${v[i]}) at index ${i}; the model is broken`);
      }
    }
    off += n * DTYPE_BYTES[s.dtype];
  }
  return specs;
}

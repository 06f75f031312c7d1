/**
 * Save/load of a ToyNet in Node: `model.json` + `weights.bin` (standard tfjs layers format, loadable
 * unchanged in the browser with `tf.loadLayersModel(url + '/model.json')`) + `config.json`
 * (`{config: MlpConfig, meta: {...}}`). Writes go to a temp dir that is renamed into place.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkModelAgainstConfig, toyNetFromModel, validateMlpConfig, type MlpConfig, type ToyNet } from './mlp.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const CONFIG_JSON = 'config.json';

export interface ToyNetFile {
  config: MlpConfig;
  meta?: Record<string, unknown>;
}

/** Save `net` into `dir` (replaced atomically if present). `meta` is stored in config.json. */
export async function saveToyNet(net: ToyNet, dir: string, meta: Record<string, unknown> = {}): Promise<void> {
  const target = path.resolve(dir);
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${tag}`;
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.mkdir(tmp);
  try {
    await net.model.save(
      tf.io.withSaveHandler(async (art) => {
        const data = art.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(art.weightData);
        const modelJson: tf.io.ModelJSON = {
          modelTopology: art.modelTopology!,
          format: art.format,
          generatedBy: art.generatedBy,
          convertedBy: art.convertedBy,
          weightsManifest: [{ paths: [WEIGHTS_BIN], weights: art.weightSpecs ?? [] }],
        };
        await fs.writeFile(path.join(tmp, MODEL_JSON), JSON.stringify(modelJson));
        await fs.writeFile(path.join(tmp, WEIGHTS_BIN), new Uint8Array(data));
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(art) };
      }),
    );
    const file: ToyNetFile = { config: net.cfg, meta };
    await fs.writeFile(path.join(tmp, CONFIG_JSON), JSON.stringify(file, null, 2) + '\n');
    const old = `${target}.old-${tag}`;
    const hadOld = await fs.rename(target, old).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      },
    );
    try {
      await fs.rename(tmp, target);
    } catch (e) {
      if (hadOld) await fs.rename(old, target);
      throw e;
    }
    if (hadOld) await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function readFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = (await readFile(file)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: bad JSON (${(e as Error).message})`);
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Load a ToyNet saved by `saveToyNet`. `expectKind` (optional) must match the stored kind. */
export async function loadToyNet(dir: string, expectKind?: MlpConfig['kind']): Promise<ToyNet & { meta: Record<string, unknown> }> {
  const cfgFile = path.join(dir, CONFIG_JSON);
  const modelFile = path.join(dir, MODEL_JSON);
  const weightsFile = path.join(dir, WEIGHTS_BIN);

  const file = (await readJson(cfgFile)) as ToyNetFile;
  if (file === null || typeof file !== 'object' || typeof file.config !== 'object') {
    throw new Error(`${cfgFile}: expected {"config": {...}, "meta": {...}}`);
  }
  const cfg = validateMlpConfig(file.config, cfgFile);
  if (expectKind !== undefined && cfg.kind !== expectKind) {
    throw new Error(`${cfgFile}: expected a '${expectKind}' network, found kind '${cfg.kind}'`);
  }

  const mj = (await readJson(modelFile)) as tf.io.ModelJSON;
  if (mj === null || typeof mj !== 'object' || typeof mj.modelTopology !== 'object' || !Array.isArray(mj.weightsManifest)) {
    throw new Error(`${modelFile}: not a tfjs layers model (needs modelTopology and weightsManifest)`);
  }
  const groups = mj.weightsManifest;
  if (groups.length !== 1 || groups[0].paths?.length !== 1 || groups[0].paths[0] !== WEIGHTS_BIN || !Array.isArray(groups[0].weights)) {
    throw new Error(`${modelFile}: expected one weights group with paths ["${WEIGHTS_BIN}"]`);
  }
  const specs = groups[0].weights;
  let bytes = 0;
  for (const s of specs) {
    if (!Array.isArray(s.shape) || !(s.dtype in DTYPE_BYTES) || s.quantization) {
      throw new Error(`${modelFile}: unsupported weight spec ${JSON.stringify(s)}`);
    }
    bytes += s.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[s.dtype];
  }
  const weights = await readFile(weightsFile);
  if (weights.byteLength !== bytes) {
    throw new Error(`${weightsFile}: ${weights.byteLength} bytes, expected ${bytes} from the manifest in ${modelFile}`);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;

  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData }));
  } catch (e) {
    throw new Error(`${modelFile}: cannot build the model (${(e as Error).message})`);
  }
  try {
    checkModelAgainstConfig(model, cfg, `${modelFile} vs ${cfgFile}`);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { ...toyNetFromModel(cfg, model), meta: file.meta ?? {} };
}

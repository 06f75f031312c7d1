/**
 * Save/load of a ToyNet in Node: `model.json` + `weights.bin` (standard tfjs layers format, loadable
 * unchanged in the browser with `tf.loadLayersModel(url + '/model.json')`) + `config.json`
 * (`{config: MlpConfig, meta: {...}}`). Writes go to a temp dir that is renamed into place.
 * The artifact format and its checks are in artifacts.ts (shared with the browser).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { MlpConfig, ToyNet } from './mlp.js';
import { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN, LoadedToyNet, toyNetFromArtifacts, toyNetToArtifacts } from './artifacts.js';

export { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN };
export type { ToyNetFile } from './artifacts.js';

export async function saveToyNet(net: ToyNet, dir: string, meta: Record<string, unknown> = {}): Promise<void> {
  await writeArtifactsDir(dir, await toyNetToArtifacts(net, meta));
}

/** Writes model.json + weights.bin + config.json into `dir` atomically (temp dir renamed into place). */
export async function writeArtifactsDir(dir: string, art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }): Promise<void> {
  const target = path.resolve(dir);
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = `${target}.tmp-${tag}`;
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.mkdir(tmp);
  try {
    await fs.writeFile(path.join(tmp, MODEL_JSON), JSON.stringify(art.modelJson));
    await fs.writeFile(path.join(tmp, WEIGHTS_BIN), new Uint8Array(art.weights));
    await fs.writeFile(path.join(tmp, CONFIG_JSON), JSON.stringify(art.file, null, 2) + '\n');
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

/** Reads the three artifact files of `dir` (checks come later, from the loaders). */
export async function readArtifactsDir(dir: string): Promise<{ modelJson: unknown; weights: ArrayBuffer; file: unknown; where: { config: string; model: string; weights: string } }> {
  const where = { config: path.join(dir, CONFIG_JSON), model: path.join(dir, MODEL_JSON), weights: path.join(dir, WEIGHTS_BIN) };
  const file = await readJson(where.config);
  if (file === null || typeof file !== 'object' || typeof (file as { config?: unknown }).config !== 'object') {
    throw new Error(`${where.config}: expected {"config": {...}, "meta": {...}}`);
  }
  const modelJson = await readJson(where.model);
  const buf = await readFile(where.weights);
  const weights = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return { modelJson, weights, file, where };
}

/** Load a ToyNet saved by `saveToyNet`. `expectKind` (optional) must match the stored kind. */
export async function loadToyNet(dir: string, expectKind?: MlpConfig['kind']): Promise<LoadedToyNet> {
  const art = await readArtifactsDir(dir);
  return toyNetFromArtifacts(art, art.where, expectKind);
}

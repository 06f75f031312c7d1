/**
 * Our model artifacts (model.json + weights + config.json's {config, meta}) through tfjs IO handlers:
 * IndexedDB (`indexeddb://key`, in the worker) and file download/upload (`tf.io.browserDownloads`,
 * `tf.io.browserFiles`, on the page). The {config, meta} rides in `userDefinedMetadata.piflow`, so a
 * download is the standard tfjs pair `<name>.json` + `<name>.weights.bin`, loadable by any tfjs code.
 * Imports tfjs-core only (its `io`), so that the page's bundle stays small; validation of what is
 * loaded is the loaders' job (toyNetFromArtifacts, imageNetFromArtifacts).
 */
import { io } from '@tensorflow/tfjs-core';

/** Any net's three artifacts (2D or image), as the lab, the CLI and the handlers pass them around. */
export interface NetArtifacts<F = unknown> {
  modelJson: io.ModelJSON;
  weights: ArrayBuffer;
  file: F;
}

/** The artifacts as tfjs `ModelArtifacts` for a save handler; {config, meta} in userDefinedMetadata.piflow. */
export function toModelArtifacts(art: NetArtifacts): io.ModelArtifacts {
  return {
    modelTopology: art.modelJson.modelTopology,
    weightSpecs: art.modelJson.weightsManifest[0].weights,
    weightData: art.weights,
    format: art.modelJson.format,
    generatedBy: art.modelJson.generatedBy,
    convertedBy: art.modelJson.convertedBy ?? null,
    userDefinedMetadata: { piflow: art.file as object },
  };
}

/**
 * The inverse, for what a load handler gave. `file` is a {config, meta} from elsewhere (the CLI's
 * config.json); without it, the one carried in userDefinedMetadata.piflow.
 */
export function fromModelArtifacts<F = unknown>(m: io.ModelArtifacts, file?: unknown): NetArtifacts<F> {
  const weights = m.weightData === undefined ? new ArrayBuffer(0) : io.CompositeArrayBuffer.join(m.weightData);
  return {
    modelJson: {
      modelTopology: m.modelTopology as object,
      format: m.format,
      generatedBy: m.generatedBy,
      convertedBy: m.convertedBy,
      weightsManifest: [{ paths: ['weights.bin'], weights: m.weightSpecs ?? [] }],
    },
    weights,
    file: (file ?? (m.userDefinedMetadata as { piflow?: unknown } | undefined)?.piflow) as F,
  };
}

/**
 * Downloads the model through tfjs's `downloads://` handler (`tf.io.browserDownloads`): `<name>.json`
 * and `<name>.weights.bin`.
 */
export async function downloadModel(art: NetArtifacts, name: string): Promise<string[]> {
  const [handler] = io.getSaveHandlers(`downloads://${name}`);
  if (!handler?.save) throw new Error('file downloads are not available here');
  await handler.save(toModelArtifacts(art));
  return [`${name}.json`, `${name}.weights.bin`];
}

async function parseJson(f: File): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(await f.text());
  } catch (e) {
    throw new Error(`${f.name}: bad JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${f.name}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Reads uploaded files through `tf.io.browserFiles`: a download of this playground (`<name>.json` +
 * `<name>.weights.bin`), or the CLI's model.json + weights.bin + config.json. Every error names the
 * file and what was expected; nothing is loaded into a model here.
 */
export async function readModelFiles(files: FileList | File[]): Promise<{ art: NetArtifacts; name: string }> {
  const list = Array.from(files);
  if (list.length === 0) throw new Error('no file chosen');
  const jsons = list.filter((f) => f.name.endsWith('.json'));
  const bins = list.filter((f) => !f.name.endsWith('.json'));
  const expected = 'choose a downloaded model (<name>.json and <name>.weights.bin together) or the CLI\'s model.json, weights.bin and config.json';
  if (jsons.length === 0) throw new Error(`no .json file among ${list.map((f) => f.name).join(', ')}: ${expected}`);
  // the model JSON is the one with a topology; a second JSON may be the CLI's config.json
  const parsed = await Promise.all(jsons.map(async (f) => ({ f, v: await parseJson(f) })));
  const models = parsed.filter((p) => 'modelTopology' in p.v);
  if (models.length !== 1) {
    const names = jsons.map((f) => f.name).join(', ');
    throw new Error(models.length === 0 ? `${names}: not a tfjs layers model (needs modelTopology and weightsManifest)` : `${names}: more than one model JSON; ${expected}`);
  }
  const model = models[0];
  if (!Array.isArray(model.v.weightsManifest)) throw new Error(`${model.f.name}: not a tfjs layers model (needs modelTopology and weightsManifest)`);
  const configs = parsed.filter((p) => p !== model);
  if (configs.length > 1) throw new Error(`${configs.map((p) => p.f.name).join(', ')}: expected at most one config.json beside ${model.f.name}`);
  const file = configs[0]?.v;
  const carried = (model.v.userDefinedMetadata as { piflow?: unknown } | undefined)?.piflow;
  if (file === undefined && carried === undefined) {
    throw new Error(`${model.f.name}: no π-Flow config in it (userDefinedMetadata.piflow); add the CLI's config.json`);
  }
  if (bins.length === 0) throw new Error(`${model.f.name}: its weights file was not chosen (${expected})`);
  let m: io.ModelArtifacts;
  try {
    m = await io.browserFiles([model.f, ...bins]).load!();
  } catch (e) {
    throw new Error(`${model.f.name}: ${(e as Error).message}`);
  }
  const name = list.map((f) => f.name).join(' + ');
  return { art: fromModelArtifacts(m, file), name };
}

/** Saves the model in this browser through tfjs's `indexeddb://key` handler. */
export async function saveToIndexedDb(art: NetArtifacts, key: string): Promise<void> {
  const [handler] = io.getSaveHandlers(`indexeddb://${key}`);
  if (!handler?.save) throw new Error('browser storage (IndexedDB) is not available here');
  await handler.save(toModelArtifacts(art));
}

/** Loads what `saveToIndexedDb` saved under `key` (validation is the loader's). */
export async function loadFromIndexedDb(key: string): Promise<NetArtifacts> {
  const handlers = io.getLoadHandlers(`indexeddb://${key}`);
  if (handlers.length === 0 || !handlers[0].load) throw new Error('browser storage (IndexedDB) is not available here');
  try {
    return fromModelArtifacts(await handlers[0].load());
  } catch (e) {
    throw new Error(`nothing saved in this browser under '${key}' (${(e as Error).message})`);
  }
}

/** Fetches a model directory as the CLI writes it (model.json, config.json, weights.bin) from `url`. */
export async function fetchModelDir(url: string): Promise<{ art: NetArtifacts; base: string }> {
  const base = url.replace(/\/?$/, '/');
  const get = async (name: string) => {
    const r = await fetch(base + name);
    if (!r.ok) throw new Error(`${base + name}: HTTP ${r.status}`);
    return r;
  };
  const [modelJson, file, weights] = await Promise.all([
    get('model.json').then((r) => r.json()),
    get('config.json').then((r) => r.json()),
    get('weights.bin').then((r) => r.arrayBuffer()),
  ]);
  return { art: { modelJson, weights, file }, base };
}

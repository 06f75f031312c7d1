/**
 * Our model artifacts (model.json + weights + config.json's {config, meta}) through tfjs IO handlers:
 * IndexedDB (`indexeddb://key`, in the worker) and file download/upload (`tf.io.browserDownloads`,
 * `tf.io.browserFiles`, on the page). The {config, meta} rides in `userDefinedMetadata.piflow`, so a
 * download is the standard tfjs pair `<name>.json` + `<name>.weights.bin`, loadable by any tfjs code.
 * Imports tfjs-core only (its `io`), so that the page's bundle stays small; validation of what is
 * loaded is the loaders' job (toyNetFromArtifacts, imageNetFromArtifacts).
 */
import { io } from '@tensorflow/tfjs-core';

/** The training state's two files (runtime/train-state.ts writes them; named here for the browser-side IO). */
export const TRAIN_STATE_JSON = 'train-state.json';
export const TRAIN_STATE_BIN = 'train-state.bin';

/** A further file of a save beside the model's three (a trainer's state: train-state.json / .bin). */
export interface ExtraFile {
  name: string;
  data: Uint8Array | string;
}

/** Any net's three artifacts (2D or image), as the lab, the CLI and the handlers pass them around. */
export interface NetArtifacts<F = unknown> {
  modelJson: io.ModelJSON;
  weights: ArrayBuffer;
  file: F;
  /** further files (a student saved while distilling: its training state); absent in older saves */
  extra?: ExtraFile[];
}

/** The extra files of a save, as the one that holds them (`name`) or undefined. */
export function extraFile(art: { extra?: ExtraFile[] }, name: string): ExtraFile | undefined {
  return art.extra?.find((f) => f.name === name);
}

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string, what: string): Uint8Array {
  let s: string;
  try {
    s = atob(text);
  } catch {
    throw new Error(`${what}: not base64 (the saved model is corrupt)`);
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The extra files as JSON for userDefinedMetadata.piflowExtra (binary as base64). */
function encodeExtra(extra: ExtraFile[]): { name: string; text?: string; base64?: string }[] {
  return extra.map((f) => (typeof f.data === 'string' ? { name: f.name, text: f.data } : { name: f.name, base64: toBase64(f.data) }));
}

function decodeExtra(v: unknown): ExtraFile[] | undefined {
  if (v === undefined) return undefined;
  const bad = 'userDefinedMetadata.piflowExtra: expected a list of {name, text | base64} (the saved model is corrupt)';
  if (!Array.isArray(v)) throw new Error(bad);
  return v.map((e: { name?: unknown; text?: unknown; base64?: unknown } | null) => {
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') throw new Error(bad);
    if (typeof e.text === 'string') return { name: e.name, data: e.text };
    if (typeof e.base64 === 'string') return { name: e.name, data: fromBase64(e.base64, `userDefinedMetadata.piflowExtra '${e.name}'`) };
    throw new Error(bad);
  });
}

/**
 * The artifacts as tfjs `ModelArtifacts` for a save handler; {config, meta} in userDefinedMetadata.piflow,
 * any extra files (a training state) in userDefinedMetadata.piflowExtra.
 */
export function toModelArtifacts(art: NetArtifacts): io.ModelArtifacts {
  return {
    modelTopology: art.modelJson.modelTopology,
    weightSpecs: art.modelJson.weightsManifest[0].weights,
    weightData: art.weights,
    format: art.modelJson.format,
    generatedBy: art.modelJson.generatedBy,
    convertedBy: art.modelJson.convertedBy ?? null,
    userDefinedMetadata: { piflow: art.file as object, ...(art.extra?.length ? { piflowExtra: encodeExtra(art.extra) } : {}) },
  };
}

/**
 * The inverse, for what a load handler gave. `file` is a {config, meta} from elsewhere (the CLI's
 * config.json); without it, the one carried in userDefinedMetadata.piflow. `extra`: files from
 * elsewhere (the CLI's train-state.*); without them, those in userDefinedMetadata.piflowExtra
 * (malformed ones are a clear error).
 */
export function fromModelArtifacts<F = unknown>(m: io.ModelArtifacts, file?: unknown, extra?: ExtraFile[]): NetArtifacts<F> {
  const weights = m.weightData === undefined ? new ArrayBuffer(0) : io.CompositeArrayBuffer.join(m.weightData);
  const meta = m.userDefinedMetadata as { piflow?: unknown; piflowExtra?: unknown } | undefined;
  const files = extra ?? decodeExtra(meta?.piflowExtra);
  return {
    modelJson: {
      modelTopology: m.modelTopology as object,
      format: m.format,
      generatedBy: m.generatedBy,
      convertedBy: m.convertedBy,
      weightsManifest: [{ paths: ['weights.bin'], weights: m.weightSpecs ?? [] }],
    },
    weights,
    file: (file ?? meta?.piflow) as F,
    ...(files?.length ? { extra: files } : {}),
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
  const all = Array.from(files);
  if (all.length === 0) throw new Error('no file chosen');
  // the CLI's training state of a resumable run (train-state.json + train-state.bin) rides along as extra files
  const stateFiles = all.filter((f) => f.name === TRAIN_STATE_JSON || f.name === TRAIN_STATE_BIN);
  const list = all.filter((f) => !stateFiles.includes(f));
  const jsons = list.filter((f) => f.name.endsWith('.json'));
  const bins = list.filter((f) => !f.name.endsWith('.json'));
  const expected = 'choose a downloaded model (<name>.json and <name>.weights.bin together) or the CLI\'s model.json, weights.bin and config.json';
  if (jsons.length === 0) throw new Error(`no model .json file among ${all.map((f) => f.name).join(', ')}: ${expected}`);
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
  let extra: ExtraFile[] | undefined;
  if (stateFiles.length > 0) {
    const json = stateFiles.find((f) => f.name === TRAIN_STATE_JSON), bin = stateFiles.find((f) => f.name === TRAIN_STATE_BIN);
    if (!json || !bin) throw new Error(`${(json ?? bin)!.name}: choose ${TRAIN_STATE_JSON} and ${TRAIN_STATE_BIN} together (or neither)`);
    extra = [{ name: TRAIN_STATE_BIN, data: new Uint8Array(await bin.arrayBuffer()) }, { name: TRAIN_STATE_JSON, data: await json.text() }];
  }
  const name = all.map((f) => f.name).join(' + ');
  try {
    return { art: fromModelArtifacts(m, file, extra), name };
  } catch (e) {
    throw new Error(`${model.f.name}: ${(e as Error).message}`);
  }
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
  let m: io.ModelArtifacts;
  try {
    m = await handlers[0].load();
  } catch (e) {
    throw new Error(`nothing saved in this browser under '${key}' (${(e as Error).message})`);
  }
  try {
    return fromModelArtifacts(m);
  } catch (e) {
    throw new Error(`browser storage '${key}': ${(e as Error).message}`);
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

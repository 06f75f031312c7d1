/**
 * Glue shared by the 2D notebooks: starting the training worker and showing its backend, URL state,
 * saving and loading models (browser storage through the tfjs IndexedDB handler, file download and
 * upload), progress + loss wiring, and small layout helpers. No math here (the engine does it in the
 * worker); no tfjs here (the page only renders).
 */
import { LabClient } from '../src/runtime/lab-client.js';
import { Rng } from '../src/engine/rng.js';
import katex from 'katex';
import type { ToyNetArtifacts } from '../src/models/artifacts.js';
import { hashFor, readLocationState, type Schema, type StateOf } from '../src/runtime/url-state.js';
import { button, messageLine } from '../src/viz/controls.js';
import { downloadBlob } from '../src/viz/export.js';
import type { Notebook } from '../src/runtime/notebook.js';
import type { ProgressView } from '../src/viz/progress.js';
import type { LossChart } from '../src/viz/charts.js';

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => {
  const el = root.querySelector<T>(sel);
  if (!el) throw new Error(`page is missing ${sel}`);
  return el;
};

export const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => $<T>(`[data-testid="${id}"]`);

/** Starts the worker on the page's `?backend=` and keeps the backend indicator true. */
export async function startLab(): Promise<LabClient> {
  const indicator = byTestId('backend-indicator');
  const reason = document.querySelector<HTMLElement>('[data-testid="backend-reason"]');
  indicator.textContent = 'starting…';
  const client = await LabClient.start();
  const show = (note?: string) => {
    const b = client.backend;
    indicator.textContent = b.fellBackFrom.length ? `${b.name} (fell back from ${b.fellBackFrom.join(', ')})` : b.name;
    indicator.dataset.backend = b.name;
    indicator.dataset.state = 'ready';
    if (reason) {
      const text = note ?? (b.fellBackFrom.length ? b.reason ?? '' : '');
      reason.textContent = text;
      reason.hidden = !text;
    }
  };
  show();
  client.on('backend', (e) => show(e.restored));
  // for scripted lessons and tests: the page's worker client (`window.piflowLab.call.status()`, …)
  (window as unknown as { piflowLab: LabClient }).piflowLab = client;
  client.on('log', (e) => console.warn(e.message));
  return client;
}

/** Reads the typed state from the address; returns it with messages for bad values. */
export function initialState<S extends Schema>(schema: S): { state: StateOf<S>; messages: string[] } {
  const r = readLocationState(schema, location);
  return { state: r.state, messages: r.messages };
}

/** Keeps the address in sync with the notebook's inputs (history.replaceState: no navigation). */
export function syncUrl<S extends Schema>(schema: S, nb: Notebook, state: StateOf<S>): void {
  nb.onInputChange = (name, value) => {
    if (!(name in schema)) return;
    (state as Record<string, unknown>)[name] = value;
    history.replaceState(null, '', `${location.pathname}${location.search}#${hashFor(schema, state, { omitDefaults: true })}`);
  };
}

/** A single-file model bundle for download/upload (the CLI's three files, in one JSON). */
interface Bundle {
  format: 'piflow-model';
  version: 1;
  modelJson: unknown;
  weightsBase64: string;
  file: unknown;
}

function toBase64(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64: string): ArrayBuffer {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

/** Reads uploaded files: a `.piflow.json` bundle, or the CLI's model.json + weights.bin + config.json. */
export async function readModelFiles(files: FileList | File[]): Promise<{ art: ToyNetArtifacts; name: string }> {
  const list = Array.from(files);
  if (list.length === 0) throw new Error('no file chosen');
  if (list.length === 1) {
    const f = list[0];
    let b: Bundle;
    try {
      b = JSON.parse(await f.text());
    } catch (e) {
      throw new Error(`${f.name}: not a model file (bad JSON: ${(e as Error).message})`);
    }
    if (!b || b.format !== 'piflow-model' || typeof b.weightsBase64 !== 'string') {
      throw new Error(`${f.name}: not a π-Flow model file (expected a .piflow.json download, or model.json + weights.bin + config.json together)`);
    }
    let weights: ArrayBuffer;
    try {
      weights = fromBase64(b.weightsBase64);
    } catch {
      throw new Error(`${f.name}: the weights are not valid base64`);
    }
    return { art: { modelJson: b.modelJson as ToyNetArtifacts['modelJson'], weights, file: b.file as ToyNetArtifacts['file'] }, name: f.name };
  }
  const find = (n: string) => {
    const f = list.find((x) => x.name === n);
    if (!f) throw new Error(`choose model.json, weights.bin and config.json together (missing ${n})`);
    return f;
  };
  const parse = async (f: File) => {
    try {
      return JSON.parse(await f.text());
    } catch (e) {
      throw new Error(`${f.name}: bad JSON (${(e as Error).message})`);
    }
  };
  const [modelJson, file, weights] = await Promise.all([parse(find('model.json')), parse(find('config.json')), find('weights.bin').arrayBuffer()]);
  return { art: { modelJson, weights, file }, name: 'model.json + weights.bin + config.json' };
}

/**
 * Save / load buttons for one model: browser storage (tfjs IndexedDB handler, in the worker),
 * download as a single .piflow.json, upload (a bundle or the CLI's three files). A bad file gets a
 * clear message and leaves the current model as it is.
 */
export function modelIO(
  client: LabClient,
  which: 'teacher' | 'student',
  mount: HTMLElement,
  opts: { storageKey: () => string; onLoaded: () => void; fileName: () => string },
): void {
  const msg = messageLine(`${which}-io-message`);
  const input = document.createElement('input');
  input.type = 'file';
  input.multiple = true;
  input.accept = '.json,.bin';
  input.hidden = true;
  input.dataset.testid = `${which}-upload-input`;
  const run = (label: string, f: () => Promise<string>) => async () => {
    msg.show(`${label}…`);
    try {
      msg.show(await f());
    } catch (e) {
      msg.show(`${label} failed: ${(e as Error).message}`, 'error');
    }
  };
  const save = (client.call as unknown as Record<string, () => Promise<ToyNetArtifacts>>)[which === 'teacher' ? 'saveTeacher' : 'saveStudent'];
  const load = (client.call as unknown as Record<string, (a: ToyNetArtifacts, n: string) => Promise<void>>)[which === 'teacher' ? 'loadTeacher' : 'loadStudent'];
  input.addEventListener('change', run('Upload', async () => {
    const { art, name } = await readModelFiles(input.files ?? []);
    input.value = '';
    await load(art, name);
    opts.onLoaded();
    return `Loaded the ${which} from ${name}.`;
  }));
  mount.append(
    button('Save in browser', `${which}-save-browser`, run('Save', async () => {
      await client.call.saveToBrowser(which, opts.storageKey());
      return `Saved the ${which} in this browser (${opts.storageKey()}).`;
    })),
    button('Load from browser', `${which}-load-browser`, run('Load', async () => {
      await client.call.loadFromBrowser(which, opts.storageKey());
      opts.onLoaded();
      return `Loaded the ${which} saved in this browser.`;
    })),
    button('Download', `${which}-download`, run('Download', async () => {
      const art = await save();
      const bundle: Bundle = { format: 'piflow-model', version: 1, modelJson: art.modelJson, weightsBase64: toBase64(art.weights), file: art.file };
      downloadBlob(opts.fileName(), new Blob([JSON.stringify(bundle)], { type: 'application/json' }));
      return `Downloaded ${opts.fileName()}.`;
    })),
    button('Upload…', `${which}-upload`, () => input.click()),
    input,
    msg,
  );
}

/** A hidden counter control: bump it to re-run cells that depend on it (Observable's "mutable"). */
export function counter(): HTMLElement & { value: number; bump(): void } {
  const el = document.createElement('span') as unknown as HTMLElement & { value: number; bump(): void };
  el.hidden = true;
  el.value = 0;
  el.bump = () => {
    el.value++;
    el.dispatchEvent(new Event('input'));
  };
  return el;
}

/** Fixed noise points for trajectory views (seeded, so a link reproduces them): [n·2]. */
export function noisePoints(n: number, seed: number): Float32Array {
  return new Rng(seed).normalArray(2 * n);
}

/**
 * Renders every `.tex` element's TeX as MathML (KaTeX, MathML output: native in the browser, no fonts
 * or CSS to fetch). A formula that does not parse is left as its source text.
 */
export function renderMath(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('.tex')) {
    const tex = el.dataset.tex ?? el.textContent ?? '';
    el.dataset.tex = tex;
    try {
      el.innerHTML = katex.renderToString(tex, { output: 'mathml', throwOnError: true, displayMode: el.parentElement?.classList.contains('formula') ?? false });
    } catch {
      el.textContent = tex;
    }
  }
}

/**
 * Streams a training loop into its progress bar and loss curve, and calls `tick` at most every
 * `everyMs` while it runs (to refresh the live views).
 */
export function followLoop(
  lab: LabClient,
  phase: 'teacher' | 'student',
  views: { progress: ProgressView; loss: LossChart; label: string },
  tick: () => void,
  everyMs = 2500,
): void {
  let next = 0;
  lab.on('progress', (e) => {
    if (e.progress.phase !== phase) return;
    const p = e.progress;
    views.progress.update({ iteration: p.iter, total: p.total, loss: p.loss, itPerSec: p.itPerSec, etaSec: p.secondsLeft, status: 'running', label: views.label });
    if (performance.now() > next) {
      next = performance.now() + everyMs;
      tick();
    }
  });
  lab.on('loss', (e) => e.phase === phase && views.loss.extendMany(e.iters, e.losses));
}

/** A writer for a page's message line (`data-testid=id`): empty text hides it. */
export function messenger(id: string): (text: string, kind?: 'error' | 'note') => void {
  const el = byTestId<HTMLParagraphElement>(id);
  return (text, kind = 'note') => {
    el.textContent = text;
    el.dataset.kind = kind;
    el.hidden = !text;
  };
}

/**
 * Glue shared by the 2D notebooks: starting the training worker and showing its backend, URL state,
 * saving and loading models (browser storage through the tfjs IndexedDB handler, file download and
 * upload), progress + loss wiring, and small layout helpers. No math here (the engine does it in the
 * worker); no tfjs here (the page only renders).
 */
import { LabClient, type WorkerApi } from '../src/runtime/lab-client.js';
import { describeBackend } from '../src/runtime/backend-param.js';
import type { LabApi, LabEvent } from '../src/runtime/lab-protocol.js';
import { Rng } from '../src/engine/rng.js';
import katex from 'katex';
import type { ToyNetArtifacts } from '../src/models/artifacts.js';
import type { NetArtifacts } from '../src/models/io-handlers.js';
import { hashFor, readLocationState, type Schema, type StateOf } from '../src/runtime/url-state.js';
import { button, messageLine } from '../src/viz/controls.js';
import type { Notebook } from '../src/runtime/notebook.js';
import type { ProgressView } from '../src/viz/progress.js';
import type { LossChart } from '../src/viz/charts.js';
import { DATASETS } from '../datasets/index.js';

declare global {
  interface Window {
    /** the page's worker client, for scripted lessons and tests */
    piflowLab?: unknown;
  }
}

/** The registry's 2D datasets for a data select: [name, name, description as the option's tooltip]. */
export const DATASET_OPTIONS = DATASETS.map((d) => [d.name, d.name, d.description] as const);

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T => {
  const el = root.querySelector<T>(sel);
  if (!el) throw new Error(`page is missing ${sel}`);
  return el;
};

export const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => $<T>(`[data-testid="${id}"]`);

/** The events every worker sends (progress, losses, backend changes, log lines). */
type CommonEvent = LabEvent;

/**
 * Starts a training worker (the 2D lab's unless `connect` starts another) on the page's `?backend=`
 * and keeps the backend indicator true.
 */
export async function startLab<A extends WorkerApi = LabApi, E extends { event: string } = LabEvent>(
  connect: () => Promise<LabClient<A, E>> = LabClient.start as unknown as () => Promise<LabClient<A, E>>,
): Promise<LabClient<A, E>> {
  const indicator = byTestId('backend-indicator');
  const reason = document.querySelector<HTMLElement>('[data-testid="backend-reason"]');
  indicator.textContent = 'starting…';
  const client = await connect();
  const common = client as unknown as LabClient<LabApi, CommonEvent>;
  const show = (note?: string) => {
    const b = client.backend;
    indicator.textContent = describeBackend(b);
    indicator.dataset.backend = b.name;
    indicator.dataset.state = 'ready';
    if (reason) {
      const text = note ?? (b.fellBackFrom.length ? b.reason ?? '' : '');
      reason.textContent = text;
      reason.hidden = !text;
    }
  };
  show();
  common.on('backend', (e) => show(e.restored));
  // for scripted lessons and tests: the page's worker client (`window.piflowLab.call.status()`, …)
  window.piflowLab = client;
  common.on('log', (e) => console.warn(e.message));
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

/**
 * Save / load buttons for one model, all through tfjs IO handlers: browser storage (`indexeddb://`,
 * in the worker), download (`tf.io.browserDownloads`: `<name>.json` + `<name>.weights.bin`), upload
 * (`tf.io.browserFiles`: such a pair, or the CLI's model.json + weights.bin + config.json). The
 * handlers' module is loaded on first use. A bad file gets a clear message and leaves the current
 * model as it is.
 */
/** What modelIO needs of a worker (both labs have it). */
export interface ModelIOClient<A extends NetArtifacts<unknown> = ToyNetArtifacts> {
  call: {
    saveToBrowser(which: 'teacher' | 'student', key: string): Promise<void>;
    loadFromBrowser(which: 'teacher' | 'student', key: string): Promise<void>;
    // the artifacts are checked in the worker (toyNetFromArtifacts / imageNetFromArtifacts)
    saveTeacher(): Promise<A>;
    saveStudent(): Promise<A>;
    loadTeacher(art: A, name: string): Promise<void>;
    loadStudent(art: A, name: string): Promise<void>;
  };
}

export function modelIO<A extends NetArtifacts<unknown>>(
  client: ModelIOClient<A>,
  which: 'teacher' | 'student',
  mount: HTMLElement,
  opts: { storageKey: () => string; onLoaded: () => void; fileName: () => string /* without extension */ },
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
  const save = () => (which === 'teacher' ? client.call.saveTeacher() : client.call.saveStudent());
  const load = (a: A, n: string) => (which === 'teacher' ? client.call.loadTeacher(a, n) : client.call.loadStudent(a, n));
  input.addEventListener('change', run('Upload', async () => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    const { readModelFiles } = await import('../src/models/io-handlers.js');
    const { art, name } = await readModelFiles(files);
    await load(art as A, name); // validated in the worker (toyNetFromArtifacts / imageNetFromArtifacts)
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
      const { downloadModel } = await import('../src/models/io-handlers.js');
      const names = await downloadModel(art, opts.fileName());
      return `Downloaded ${names.join(' and ')}.`;
    })),
    button('Upload…', `${which}-upload`, () => input.click()),
    input,
    msg,
  );
}

/** A hidden counter control: bump it to re-run cells that depend on it (Observable's "mutable"). */
export function counter(): HTMLElement & { value: number; bump(): void } {
  const el: HTMLElement & { value: number; bump(): void } = Object.assign(document.createElement('span'), {
    value: 0,
    bump: () => {
      el.value++;
      el.dispatchEvent(new Event('input'));
    },
  });
  el.hidden = true;
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
  lab: Pick<LabClient, 'on'> | LabClient<WorkerApi, LabEvent>,
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

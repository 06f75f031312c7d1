/**
 * Glue shared by the 2D notebooks: starting the training worker and showing its backend, URL state,
 * saving and loading models (browser storage through the tfjs IndexedDB handler, file download and
 * upload), progress + loss wiring, and small layout helpers. No math here (the engine does it in the
 * worker); no tfjs here (the page only renders).
 */
import { LabClient, type WorkerApi } from '../src/runtime/lab-client.js';
import { describeBackend } from '../src/runtime/backend-param.js';
import type { LabEvent } from '../src/runtime/lab-protocol.js';
import { Rng } from '../src/engine/rng.js';
import katex from 'katex';
import type { ToyNetArtifacts } from '../src/models/artifacts.js';
import type { NetArtifacts } from '../src/models/io-handlers.js';
import { hashFor, readLocationState, type Schema, type StateOf } from '../src/runtime/url-state.js';
import { button, messageLine } from '../src/viz/controls.js';
import { Notebook } from '../src/runtime/notebook.js';
import type { ProgressView } from '../src/viz/progress.js';
import type { LossChart } from '../src/viz/charts.js';
import { DATASETS } from '../datasets/index.js';
import { PRESENT_EVENT } from '../src/viz/chart-layout.js';

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


/**
 * Starts a training worker (the 2D lab's unless `connect` starts another) on the page's `?backend=` (and `?threads=`)
 * and keeps the backend indicator true.
 */
export function startLab(): Promise<LabClient>;
export function startLab<A extends WorkerApi, E extends { event: string }>(connect: () => Promise<LabClient<A, E>>): Promise<LabClient<A, E>>;
export async function startLab<A extends WorkerApi, E extends { event: string }>(
  connect?: () => Promise<LabClient<A, E>>,
): Promise<LabClient<A, E> | LabClient> {
  const indicator = byTestId('backend-indicator');
  const reason = document.querySelector<HTMLElement>('[data-testid="backend-reason"]');
  indicator.textContent = 'starting…';
  const client = connect ? await connect() : await LabClient.start();
  const show = (note?: string) => {
    const b = client.backend;
    indicator.textContent = describeBackend(b);
    indicator.dataset.backend = b.name;
    indicator.dataset.state = 'ready';
    if (reason) {
      // the reason: failed backends, or a bad ?backend= / ?threads= value
      const text = note ?? b.reason ?? '';
      reason.textContent = text;
      reason.hidden = !text;
    }
  };
  show();
  client.onCommon('backend', (e) => show(e.restored));
  // for scripted lessons and tests: the page's worker client (`window.piflowLab.call.status()`, …)
  window.piflowLab = client;
  client.onCommon('log', (e) => console.warn(e.message));
  return client;
}

/** Reads the typed state from the address; returns it with messages for bad values. */
export function initialState<S extends Schema>(schema: S): { state: StateOf<S>; messages: string[] } {
  const r = readLocationState(schema, location);
  return { state: r.state, messages: r.messages };
}

/**
 * A notebook page's start: its state from the address (bad values reset to their defaults and reported
 * at the message line `messageId`), a Notebook kept in sync with the address, and the page's formulas
 * rendered.
 */
export function openNotebook<S extends Schema>(schema: S, messageId: string): { state: StateOf<S>; nb: Notebook } {
  const { state, messages } = initialState(schema);
  const nb = new Notebook();
  syncUrl(schema, nb, state);
  renderMath();
  if (messages.length) messenger(messageId)(`Some settings in the address were invalid and were reset: ${messages.join('; ')}`, 'error');
  return { state, nb };
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
    /** a student's: how distillation goes on from it (loadStudent's note) */
    loadFromBrowser(which: 'teacher' | 'student', key: string): Promise<string>;
    // the artifacts are checked in the worker (toyNetFromArtifacts / imageNetFromArtifacts)
    saveTeacher(): Promise<A>;
    saveStudent(): Promise<A>;
    loadTeacher(art: A, name: string): Promise<void>;
    /** how distillation goes on from the loaded student (exactly, from its iteration only, or '') */
    loadStudent(art: A, name: string): Promise<string>;
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
  const load = async (a: A, n: string): Promise<string> => (which === 'teacher' ? (await client.call.loadTeacher(a, n), '') : client.call.loadStudent(a, n));
  const withNote = (text: string, note: string) => (note ? `${text} ${note}` : text);
  input.addEventListener('change', run('Upload', async () => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    const { readModelFiles } = await import('../src/models/io-handlers.js');
    const { art, name } = await readModelFiles(files);
    const note = await load(art as A, name); // validated in the worker (toyNetFromArtifacts / imageNetFromArtifacts)
    opts.onLoaded();
    return withNote(`Loaded the ${which} from ${name}.`, note);
  }));
  mount.append(
    button('Save in browser', `${which}-save-browser`, run('Save', async () => {
      await client.call.saveToBrowser(which, opts.storageKey());
      return `Saved the ${which} in this browser (${opts.storageKey()}).`;
    })),
    button('Load from browser', `${which}-load-browser`, run('Load', async () => {
      const note = await client.call.loadFromBrowser(which, opts.storageKey());
      opts.onLoaded();
      return withNote(`Loaded the ${which} saved in this browser.`, note);
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

// ---- presentation mode -------------------------------------------------------------------------

/** Whether the page is in presentation mode (`?present=1`, or the toggle): `body.present`. */
export const presenting = (): boolean => document.body.classList.contains('present');

/** What a page hands presentation mode: its main loop (space), its σ scrubber (←/→) and its stage. */
export interface PresentationParts {
  /** the loop space drives: idle → start, running → pause, paused → resume */
  loop?: () => { readonly state: 'idle' | 'running' | 'paused'; start(): Promise<void>; pause(): Promise<void>; resume(): Promise<void> } | undefined;
  /** the trajectory view's scrubber: ← raises σ, → lowers it (the slider's left is σ = 1) */
  scrubber?: { readonly time: number; setTime(s: number): void; pause(): void };
  /** moved to the top of the page while presenting, in a row: the run buttons first, beside the figures */
  side?: HTMLElement[];
  figures?: HTMLElement[];
}

const parts: PresentationParts = {};
let stage: HTMLElement | null = null;
/** the Present / Leave presentation button; on the stage it heads the side column */
let presentToggle: HTMLButtonElement | null = null;
const homes = new Map<HTMLElement, Comment>();

/** σ step of one arrow key press */
const SCRUB_STEP = 0.02;

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !(el instanceof HTMLElement)) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

/** Moves the stage's parts to the top of the page (on) or back where they came from (off). */
function arrange(on: boolean): void {
  const main = document.querySelector('main');
  if (!main) return;
  if (on) {
    if (!stage) {
      stage = document.createElement('div');
      stage.className = 'present-stage';
      stage.dataset.testid = 'present-stage';
    }
    const side = document.createElement('div');
    side.className = 'present-side';
    stage.replaceChildren(side);
    const move = (el: HTMLElement, into: HTMLElement) => {
      if (!homes.has(el)) {
        const mark = document.createComment('presentation mode moved this to the stage');
        el.before(mark);
        homes.set(el, mark);
      }
      into.append(el);
    };
    // the toggle heads the run buttons' column: in the page's flow, so it covers no heading or figure
    if (presentToggle && (parts.side?.length || parts.figures?.length)) move(presentToggle, side);
    for (const el of parts.side ?? []) move(el, side);
    for (const el of parts.figures ?? []) move(el, stage);
    if (stage.childElementCount > 1 || side.childElementCount) main.prepend(stage);
  } else {
    for (const [el, mark] of homes) mark.replaceWith(el);
    homes.clear();
    stage?.remove();
  }
}

function setPresent(on: boolean, toggle: HTMLButtonElement): void {
  document.body.classList.toggle('present', on);
  toggle.setAttribute('aria-pressed', String(on));
  toggle.textContent = on ? 'Leave presentation' : 'Present';
  const url = new URL(location.href);
  if (on) url.searchParams.set('present', '1');
  else url.searchParams.delete('present');
  history.replaceState(history.state, '', url);
  arrange(on);
  document.dispatchEvent(new CustomEvent(PRESENT_EVENT, { detail: { on } }));
}

function onKey(e: KeyboardEvent): void {
  if (!presenting() || typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === ' ' && parts.loop) {
    e.preventDefault(); // no page scroll, no click on a focused button
    if (e.type !== 'keydown' || e.repeat) return;
    const loop = parts.loop();
    if (!loop) return;
    void (loop.state === 'idle' ? loop.start() : loop.state === 'running' ? loop.pause() : loop.resume());
  } else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && parts.scrubber && e.type === 'keydown') {
    e.preventDefault();
    const s = parts.scrubber;
    s.pause();
    s.setTime(s.time + (e.key === 'ArrowLeft' ? SCRUB_STEP : -SCRUB_STEP));
  }
}

/**
 * Presentation mode for a classroom (`?present=1`, or the Present button every notebook page gets):
 * large type (`body.present` in style.css; the Plotly charts take `PRESENT_SCALE`), the run buttons and
 * the figures they drive side by side at the top (`side`, `figures`), and keyboard shortcuts — space
 * starts / pauses / resumes the main loop, ←/→ scrub σ — ignored while typing in an input.
 */
export function presentation(p: PresentationParts): void {
  Object.assign(parts, p);
  if (presenting()) arrange(true);
}

function installPresentation(): void {
  const toggle = button('Present', 'present-toggle', () => setPresent(!presenting(), toggle));
  presentToggle = toggle;
  toggle.classList.add('present-toggle');
  toggle.title = 'presentation mode: large type, figures side by side; space = run / pause, ← → = scrub σ';
  toggle.setAttribute('aria-pressed', 'false');
  const main = document.querySelector('main');
  const sep = document.createElement('span');
  sep.className = 'present-sep';
  sep.textContent = ' · ';
  (main?.querySelector('p') ?? main ?? document.body).append(sep, toggle);
  if (new URLSearchParams(location.search).get('present') === '1') {
    document.body.classList.add('present');
    toggle.setAttribute('aria-pressed', 'true');
    toggle.textContent = 'Leave presentation';
  }
  document.addEventListener('keydown', onKey);
  document.addEventListener('keyup', onKey);
}

if (typeof document !== 'undefined' && document.querySelector('main.notebook')) installPresentation();

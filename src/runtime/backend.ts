/**
 * Backend choice for the browser: WebGPU first, then WebGL, wasm, cpu. `?backend=NAME` in the page's
 * address forces one (validated; an unknown name gives a message and the default order). The engine
 * never picks a backend; a page (or its training worker) calls `chooseBackend()` once before any tfjs
 * work and shows `describeBackend(choice)` in its `data-testid="backend-indicator"` element.
 *
 * Browser-only at run time (the `?url` imports below are resolved by Vite), but importing nothing
 * from node: and touching no DOM global at import time, so it also loads in a worker. A worker's
 * address has no `?backend=`: pass the page's choice on, `chooseBackend(name)`.
 *
 * Rules it follows:
 * - A forced backend that fails falls back to the backends after it in the default order (forcing
 *   `webgl` on a machine without WebGL gives wasm, then cpu): forcing says "no faster than this".
 * - A software GPU is slower than wasm: a WebGPU fallback adapter (SwiftShader), and WebGL on a
 *   software renderer (SwiftShader, llvmpipe; or with a "major performance caveat", tfjs's
 *   SOFTWARE_WEBGL_ENABLED) are accepted only when that backend is asked for explicitly.
 * - wasm: the binaries come from the bundle (`setWasmPaths` with `?url` imports). In a cross-origin
 *   isolated page or worker (`crossOriginIsolated`: `npm start` and the Vite servers send COOP/COEP,
 *   see src/cli/serve.ts) tfjs picks the threaded SIMD build, on half the logical cores (at most 8;
 *   tfjs's rule); elsewhere there is no SharedArrayBuffer and it runs on one thread, and the choice says why
 *   (`threads`, `threadsNote`, shown by describeBackend). `?threads=N` (1–8) asks for N threads instead,
 *   beyond tfjs's half-the-cores cap too (liftCoreCap). The threaded build survives minification
 *   only thanks to vite.config.ts's verbatimWasmThreadFactory (the minifier broke the pthread
 *   workers: "ReferenceError: e is not defined"). The engine's transpose-free matmul and
 *   conv-gradient kernels are installed once wasm is ready.
 * - Every candidate is checked with a tiny computation before it is accepted.
 *
 * Device loss (a WebGPU device lost, a WebGL context lost): register a handler with
 * `onDeviceLost(handler)`; when it fires, every tensor on that backend is gone. The app then calls
 * `fallBackAfterLoss(loss.backend)`, which removes the lost backend (`tf.removeBackend`) and sets the
 * next one in the default order (`tf.setBackend`), and rebuilds its models from the last good state it
 * keeps on the host (weights read back with `await data()` every few iterations, or a checkpoint).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { installBackendExtras } from '../engine/backend-extras.js';
import {
  askedThreadsNote, BACKEND_ORDER, BackendChoice, BackendName, candidateOrder, coresToReport, parseBackendParam, parseThreadsParam, tfjsDefaultThreads, validateBackendName,
  validateThreads,
} from './backend-param.js';

export { BACKEND_ORDER, candidateOrder, describeBackend, isBackendName, parseBackendParam } from './backend-param.js';
export type { BackendChoice, BackendName } from './backend-param.js';

let wasmConfigured = false;
/** the thread count `?threads=` (or chooseBackend's argument) asked for, if any */
let wasmThreadsAsked: number | undefined;

function configureWasm(): void {
  if (wasmConfigured) return;
  if (wasmThreadsAsked !== undefined) setThreadsCount(wasmThreadsAsked);
  // must be set before the wasm backend initialises. Without isolation tfjs's own check finds no
  // SharedArrayBuffer anyway; saying so keeps the one-thread path explicit. With it, tfjs picks the
  // threaded SIMD build and XNNPACK runs on min(hardwareConcurrency / 2, 8) threads (tfjs's
  // init_with_threads_count caps any setThreadsCount at half the logical cores, so a 2-core machine
  // gets one thread even when isolated).
  if (wasmThreadsProblem() !== null) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlainUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
  });
  wasmConfigured = true;
}

/**
 * tfjs caps the wasm thread count at half the logical cores, read once while the module starts
 * (`navigator.hardwareConcurrency`, which it assumes counts two per physical core: not so on many
 * laptops, Apple's among them). When `?threads=` asks for more, the navigator reports twice the count
 * asked for until the backend is up; the returned function restores it. Null when nothing was changed.
 */
function liftCoreCap(threads: number | undefined): (() => void) | null {
  const nav = globalThis.navigator as Navigator | undefined;
  if (threads === undefined || !nav || wasmThreadsProblem() !== null) return null;
  const cores = coresToReport(threads, nav.hardwareConcurrency ?? 1);
  if (cores === null) return null;
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { value: cores, configurable: true });
  } catch {
    return null; // then tfjs's own cap applies, and the indicator shows the count it gave
  }
  return () => {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else Reflect.deleteProperty(nav, 'hardwareConcurrency');
  };
}

/** Why the wasm backend cannot use threads here, or null when it can. */
function wasmThreadsProblem(): string | null {
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) return 'no cross-origin isolation';
  if (typeof SharedArrayBuffer === 'undefined') return 'no SharedArrayBuffer';
  return null;
}

/** Why a backend is not even registered (tfjs registers webgpu only when navigator.gpu exists). */
function unavailableReason(name: BackendName): string {
  if (name === 'webgpu') return 'WebGPU is not available in this browser (no navigator.gpu)';
  return `the ${name} backend is not registered`;
}

interface GpuAdapterLike {
  info?: { isFallbackAdapter?: boolean; architecture?: string };
  isFallbackAdapter?: boolean;
}

/**
 * WebGPU needs an adapter; a software one (SwiftShader, a "fallback adapter") is slower than wasm
 * and is accepted only when webgpu was asked for explicitly.
 */
async function webgpuAdapterProblem(explicit: boolean): Promise<string | null> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } | undefined)?.gpu;
  if (!gpu) return unavailableReason('webgpu');
  const adapter = await gpu.requestAdapter();
  if (!adapter) return 'no WebGPU adapter (navigator.gpu.requestAdapter() returned null)';
  const fallback = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (fallback && !explicit) {
    return `only a software WebGPU adapter (${adapter.info?.architecture || 'fallback'}); ?backend=webgpu accepts it`;
  }
  return null;
}

/** The renderer's name when tfjs's WebGL context is a software one (SwiftShader, llvmpipe), else null. */
function softwareWebglRenderer(): string | null {
  const gl = webglContext();
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  return /swiftshader|llvmpipe|softpipe|software/i.test(renderer) ? renderer : null;
}

/** A tiny computation whose result is known: catches a backend that initialises but computes nothing. */
async function sanityCheck(): Promise<void> {
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3]), tf.tensor1d([10, 20, 30])).mul(2));
  try {
    const v = await y.data();
    if (v[0] !== 22 || v[1] !== 44 || v[2] !== 66) throw new Error(`sanity check computed [${Array.from(v)}] instead of [22,44,66]`);
  } finally {
    y.dispose();
  }
}

function forget(name: BackendName): void {
  try {
    if (tf.findBackendFactory(name)) tf.removeBackend(name);
  } catch {
    // a backend that failed half-way may throw while disposing; it is unusable either way
  }
}

/** Tries one backend: set, checked, extras installed. Returns an error message, or null on success. */
async function tryBackend(name: BackendName, explicit: boolean): Promise<string | null> {
  if (!tf.findBackendFactory(name)) return unavailableReason(name);
  if (name === 'webgpu') {
    const refused = await webgpuAdapterProblem(explicit);
    if (refused) {
      forget(name);
      return refused;
    }
  }
  if (name === 'wasm') configureWasm();
  if (name === 'webgl') tf.env().set('SOFTWARE_WEBGL_ENABLED', explicit);
  try {
    const restoreCores = name === 'wasm' ? liftCoreCap(wasmThreadsAsked) : null;
    let ok: boolean;
    try {
      ok = await tf.setBackend(name);
    } finally {
      restoreCores?.();
    }
    if (!ok) {
      forget(name);
      return name === 'webgl' && !explicit
        ? 'failed to initialise (no hardware WebGL; ?backend=webgl accepts a software renderer)'
        : 'failed to initialise';
    }
    await tf.ready();
    const software = name === 'webgl' && !explicit ? softwareWebglRenderer() : null;
    if (software) {
      forget(name);
      return `only a software WebGL renderer (${software}); ?backend=webgl accepts it`;
    }
    await sanityCheck();
  } catch (e) {
    forget(name);
    return e instanceof Error ? e.message : String(e);
  }
  await installBackendExtras(name);
  watchForLoss(name);
  return null;
}

/** The wasm backend's thread count, and why it is one when threads are impossible here. */
function wasmThreads(): { threads: number; threadsNote?: string } {
  const threads = getThreadsCount();
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  if (wasmThreadsAsked !== undefined) return { threads, threadsNote: askedThreadsNote(wasmThreadsAsked, threads, cores, wasmThreadsProblem()) };
  if (threads > 1) return { threads };
  const problem = wasmThreadsProblem() ?? (tfjsDefaultThreads(cores) === 1 ? `tfjs uses half of the ${cores} logical cores` : undefined);
  return problem ? { threads, threadsNote: problem } : { threads };
}

async function firstWorking(candidates: BackendName[], explicit: BackendName | undefined, notes: string[]): Promise<BackendChoice> {
  const fellBackFrom: BackendName[] = [];
  for (const name of candidates) {
    const err = await tryBackend(name, name === explicit);
    if (err === null) {
      return { name, fellBackFrom, ...(notes.length > 0 ? { reason: notes.join('; ') } : {}), ...(name === 'wasm' ? wasmThreads() : {}) };
    }
    fellBackFrom.push(name);
    notes.push(`${name}: ${err}`);
  }
  throw new Error(`no tfjs backend could be initialised: ${notes.join('; ')}`);
}

/**
 * Picks and initialises the tfjs backend. `preferred` (a backend name) overrides the page's
 * `?backend=`; without either, the default order WebGPU → WebGL → wasm → cpu. `threads` (as given,
 * e.g. "4") overrides the page's `?threads=`: the wasm backend's thread count (1–8; default tfjs's,
 * half the logical cores). It takes effect where wasm is first initialised in this page or worker.
 */
export async function chooseBackend(preferred?: string, threads?: string): Promise<BackendChoice> {
  const search = typeof location === 'undefined' ? '' : location.search;
  const parsed = preferred !== undefined && preferred.trim() !== '' ? validateBackendName(preferred) : parseBackendParam(search);
  const t = threads !== undefined ? validateThreads(threads) : parseThreadsParam(search);
  if (!wasmConfigured) wasmThreadsAsked = t.threads;
  const notes = [parsed.message, t.message].filter((m): m is string => m !== undefined);
  const choice = await firstWorking(candidateOrder(parsed.forced), parsed.forced, notes);
  return parsed.requested !== undefined ? { ...choice, requested: parsed.requested } : choice;
}

// ---------------------------------------------------------------------------------------------------
// device loss

export interface DeviceLoss {
  backend: BackendName;
  message: string;
}
export type DeviceLossHandler = (loss: DeviceLoss) => void;

const lossHandlers = new Set<DeviceLossHandler>();
/** bumped whenever the watched backend changes, so that a stale watcher stays silent */
let watchGeneration = 0;

/** Calls `handler` when the active WebGPU device or WebGL context is lost. Returns an unsubscribe. */
export function onDeviceLost(handler: DeviceLossHandler): () => void {
  lossHandlers.add(handler);
  return () => lossHandlers.delete(handler);
}

function emitLoss(generation: number, loss: DeviceLoss): void {
  if (generation !== watchGeneration) return;
  watchGeneration++; // fire once per backend
  for (const h of [...lossHandlers]) h(loss);
}

interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  destroy(): void;
}

function webgpuDevice(): GpuDeviceLike | undefined {
  return (tf.backend() as unknown as { device?: GpuDeviceLike }).device;
}

function webglContext(): WebGLRenderingContext | undefined {
  return (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
}

function watchForLoss(name: BackendName): void {
  const generation = ++watchGeneration;
  if (name === 'webgpu') {
    webgpuDevice()?.lost.then((info) => {
      emitLoss(generation, { backend: 'webgpu', message: `WebGPU device lost (${info.reason ?? 'unknown'}): ${info.message ?? ''}`.trim() });
    });
  } else if (name === 'webgl') {
    const canvas = webglContext()?.canvas as (HTMLCanvasElement | OffscreenCanvas) | undefined;
    canvas?.addEventListener('webglcontextlost', () => emitLoss(generation, { backend: 'webgl', message: 'WebGL context lost' }), {
      once: true,
    });
  }
}

/**
 * After a loss: drop the lost backend and initialise the next one in the default order. Tensors of
 * the lost backend are gone; rebuild models from host-side state afterwards.
 */
export async function fallBackAfterLoss(lost: BackendName): Promise<BackendChoice> {
  watchGeneration++;
  forget(lost);
  const rest = BACKEND_ORDER.slice(BACKEND_ORDER.indexOf(lost) + 1);
  const choice = await firstWorking(rest, undefined, [`${lost}: device lost`]);
  return { ...choice, fellBackFrom: [lost, ...choice.fellBackFrom] };
}

/**
 * Loses the active GPU device on purpose (tests and the check page): WebGPU `device.destroy()`,
 * WebGL `WEBGL_lose_context.loseContext()`. Returns false on wasm/cpu, where nothing can be lost.
 */
export function simulateDeviceLoss(): boolean {
  const name = tf.getBackend();
  if (name === 'webgpu') {
    const device = webgpuDevice();
    device?.destroy();
    return device !== undefined;
  }
  if (name === 'webgl') {
    const ext = webglContext()?.getExtension('WEBGL_lose_context');
    ext?.loseContext();
    return ext != null;
  }
  return false;
}

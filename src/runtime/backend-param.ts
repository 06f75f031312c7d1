/**
 * The pure part of the browser's backend choice (src/runtime/backend.ts): the default order, the
 * `?backend=` parameter and the indicator text. No tfjs, no DOM: unit-tested in Node.
 */

/** The default order, fastest first. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(name);
}

export interface BackendChoice {
  /** the active tfjs backend */
  name: BackendName;
  /** backends tried before it that failed, in order */
  fellBackFrom: BackendName[];
  /** why it is not the first choice (failed backends, an invalid `?backend=`), for the page to show */
  reason?: string;
  /** the `?backend=` value (or argument) as given, if any */
  requested?: string;
  /** wasm only: the threads XNNPACK runs on (tf.wasm's getThreadsCount()) */
  threads?: number;
  /** wasm only: why it runs on one thread (e.g. "no cross-origin isolation"), when it does, or what `?threads=` asked */
  threadsNote?: string;
}

/** The most threads `?threads=` may ask for: tfjs's threaded build starts 8 pthread workers, and XNNPACK uses at most 8. */
export const MAX_WASM_THREADS = 8;

export interface ThreadsParam {
  /** the validated thread count asked for */
  threads?: number;
  /** the value as given, if any */
  requested?: string;
  message?: string;
}

/**
 * Validates a wasm thread count as given by a user (`?threads=N`): an integer from 1 to
 * MAX_WASM_THREADS; empty means tfjs's default (half the logical cores).
 */
export function validateThreads(raw: string): ThreadsParam {
  const t = raw.trim();
  if (t === '') return {};
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= MAX_WASM_THREADS) return { threads: n, requested: raw };
  }
  return {
    requested: raw,
    message: `?threads=${raw}: must be an integer from 1 to ${MAX_WASM_THREADS} (wasm threads); using tfjs's default (half the logical cores)`,
  };
}

/** Reads and validates `?threads=` from a query string (`search` as in `location.search`). */
export function parseThreadsParam(search: string): ThreadsParam {
  const raw = new URLSearchParams(search.replace(/^\?/, '')).get('threads');
  return raw === null ? {} : validateThreads(raw);
}

/** The threads tfjs's wasm backend takes unasked: half the logical cores, at least 1, at most 8. */
export function tfjsDefaultThreads(logicalCores: number): number {
  return Math.min(Math.max(Math.floor(logicalCores / 2), 1), MAX_WASM_THREADS);
}

/**
 * tfjs's wasm backend runs XNNPACK on min(asked, 8, ⌊logical cores / 2⌋) threads (it assumes two logical
 * cores per physical one). The logical-core count to report while it initialises so that `threads` are
 * allowed, or null when the real count already allows them.
 */
export function coresToReport(threads: number, logicalCores: number): number | null {
  return Math.floor(logicalCores / 2) >= threads ? null : 2 * threads;
}

/** The note for a thread count asked with `?threads=`: what was asked, and tfjs's own choice here. */
export function askedThreadsNote(asked: number, got: number, logicalCores: number, problem: string | null): string {
  const dflt = tfjsDefaultThreads(logicalCores);
  if (problem) return `${problem} (asked for ${asked})`;
  return got === asked ? `asked for ${asked}; tfjs's default here: ${dflt}` : `asked for ${asked}, got ${got}; tfjs's default here: ${dflt}`;
}

export interface BackendParam {
  forced?: BackendName;
  requested?: string;
  message?: string;
}

/** Validates a backend name as given by a user (case and spaces ignored). */
export function validateBackendName(raw: string): BackendParam {
  const name = raw.trim().toLowerCase();
  if (isBackendName(name)) return { forced: name, requested: raw };
  return {
    requested: raw,
    message: `unknown backend '${raw}' in ?backend=; allowed: ${BACKEND_ORDER.join(', ')}; using the default order`,
  };
}

/** Reads and validates `?backend=` from a query string (`search` as in `location.search`). */
export function parseBackendParam(search: string): BackendParam {
  const raw = new URLSearchParams(search.replace(/^\?/, '')).get('backend');
  if (raw === null || raw.trim() === '') return {};
  return validateBackendName(raw);
}

/**
 * The candidates to try, in order: a forced backend and those after it in the default order (forcing
 * says "no faster than this": forcing webgl on a machine without WebGL gives wasm, then cpu), or the
 * whole default order.
 */
export function candidateOrder(forced?: BackendName): BackendName[] {
  return forced ? BACKEND_ORDER.slice(BACKEND_ORDER.indexOf(forced)) : [...BACKEND_ORDER];
}

/** The wasm thread count as shown, e.g. "4 threads", "1 thread: no cross-origin isolation". */
export function describeThreads(threads: number, note?: string): string {
  return `${threads} ${threads === 1 ? 'thread' : 'threads'}${note ? `: ${note}` : ''}`;
}

/**
 * One line for the backend indicator, e.g. "webgl (fell back from webgpu)", "wasm (4 threads)",
 * "wasm (1 thread: no cross-origin isolation; fell back from webgpu, webgl)".
 */
export function describeBackend(choice: Pick<BackendChoice, 'threads' | 'threadsNote'> & { name: string; fellBackFrom: readonly string[] }): string {
  const parts: string[] = [];
  if (choice.threads !== undefined) parts.push(describeThreads(choice.threads, choice.threadsNote));
  if (choice.fellBackFrom.length > 0) parts.push(`fell back from ${choice.fellBackFrom.join(', ')}`);
  return parts.length > 0 ? `${choice.name} (${parts.join('; ')})` : choice.name;
}

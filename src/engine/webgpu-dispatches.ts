/** GPU work counted where tfjs-backend-webgpu records it (the benchmark and the tests read it; no effect on results). */
import * as tf from '@tensorflow/tfjs';

/**
 * Counts the GPU compute dispatches `run` records on the webgpu backend (tfjs-backend-webgpu's
 * `recordAndSubmit`, one per shader program: reshapes and other view kernels record none); null on the
 * other backends.
 */
export async function countGpuDispatches<T>(run: () => Promise<T>): Promise<{ result: T; dispatches: number | null; programs: [string, number][] }> {
  const be = tf.backend() as unknown as { recordAndSubmit?: (...a: unknown[]) => unknown };
  if (tf.getBackend() !== 'webgpu' || typeof be.recordAndSubmit !== 'function') return { result: await run(), dispatches: null, programs: [] };
  const orig = be.recordAndSubmit;
  let n = 0;
  const names = new Map<string, number>();
  be.recordAndSubmit = function (this: unknown, ...a: unknown[]) {
    n++;
    const name = (a[0] as { constructor?: { name?: string } })?.constructor?.name ?? '?';
    names.set(name, (names.get(name) ?? 0) + 1);
    return orig.apply(this, a);
  };
  try {
    const result = await run();
    return { result, dispatches: n, programs: [...names.entries()].sort((x, y) => y[1] - x[1]) };
  } finally {
    be.recordAndSubmit = orig;
  }
}

/** Small tensor helpers shared by the engine. No DOM, no global state. */
import * as tf from '@tensorflow/tfjs';

/** A per-sample host scalar as a float32 tensor of shape [B, 1, …, 1] with the given rank. */
export function perSample(values: ArrayLike<number>, rank: number): tf.Tensor {
  const shape = [values.length, ...new Array(Math.max(rank - 1, 0)).fill(1)];
  return tf.tensor(Float32Array.from(values as ArrayLike<number>), shape, 'float32');
}

/** Elementwise map of host arrays. */
export function mapTimes(n: number, fn: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = fn(i);
  return out;
}

/** True when two host arrays hold the same numbers. */
export function sameTimes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Detach: a new tensor that shares the data of `t` but has no link to the gradient tape, so that no
 * gradient flows through it (PyTorch's `.detach()`): the engine keeps the data's reference count.
 */
export function stopGradient<T extends tf.Tensor>(t: T): T {
  const engine = tf.engine();
  const backend = engine.backend as unknown as { incRef(dataId: object): void };
  const out = engine.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
  backend.incRef(t.dataId);
  return out as T;
}

/**
 * Runs `fn` with the gradient tape paused: inside a `tf.variableGrads` / `tf.grad` scope nothing `fn`
 * computes is recorded (no tape nodes, no saved copies), as if it ran outside the scope. Tensors it
 * returns have no link to the tape: no gradient flows through them. This is the engine's own rule for
 * the ops a kernel runs internally (tape on ⇔ gradientDepth > 0 and kernelDepth = 0).
 */
export function untaped<T>(fn: () => T): T {
  const state = (tf.engine() as unknown as { state: { kernelDepth: number } }).state;
  state.kernelDepth++;
  try {
    return fn();
  } finally {
    state.kernelDepth--;
  }
}

/** True while a gradient tape records (the engine's isTapeOn: inside a gradient scope, not paused by `untaped`). */
export function tapeActive(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/** Throws a clear error unless `cond`. */
export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/**
 * SiLU (swish, z·sigmoid(z)) as one op whose gradient is one op: tf.layers computes swish as
 * `mul(sigmoid(mul(z, 1)), z)`, so the multiplication by α = 1 runs forward and backward and the gradient
 * takes five kernels. Here dz = dy·s + (dy·z)·(s·(1 − s)) — exactly what tfjs's kernels compute through
 * Mul, Sigmoid and Mul by 1, so values and gradients are bit for bit tf.layers' — is one SIMD pass over
 * the heap on wasm (wasm-heap.ts `silugrad`) and the same five kernels elsewhere. `installFastSwish`
 * puts it behind every tf.layers 'swish' (the MLPs, the U-Net) while fused training is on.
 */
import * as tf from '@tensorflow/tfjs';
import { heapKernelsFor } from './wasm-heap.js';
import { fusedTraining } from './fused.js';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';

const SILU_GRAD = 'PiflowSiluGrad';

/** The wasm kernel of SiLU's gradient (registered once): the SIMD pass where bound, a float32 loop for the rest. */
function registerSiluGradWasm(): boolean {
  if (tf.getKernel(SILU_GRAD, 'wasm')) return true;
  if (!tf.findBackend('wasm')) return false;
  tf.registerKernel({
    kernelName: SILU_GRAD,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { dy, z, s } = args.inputs as unknown as { dy: HeapInfo; z: HeapInfo; s: HeapInfo };
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(z.shape, 'float32');
      // views after the allocation (a growing heap detaches earlier views)
      const vdy = backend.typedArrayFromHeap(dy);
      const vz = backend.typedArrayFromHeap(z);
      const vs = backend.typedArrayFromHeap(s);
      const vo = backend.typedArrayFromHeap(out);
      const n = vo.length;
      const hk = heapKernelsFor(vo.buffer);
      const n4 = hk ? n & ~3 : 0;
      if (hk && n4 > 0) hk.silugrad(vdy.byteOffset, vz.byteOffset, vs.byteOffset, vo.byteOffset, n4);
      const f = Math.fround;
      for (let i = n4; i < n; i++) vo[i] = f(f(vdy[i] * vs[i]) + f(f(vdy[i] * vz[i]) * f(vs[i] * f(1 - vs[i]))));
      return out as never;
    },
  });
  return true;
}

/** SiLU's gradient from dy, z and s = sigmoid(z), as tfjs's kernels compute it for mul(sigmoid(mul(z, 1)), z). */
export function siluGrad(dy: tf.Tensor, z: tf.Tensor, s: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'wasm' && z.dtype === 'float32' && registerSiluGradWasm()) {
    return tf.engine().runKernel(SILU_GRAD, { dy, z, s } as never, {}) as tf.Tensor;
  }
  return tf.tidy(() => tf.add(tf.mul(dy, s), tf.mul(tf.mul(dy, z), tf.mul(s, tf.sub(tf.scalar(1), s)))));
}

/** swish / SiLU, z·sigmoid(z), with `siluGrad` as its gradient. */
export const silu = tf.customGrad(((z: tf.Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(z);
  save([z, s]);
  return { value: tf.mul(s, z), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [siluGrad(dy, saved[0], saved[1])] };
}) as never) as (z: tf.Tensor) => tf.Tensor;

let swishPatched = false;

/**
 * tf.layers' swish activation (every 'swish' of a Dense or Activation layer: the MLPs, the U-Net) computed
 * as `silu` while fused training is on: the same values and gradients, without the α = 1 multiply and
 * with SiLU's gradient in one op. α ≠ 1, or fused training off, runs tf.layers' own. Installed once by
 * the backend set-up (backend-extras.ts); returns whether the class was found.
 */
export function installFastSwish(): boolean {
  if (swishPatched) return true;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['swish'];
  const cls = entry?.[0] as unknown as { prototype: { apply(x: tf.Tensor, alpha?: number): tf.Tensor } } | undefined;
  if (!cls || typeof cls.prototype.apply !== 'function') return false;
  const orig = cls.prototype.apply;
  cls.prototype.apply = function (this: unknown, x: tf.Tensor, alpha = 1): tf.Tensor {
    return alpha === 1 && fusedTraining() && x.dtype === 'float32' ? silu(x) : orig.call(this, x, alpha);
  };
  swishPatched = true;
  return true;
}

/**
 * The 2D networks' forward pass without tf.layers (fused training, `fusedTraining()`): the same kernels
 * on the same values, so outputs and gradients are bit for bit those of `model.apply`, minus the work
 * tf.layers does for nothing:
 *  - swish is `mul(sigmoid(mul(z, 1)), z)` there: the multiplication by α = 1 (forward and backward)
 *    goes; its gradient, dz = dy·s + (dy·z)·(s·(1 − s)) — exactly what tfjs's kernels compute through
 *    Mul, Sigmoid and Mul by 1 — is one op (on wasm one SIMD pass over the heap, wasm-heap.ts; elsewhere
 *    the same five kernels);
 *  - the first layer's product takes a constant input (the embedding), yet tfjs's fused-matmul gradient
 *    also computes d(input) = dz·Wᵀ ([2048, 128] at the workload's batch, ~6 ms on wasm): here the first
 *    layer's gradient is only dW = xᵀ·dz and db = Σ dz.
 * Used for networks whose layers are what createMlp builds (Dense, swish hidden layers, a linear head);
 * anything else runs through `model.apply`.
 */
import * as tf from '@tensorflow/tfjs';
import { heapKernelsFor } from '../engine/wasm-heap.js';
import { fusedTraining } from '../engine/fused.js';

interface DenseLike {
  getClassName(): string;
  activation?: { getClassName(): string };
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  useBias?: boolean;
}

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

const SILU_GRAD = 'PiflowSiluGrad';

/** The wasm kernel of SiLU's gradient (registered once): the SIMD pass where bound, a float32 loop for the rest. */
function registerSiluGradWasm(): boolean {
  if (tf.getKernel(SILU_GRAD, 'wasm')) return true;
  if (!tf.findBackend('wasm')) return false;
  tf.registerKernel({
    kernelName: SILU_GRAD,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { dy, z, s } = args.inputs as unknown as { dy: Info; z: Info; s: Info };
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

/** x·W + b for a constant x, differentiable in W and b only (no gradient for x is computed). */
function denseOfConstant(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  // x is saved (kept for the backward pass), not an input: no gradient is asked for it
  const f = tf.customGrad(((wv: tf.Tensor, bv: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.add(tf.fused.matMul({ a: x, b: wv as tf.Tensor2D }), bv),
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(saved[0], dz, true, false), tf.sum(dz, 0)],
    };
  }) as never) as (wv: tf.Tensor, bv: tf.Tensor) => tf.Tensor2D;
  return f(w, b);
}

/** Whether the model's layers are createMlp's (then `applyMlpFast` computes what `model.apply` does). */
export function isPlainMlp(model: tf.LayersModel): boolean {
  const layers = model.layers as unknown as DenseLike[];
  if (layers.length < 2) return false;
  return layers.every((l, i) => {
    if (l.getClassName() !== 'Dense' || !l.kernel || !l.bias) return false;
    const act = l.activation?.getClassName();
    return i === layers.length - 1 ? act === 'linear' : act === 'swish';
  });
}

/**
 * The forward pass of a plain MLP (isPlainMlp) on an embedding: the same values as `model.apply(embedding)`,
 * and the same gradients. `constantInput`: the embedding does not depend on what is differentiated (no
 * gradient flows to it: the first layer skips d(input)); leave it false where one must (e.g. a loss on a
 * generator's samples fed through this network).
 */
export function applyMlpFast(model: tf.LayersModel, embedding: tf.Tensor2D, constantInput: boolean): tf.Tensor2D {
  const layers = model.layers as unknown as DenseLike[];
  let h = embedding;
  layers.forEach((l, i) => {
    const w = l.kernel!.read();
    const b = l.bias!.read();
    if (i === layers.length - 1) h = tf.fused.matMul({ a: h, b: w as tf.Tensor2D, bias: b }) as tf.Tensor2D;
    else {
      const z = i === 0 && constantInput ? denseOfConstant(h, w, b) : tf.add(tf.fused.matMul({ a: h, b: w as tf.Tensor2D }), b);
      h = silu(z) as tf.Tensor2D;
    }
  });
  return h;
}

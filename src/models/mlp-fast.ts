/**
 * The 2D networks' forward pass without tf.layers (fused training, `fusedTraining()`): the same kernels
 * on the same values, so outputs and gradients are bit for bit those of `model.apply`, minus the work
 * tf.layers does for nothing:
 *  - swish is engine/silu.ts's one op (no α = 1 multiply, SiLU's gradient in one pass);
 *  - the first layer's product takes a constant input (the embedding), yet tfjs's fused-matmul gradient
 *    also computes d(input) = dz·Wᵀ ([2048, 128] at the workload's batch, ~6 ms on wasm): here the first
 *    layer's gradient is only dW = xᵀ·dz and db = Σ dz.
 * Used for networks whose layers are what createMlp builds (Dense, swish hidden layers, a linear head);
 * anything else runs through `model.apply`.
 */
import * as tf from '@tensorflow/tfjs';
import { silu } from '../engine/silu.js';

interface DenseLike {
  getClassName(): string;
  activation?: { getClassName(): string };
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  useBias?: boolean;
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

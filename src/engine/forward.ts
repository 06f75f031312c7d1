/**
 * Forward process and the teacher's flow-matching objective.
 *   x_t = (1 − σ)·x₀ + σ·ε,   u = ε − x₀   (so x₀ = x_t − σ·u)
 */
import * as tf from '@tensorflow/tfjs';
import { Times } from './time.js';
import { perSample } from './tensors.js';

/** x0, noise: [B, …F]; sigma per sample → { xT, u }: [B, …F] */
export function forwardDiffusion(x0: tf.Tensor, noise: tf.Tensor, sigma: Times): { xT: tf.Tensor; u: tf.Tensor } {
  return tf.tidy(() => {
    const s = perSample(sigma, x0.rank);
    const xT = tf.scalar(1).sub(s).mul(x0).add(s.mul(noise));
    const u = noise.sub(x0);
    return { xT, u };
  });
}

/** Flow-matching loss: mean over all elements of (û − u)². */
export function flowMatchingLoss(predU: tf.Tensor, u: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.squaredDifference(predU, u).mean() as tf.Scalar);
}

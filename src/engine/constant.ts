/**
 * Constant-velocity policy: the ordinary few-step velocity student seen as a π-Flow policy.
 *
 * Network output (u-space): one velocity per sample u: [B, …F] (the teacher's head width, C).
 *   π(x_t, σ_t) = u                     (constant over the segment)
 *   x̂₀(x_t, σ_t) = x_t − σ_t·u
 * Its rollout is exact Euler with that one velocity: x_dst = x_src + (σ_dst − σ_src)·u, whatever the
 * number of substeps. Trained by π-ID like the other families, it is the baseline the richer policies
 * (GMFlow, DX) improve on: the student that can only take straight steps.
 */
import * as tf from '@tensorflow/tfjs';
import { Policy, RolloutSchedule } from './policy.js';
import { Times } from './time.js';
import { check, perSample, stopGradient } from './tensors.js';

export class ConstantVelocityPolicy implements Policy {
  readonly batch: number;
  /** u: [B, …F] */
  readonly velocity: tf.Tensor;

  /**
   * @param output  the network's velocity [B, …F] (not consumed: the policy keeps its own copy), or null with `own`
   * @param xTSrc   [B, …F] the construction point (kept by reference, owned by the caller)
   * @param own     a velocity tensor the policy takes over (detach)
   */
  constructor(output: tf.Tensor | null, readonly xTSrc: tf.Tensor, readonly sigmaTSrc: Times, own?: tf.Tensor) {
    this.batch = xTSrc.shape[0];
    check(sigmaTSrc.length === this.batch, `ConstantVelocityPolicy: sigmaTSrc has ${sigmaTSrc.length} entries for a batch of ${this.batch}`);
    const u = own ?? output;
    check(u !== null && u !== undefined, 'ConstantVelocityPolicy: no network output');
    check(u.shape.join() === xTSrc.shape.join(), `ConstantVelocityPolicy: the velocity must have x's shape [${xTSrc.shape}], got [${u.shape}]`);
    this.velocity = own ?? output!.clone();
  }

  pi(_xT: tf.Tensor, _sigmaT: Times): tf.Tensor {
    return this.velocity.clone();
  }

  x0(xT: tf.Tensor, sigmaT: Times): tf.Tensor {
    return tf.tidy(() => xT.sub(this.velocity.mul(perSample(sigmaT, xT.rank))));
  }

  advance(xT: tf.Tensor, _sigmaT: Times, dt: Times): tf.Tensor {
    return tf.tidy(() => xT.add(this.velocity.mul(perSample(dt, xT.rank))));
  }

  /** The whole rollout segment at once: x_end = x + (σ_end − σ_start)·u (Euler with one velocity; frozen samples included). */
  rolloutFused(xT: tf.Tensor, sched: RolloutSchedule, everyState = false): tf.Tensor | null {
    if (everyState) return null; // observers: the generic substeps
    const s0 = sched.sigma[0];
    const s1 = sched.sigma[sched.steps];
    const d = new Float64Array(this.batch);
    for (let i = 0; i < this.batch; i++) d[i] = s1[i] - s0[i];
    return tf.tidy(() => xT.add(this.velocity.mul(perSample(d, xT.rank))));
  }

  detach(): ConstantVelocityPolicy {
    return new ConstantVelocityPolicy(null, this.xTSrc, this.sigmaTSrc, stopGradient(this.velocity));
  }

  dispose(): void {
    this.velocity.dispose();
  }
}

/**
 * DX policy: N x₀ predictions on a time grid over the segment (or N polynomial coefficients),
 * interpolated in (raw) time.
 *
 * Network output (u-space): denoising_output d: [B, N, …F].
 *   r_src = unwarp(σ_src, s), r_dst = max(r_src − S, 0), L = max(r_src − r_dst, ε)
 *   X_n = x_src − σ_src·d_n
 *   r = unwarp(σ_t, s)
 *   grid:       N = 1: x̂₀ = X_0;  else τ = clip((r − r_dst)/L, 0, 1)·(N−1), i = clip(⌊τ⌋, 0, N−2),
 *               x̂₀ = (i+1−τ)·X_i + (τ−i)·X_{i+1}      (X_0 at r_dst, X_{N−1} at the source)
 *   polynomial: x̂₀ = Σ_n (r_src − r)^n · X_n            (0⁰ = 1)
 *   u = (x_t − x̂₀) / max(σ_t, ε)
 * The interpolation weights depend on time only, so they are computed on the host and x̂₀ is one
 * batched matrix product: x̂₀ = w[B,1,N] · X[B,N,P].
 */
import * as tf from '@tensorflow/tfjs';
import { Policy, PolicyView, RolloutSchedule, velocityFromX0 } from './policy.js';
import { Times, unwarpT } from './time.js';
import { check, perSample, stopGradient } from './tensors.js';
import { POLICY_FAMILIES } from './families.js';

export type DXMode = 'grid' | 'polynomial';
/** the DX modes, as the family registry lists them */
export const DX_MODES: readonly string[] = POLICY_FAMILIES.dx.modes!;

export interface DXOptions {
  /** the policy's own segment size S (raw time) */
  segmentSize: number;
  /** the policy's own shift s */
  shift: number;
  mode: DXMode;
  eps?: number;
}

/** Head output [B, N·C] (points, column n·C + c) or [B, N·C, H, W] (images, channel n·C + c) → [B, N, …F]. */
export function dxOutput(out: tf.Tensor, N: number, C: number): tf.Tensor {
  const [B, J, ...S] = out.shape;
  check(J === N * C, `DX: expected a head output [B, ${N * C}${S.length ? ', …' : ''}] for N = ${N}, C = ${C}, got [${out.shape}]`);
  return out.reshape([B, N, C, ...S]);
}

export class DXPolicy implements Policy {
  readonly batch: number;
  readonly numPoints: number;
  /** X_n in x₀ space: [B, N, …F] */
  readonly points: tf.Tensor;
  readonly eps: number;
  readonly opts: DXOptions;
  private rawTSrc: Times;
  private rawTDst: Times;
  private length: Times;

  constructor(denoisingOutput: tf.Tensor | null, readonly xTSrc: tf.Tensor, readonly sigmaTSrc: Times, opts: DXOptions, points?: tf.Tensor) {
    check(DX_MODES.includes(opts.mode), `DX mode must be one of ${DX_MODES.join(', ')}, got '${opts.mode}'`);
    check(Number.isFinite(opts.shift) && opts.shift > 0, `DX shift must be > 0, got ${opts.shift}`);
    check(Number.isFinite(opts.segmentSize) && opts.segmentSize > 0, `DX segment size must be > 0, got ${opts.segmentSize}`);
    this.opts = opts;
    this.eps = opts.eps ?? 1e-4;
    this.batch = xTSrc.shape[0];
    check(sigmaTSrc.length === this.batch, `DXPolicy: sigmaTSrc has ${sigmaTSrc.length} entries for a batch of ${this.batch}`);
    if (points) this.points = points;
    else {
      const d = denoisingOutput!;
      check(d.rank === xTSrc.rank + 1, `DXPolicy: output must be [B, N, ...x.shape[1:]], got [${d.shape}] for x [${xTSrc.shape}]`);
      this.points = tf.tidy(() => xTSrc.expandDims(1).sub(perSample(sigmaTSrc, d.rank).mul(d)));
    }
    this.numPoints = this.points.shape[1] as number;
    this.rawTSrc = new Float64Array(this.batch);
    this.rawTDst = new Float64Array(this.batch);
    this.length = new Float64Array(this.batch);
    for (let i = 0; i < this.batch; i++) {
      this.rawTSrc[i] = unwarpT(sigmaTSrc[i], opts.shift);
      this.rawTDst[i] = Math.max(this.rawTSrc[i] - opts.segmentSize, 0);
      this.length[i] = Math.max(this.rawTSrc[i] - this.rawTDst[i], this.eps);
    }
  }

  /** Interpolation weights over the N points at σ_t, per sample: [B·N] row-major, times `scale`. */
  weights(sigmaT: Times, scale?: Times): Float32Array {
    const N = this.numPoints;
    const w = new Float32Array(this.batch * N);
    for (let b = 0; b < this.batch; b++) {
      const r = unwarpT(sigmaT[b], this.opts.shift);
      const sc = scale ? scale[b] : 1;
      if (this.opts.mode === 'polynomial') {
        const dr = this.rawTSrc[b] - r;
        let p = 1;
        for (let n = 0; n < N; n++) {
          w[b * N + n] = p * sc;
          p *= dr;
        }
      } else if (N === 1) {
        w[b] = sc;
      } else {
        const tau = Math.min(Math.max((r - this.rawTDst[b]) / this.length[b], 0), 1) * (N - 1);
        const i = Math.min(Math.max(Math.floor(tau), 0), N - 2);
        w[b * N + i] = (i + 1 - tau) * sc;
        w[b * N + i + 1] = (tau - i) * sc;
      }
    }
    return w;
  }

  /** Σ_n w_n X_n for host weights [B·N]: [B, …F] */
  private combine(w: Float32Array): tf.Tensor {
    return tf.tidy(() => {
      const B = this.batch;
      const N = this.numPoints;
      const featShape = this.xTSrc.shape.slice(1);
      const X = this.points.reshape([B, N, -1]);
      return tf.matMul(tf.tensor3d(w, [B, 1, N]), X).reshape([B, ...featShape]);
    });
  }

  x0(_xT: tf.Tensor, sigmaT: Times): tf.Tensor {
    return this.combine(this.weights(sigmaT));
  }

  pi(xT: tf.Tensor, sigmaT: Times): tf.Tensor {
    return tf.tidy(() => velocityFromX0(xT, this.x0(xT, sigmaT), sigmaT, this.eps));
  }

  /** Fused substep: x + dt·(x − x̂₀)/σ = (1 + dt/σ)·x − Σ_n (dt/σ)·w_n X_n  (two kernels and a matmul). */
  advance(xT: tf.Tensor, sigmaT: Times, dt: Times): tf.Tensor {
    return tf.tidy(() => {
      const c = new Float64Array(this.batch);
      const a = new Float64Array(this.batch);
      for (let i = 0; i < this.batch; i++) {
        c[i] = dt[i] / Math.max(sigmaT[i], this.eps);
        a[i] = 1 + c[i];
      }
      return xT.mul(perSample(a, xT.rank)).sub(this.combine(this.weights(sigmaT, c)));
    });
  }

  /**
   * The whole gradient-free rollout segment at once. Each substep is affine in x with host
   * coefficients, x ← a_j·x − Σ_n c_j·w_jn·X_n (a_j = 1 + c_j, c_j = dt_j/max(σ_j, ε); frozen samples
   * have c_j = 0), so the segment composes on the host (float64) to x_end = A·x − Σ_n G_n·X_n with
   * A = Π_j a_j and G ← a_j·G + c_j·w_j: one upload and one batched product on every backend.
   */
  rolloutFused(xT: tf.Tensor, sched: RolloutSchedule, everyState = false): tf.Tensor | null {
    if (everyState) return null; // observers: the generic substeps
    const B = this.batch;
    const N = this.numPoints;
    const A = new Float64Array(B).fill(1);
    const G = new Float64Array(B * N);
    const c = new Float64Array(B);
    for (let j = 0; j < sched.steps; j++) {
      const s = sched.sigma[j];
      const s1 = sched.sigma[j + 1];
      for (let i = 0; i < B; i++) c[i] = j < sched.n[i] ? (s1[i] - s[i]) / Math.max(s[i], this.eps) : 0;
      const w = this.weights(s, c);
      for (let i = 0; i < B; i++) {
        if (c[i] === 0) continue;
        const a = 1 + c[i];
        A[i] *= a;
        for (let n = 0; n < N; n++) G[i * N + n] = a * G[i * N + n] + w[i * N + n];
      }
    }
    return tf.tidy(() => xT.mul(perSample(A, xT.rank)).sub(this.combine(Float32Array.from(G))));
  }

  detach(): DXPolicy {
    return new DXPolicy(null, this.xTSrc, this.sigmaTSrc, this.opts, stopGradient(this.points));
  }

  /** The inspector's points: X_n [B, N, …F] (X₀ at the segment end, X_{N−1} at the source). */
  view(): PolicyView {
    return { draw: 'points', points: this.points.clone() };
  }

  dispose(): void {
    this.points.dispose();
  }
}

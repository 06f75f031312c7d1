/**
 * GMFlow policy: K Gaussians over x₀ predicted at (x_src, σ_src); its velocity at any later (x_t, σ_t)
 * is the closed-form posterior mean of that mixture given x_t.
 *
 * Network output (u-space), reference layout:
 *   means      [B, K, …F]         (F = [C] or [C, H, W])
 *   logweights [B, K, 1, …S]      (log-softmax over K; S = spatial dims, none for points)
 *   logstds    [B, 1, 1, …1]      (one shared log-std per sample)
 * Construction (x₀ space):  μ_k = x_src − σ_src·means_k,  v = exp(2·logstd)·σ_src²,  l_k = logweights_k.
 * Evaluation π(x_t, σ_t), a = max(σ_src, ε), b = max(σ_t, ε), r_a = (1−a)/a, r_b = (1−b)/b:
 *   ζ = r_b² − r_a²,  ν = r_b·x_t/b − r_a·x_src/a,  D = max(v·ζ + 1, ε)
 *   Δl_k = Σ_c μ_k·(ν − ζ·μ_k/2) / D,   x̂₀ = Σ_k softmax_k(l + Δl)·(v·ν + μ_k)/D
 *   u = (x_t − x̂₀) / max(σ_t, ε)
 * At the source point itself (x_t = x_src, σ_t = σ_src for the whole batch) x̂₀ = Σ_k softmax(l)_k μ_k.
 */
import * as tf from '@tensorflow/tfjs';
import { Policy, PolicyView, RolloutSchedule, velocityFromX0 } from './policy.js';
import { fusedTarget, gmflowCoefficientFill, gmflowCoefficients, gmflowRolloutHost, gmflowRolloutWebGpu, gmflowVelocitiesHost, GMFlowFusedInputs } from './fused.js';
import { Times } from './time.js';
import { check, perSample, sameTimes, stopGradient } from './tensors.js';
import { Rng } from './rng.js';

export interface GMFlowOutput {
  means: tf.Tensor; // [B, K, …F]
  logweights: tf.Tensor; // [B, K, 1, …S]
  logstds: tf.Tensor; // [B, 1, 1, …1]
}

/** Head values per sample, points layout [C]: K·C means (column k·C + c), K logits, 1 log-std. */
export function gmflowPointsWidth(K: number, C: number): number {
  return K * C + K + 1;
}

/**
 * Points-layout head output [B, K·C + K + 1] → means [B, K, C], logweights [B, K, 1] (log-softmax over K),
 * logstds [B, 1, 1].
 */
export function gmflowPointsOutput(out: tf.Tensor, K: number, C: number): GMFlowOutput {
  const [B, D] = out.shape;
  check(out.rank === 2 && D === gmflowPointsWidth(K, C), `GMFlow: expected a head output [B, ${gmflowPointsWidth(K, C)}] for K = ${K}, C = ${C}, got [${out.shape}]`);
  return tf.tidy(() => {
    const [m, lw, ls] = tf.split(out, [K * C, K, 1], 1);
    return { means: m.reshape([B, K, C]), logweights: tf.logSoftmax(lw).reshape([B, K, 1]), logstds: ls.reshape([B, 1, 1]) };
  });
}

/**
 * Image-layout head output [B, K·(C+1), H, W] (K·C means, channel k·C + c, then K logits) and the
 * log-std output [B, 1] → means [B, K, C, H, W], logweights [B, K, 1, H, W], logstds [B, 1, 1, 1, 1].
 */
export function gmflowImageOutput(out: tf.Tensor, logstd: tf.Tensor | undefined, K: number, C: number): GMFlowOutput {
  const [B, J, H, W] = out.shape;
  check(out.rank === 4 && J === K * (C + 1) && logstd !== undefined,
    `GMFlow: expected a head output [B, ${K * (C + 1)}, H, W] and a log-std for K = ${K}, C = ${C}, got [${out.shape}]${logstd ? '' : ' and no log-std'}`);
  return tf.tidy(() => {
    const [m, lw] = tf.split(out, [K * C, K], 1);
    const l = lw.reshape([B, K, 1, H, W]);
    // tf.logSumExp's forward (max-shifted) with the shift held constant: its gradient is zero
    // mathematically, and tfjs would route it through max's gradient (a broadcast Equal over [B, K, 1, H, W]:
    // 55 ms of a 2.6 s MNIST π-ID iteration on wasm); the values are the same
    const shift = stopGradient(tf.max(l, 1, true));
    const lse = shift.add(tf.log(tf.sum(tf.exp(l.sub(shift)), 1, true)));
    return { means: m.reshape([B, K, C, H, W]), logweights: l.sub(lse), logstds: logstd!.reshape([B, 1, 1, 1, 1]) };
  });
}

export class GMFlowPolicy implements Policy {
  readonly batch: number;
  readonly numComponents: number;
  /** μ_k in x₀ space: [B, K, …F] */
  means: tf.Tensor;
  /** shared isotropic variance v: [B, 1, 1, …1] */
  gmVars: tf.Tensor;
  /** l_k: [B, K, 1, …S] */
  logweights: tf.Tensor;
  private raSrc: Times; // r_a / a per sample
  /** rollout constants for the points layout, made on first use: [μ | |μ|² | l] and r_a·x_src/a */
  private fused: { muAug: tf.Tensor; xSrcR: tf.Tensor; qBias: tf.Tensor } | null = null;
  /** rollout constants for single-channel images, K last: μ, l and |μ|²/2 as [B, S, K], r_a·x_src/a as [B, S, 1] */
  private fusedImage: { muT: tf.Tensor; lT: tf.Tensor; muSqHalfT: tf.Tensor; xSrcR: tf.Tensor } | null = null;

  /**
   * @param output  the network's u-space output (not consumed: the policy makes its own tensors)
   * @param xTSrc   [B, …F] the construction point (kept by reference, owned by the caller)
   * @param sigmaTSrc σ_src per sample
   * @param eps     1e-6 in training (the reference default), 1e-4 in sampling
   */
  constructor(
    output: GMFlowOutput | null,
    readonly xTSrc: tf.Tensor,
    readonly sigmaTSrc: Times,
    readonly eps = 1e-4,
    x0Space?: { means: tf.Tensor; gmVars: tf.Tensor; logweights: tf.Tensor },
  ) {
    this.batch = xTSrc.shape[0];
    check(sigmaTSrc.length === this.batch, `GMFlowPolicy: sigmaTSrc has ${sigmaTSrc.length} entries for a batch of ${this.batch}`);
    if (x0Space) {
      ({ means: this.means, gmVars: this.gmVars, logweights: this.logweights } = x0Space);
    } else {
      check(output !== null, 'GMFlowPolicy: no network output');
      const o = output!;
      check(o.means.rank === xTSrc.rank + 1, `GMFlowPolicy: means must be [B, K, ...x.shape[1:]], got [${o.means.shape}] for x [${xTSrc.shape}]`);
      const rank = o.means.rank;
      [this.means, this.gmVars, this.logweights] = tf.tidy(() => {
        const s = perSample(sigmaTSrc, rank);
        const means = xTSrc.expandDims(1).sub(s.mul(o.means));
        const gmVars = o.logstds.mul(2).exp().mul(s.square());
        return [means, gmVars, o.logweights.clone()];
      });
    }
    this.numComponents = this.means.shape[1] as number;
    const raSrc = new Float64Array(this.batch);
    for (let i = 0; i < this.batch; i++) {
      const a = Math.max(sigmaTSrc[i], eps);
      raSrc[i] = (1 - a) / a / a;
    }
    this.raSrc = raSrc;
  }

  /** True for the points layout ([B, C]): softmax over K is then a single kernel on [B, K]. */
  private get isPoints(): boolean {
    return this.xTSrc.rank === 2;
  }

  private softmaxK(logits: tf.Tensor): tf.Tensor {
    if (this.isPoints) {
      const [B, K] = logits.shape;
      return tf.softmax(logits.reshape([B, K])).reshape(logits.shape);
    }
    return tf.exp(logits.sub(tf.logSumExp(logits, 1, true)));
  }

  /**
   * Per-sample host coefficients of the posterior at σ_t (b = max(σ_t, ε), r = (1−σ)/σ):
   * ζ = r_b² − r_a², the factor r_b/b of x_t in ν, and 1/b.
   */
  private timeCoefficients(sigmaT: Times): { cx: Float64Array; zeta: Float64Array; invB: Float64Array } {
    const B = this.batch;
    const cx = new Float64Array(B);
    const zeta = new Float64Array(B);
    const invB = new Float64Array(B);
    for (let i = 0; i < B; i++) {
      const a = Math.max(this.sigmaTSrc[i], this.eps);
      const b = Math.max(sigmaT[i], this.eps);
      const ra = (1 - a) / a;
      const rb = (1 - b) / b;
      zeta[i] = rb * rb - ra * ra;
      cx[i] = rb / b;
      invB[i] = 1 / b;
    }
    return { cx, zeta, invB };
  }

  x0(xT: tf.Tensor, sigmaT: Times): tf.Tensor {
    return tf.tidy(() => {
      const rank = this.means.rank;
      if (xT === this.xTSrc && sameTimes(sigmaT, this.sigmaTSrc)) {
        // the fast path of the reference: at the source the posterior is the prior
        return this.softmaxK(this.logweights).mul(this.means).sum(1);
      }
      const { cx, zeta } = this.timeCoefficients(sigmaT);
      const zetaT = perSample(zeta, rank); // [B,1,1,…]
      // ν = r_b·x/b − r_a·x_src/a: [B, 1, …F]
      const nu = xT.mul(perSample(cx, xT.rank)).sub(this.xTSrc.mul(perSample(this.raSrc, xT.rank))).expandDims(1);
      const invDen = tf.scalar(1).div(tf.maximum(this.gmVars.mul(zetaT).add(1), this.eps)); // [B,1,1,…]
      // Δl_k = Σ_c μ_k(ν − ζ μ_k / 2) / D: [B, K, 1, …S]
      const dl = this.means.mul(nu.sub(zetaT.mul(0.5).mul(this.means))).sum(2, true).mul(invDen);
      const w = this.softmaxK(this.logweights.add(dl)); // [B, K, 1, …S]
      // x̂₀ = (v ν + Σ_k w_k μ_k) / D
      const wmu = w.mul(this.means).sum(1); // [B, …F]
      return this.gmVars.mul(nu).squeeze([1]).add(wmu).mul(invDen.squeeze([1]));
    });
  }

  pi(xT: tf.Tensor, sigmaT: Times): tf.Tensor {
    return tf.tidy(() => velocityFromX0(xT, this.x0(xT, sigmaT), sigmaT, this.eps));
  }

  /**
   * Fused Euler substep for the points layout ([B, C]): x + dt·(x − x̂₀)/max(σ, ε) with the posterior
   * logits as one batched product, [μ_k | |μ_k|² | l_k] · [ν/D, −ζ/(2D), 1]ᵀ, which is the same sum
   * l_k + (μ_k·ν − ζ|μ_k|²/2)/D as in `x0`. About 15 kernels a substep instead of 30; single-channel
   * images use `advanceImage`, other images the general form.
   */
  advance(xT: tf.Tensor, sigmaT: Times, dt: Times): tf.Tensor {
    if (!this.isPoints) {
      if (xT.rank >= 3 && xT.shape[1] === 1) return this.advanceImage(xT, sigmaT, dt);
      return tf.tidy(() => xT.add(this.pi(xT, sigmaT).mul(perSample(dt, xT.rank))));
    }
    const B = this.batch;
    const K = this.numComponents;
    const C = xT.shape[1] as number;
    if (!this.fused) {
      this.fused = tf.tidy(() => {
        const muSq = this.means.square().sum(2, true); // [B, K, 1]
        // [μ | |μ|² | l] by padding and adding (concat is slow on wasm for narrow rows)
        const muAug = tf.pad(this.means, [[0, 0], [0, 0], [0, 2]])
          .add(tf.pad(muSq, [[0, 0], [0, 0], [C, 1]]))
          .add(tf.pad(this.logweights, [[0, 0], [0, 0], [C + 1, 0]])); // [B, K, C + 2]
        const xSrcR = this.xTSrc.mul(perSample(this.raSrc, 2)); // [B, C]
        const last = new Float32Array(B * (C + 2));
        for (let i = 0; i < B; i++) last[i * (C + 2) + C + 1] = 1;
        const qBias = tf.tensor2d(last, [B, C + 2]); // [0…0, 0, 1]
        return { muAug: tf.keep(muAug), xSrcR: tf.keep(xSrcR), qBias: tf.keep(qBias) };
      });
    }
    const { muAug, xSrcR, qBias } = this.fused;
    const { cx, zeta, invB } = this.timeCoefficients(sigmaT);
    const c = new Float64Array(B);
    const zetaCol = new Float32Array(B * (C + 2)); // [0…0, −ζ/2, 0]
    for (let i = 0; i < B; i++) {
      zetaCol[i * (C + 2) + C] = -0.5 * zeta[i];
      c[i] = dt[i] * invB[i];
    }
    return tf.tidy(() => {
      const v = this.gmVars.reshape([B, 1]);
      const invDen = tf.scalar(1).div(tf.maximum(v.mul(perSample(zeta, 2)).add(1), this.eps)); // [B, 1]
      const nu = xT.mul(perSample(cx, 2)).sub(xSrcR); // [B, C]
      // q = [ν/D, −ζ/(2D), 1] without a concat (slow on wasm for narrow rows)
      const q = tf.pad(nu, [[0, 0], [0, 2]]).add(tf.tensor2d(zetaCol, [B, C + 2])).mul(invDen).add(qBias);
      const logits = tf.matMul(muAug, q.reshape([B, C + 2, 1])).reshape([B, K]);
      const w = tf.softmax(logits).reshape([B, 1, K]);
      const wmu = tf.matMul(w, this.means).reshape([B, C]);
      const x0 = v.mul(nu).add(wmu).mul(invDen);
      return xT.add(xT.sub(x0).mul(perSample(c, 2)));
    });
  }

  /**
   * Fused Euler substep for single-channel images ([B, 1, …S]): the same posterior as `x0`, with the
   * K components on the last axis ([B, S, K], transposed once per policy) so that the softmax over K
   * is one kernel and no reduction runs over a non-last axis (wasm transposes for those). Per substep:
   * logits = l + μ·ν/D − ζ|μ|²/(2D), x̂₀ = v·ν/D + Σ_k softmax(logits)_k μ_k / D; x ← x + dt·(x − x̂₀)/b.
   * Differentiable (π-ID's averaged velocity rolls the gradient-carrying policy out through this).
   */
  private advanceImage(xT: tf.Tensor, sigmaT: Times, dt: Times): tf.Tensor {
    const B = this.batch;
    const K = this.numComponents;
    const S = xT.size / B;
    if (!this.fusedImage) {
      this.fusedImage = tf.tidy(() => {
        const muT = this.means.reshape([B, K, S]).transpose([0, 2, 1]); // [B, S, K]
        const lT = this.logweights.reshape([B, K, S]).transpose([0, 2, 1]);
        const muSqHalfT = muT.square().mul(0.5);
        const xSrcR = this.xTSrc.reshape([B, S, 1]).mul(perSample(this.raSrc, 3));
        return { muT: tf.keep(muT), lT: tf.keep(lT), muSqHalfT: tf.keep(muSqHalfT), xSrcR: tf.keep(xSrcR) };
      });
    }
    const { muT, lT, muSqHalfT, xSrcR } = this.fusedImage;
    const { cx, zeta, invB } = this.timeCoefficients(sigmaT);
    const c = new Float64Array(B);
    for (let i = 0; i < B; i++) c[i] = dt[i] * invB[i];
    return tf.tidy(() => {
      const v = this.gmVars.reshape([B, 1, 1]);
      const invDen = tf.scalar(1).div(tf.maximum(v.mul(perSample(zeta, 3)).add(1), this.eps)); // [B, 1, 1]
      const x = xT.reshape([B, S, 1]);
      const q = x.mul(perSample(cx, 3)).sub(xSrcR).mul(invDen); // ν/D: [B, S, 1]
      const logits = lT.add(muT.mul(q)).sub(muSqHalfT.mul(invDen.mul(perSample(zeta, 3)))); // [B, S, K]
      const mix = tf.softmax(logits).mul(muT).sum(2, true); // [B, S, 1]
      const x0 = v.mul(q).add(mix.mul(invDen));
      return x.add(x.sub(x0).mul(perSample(c, 3))).reshape(xT.shape);
    });
  }

  /**
   * The whole gradient-free rollout segment as one program (fused.ts): one JS loop on cpu and wasm
   * (tensors read once), one WGSL dispatch on webgpu; null elsewhere. Any layout ([B, C] points or
   * [B, C, …S] images, per pixel). `everyState` (cpu and wasm): every substep's state, [steps + 1, B, …F].
   */
  rolloutFused(xT: tf.Tensor, sched: RolloutSchedule, everyState = false): tf.Tensor | null {
    const target = fusedTarget();
    if (!target || (everyState && target !== 'host')) return null;
    const B = this.batch;
    const C = xT.shape[1] as number;
    const S = xT.size / (B * C);
    const inp: GMFlowFusedInputs = {
      x: xT, xSrc: this.xTSrc, means: this.means, logweights: this.logweights, gmVars: this.gmVars,
      raSrc: this.raSrc, K: this.numComponents, C, S, eps: this.eps,
    };
    if (target === 'webgpu') {
      const coef = gmflowCoefficients(sched, this.sigmaTSrc, this.eps);
      return tf.tidy(() => gmflowRolloutWebGpu(inp, coef, sched.steps).reshape(xT.shape));
    }
    const shape = everyState ? [sched.steps + 1, ...xT.shape] : xT.shape;
    // on the host as a fill: the SIMD wasm program has the coefficients written into its memory
    return tf.tensor(gmflowRolloutHost(inp, gmflowCoefficientFill(sched, this.sigmaTSrc, this.eps), sched.steps, everyState), shape, 'float32');
  }

  /**
   * The velocity at several states (each [B, …F]) as one differentiable op (fused.ts
   * `gmflowVelocitiesHost`: analytic gradient with respect to μ, l and v; the states are constants),
   * [M·B, …F] in state order; null where there is no such op (webgpu, webgl: use `pi`).
   */
  localVelocities(states: tf.Tensor[], sigmas: Times[]): tf.Tensor | null {
    if (fusedTarget() !== 'host' || states.length === 0) return null;
    const B = this.batch;
    const C = this.xTSrc.shape[1] as number;
    return gmflowVelocitiesHost({
      means: this.means, logweights: this.logweights, gmVars: this.gmVars, xSrc: this.xTSrc, sigmaTSrc: this.sigmaTSrc,
      states, sigmas, K: this.numComponents, C, S: this.xTSrc.size / (B * C), eps: this.eps,
    });
  }

  /** A policy over the same x₀-space tensors (shared), for copy-then-modify operations. */
  private withTensors(means: tf.Tensor, gmVars: tf.Tensor, logweights: tf.Tensor): GMFlowPolicy {
    return new GMFlowPolicy(null, this.xTSrc, this.sigmaTSrc, this.eps, { means, gmVars, logweights });
  }

  detach(): GMFlowPolicy {
    return this.withTensors(stopGradient(this.means), stopGradient(this.gmVars), stopGradient(this.logweights));
  }

  /**
   * Temperature (sampling): for T < 1, T' = max(T, ε): l ← log_softmax_k(l/T'), v ← v·T'.
   * Returns a new policy (this one is left as it is); T ≥ 1 returns an unchanged copy.
   */
  temperature(temperature: number): GMFlowPolicy {
    check(Number.isFinite(temperature) && temperature > 0, `temperature must be a finite number > 0, got ${temperature}`);
    if (temperature >= 1) return this.withTensors(this.means.clone(), this.gmVars.clone(), this.logweights.clone());
    const t = Math.max(temperature, this.eps);
    const [gmVars, logw] = tf.tidy(() => {
      const l = this.logweights.div(t);
      return [this.gmVars.mul(t), l.sub(tf.logSumExp(l, 1, true))];
    });
    return this.withTensors(this.means.clone(), gmVars, logw);
  }

  /**
   * GM dropout (training, on the detached policy): each component of each sample is dropped with
   * probability p (its log-weight set to −∞), unless that would drop all K. Masks come from `rng`.
   * Returns a new policy; p ≤ 0 or p ≥ 1 returns an unchanged copy (as in the reference).
   */
  dropout(p: number, rng: Rng): GMFlowPolicy {
    check(Number.isFinite(p) && p >= 0 && p <= 1, `gmDropout must be in [0, 1], got ${p}`);
    const [B, K] = this.logweights.shape;
    if (p <= 0 || p >= 1) return this.withTensors(this.means.clone(), this.gmVars.clone(), this.logweights.clone());
    const mask = new Float32Array(B * K);
    for (let b = 0; b < B; b++) {
      let all = true;
      for (let k = 0; k < K; k++) {
        const drop = rng.uniform() < p;
        mask[b * K + k] = drop ? -Infinity : 0;
        all &&= drop;
      }
      if (all) mask.fill(0, b * K, (b + 1) * K);
    }
    const rank = this.logweights.rank;
    const maskShape = [B, K, ...new Array(rank - 2).fill(1)];
    const logw = tf.tidy(() => this.logweights.add(tf.tensor(mask, maskShape)));
    return this.withTensors(this.means.clone(), this.gmVars.clone(), logw);
  }

  /** The inspector's mixture: means [B, K, …F], weights softmax(l) [B, K] (points) and the std √v [B]. */
  view(): PolicyView {
    const [B, K] = this.logweights.shape;
    return tf.tidy(() => ({
      draw: 'mixture' as const,
      means: this.means.clone(),
      weights: this.isPoints ? tf.softmax(this.logweights.reshape([B, K])) : this.softmaxK(this.logweights),
      std: this.gmVars.reshape([B]).sqrt(),
    }));
  }

  dispose(): void {
    if (this.fusedImage) {
      tf.dispose([this.fusedImage.muT, this.fusedImage.lT, this.fusedImage.muSqHalfT, this.fusedImage.xSrcR]);
      this.fusedImage = null;
    }
    if (this.fused) {
      this.fused.muAug.dispose();
      this.fused.xSrcR.dispose();
      this.fused.qBias.dispose();
      this.fused = null;
    }
    this.means.dispose();
    this.gmVars.dispose();
    this.logweights.dispose();
  }
}

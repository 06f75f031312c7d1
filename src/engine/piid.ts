/**
 * π-ID: imitation distillation (PiFlowImitation / PiFlowImitationDataFree of the reference).
 *
 * One iteration, for a batch of data x₀ (or pure noise, data-free):
 *  1. sample each sample's few-step segment (piflowSampleT) and x_src = (1−σ_src)x₀ + σ_src ε;
 *  2. evaluate the student once at (x_src, σ_src) → policy π; a detached copy (with GM dropout) drives
 *     the rollouts;
 *  3. split the segment (minus the averaging window) into `numIntermediateStates` student intervals
 *     (scaled by 1 − teacherRatio) and as many teacher intervals (scaled by teacherRatio): roll the
 *     detached policy out over each student interval to (x_a, σ_a), ask the teacher for u there, step
 *     along the teacher over the teacher interval (scheduled trajectory mixing);
 *  4. regress the policy's velocity at each (x_a, σ_a) — its average over the next `windowSubsteps`
 *     substeps when a window is set — onto the teacher's: loss = mean (u_π − u_teacher)².
 *
 * tfjs has no `.detach()` inside a gradient tape that would also keep the detached work off the tape,
 * so the iteration runs in two phases: the rollouts and teacher queries run first, outside any tape,
 * on a policy from a forward pass without gradients; then the student is evaluated again inside
 * `tf.variableGrads` (same inputs, same numbers) and only the policy velocities and the loss are taped.
 * This costs one extra student forward and keeps the 128-substep rollouts out of the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { averageIsLocal, Policy, policyAverageU, policyRollout, RolloutResult } from './policy.js';
import { fusedTraining } from './fused.js';
import { forwardDiffusion } from './forward.js';
import { fillTimes, numSubsteps, piflowSampleT, segmentBase, Times, warpT } from './time.js';
import { check, perSample, untaped } from './tensors.js';
import { Rng } from './rng.js';
import { GuardedAdam, StepStats } from './optim.js';
import { VelocityFn } from './sample.js';

export interface PiIDConfig {
  /** number of student steps (network evaluations) the policy is trained for */
  nfe: number;
  /** rollout substeps over the whole unit interval (128 in the paper) */
  totalSubsteps: number;
  /** teacher queries per segment */
  numIntermediateStates: number;
  /** iterations over which the teacher ratio decays linearly from 1 to 0 (0: always 0) */
  numDecayIters: number;
  /** averaging window, in substeps (0: the local velocity; 3 is the authors' DX setting) */
  windowSubsteps: number;
  /** GM dropout probability on the detached policy (families whose policies have `dropout`: GMFlow) */
  gmDropout: number;
  /** size of the last segment relative to the others */
  finalStepSizeScale: number;
  /** time shift s of the schedule */
  shift: number;
  /** clamp of raw times and the averaging denominator */
  eps: number;
  /** GMFlow ε during training (1e-6 in the reference) */
  policyEps: number;
  /** data-free variant: segments rolled out from pure noise, each step's loss weighted by its size */
  dataFree: boolean;
}

export const DEFAULT_PIID: PiIDConfig = {
  nfe: 2,
  totalSubsteps: 128,
  numIntermediateStates: 2,
  numDecayIters: 0,
  windowSubsteps: 0,
  gmDropout: 0,
  finalStepSizeScale: 1,
  shift: 1,
  eps: 1e-4,
  policyEps: 1e-6,
  dataFree: false,
};

/** Validates a π-ID configuration; the error names the option, the value and the allowed range. */
export function validatePiID(cfg: PiIDConfig): void {
  const int = (name: keyof PiIDConfig, min: number) => {
    const v = cfg[name] as number;
    check(Number.isInteger(v) && v >= min, `${name} must be an integer >= ${min}, got ${v}`);
  };
  int('nfe', 1);
  int('totalSubsteps', 1);
  int('numIntermediateStates', 1);
  int('numDecayIters', 0);
  int('windowSubsteps', 0);
  check(Number.isFinite(cfg.gmDropout) && cfg.gmDropout >= 0 && cfg.gmDropout < 1, `gmDropout must be in [0, 1), got ${cfg.gmDropout}`);
  check(Number.isFinite(cfg.finalStepSizeScale) && cfg.finalStepSizeScale > 0 && cfg.finalStepSizeScale <= 1,
    `finalStepSizeScale must be in (0, 1], got ${cfg.finalStepSizeScale}`);
  check(Number.isFinite(cfg.shift) && cfg.shift > 0, `shift must be a finite number > 0, got ${cfg.shift}`);
  check(cfg.eps > 0 && cfg.eps < 0.01, `eps must be in (0, 0.01), got ${cfg.eps}`);
  check(cfg.policyEps > 0 && cfg.policyEps < 0.01, `policyEps must be in (0, 0.01), got ${cfg.policyEps}`);
}

/** Teacher ratio of scheduled trajectory mixing: 1 − min(iteration, D)/D, or 0 when D = 0. */
export function teacherRatioAt(iteration: number, numDecayIters: number): number {
  return numDecayIters > 0 ? 1 - Math.min(iteration, numDecayIters) / numDecayIters : 0;
}

/** The student: one network evaluation at (x_src, σ_src) → its policy (ε as given). */
export type StudentPolicyFn = (xTSrc: tf.Tensor, sigmaTSrc: Times, eps: number) => Policy;

export interface SegmentTimes {
  rawTSrc: Times;
  sigmaTSrc: Times;
  segmentSize: Times;
}

/** What one segment's imitation needs from the no-gradient phase. */
interface SegmentTargets {
  /** per intermediate state: the state the policy reached, and where its averaging window ends */
  states: { xA: tf.Tensor; sigmaA: Times; rawA: Times; rawEnd: Times; target: tf.Tensor }[];
  /** the segment's end (data-free: the next step's source), when asked for */
  xDst?: tf.Tensor;
  rawTDst: Times;
  /** policy evaluations spent in rollouts */
  numEvals: number;
}

export interface IterationStats extends StepStats {
  iteration: number;
  teacherRatio: number;
  /** policy evaluations in the no-gradient rollouts of this iteration */
  policyEvals: number;
}

export class PiFlowImitation {
  readonly cfg: PiIDConfig;
  iteration = 0;

  constructor(
    cfg: Partial<PiIDConfig>,
    readonly student: StudentPolicyFn,
    readonly studentVars: () => tf.Variable[],
    readonly teacher: VelocityFn,
    readonly optimizer: GuardedAdam,
    readonly rng: Rng,
  ) {
    this.cfg = { ...DEFAULT_PIID, ...cfg };
    validatePiID(this.cfg);
  }

  /**
   * Phase 1 of a segment, no gradients: rollouts of the detached policy and teacher targets.
   * xTSrc: [B, …F].
   */
  private segmentTargets(policyD: Policy, xTSrc: tf.Tensor, t: SegmentTimes, teacherRatio: number, wantDst: boolean): SegmentTargets {
    const c = this.cfg;
    const B = xTSrc.shape[0];
    const M = c.numIntermediateStates;
    const window = new Float64Array(B);
    const studentIv: Float64Array[] = [];
    const teacherIv: Float64Array[] = [];
    for (let k = 0; k < M; k++) {
      studentIv.push(new Float64Array(B));
      teacherIv.push(new Float64Array(B));
    }
    const u = new Float64Array(M);
    for (let i = 0; i < B; i++) {
      const seg = t.segmentSize[i];
      const n = numSubsteps(seg, c.totalSubsteps);
      window[i] = Math.min(c.windowSubsteps * (seg / n), seg);
      const span = seg - window[i];
      // student intervals: sorted uniforms on [0, (1 − ratio)·span), as differences
      for (let k = 0; k < M; k++) u[k] = this.rng.uniform() * (1 - teacherRatio) * span;
      u.sort();
      for (let k = 0; k < M; k++) studentIv[k][i] = u[k] - (k > 0 ? u[k - 1] : 0);
      // teacher intervals: M − 1 sorted uniforms on [0, 1) cut [0, 1] into M pieces, scaled by ratio·span
      const v = new Float64Array(M - 1);
      for (let k = 0; k < M - 1; k++) v[k] = this.rng.uniform();
      v.sort();
      for (let k = 0; k < M; k++) teacherIv[k][i] = ((k < M - 1 ? v[k] : 1) - (k > 0 ? v[k - 1] : 0)) * teacherRatio * span;
    }
    const states: SegmentTargets['states'] = [];
    let x = xTSrc;
    let raw = t.rawTSrc;
    let sigma = t.sigmaTSrc;
    let numEvals = 0;
    if (teacherRatio === 0 && M > 1 && fusedTraining()) {
      // no teacher intervals: the states do not depend on the teacher's answers, so the M rollouts run
      // first (each from the last one's end) and the teacher answers for all of them in one call
      const ends: RolloutResult[] = [];
      const raws: Float64Array[] = [];
      for (let k = 0; k < M; k++) {
        const rawA = new Float64Array(B);
        for (let i = 0; i < B; i++) rawA[i] = Math.max(raw[i] - studentIv[k][i], 0);
        const r = policyRollout(policyD, x, sigma, raw, rawA, c.totalSubsteps, c.shift);
        numEvals += r.numEvals;
        ends.push(r);
        raws.push(rawA);
        x = r.xTEnd;
        raw = rawA;
        sigma = r.sigmaTEnd;
      }
      const sig = new Float64Array(M * B);
      ends.forEach((r, k) => sig.set(r.sigmaTEnd, k * B));
      const xs = tf.concat(ends.map((r) => r.xTEnd), 0);
      const u = this.teacher(xs, sig);
      const targets = tf.split(u, M, 0);
      tf.dispose([xs, u]);
      ends.forEach((r, k) => {
        const rawEnd = new Float64Array(B);
        for (let i = 0; i < B; i++) rawEnd[i] = raws[k][i] - window[i];
        states.push({ xA: r.xTEnd, sigmaA: r.sigmaTEnd, rawA: raws[k], rawEnd, target: targets[k] });
      });
    } else for (let k = 0; k < M; k++) {
      const rawA = new Float64Array(B);
      const rawB = new Float64Array(B);
      const rawEnd = new Float64Array(B);
      for (let i = 0; i < B; i++) {
        rawA[i] = Math.max(raw[i] - studentIv[k][i], 0);
        rawB[i] = Math.max(rawA[i] - teacherIv[k][i], 0);
        rawEnd[i] = rawB[i] - window[i];
      }
      const r = policyRollout(policyD, x, sigma, raw, rawA, c.totalSubsteps, c.shift);
      numEvals += r.numEvals;
      const target = this.teacher(r.xTEnd, r.sigmaTEnd);
      states.push({ xA: r.xTEnd, sigmaA: r.sigmaTEnd, rawA, rawEnd, target });
      // along the teacher over the teacher interval: x_b = x_a + u_teacher·(σ_b − σ_a)
      const sigmaB = new Float64Array(B);
      let moved = false;
      const dS = new Float64Array(B);
      for (let i = 0; i < B; i++) {
        sigmaB[i] = warpT(rawB[i], c.shift);
        dS[i] = sigmaB[i] - r.sigmaTEnd[i];
        moved ||= dS[i] !== 0;
      }
      const xB = moved ? tf.tidy(() => r.xTEnd.add(target.mul(perSample(dS, r.xTEnd.rank)))) : r.xTEnd;
      if (x !== xTSrc && !states.some((s) => s.xA === x)) x.dispose();
      x = xB;
      raw = rawB;
      sigma = moved ? sigmaB : r.sigmaTEnd;
    }
    const rawTDst = new Float64Array(B);
    for (let i = 0; i < B; i++) rawTDst[i] = t.rawTSrc[i] - t.segmentSize[i];
    let xDst: tf.Tensor | undefined;
    if (wantDst) {
      const r = policyRollout(policyD, x, sigma, raw, rawTDst, c.totalSubsteps, c.shift);
      numEvals += r.numEvals;
      xDst = r.xTEnd;
    }
    if (x !== xTSrc && !states.some((s) => s.xA === x)) x.dispose();
    return { states, xDst, rawTDst, numEvals };
  }

  /** Phase 2 of a segment, taped: the student's policy velocities at the visited states → ℓ2 loss. */
  private segmentLoss(xTSrc: tf.Tensor, t: SegmentTimes, targets: SegmentTargets): tf.Scalar {
    const policy = this.student(xTSrc, t.sigmaTSrc, this.cfg.policyEps);
    try {
      return this.lossOf(policy, targets);
    } finally {
      policy.dispose();
    }
  }

  /** The ℓ2 imitation loss of a (gradient-carrying) policy at the visited states. */
  private lossOf(policy: Policy, targets: SegmentTargets): tf.Scalar {
    const c = this.cfg;
    const st = targets.states;
    if (fusedTraining() && policy.localVelocities && st.every((s) => averageIsLocal(s.rawA, s.rawEnd, c.totalSubsteps))) {
      // every average is the local velocity: all states in one differentiable op (analytic gradient)
      const u = policy.localVelocities(st.map((s) => s.xA), st.map((s) => s.sigmaA));
      if (u) {
        const target = untaped(() => (st.length > 1 ? tf.concat(st.map((s) => s.target), 0) : st[0].target.clone()));
        return tf.squaredDifference(u, target).mean() as tf.Scalar;
      }
    }
    const preds = targets.states.map((s) =>
      policyAverageU(policy, s.xA, s.sigmaA, s.rawA, s.rawEnd, c.totalSubsteps, c.shift, c.eps),
    );
    // mean over all states of (u_π − u_teacher)²; every state has the same size, so the mean of means
    const terms = preds.map((p, k) => tf.squaredDifference(p, targets.states[k].target).mean());
    return tf.addN(terms).div(terms.length) as tf.Scalar;
  }

  /**
   * Both phases of a segment from one student forward, inside the gradient scope: the taped policy,
   * its detached (GM-dropped-out) copy driving the rollouts and teacher queries with the tape paused
   * (`untaped`: nothing recorded, the same as running them before the scope), then the loss of the
   * taped policy. The same numbers as `segmentTargets` + `segmentLoss` with one forward fewer. The
   * targets' tensors are kept (the gradient scope would dispose them); the caller disposes them.
   */
  private segmentOneForward(xTSrc: tf.Tensor, t: SegmentTimes, teacherRatio: number, wantDst: boolean): { loss: tf.Scalar; targets: SegmentTargets } {
    const policy = this.student(xTSrc, t.sigmaTSrc, this.cfg.policyEps);
    try {
      const targets = untaped(() => {
        const policyD = this.dropped(policy.detach());
        try {
          return this.segmentTargets(policyD, xTSrc, t, teacherRatio, wantDst);
        } finally {
          policyD.dispose();
        }
      });
      for (const s of targets.states) {
        tf.keep(s.xA);
        tf.keep(s.target);
      }
      if (targets.xDst) tf.keep(targets.xDst);
      try {
        return { loss: this.lossOf(policy, targets), targets };
      } catch (e) {
        this.disposeTargets(targets);
        throw e;
      }
    } finally {
      policy.dispose();
    }
  }

  /** GM dropout on a detached policy (families that have it); the input is consumed. */
  private dropped(p: Policy): Policy {
    if (p.dropout && this.cfg.gmDropout > 0) {
      const d = p.dropout(this.cfg.gmDropout, this.rng);
      p.dispose();
      return d;
    }
    return p;
  }

  /** The detached, GM-dropped-out policy that drives the rollouts (no tape). */
  private detachedPolicy(xTSrc: tf.Tensor, sigmaTSrc: Times): Policy {
    return this.dropped(this.student(xTSrc, sigmaTSrc, this.cfg.policyEps));
  }

  private disposeTargets(t: SegmentTargets): void {
    for (const s of t.states) {
      s.xA.dispose();
      s.target.dispose();
    }
    t.xDst?.dispose();
  }

  /**
   * One π-ID iteration and optimizer step. `x0` ([B, …F]) is the data batch; in the data-free
   * variant only its shape is used. Throws NonFiniteLossError (nothing applied) on a NaN/∞ loss.
   */
  async step(x0: tf.Tensor): Promise<IterationStats> {
    const c = this.cfg;
    const B = x0.shape[0];
    const teacherRatio = teacherRatioAt(this.iteration, c.numDecayIters);
    const vars = this.studentVars();
    let policyEvals = 0;
    let stats: StepStats;
    if (!c.dataFree) {
      const rawT = new Float64Array(B);
      for (let i = 0; i < B; i++) rawT[i] = 1 - this.rng.uniform();
      const t = piflowSampleT(rawT, { nfe: c.nfe, finalStepSizeScale: c.finalStepSizeScale, shift: c.shift, eps: c.eps });
      const noise = tf.tensor(this.rng.normalArray(x0.size), x0.shape);
      const { xT: xTSrc, u } = forwardDiffusion(x0, noise, t.sigmaTSrc);
      noise.dispose();
      u.dispose();
      try {
        const r = await this.tapedSegment(xTSrc, t, teacherRatio, false, (loss) => this.optimizer.minimize(loss, vars));
        this.disposeTargets(r.targets);
        stats = r.out;
        policyEvals = r.targets.numEvals;
      } finally {
        xTSrc.dispose();
      }
    } else {
      stats = await this.dataFreeStep(x0.shape, teacherRatio, vars, (n) => (policyEvals += n));
    }
    this.iteration++;
    return { ...stats, iteration: this.iteration, teacherRatio, policyEvals };
  }

  /**
   * One segment's loss handed to `tape` (an optimizer step or variableGrads) with its targets: one student
   * forward (fused training: the detached policy is read off the taped one) or the two-phase reference
   * (detached policy, targets, then the taped loss). The caller owns the targets; they are freed if `tape` throws.
   */
  private async tapedSegment<R>(xs: tf.Tensor, t: SegmentTimes, teacherRatio: number, wantDst: boolean,
    tape: (loss: () => tf.Scalar) => R | Promise<R>): Promise<{ out: R; targets: SegmentTargets }> {
    let targets: SegmentTargets | undefined;
    try {
      let loss: () => tf.Scalar;
      if (fusedTraining()) {
        loss = () => {
          const r = this.segmentOneForward(xs, t, teacherRatio, wantDst);
          targets = r.targets;
          return r.loss;
        };
      } else {
        const policyD = this.detachedPolicy(xs, t.sigmaTSrc);
        let tt: SegmentTargets;
        try {
          tt = targets = this.segmentTargets(policyD, xs, t, teacherRatio, wantDst);
        } finally {
          policyD.dispose();
        }
        loss = () => this.segmentLoss(xs, t, tt);
      }
      const out = await tape(loss);
      return { out, targets: targets! };
    } catch (e) {
      if (targets) this.disposeTargets(targets);
      throw e;
    }
  }

  /** Data-free: all nfe segments from pure noise; losses weighted by segment size, one update. */
  private async dataFreeStep(shape: number[], teacherRatio: number, vars: tf.Variable[], countEvals: (n: number) => void): Promise<StepStats> {
    const c = this.cfg;
    const B = shape[0];
    const f = Math.max(c.finalStepSizeScale, c.eps);
    const base = segmentBase(c.nfe, c.finalStepSizeScale, c.eps);
    let x = tf.tensor(this.rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
    let rawTSrc = fillTimes(B, 1);
    let total: tf.Scalar | null = null;
    let grads: tf.NamedTensorMap | null = null;
    try {
      for (let step = 0; step < c.nfe; step++) {
        const seg = step === c.nfe - 1 ? base * f : base;
        const t: SegmentTimes = {
          rawTSrc,
          sigmaTSrc: rawTSrc.map((r) => warpT(r, c.shift)),
          segmentSize: fillTimes(B, seg),
        };
        const xs = x;
        const wantDst = step < c.nfe - 1;
        const { out: g, targets: tg } = await this.tapedSegment(xs, t, teacherRatio, wantDst,
          (loss) => tf.variableGrads(() => loss().mul(seg) as tf.Scalar, vars));
        countEvals(tg.numEvals);
        try {
          if (total === null || grads === null) {
            total = g.value;
            grads = g.grads;
          } else {
            const [prevT, prevG] = [total, grads];
            total = tf.tidy(() => prevT.add(g.value)) as tf.Scalar;
            const merged: tf.NamedTensorMap = {};
            for (const k of Object.keys(prevG)) merged[k] = tf.tidy(() => prevG[k].add(g.grads[k]));
            prevT.dispose();
            g.value.dispose();
            for (const k of Object.keys(prevG)) {
              prevG[k].dispose();
              g.grads[k].dispose();
            }
            grads = merged;
          }
          if (tg.xDst) {
            x.dispose();
            x = tg.xDst;
            tg.xDst = undefined;
            rawTSrc = tg.rawTDst;
          }
        } finally {
          this.disposeTargets(tg);
        }
      }
    } catch (e) {
      total?.dispose();
      if (grads) Object.values(grads).forEach((g) => g.dispose());
      throw e;
    } finally {
      x.dispose();
    }
    return this.optimizer.apply(total!, grads!);
  }
}

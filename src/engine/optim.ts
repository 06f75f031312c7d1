/**
 * A guarded Adam step: gradients are computed, their global norm and the loss are read back together
 * (one 2-float readback), and the update is applied only when both are finite. A non-finite step
 * throws `NonFiniteLossError` and leaves the variables and the optimizer state exactly as they were.
 * Options: linear learning-rate warm-up and global-norm gradient clipping.
 */
import * as tf from '@tensorflow/tfjs';
import { ownHeapKernels, ownMemory } from './wasm-heap.js';
import { check } from './tensors.js';
import { fusedTarget, fusedTraining } from './fused.js';
import { adamStepWebGpu } from './webgpu-adam.js';

export class NonFiniteLossError extends Error {
  constructor(
    readonly iteration: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(
      `training diverged at iteration ${iteration}: loss = ${loss}, gradient norm = ${gradNorm}; ` +
        'the step was not applied (the model is unchanged) — lower the learning rate or check the data',
    );
    this.name = 'NonFiniteLossError';
  }
}

export interface AdamConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** linear warm-up of the learning rate over this many steps (0: none) */
  warmupSteps?: number;
  /** clip the global gradient norm to this value (0 or absent: no clipping) */
  clipNorm?: number;
}

export function validateAdam(cfg: AdamConfig): void {
  check(Number.isFinite(cfg.lr) && cfg.lr > 0, `learning rate must be a finite number > 0, got ${cfg.lr}`);
  for (const [k, v] of [['beta1', cfg.beta1], ['beta2', cfg.beta2]] as const) {
    if (v !== undefined) check(Number.isFinite(v) && v >= 0 && v < 1, `${k} must be in [0, 1), got ${v}`);
  }
  if (cfg.warmupSteps !== undefined) check(Number.isInteger(cfg.warmupSteps) && cfg.warmupSteps >= 0, `warmupSteps must be an integer >= 0, got ${cfg.warmupSteps}`);
  if (cfg.clipNorm !== undefined) check(Number.isFinite(cfg.clipNorm) && cfg.clipNorm >= 0, `clipNorm must be >= 0, got ${cfg.clipNorm}`);
}

export interface StepStats {
  loss: number;
  gradNorm: number;
  lr: number;
}

/** Where an update runs: the host loop, tfjs's Adam, or two WGSL programs a variable (webgpu-adam.ts). */
export type AdamPath = 'host' | 'tfjs' | 'webgpu';

/** The path the fused training switch and the backend give now. */
function naturalPath(): AdamPath {
  if (!fusedTraining()) return 'tfjs';
  const t = fusedTarget();
  return t === 'host' ? 'host' : t === 'webgpu' ? 'webgpu' : 'tfjs';
}

interface AdamConsts {
  scale: number;
  b1: number;
  b2: number;
  lr: number;
  c1: number;
  c2: number;
  eps: number;
}

/** tfjs's Adam update of elements [from, to) in float64, written to m, v (float32) and out. */
function adamLoop(g: Float32Array, w: Float32Array, m: Float32Array, v: Float32Array, out: Float32Array, from: number, to: number, k: AdamConsts): void {
  const { scale, b1, b2, lr, c1, c2, eps } = k;
  for (let i = from; i < to; i++) {
    const gi = g[i] * scale;
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    out[i] = w[i] - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
  }
}

/**
 * The host Adam update of one variable: the SIMD heap kernel (wasm-heap.ts: the same float64 operations,
 * two elements a vector; the arrays copied into its memory and back) where it loaded, else the loop.
 * Exported for the tests (kernel = loop).
 */
export function adamUpdate(g: Float32Array, w: Float32Array, m: Float32Array, v: Float32Array, out: Float32Array, k: AdamConsts): void {
  const n = g.length;
  const hk = n >= 2 ? ownHeapKernels() : null;
  if (!hk) return adamLoop(g, w, m, v, out, 0, n, k);
  const bytes = (n * 4 + 15) & ~15;
  const buf = ownMemory(5 * bytes);
  const view = (i: number) => new Float32Array(buf, i * bytes, n);
  view(0).set(g);
  view(1).set(w);
  view(2).set(m);
  view(3).set(v);
  const even = n & ~1;
  hk.adam(0, bytes, 2 * bytes, 3 * bytes, 4 * bytes, even, k.scale, k.b1, 1 - k.b1, k.b2, 1 - k.b2, k.lr, k.c1, k.c2, k.eps);
  m.set(view(2));
  v.set(view(3));
  out.set(view(4));
  if (even < n) adamLoop(g, w, m, v, out, even, n, k);
}

/** One moment array of a captured state: a host copy or a tensor still to be read. */
type MomentPart = Float32Array | tf.Tensor;

/** Adam moments of one variable, on the host. */
interface HostMoments {
  m: Float32Array;
  v: Float32Array;
}

/**
 * A GuardedAdam's state for an exact resume: the applied step count and each variable's moments, in
 * the order of the variables list given to `exportState` (names change when a model is reloaded).
 * `accBeta1/2`: tfjs's running β₁ᵗ⁺¹, β₂ᵗ⁺¹ (float32, accumulated by products) on the tfjs path.
 */
export interface AdamState {
  step: number;
  path: AdamPath | null;
  accBeta1?: number;
  accBeta2?: number;
  moments: { shape: number[]; m: Float32Array; v: Float32Array }[];
}

/** The parts of tfjs's AdamOptimizer a resume restores (its moments, by position in the gradient map). */
interface TfjsAdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/** The gradient clipping factor for global norm `norm` (1 when not clipping). */
function scaleOf(clip: number, norm: number): number {
  return clip > 0 && norm > clip ? clip / norm : 1;
}

export class GuardedAdam {
  readonly optimizer: tf.AdamOptimizer;
  /** number of applied steps */
  step = 0;
  /**
   * Where the update runs, fixed at the first step: 'host' (cpu and wasm with the fused training
   * paths on: one JavaScript loop over each variable, no kernels), 'webgpu' (webgpu with them on: two
   * WGSL programs a variable, the moments in one GPU buffer each) or 'tfjs' (tfjs's Adam, ~14 kernels
   * a variable). Fixed so that the moments stay in one place if the backend changes later.
   */
  private path: AdamPath | null = null;
  private readonly moments = new Map<string, HostMoments>();
  /** the 'webgpu' path's moments: [2n] per variable (m then v), by variable name */
  private readonly gpuMoments = new Map<string, tf.Tensor>();

  constructor(readonly cfg: AdamConfig) {
    validateAdam(cfg);
    this.optimizer = tf.train.adam(cfg.lr, cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.epsilon ?? 1e-8);
  }

  currentLr(): number {
    const w = this.cfg.warmupSteps ?? 0;
    return w > 0 ? this.cfg.lr * Math.min(1, (this.step + 1) / w) : this.cfg.lr;
  }

  /**
   * Computes gradients of `lossFn` with respect to `vars` and applies them if finite.
   * `extraGrads` lets a caller accumulate gradients from several losses (already computed) into one update.
   */
  async minimize(lossFn: () => tf.Scalar, vars: tf.Variable[]): Promise<StepStats> {
    const { value, grads } = tf.variableGrads(lossFn, vars);
    return this.apply(value, grads);
  }

  /** Applies precomputed gradients (takes ownership of `loss` and `grads`). */
  async apply(loss: tf.Scalar, grads: tf.NamedTensorMap): Promise<StepStats> {
    this.path ??= naturalPath();
    if (this.path === 'host') return this.applyHost(loss, grads);
    const names = Object.keys(grads);
    const stats = tf.tidy(() => {
      const sq = names.map((n) => grads[n].square().sum());
      const norm = sq.length ? tf.addN(sq).sqrt() : tf.scalar(0);
      return tf.stack([loss, norm]);
    });
    let lossV: number;
    let normV: number;
    try {
      const data = await stats.data();
      lossV = data[0];
      normV = data[1];
    } finally {
      stats.dispose();
      loss.dispose();
    }
    if (!Number.isFinite(lossV) || !Number.isFinite(normV)) {
      names.forEach((n) => grads[n].dispose());
      throw new NonFiniteLossError(this.step + 1, lossV, normV);
    }
    const lr = this.currentLr();
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
    const clip = this.cfg.clipNorm ?? 0;
    if (this.path === 'webgpu') {
      this.applyWebGpu(grads, lr, scaleOf(clip, normV));
    } else {
      const scale = scaleOf(clip, normV);
      if (scale !== 1) {
        for (const n of names) {
          const g = grads[n];
          grads[n] = tf.tidy(() => g.mul(scale));
          g.dispose();
        }
      }
      this.optimizer.applyGradients(grads as tf.NamedTensorMap as never);
    }
    names.forEach((n) => grads[n].dispose());
    this.step++;
    return { loss: lossV, gradNorm: normV, lr };
  }

  /** The 'webgpu' path's update: two programs a variable, the clipping scale folded in. */
  private applyWebGpu(grads: tf.NamedTensorMap, lr: number, scale: number): void {
    const b1 = this.cfg.beta1 ?? 0.9;
    const b2 = this.cfg.beta2 ?? 0.999;
    const t = this.step + 1;
    const step = { b1, b2, eps: this.cfg.epsilon ?? 1e-8, lr, c1: 1 / (1 - Math.pow(b1, t)), c2: 1 / (1 - Math.pow(b2, t)), scale };
    const registered = tf.engine().registeredVariables;
    for (const n of Object.keys(grads)) {
      const variable = registered[n];
      check(variable !== undefined, `Adam: no variable named ${n}`);
      const old = this.gpuMoments.get(n) ?? tf.zeros([2 * variable.size]);
      const next = adamStepWebGpu(variable, grads[n], old, step);
      old.dispose();
      this.gpuMoments.set(n, next);
    }
  }

  /**
   * The same guarded step on the host (cpu, wasm): each gradient is read once, the global norm and
   * tfjs's Adam update (m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − lr·m̂/(√v̂ + ε) with
   * m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)) run as one loop per variable, and the new values are uploaded,
   * with no kernel dispatched. Non-finite loss or norm: nothing applied, the moments untouched.
   */
  private async applyHost(loss: tf.Scalar, grads: tf.NamedTensorMap): Promise<StepStats> {
    const names = Object.keys(grads);
    let lossV: number;
    const gs: Float32Array[] = [];
    try {
      lossV = (await loss.data())[0];
      for (const n of names) gs.push(grads[n].dataSync() as Float32Array);
    } finally {
      loss.dispose();
      names.forEach((n) => grads[n].dispose());
    }
    let sq = 0;
    for (const g of gs) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    const normV = Math.sqrt(sq);
    if (!Number.isFinite(lossV) || !Number.isFinite(normV)) throw new NonFiniteLossError(this.step + 1, lossV, normV);
    const lr = this.currentLr();
    const clip = this.cfg.clipNorm ?? 0;
    const scale = scaleOf(clip, normV);
    const b1 = this.cfg.beta1 ?? 0.9;
    const b2 = this.cfg.beta2 ?? 0.999;
    const eps = this.cfg.epsilon ?? 1e-8;
    const t = this.step + 1;
    const c1 = 1 / (1 - Math.pow(b1, t));
    const c2 = 1 / (1 - Math.pow(b2, t));
    const registered = tf.engine().registeredVariables;
    names.forEach((n, j) => {
      const variable = registered[n];
      check(variable !== undefined, `Adam: no variable named ${n}`);
      const g = gs[j];
      let mo = this.moments.get(n);
      if (!mo) {
        mo = { m: new Float32Array(g.length), v: new Float32Array(g.length) };
        this.moments.set(n, mo);
      }
      const { m, v } = mo;
      const w = variable.dataSync() as Float32Array;
      const out = new Float32Array(g.length);
      adamUpdate(g, w, m, v, out, { scale, b1, b2, lr, c1, c2, eps });
      const next = tf.tensor(out, variable.shape, 'float32');
      variable.assign(next);
      next.dispose();
    });
    this.step++;
    return { loss: lossV, gradNorm: normV, lr };
  }

  /**
   * What exportState reads, taken now: per variable its moments as host copies or tensors (`[m, v]`,
   * or the 'webgpu' path's one [2n] buffer; `[]` before the first step), and tfjs's running β powers.
   * `clone`: GPU-held tensors are cloned, so a step taken before they are read back cannot change them.
   */
  private captureMoments(vars: tf.Variable[], clone: boolean): { step: number; path: AdamPath | null; parts: MomentPart[][]; acc: MomentPart[] } {
    const o = this.optimizer as unknown as TfjsAdamInternals;
    const own = (t: tf.Tensor) => (clone ? t.clone() : t);
    const parts = vars.map((variable, i): MomentPart[] => {
      if (this.path === 'host') {
        const mo = this.moments.get(variable.name);
        return mo ? [mo.m.slice(), mo.v.slice()] : [];
      }
      if (this.path === 'webgpu') {
        const mv = this.gpuMoments.get(variable.name);
        return mv ? [own(mv)] : [];
      }
      if (this.path === 'tfjs') {
        const fm = o.accumulatedFirstMoment[i], sm = o.accumulatedSecondMoment[i];
        return fm && sm ? [own(fm.variable), own(sm.variable)] : [];
      }
      return [];
    });
    const acc = this.path === 'tfjs' ? [own(o.accBeta1), own(o.accBeta2)] : [];
    return { step: this.step, path: this.path, parts, acc };
  }

  /** The state of a capture, with `read` giving each part's values. */
  private static stateOf(vars: tf.Variable[], c: ReturnType<GuardedAdam['captureMoments']>, read: (p: MomentPart) => Float32Array): AdamState {
    const moments = vars.map((variable, i) => {
      const n = variable.size;
      const p = c.parts[i];
      let m: Float32Array = new Float32Array(n), v: Float32Array = new Float32Array(n);
      if (p.length === 2) [m, v] = [read(p[0]), read(p[1])];
      else if (p.length === 1) {
        const all = read(p[0]);
        [m, v] = [all.slice(0, n), all.slice(n, 2 * n)];
      }
      return { shape: [...variable.shape], m, v };
    });
    const state: AdamState = { step: c.step, path: c.path, moments };
    if (c.acc.length) [state.accBeta1, state.accBeta2] = [read(c.acc[0])[0], read(c.acc[1])[0]];
    return state;
  }

  /** The state (step count, moments in the order of `vars`), copied to the host synchronously. */
  exportState(vars: tf.Variable[]): AdamState {
    return GuardedAdam.stateOf(vars, this.captureMoments(vars, false), (p) => (p instanceof tf.Tensor ? Float32Array.from(p.dataSync() as Float32Array) : p));
  }

  /**
   * exportState's state, captured now (GPU moments cloned, host moments copied, synchronously) and read
   * back asynchronously: works where a synchronous readback does not (webgpu in Node).
   */
  async exportStateAsync(vars: tf.Variable[]): Promise<AdamState> {
    const c = this.captureMoments(vars, true);
    const tensors = [...c.parts.flat(), ...c.acc].filter((p): p is tf.Tensor => p instanceof tf.Tensor);
    try {
      const values = new Map(await Promise.all(tensors.map(async (t) => [t, Float32Array.from(await t.data())] as const)));
      return GuardedAdam.stateOf(vars, c, (p) => (p instanceof tf.Tensor ? values.get(p)! : p));
    } finally {
      tf.dispose(tensors);
    }
  }

  /**
   * Restores `exportState`'s state for the variables `vars` (same count and shapes, in the same order):
   * the next step is the one the exported optimizer would have taken. Bad state: a clear error, nothing changed.
   */
  importState(state: AdamState, vars: tf.Variable[]): void {
    check(state !== null && typeof state === 'object' && Array.isArray(state.moments), 'Adam state: not an optimizer state');
    check(Number.isInteger(state.step) && state.step >= 0, `Adam state: step must be an integer >= 0, got ${state.step}`);
    check(state.moments.length === vars.length, `Adam state: ${state.moments.length} variables saved, the model has ${vars.length}`);
    vars.forEach((variable, i) => {
      const mo = state.moments[i];
      check(Array.isArray(mo.shape) && mo.shape.join(',') === variable.shape.join(','), `Adam state: variable ${i} has shape [${mo.shape}], the model's is [${variable.shape}]`);
      check(mo.m instanceof Float32Array && mo.v instanceof Float32Array && mo.m.length === variable.size && mo.v.length === variable.size, `Adam state: variable ${i}'s moments hold the wrong number of values`);
    });
    // the saved path, except a 'webgpu' state off webgpu (a checkpoint restored on the fallback backend):
    // the same update on this backend's path (the host loop's is the same formula)
    let path: AdamPath = state.path ?? naturalPath();
    if (path === 'webgpu' && tf.getBackend() !== 'webgpu') path = naturalPath() === 'host' ? 'host' : 'tfjs';
    this.resetMoments();
    this.path = path;
    this.step = state.step;
    if (path === 'webgpu') {
      if (state.step === 0) return;
      vars.forEach((variable, i) => {
        const mv = new Float32Array(2 * variable.size);
        mv.set(state.moments[i].m, 0);
        mv.set(state.moments[i].v, variable.size);
        this.gpuMoments.set(variable.name, tf.tensor1d(mv));
      });
      return;
    }
    if (path === 'host') {
      vars.forEach((variable, i) => this.moments.set(variable.name, { m: state.moments[i].m.slice(), v: state.moments[i].v.slice() }));
      return;
    }
    const o = this.optimizer as unknown as TfjsAdamInternals;
    const b1 = this.cfg.beta1 ?? 0.9, b2 = this.cfg.beta2 ?? 0.999;
    tf.tidy(() => {
      o.accBeta1.assign(tf.scalar(state.accBeta1 ?? Math.pow(b1, state.step + 1)));
      o.accBeta2.assign(tf.scalar(state.accBeta2 ?? Math.pow(b2, state.step + 1)));
    });
    if (state.step === 0) return;
    o.accumulatedFirstMoment = vars.map((variable, i) => ({ originalName: `${variable.name}/m`, variable: tf.tidy(() => tf.tensor(state.moments[i].m, variable.shape).variable(false)) }));
    o.accumulatedSecondMoment = vars.map((variable, i) => ({ originalName: `${variable.name}/v`, variable: tf.tidy(() => tf.tensor(state.moments[i].v, variable.shape).variable(false)) }));
  }

  private resetMoments(): void {
    const o = this.optimizer as unknown as TfjsAdamInternals;
    tf.dispose([...o.accumulatedFirstMoment, ...o.accumulatedSecondMoment].map((e) => e.variable));
    o.accumulatedFirstMoment = [];
    o.accumulatedSecondMoment = [];
    this.moments.clear();
    tf.dispose([...this.gpuMoments.values()]);
    this.gpuMoments.clear();
  }

  dispose(): void {
    this.optimizer.dispose();
    this.moments.clear();
    tf.dispose([...this.gpuMoments.values()]);
    this.gpuMoments.clear();
  }
}

/**
 * Pure geometry and number helpers shared by the views (no DOM, no d3, no tfjs), so that Node tests can
 * check them directly.
 *
 * Point conventions used throughout src/viz:
 *  - `XY` = a Float32Array of interleaved coordinates [x0, y0, x1, y1, …], i.e. shape [n, 2] row-major
 *    (the layout the engine's samplers return), or an array of [x, y] pairs; `toXY` normalises both.
 *  - σ runs from 1 (noise) to 0 (data); σ arrays along a path are monotone (usually decreasing) and may
 *    repeat values where a sample has finished and stays frozen.
 */

/** 2-D points: interleaved Float32Array ([n·2]) or an array of [x, y] pairs ([n][2]). */
export type Points = Float32Array | ArrayLike<number> | ReadonlyArray<readonly [number, number] | readonly number[]>;

/** Normalises `Points` to an interleaved Float32Array ([n·2]); the same array is returned when it already is one. */
export function toXY(p: Points): Float32Array {
  if (p instanceof Float32Array) return p;
  const a = p as ArrayLike<unknown>;
  if (a.length > 0 && typeof a[0] !== 'number') {
    const pairs = p as ReadonlyArray<readonly number[]>;
    const out = new Float32Array(pairs.length * 2);
    pairs.forEach((q, i) => { out[2 * i] = q[0]; out[2 * i + 1] = q[1]; });
    return out;
  }
  return Float32Array.from(p as ArrayLike<number>);
}

/** number of points in an interleaved array */
export const count = (xy: ArrayLike<number>): number => Math.floor(xy.length / 2);

/**
 * Fractional index of σ = `s` along a monotone σ array: j + t means between entries j and j+1 at
 * fraction t. Clamped to [0, T−1]. On a plateau (repeated σ) the earliest matching entry wins.
 */
export function sigmaIndex(sigma: ArrayLike<number>, s: number): number {
  const T = sigma.length;
  if (T <= 1 || !Number.isFinite(s)) return 0;
  const dec = sigma[0] >= sigma[T - 1];
  const before = (v: number) => (dec ? v >= s : v <= s); // entry v has not yet passed s
  if (!before(sigma[0]) || sigma[0] === s) return 0;
  if (before(sigma[T - 1]) && sigma[T - 1] !== s) return T - 1;
  // binary search: the last j with sigma[j] strictly before s (entries ≥ s when decreasing)
  let lo = 0, hi = T - 1; // invariant: before(sigma[lo]) and sigma[lo] != s, !(… at hi) or sigma[hi] == s
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (before(sigma[mid]) && sigma[mid] !== s) lo = mid; else hi = mid;
  }
  const a = sigma[lo], b = sigma[hi];
  const t = a === b ? 1 : (a - s) / (a - b);
  return lo + Math.min(Math.max(t, 0), 1);
}

/** Position along an interleaved path ([T·2]) at fractional index f (linear between neighbours). */
export function pointAtIndex(xy: ArrayLike<number>, f: number): [number, number] {
  const T = count(xy);
  if (T === 0) return [NaN, NaN];
  const fc = Math.min(Math.max(f, 0), T - 1);
  const j = Math.min(Math.floor(fc), T - 2 < 0 ? 0 : T - 2);
  const t = T === 1 ? 0 : fc - j;
  const k = T === 1 ? 0 : j + 1;
  return [xy[2 * j] + t * (xy[2 * k] - xy[2 * j]), xy[2 * j + 1] + t * (xy[2 * k + 1] - xy[2 * j + 1])];
}

/** Particle position at σ = s along a path with states `xy` ([T·2]) at noise levels `sigma` ([T]). */
export function pointAtSigma(sigma: ArrayLike<number>, xy: ArrayLike<number>, s: number): [number, number] {
  return pointAtIndex(xy, sigmaIndex(sigma, s));
}

/**
 * Transposes per-step batch states into per-path arrays: `states[j]` is x at step j for the whole batch
 * ([B·2]), `sigma[j]` its σ (one number, or one per sample). Returns B paths of T = states.length points,
 * each with its own σ array — the `Path` shape the trajectory view takes.
 */
export function stepsToPaths(
  sigma: ReadonlyArray<number | ArrayLike<number>>,
  states: ReadonlyArray<ArrayLike<number>>,
): { sigma: Float64Array; points: Float32Array }[] {
  const T = states.length;
  if (sigma.length !== T) throw new Error(`stepsToPaths: ${sigma.length} σ entries for ${T} states`);
  const B = T ? count(states[0]) : 0;
  const paths = Array.from({ length: B }, () => ({ sigma: new Float64Array(T), points: new Float32Array(T * 2) }));
  for (let j = 0; j < T; j++) {
    const s = sigma[j], x = states[j];
    if (count(x) !== B) throw new Error(`stepsToPaths: step ${j} has ${count(x)} points, expected ${B}`);
    for (let b = 0; b < B; b++) {
      paths[b].sigma[j] = typeof s === 'number' ? s : s[b];
      paths[b].points[2 * j] = x[2 * b];
      paths[b].points[2 * j + 1] = x[2 * b + 1];
    }
  }
  return paths;
}

/** SVG path data through the points of `xy` mapped by `sx`, `sy`; non-finite points break the line. */
export function polylineD(xy: ArrayLike<number>, sx: (v: number) => number, sy: (v: number) => number, indices?: ArrayLike<number>): string {
  let d = '';
  let pen = false;
  const n = indices ? indices.length : count(xy);
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    const x = sx(xy[2 * i]), y = sy(xy[2 * i + 1]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${r2(x)},${r2(y)}`;
    pen = true;
  }
  return d;
}

/**
 * SVG path data that draws a dot at each point (zero-length segments; stroke with `stroke-linecap:
 * round` and stroke-width = dot diameter). One <path> for hundreds of substep ticks keeps redraws cheap.
 */
export function dotsD(xy: ArrayLike<number>, sx: (v: number) => number, sy: (v: number) => number, indices?: ArrayLike<number>): string {
  let d = '';
  const n = indices ? indices.length : count(xy);
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    const x = sx(xy[2 * i]), y = sy(xy[2 * i + 1]);
    if (Number.isFinite(x) && Number.isFinite(y)) d += `M${r2(x)},${r2(y)}h0`;
  }
  return d;
}

/** rounds to 2 decimals for compact SVG */
export const r2 = (v: number): number => Math.round(v * 100) / 100;

/** One arrow in screen units: tail (x1, y1), head (x2, y2), length in data units before scaling. */
export interface Arrow { x1: number; y1: number; x2: number; y2: number; magnitude: number; }

/**
 * Scale factor for a velocity field drawn on a grid: the longest finite vector is drawn `frac` × the grid
 * spacing long (data units). Returns 0 when every vector is zero or non-finite.
 */
export function arrowScale(vectors: ArrayLike<number>, spacing: number, frac = 0.9): number {
  let max = 0;
  for (let i = 0; i + 1 < vectors.length; i += 2) {
    const m = Math.hypot(vectors[i], vectors[i + 1]);
    if (Number.isFinite(m) && m > max) max = m;
  }
  return max > 0 ? (frac * spacing) / max : 0;
}

/**
 * Smallest positive distance between distinct coordinates along x or y of a set of grid positions ([M·2]),
 * i.e. the grid spacing; Infinity for fewer than two distinct coordinates.
 */
export function gridSpacing(positions: ArrayLike<number>): number {
  let best = Infinity;
  for (const axis of [0, 1]) {
    const v: number[] = [];
    for (let i = axis; i < positions.length; i += 2) v.push(positions[i]);
    v.sort((a, b) => a - b);
    for (let i = 1; i < v.length; i++) {
      const d = v[i] - v[i - 1];
      if (d > 1e-9 * Math.max(1, Math.abs(v[i])) && d < best) best = d;
    }
  }
  return best;
}

/**
 * Arrows in data units: tail at each grid position, head at position + scale·vector (`flip` negates the
 * vectors, e.g. to show the sampling displacement −u·|dσ| from a velocity u = noise − x₀).
 * Non-finite vectors give zero-length arrows.
 */
export function arrows(positions: ArrayLike<number>, vectors: ArrayLike<number>, scale: number, flip = false): Arrow[] {
  const n = Math.min(count(positions), count(vectors));
  const sgn = flip ? -scale : scale;
  const out: Arrow[] = [];
  for (let i = 0; i < n; i++) {
    let vx = vectors[2 * i], vy = vectors[2 * i + 1];
    if (!Number.isFinite(vx) || !Number.isFinite(vy)) vx = vy = 0;
    const x = positions[2 * i], y = positions[2 * i + 1];
    out.push({ x1: x, y1: y, x2: x + sgn * vx, y2: y + sgn * vy, magnitude: Math.hypot(vx, vy) });
  }
  return out;
}

/**
 * SVG path data for an arrow in screen coordinates: shaft plus an open V head whose size is `head`
 * pixels, shrunk for short arrows (at most 40% of the length). Empty string for a zero-length arrow.
 */
export function arrowD(x1: number, y1: number, x2: number, y2: number, head = 4): string {
  const dx = x2 - x1, dy = y2 - y1, L = Math.hypot(dx, dy);
  if (!(L > 1e-6)) return '';
  const h = Math.min(head, 0.4 * L), ux = dx / L, uy = dy / L;
  const bx = x2 - h * ux, by = y2 - h * uy, px = -uy * h * 0.5, py = ux * h * 0.5;
  return `M${r2(x1)},${r2(y1)}L${r2(x2)},${r2(y2)}M${r2(bx + px)},${r2(by + py)}L${r2(x2)},${r2(y2)}L${r2(bx - px)},${r2(by - py)}`;
}

/** A GMFlow component as drawn: centre (data units), mean-marker radius (px), one-σ radius (data units). */
export interface ComponentCircle { k: number; cx: number; cy: number; weight: number; r: number; stdR: number; }

/**
 * Circles for K Gaussian components in x₀-space: marker area ∝ weight (r = rMax·√(w / max w), at least
 * rMin px), one-σ ring radius = `std` (data units). Weights need not be normalised; they are divided by
 * their sum (negative or non-finite weights count as 0). Sorted largest weight last (drawn on top).
 */
export function componentCircles(means: Points, weights: ArrayLike<number>, std: number, rMax = 10, rMin = 1.5): ComponentCircle[] {
  const m = toXY(means);
  const K = Math.min(count(m), weights.length);
  const w = Array.from({ length: K }, (_, k) => (Number.isFinite(weights[k]) && weights[k] > 0 ? weights[k] : 0));
  const sum = w.reduce((a, b) => a + b, 0);
  const wn = w.map((v) => (sum > 0 ? v / sum : 1 / Math.max(K, 1)));
  const wMax = Math.max(...wn, 0);
  const stdR = Number.isFinite(std) && std > 0 ? std : 0;
  return wn
    .map((weight, k) => ({ k, cx: m[2 * k], cy: m[2 * k + 1], weight, r: Math.max(rMin, wMax > 0 ? rMax * Math.sqrt(weight / wMax) : rMin), stdR }))
    .sort((a, b) => a.weight - b.weight);
}

/** softmax of log-weights (numerically stable); convenient for feeding `componentCircles` from logits */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) mx = Math.max(mx, logits[i]);
  const out = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += out[i] = Math.exp(logits[i] - mx);
  for (let i = 0; i < n; i++) out[i] /= s;
  return out;
}

/**
 * Exponential moving average with bias correction (as in TensorBoard-style smoothing):
 * smoothed_i = EMA_i / (1 − β^(i+1)), β = `beta` ∈ [0, 1). Non-finite inputs are skipped (the previous
 * smoothed value repeats, NaN before the first finite value).
 */
export class Ema {
  private acc = 0;
  private n = 0;
  constructor(readonly beta = 0.9) {
    if (!(beta >= 0 && beta < 1)) throw new Error(`Ema: beta must be in [0, 1), got ${beta}`);
  }
  push(v: number): number {
    if (Number.isFinite(v)) { this.acc = this.beta * this.acc + (1 - this.beta) * v; this.n++; }
    return this.value;
  }
  get value(): number { return this.n ? this.acc / (1 - Math.pow(this.beta, this.n)) : NaN; }
  reset(): void { this.acc = 0; this.n = 0; }
}

/** EMA of a whole series (see `Ema`). */
export function ema(values: ArrayLike<number>, beta = 0.9): number[] {
  const e = new Ema(beta);
  return Array.from(values, (v) => e.push(v));
}

/** Grid layout for small multiples: rows and columns for n panels with at most `maxCols` columns. */
export function gridShape(n: number, maxCols = 4): { rows: number; cols: number } {
  const cols = Math.max(1, Math.min(n, maxCols));
  return { rows: Math.max(1, Math.ceil(n / cols)), cols };
}

/**
 * Maps density values on a grid to RGBA pixels for an ImageData of nx × ny. `values[j·nx + i]` is the
 * density at column i (x increasing) and row j (y increasing upwards), so rows are flipped to image
 * order (top row = largest y). `color(t)` maps t ∈ [0, 1] to [r, g, b] (0–255); t = (v − lo)/(hi − lo)
 * with lo/hi the finite min/max unless given (`gamma` < 1 brightens low densities). Non-finite cells are
 * transparent; alpha = `alpha`·255 elsewhere.
 */
export function densityRGBA(
  values: ArrayLike<number>,
  nx: number,
  ny: number,
  color: (t: number) => [number, number, number],
  o: { lo?: number; hi?: number; gamma?: number; alpha?: number } = {},
): Uint8ClampedArray {
  if (values.length !== nx * ny) throw new Error(`densityRGBA: ${values.length} values for a ${nx}×${ny} grid`);
  let lo = o.lo ?? Infinity, hi = o.hi ?? -Infinity;
  if (o.lo === undefined || o.hi === undefined) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      if (o.lo === undefined && v < lo) lo = v;
      if (o.hi === undefined && v > hi) hi = v;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const g = o.gamma ?? 1, a = Math.round(255 * (o.alpha ?? 1));
  const out = new Uint8ClampedArray(nx * ny * 4);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const v = values[j * nx + i];
      const p = ((ny - 1 - j) * nx + i) * 4;
      if (!Number.isFinite(v)) continue;
      const t = Math.pow(Math.min(Math.max((v - lo) / span, 0), 1), g);
      const [r, gg, b] = color(t);
      out[p] = r; out[p + 1] = gg; out[p + 2] = b; out[p + 3] = a;
    }
  }
  return out;
}

/** Formats seconds as h:mm:ss or m:ss ('–' when unknown). */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '–';
  const s = Math.round(sec), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), ss = s % 60;
  const p2 = (v: number) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${p2(m)}:${p2(ss)}` : `${m}:${p2(ss)}`;
}

/** Formats a loss or metric value compactly (4 significant digits, exponent for small/large values). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/**
 * Iteration-rate meter: feed (iteration, time in ms) pairs; `rate` is iterations/second measured over
 * intervals of at least `minMs` (updates closer together accumulate), smoothed exponentially; `eta(total)`
 * is the seconds left at that rate. `rebase()` (e.g. on pause) forgets the last sample but keeps the rate.
 */
export class RateMeter {
  private last?: { it: number; t: number };
  private r = NaN;
  constructor(readonly smoothing = 0.7, readonly minMs = 250) {}
  update(iteration: number, timeMs: number): number {
    if (!this.last || iteration < this.last.it) { this.last = { it: iteration, t: timeMs }; return this.r; }
    const dt = timeMs - this.last.t;
    if (dt >= this.minMs) {
      const inst = ((iteration - this.last.it) * 1000) / dt;
      this.r = Number.isFinite(this.r) ? this.smoothing * this.r + (1 - this.smoothing) * inst : inst;
      this.last = { it: iteration, t: timeMs };
    }
    return this.r;
  }
  get rate(): number { return this.r; }
  /** the last iteration seen */
  get iteration(): number { return this.last?.it ?? NaN; }
  eta(total: number): number {
    return this.last && this.r > 0 ? Math.max(0, total - this.last.it) / this.r : NaN;
  }
  rebase(): void { this.last = undefined; }
  reset(): void { this.last = undefined; this.r = NaN; }
}

/**
 * A square data domain [[x0, x1], [y0, y1]] that holds every (x, y) point of the arrays with `pad`
 * (a fraction of the larger span) on each side, centred on the points' bounding box. Non-finite
 * values are skipped; no finite point gives [−1, 1]².
 */
export function fitDomain(arrays: ArrayLike<number>[], pad = 0.06): [[number, number], [number, number]] {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i + 1 < a.length; i += 2) {
      const x = a[i], y = a[i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (!(x1 >= x0)) return [[-1, 1], [-1, 1]];
  const half = (Math.max(x1 - x0, y1 - y0, 1e-9) / 2) * (1 + 2 * pad);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  return [[cx - half, cx + half], [cy - half, cy + half]];
}

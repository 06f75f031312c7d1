/**
 * Seeded 2D toy distributions, drawn on the host from an `Rng` (so every backend sees the same points).
 *
 * All sets share the checkerboard's extent, roughly [-4, 4]^2, so one teacher recipe fits them all.
 * Points are row-major Float32Arrays of shape [n, 2] (x0, y0, x1, y1, ...).
 */
import type { Rng } from '../engine/rng.js';

export const DATASETS_2D = ['checkerboard', 'moons', 'gaussians8', 'spirals', 'rings'] as const;
export type Dataset2d = (typeof DATASETS_2D)[number];

/** White squares (i, j) of the 4x4 board, (i + j) % 2 == 0, i outer (as the peer's `_WHITE`). */
const WHITE: ReadonlyArray<readonly [number, number]> = [0, 1, 2, 3].flatMap((i) =>
  [0, 1, 2, 3].filter((j) => (i + j) % 2 === 0).map((j) => [i, j] as const),
);

type PointFn = (rng: Rng) => [number, number];

const GAUSS8_RADIUS = 4 / Math.SQRT2; // ≈ 2.83 (FFJORD's 8 Gaussians: scale 4, divided by √2)
const GAUSS8_STD = 0.25;
const RING_RADII = [0.75, 1.5, 2.25, 3.0];

const GENERATORS: Record<Dataset2d, PointFn> = {
  // WORKLOAD.md §2: x0 = ((square + v) * 2/4 - 1) * 4, square (i, j) -> (x, y)
  checkerboard: (rng) => {
    const [i, j] = WHITE[rng.int(WHITE.length)];
    return [((i + rng.uniform()) * 0.5 - 1) * 4, ((j + rng.uniform()) * 0.5 - 1) * 4];
  },
  // two interleaved half circles (sklearn make_moons), centred and scaled by 2.5, noise std 0.2
  moons: (rng) => {
    const th = Math.PI * rng.uniform();
    const [x, y] = rng.uniform() < 0.5 ? [Math.cos(th), Math.sin(th)] : [1 - Math.cos(th), 0.5 - Math.sin(th)];
    return [(x - 0.5) * 2.5 + 0.2 * rng.normal(), (y - 0.25) * 2.5 + 0.2 * rng.normal()];
  },
  // 8 Gaussians evenly on a circle of radius 4/√2
  gaussians8: (rng) => {
    const a = (rng.int(8) * Math.PI) / 4;
    return [GAUSS8_RADIUS * Math.cos(a) + GAUSS8_STD * rng.normal(), GAUSS8_RADIUS * Math.sin(a) + GAUSS8_STD * rng.normal()];
  },
  // two interleaved spirals (FFJORD '2spirals'): radius = angle in [0, 3π], divided by 3
  spirals: (rng) => {
    const th = Math.sqrt(rng.uniform()) * 3 * Math.PI;
    const sgn = rng.uniform() < 0.5 ? 1 : -1;
    const x = (sgn * (-Math.cos(th) * th + 0.5 * rng.uniform())) / 3 + 0.1 * rng.normal();
    const y = (sgn * (Math.sin(th) * th + 0.5 * rng.uniform())) / 3 + 0.1 * rng.normal();
    return [x, y];
  },
  // 4 concentric rings (equal mass each), noise std 0.1
  rings: (rng) => {
    const r = RING_RADII[rng.int(RING_RADII.length)];
    const a = 2 * Math.PI * rng.uniform();
    return [r * Math.cos(a) + 0.1 * rng.normal(), r * Math.sin(a) + 0.1 * rng.normal()];
  },
};

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what}: n must be a positive integer, got ${n}`);
}

/** `n` fresh samples of the named set. Returns [n, 2] row-major. */
export function sample2d(name: string, n: number, rng: Rng): Float32Array {
  if (!(DATASETS_2D as readonly string[]).includes(name)) {
    throw new Error(`sample2d: unknown dataset '${name}'; allowed: ${DATASETS_2D.join(', ')}`);
  }
  checkCount(n, 'sample2d');
  const gen = GENERATORS[name as Dataset2d];
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = gen(rng);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** Parse user CSV of `x,y` rows (optional `x,y` header; blank lines ignored). Returns [n, 2]. */
export function parseCsv2d(text: string): Float32Array {
  const vals: number[] = [];
  let first = true;
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '') return;
    const isHeader = first && /^x\s*,\s*y$/i.test(line);
    first = false;
    if (isHeader) return;
    const fields = line.split(',').map((f) => f.trim());
    const nums = fields.map((f) => (f === '' ? NaN : Number(f)));
    if (nums.length !== 2 || !nums.every(Number.isFinite)) {
      throw new Error(`CSV line ${idx + 1}: expected two finite numbers 'x,y', got '${line}'`);
    }
    vals.push(nums[0], nums[1]);
  });
  if (vals.length === 0) throw new Error('CSV: no data rows');
  return Float32Array.from(vals);
}

/** Shortest decimal that reads back to the same float32. */
function f32ToString(v: number): string {
  for (let p = 6; p < 9; p++) {
    const s = String(Number(v.toPrecision(p)));
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}

/** points: [n, 2] -> CSV with header `x,y`, one row per point (exact float32 round-trip). */
export function toCsv2d(points: Float32Array): string {
  if (points.length % 2 !== 0) throw new Error(`toCsv2d: expected [n, 2] points, got length ${points.length}`);
  const rows = ['x,y'];
  for (let i = 0; i < points.length; i += 2) rows.push(`${f32ToString(points[i])},${f32ToString(points[i + 1])}`);
  return rows.join('\n') + '\n';
}

/** Samples with replacement from a fixed point set (user-drawn or CSV data). */
export class PointSampler {
  readonly points: Float32Array; // [count, 2]

  constructor(points: Float32Array) {
    if (points.length === 0 || points.length % 2 !== 0) {
      throw new Error(`PointSampler: expected a non-empty [n, 2] point set, got length ${points.length}`);
    }
    if (!points.every(Number.isFinite)) throw new Error('PointSampler: points must be finite');
    this.points = Float32Array.from(points);
  }

  get count(): number {
    return this.points.length / 2;
  }

  /** `n` points drawn uniformly with replacement. Returns [n, 2]. */
  sample(n: number, rng: Rng): Float32Array {
    checkCount(n, 'PointSampler.sample');
    const out = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const k = rng.int(this.count);
      out[2 * i] = this.points[2 * k];
      out[2 * i + 1] = this.points[2 * k + 1];
    }
    return out;
  }
}

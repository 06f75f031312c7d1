/**
 * Seeded 2D toy distributions, drawn on the host from an `Rng` (so every backend sees the same points):
 * a thin layer over the registry in datasets/ (the generators, support tests and modes live there),
 * plus user data (CSV, drawn points).
 *
 * All sets share the checkerboard's extent, roughly [-4, 4]^2, so one teacher recipe fits them all.
 * Points are row-major Float32Arrays of shape [n, 2] (x0, y0, x1, y1, ...).
 */
import type { Rng } from '../engine/rng.js';
import { DATASET_NAMES, getDataset, samplePoints, type DatasetName } from '../../datasets/index.js';

/** The shipped 2D datasets, in registry order (datasets/index.ts; one module each in datasets/). */
export const DATASETS_2D = DATASET_NAMES;
export type Dataset2d = DatasetName;

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what}: n must be a positive integer, got ${n}`);
}

/** `n` fresh samples of the named set. Returns [n, 2] row-major. */
export function sample2d(name: string, n: number, rng: Rng): Float32Array {
  let d;
  try {
    d = getDataset(name);
  } catch (e) {
    throw new Error(`sample2d: ${(e as Error).message}`);
  }
  checkCount(n, 'sample2d');
  return samplePoints(d, n, rng);
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

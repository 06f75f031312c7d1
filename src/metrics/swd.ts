/**
 * Sliced Wasserstein-1 distance (WORKLOAD.md §10), on the host in float64:
 * nProj random unit directions (normalised N(0, I)), project both sets, sort, mean |difference|
 * over samples and directions.
 */
import type { Rng } from '../engine/rng.js';

const RADIX = 2048;
const MASK = RADIX - 1;
// word 2i + HI of a Float64Array's Uint32 view is the high half of element i
const HI = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * Ascending in-place sort of float64 arrays of a fixed length n, ~4x faster than
 * Float64Array.prototype.sort: LSD radix sort (3 x 11 bits) on the sign-flipped high 32 bits,
 * then an insertion pass that orders the rare ties in the high word (falls back to the native sort
 * if ties are many). Values are ordered as numbers (NaNs, if any, end up in undefined places).
 */
export class Float64Sorter {
  private readonly keys: Uint32Array;
  private readonly keys2: Uint32Array;
  private readonly vals2: Float64Array;
  private readonly hist = new Uint32Array(3 * RADIX);

  constructor(readonly n: number) {
    this.keys = new Uint32Array(n);
    this.keys2 = new Uint32Array(n);
    this.vals2 = new Float64Array(n);
  }

  /** a: [n], sorted in place. */
  sort(a: Float64Array): Float64Array {
    const { n, hist } = this;
    if (a.length !== n) throw new Error(`Float64Sorter: expected length ${n}, got ${a.length}`);
    const u = new Uint32Array(a.buffer, a.byteOffset, 2 * n);
    hist.fill(0);
    for (let i = 0; i < n; i++) {
      const hi = u[2 * i + HI];
      const k = (hi ^ ((hi >> 31) | 0x80000000)) >>> 0; // order-preserving map of the high word
      this.keys[i] = k;
      hist[k & MASK]++;
      hist[RADIX + ((k >>> 11) & MASK)]++;
      hist[2 * RADIX + (k >>> 22)]++;
    }
    let [sk, sv, dk, dv] = [this.keys, a, this.keys2, this.vals2];
    for (let p = 0; p < 3; p++) {
      const off = p * RADIX;
      const shift = 11 * p;
      for (let d = 0, sum = 0; d < RADIX; d++) {
        const c = hist[off + d];
        hist[off + d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const k = sk[i];
        const j = hist[off + ((k >>> shift) & MASK)]++;
        dk[j] = k;
        dv[j] = sv[i];
      }
      [sk, dk, sv, dv] = [dk, sk, dv, sv];
    }
    // after 3 passes the values are in vals2; copy back, inserting ties in the high word in order
    let moves = 0;
    for (let i = 0; i < n; i++) {
      const v = sv[i];
      let j = i - 1;
      while (j >= 0 && a[j] > v) {
        a[j + 1] = a[j];
        j--;
      }
      a[j + 1] = v;
      moves += i - 1 - j;
      if (moves > 4 * n) {
        a.set(sv.subarray(i + 1), i + 1);
        return a.sort();
      }
    }
    return a;
  }
}

/** a, b: [n, dim] row-major with equal n. Returns SW1 (>= 0; NaN if an input is NaN). */
export function slicedWasserstein1(a: Float32Array, b: Float32Array, dim: number, nProj: number, rng: Rng): number {
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`slicedWasserstein1: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(nProj) || nProj <= 0) throw new Error(`slicedWasserstein1: nProj must be a positive integer, got ${nProj}`);
  if (a.length % dim !== 0 || b.length % dim !== 0) {
    throw new Error(`slicedWasserstein1: array lengths ${a.length}, ${b.length} are not multiples of dim ${dim}`);
  }
  const n = a.length / dim;
  if (b.length / dim !== n) throw new Error(`slicedWasserstein1: sample counts differ (${n} vs ${b.length / dim})`);
  if (n === 0) throw new Error('slicedWasserstein1: empty sample sets');
  const pa = new Float64Array(n); // [n] projections of a
  const pb = new Float64Array(n);
  const dir = new Float64Array(dim);
  const sorter = new Float64Sorter(n);
  let total = 0;
  for (let p = 0; p < nProj; p++) {
    let norm = 0;
    do {
      norm = 0;
      for (let d = 0; d < dim; d++) norm += (dir[d] = rng.normal()) ** 2;
    } while (norm === 0);
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) dir[d] /= norm;
    if (dim === 2) {
      const [c0, c1] = dir;
      for (let i = 0; i < n; i++) {
        pa[i] = a[2 * i] * c0 + a[2 * i + 1] * c1;
        pb[i] = b[2 * i] * c0 + b[2 * i + 1] * c1;
      }
    } else {
      for (let i = 0, o = 0; i < n; i++, o += dim) {
        let sa = 0;
        let sb = 0;
        for (let d = 0; d < dim; d++) {
          sa += a[o + d] * dir[d];
          sb += b[o + d] * dir[d];
        }
        pa[i] = sa;
        pb[i] = sb;
      }
    }
    sorter.sort(pa);
    sorter.sort(pb);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(pa[i] - pb[i]);
    total += s / n;
  }
  return total / nProj;
}

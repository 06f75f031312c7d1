/**
 * Input embedding of the 2D networks (WORKLOAD.md §3), computed outside the LayersModel:
 *   emb = concat[time(timeDim), coord x(coordDim), coord y(coordDim)]   (defaults 64 + 32 + 32 = 128)
 * - time, t = 1000*sigma: f_j = exp(-ln(10000) * j / (h-1)), j < h = timeDim/2; [cos(t f), sin(t f)]
 *   (diffusers Timesteps, flip_sin_to_cos=True, downscale_freq_shift=1).
 * - coordinate c: periods p_j = exp(ln(5e-3) + j (ln 50 - ln 5e-3) / (m-1)), j < m = coordDim/2,
 *   b_j = c * 2π / p_j; [sin(b), cos(b)]; x first, then y.
 */
import * as tf from '@tensorflow/tfjs';
import { ownHeapKernels, ownMemory } from '../engine/wasm-heap.js';
import { HEAP_TRIG_LIMIT } from '../engine/wasm-heap-module.js';

export interface EmbedConfig {
  timeDim?: number;
  coordDim?: number;
}

export const T_SCALE = 1000;
export const DEFAULT_TIME_DIM = 64;
export const DEFAULT_COORD_DIM = 32;
const POS_MIN_PERIOD = 5e-3;
const POS_MAX_PERIOD = 50;

export function embedDims(cfg: EmbedConfig = {}): { timeDim: number; coordDim: number; embedDim: number } {
  const timeDim = cfg.timeDim ?? DEFAULT_TIME_DIM;
  const coordDim = cfg.coordDim ?? DEFAULT_COORD_DIM;
  for (const [k, v] of [['timeDim', timeDim], ['coordDim', coordDim]] as const) {
    if (!Number.isInteger(v) || v < 4 || v % 2 !== 0) throw new Error(`embedding: ${k} must be an even integer >= 4, got ${v}`);
  }
  return { timeDim, coordDim, embedDim: timeDim + 2 * coordDim };
}

/** Time frequencies f_j, j < timeDim/2 (float64). */
export function timeFreqs(timeDim = DEFAULT_TIME_DIM): Float64Array {
  const h = timeDim / 2;
  return Float64Array.from({ length: h }, (_, j) => Math.exp((-Math.log(10000) * j) / (h - 1)));
}

/** Coordinate angular frequencies 2π/p_j, j < coordDim/2 (float64). */
export function coordFreqs(coordDim = DEFAULT_COORD_DIM): Float64Array {
  const m = coordDim / 2;
  const lo = Math.log(POS_MIN_PERIOD);
  const step = (Math.log(POS_MAX_PERIOD) - lo) / (m - 1);
  return Float64Array.from({ length: m }, (_, j) => (2 * Math.PI) / Math.exp(lo + j * step));
}

/** Host time embedding. sigma: [B] -> [B, timeDim] row-major (rows for equal consecutive sigmas are copied). */
export function timeEmbedding(sigma: Float64Array, timeDim = DEFAULT_TIME_DIM): Float32Array {
  const out = new Float32Array(sigma.length * timeDim);
  timeEmbeddingInto(sigma, timeDim, out, timeDim);
  return out;
}

const freqCache = new Map<number, Float64Array>();

/**
 * The time embedding written into the rows of `out` (row i at i·stride). Where the SIMD heap kernels
 * loaded (wasm-heap.ts) the angles' cos and sin are one float64 pass each (the same float32 values as
 * Math.cos/Math.sin rounded, see wasm-trig.ts; angles past its limit redone by Math), else a loop of Math.
 */
export function timeEmbeddingInto(sigma: Float64Array, timeDim: number, out: Float32Array, stride: number): void {
  let f = freqCache.get(timeDim);
  if (!f) freqCache.set(timeDim, (f = timeFreqs(timeDim)));
  const h = f.length;
  const B = sigma.length;
  // the distinct rows: a run of equal consecutive sigmas shares one
  const rowOf = new Int32Array(B);
  let U = 0;
  for (let i = 0; i < B; i++) rowOf[i] = i > 0 && sigma[i] === sigma[i - 1] ? rowOf[i - 1] : U++;
  const hk = U * h >= 64 ? ownHeapKernels() : null;
  if (!hk) {
    for (let i = 0; i < B; i++) {
      const o = i * stride;
      if (i > 0 && rowOf[i] === rowOf[i - 1]) {
        out.copyWithin(o, o - stride, o - stride + timeDim);
        continue;
      }
      const t = T_SCALE * sigma[i];
      for (let j = 0; j < h; j++) {
        out[o + j] = Math.cos(t * f[j]);
        out[o + h + j] = Math.sin(t * f[j]);
      }
    }
    return;
  }
  const n = U * h;
  const argBytes = (n * 8 + 15) & ~15;
  const valBytes = (n * 4 + 15) & ~15;
  const buf = ownMemory(argBytes + 2 * valBytes);
  const args = new Float64Array(buf, 0, n);
  for (let i = 0, u = 0; i < B; i++) {
    if (rowOf[i] !== u) continue;
    const t = T_SCALE * sigma[i];
    for (let j = 0; j < h; j++) args[u * h + j] = t * f[j];
    u++;
  }
  const even = n & ~1;
  const cos = new Float32Array(buf, argBytes, n);
  const sin = new Float32Array(buf, argBytes + valBytes, n);
  const big = hk.sincos64(0, argBytes, even, 1) + hk.sincos64(0, argBytes + valBytes, even, 0);
  for (let k = big > 0 ? 0 : even; k < n; k++) {
    if (k >= even || Math.abs(args[k]) > HEAP_TRIG_LIMIT) {
      cos[k] = Math.cos(args[k]);
      sin[k] = Math.sin(args[k]);
    }
  }
  for (let i = 0; i < B; i++) {
    const r = rowOf[i] * h;
    out.set(cos.subarray(r, r + h), i * stride);
    out.set(sin.subarray(r, r + h), i * stride + h);
  }
}

/**
 * x: [B, 2] (tensor), sigma: [B] (host) -> [B, timeDim + 2*coordDim].
 * The time part is computed on the host; the coordinate part is one small fused matmul and one sin:
 *   arg = x · S + phase,  S[c, ·] = 2π/p_j in the columns of coordinate c,  phase = 0 (sin) or π/2 (cos),
 * since cos(b) = sin(b + π/2). No concat (slow on wasm for narrow rows): the host time part is uploaded
 * into the left columns of a zero-padded row and the padded coordinate part is added.
 */
export function embed2d(x: tf.Tensor2D, sigma: Float64Array, cfg: EmbedConfig = {}): tf.Tensor2D {
  const { timeDim, coordDim, embedDim } = embedDims(cfg);
  const [B, d] = x.shape;
  if (d !== 2) throw new Error(`embed2d: x must be [B, 2], got [${x.shape}]`);
  if (sigma.length !== B) throw new Error(`embed2d: sigma has length ${sigma.length}, expected B = ${B}`);
  const { select, phase } = coordProjection(coordDim);
  const padded = new Float32Array(B * embedDim);
  timeEmbeddingInto(sigma, timeDim, padded, embedDim);
  return tf.tidy(() => {
    const arg = tf.fused.matMul({ a: x, b: tf.tensor2d(select, [2, 2 * coordDim]), bias: tf.tensor1d(phase) }); // [B, 2*coordDim]
    const coord = tf.pad(tf.sin(arg), [[0, 0], [timeDim, 0]]); // [B, embedDim]
    return tf.add(tf.tensor2d(padded, [B, embedDim]), coord) as tf.Tensor2D;
  });
}

const projections = new Map<number, { select: Float32Array; phase: Float32Array }>();

/** The [2, 2·coordDim] frequency selector and the sin/cos phases, per coordDim (cached). */
function coordProjection(coordDim: number): { select: Float32Array; phase: Float32Array } {
  let p = projections.get(coordDim);
  if (!p) {
    const m = coordDim / 2;
    const f = coordFreqs(coordDim);
    const select = new Float32Array(2 * 2 * coordDim);
    const phase = new Float32Array(2 * coordDim);
    for (let c = 0; c < 2; c++) {
      for (let j = 0; j < m; j++) {
        const col = c * coordDim + j; // sin block of coordinate c, then its cos block
        select[c * 2 * coordDim + col] = f[j];
        select[c * 2 * coordDim + col + m] = f[j];
        phase[col + m] = Math.PI / 2;
      }
    }
    p = { select, phase };
    projections.set(coordDim, p);
  }
  return p;
}

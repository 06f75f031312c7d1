/**
 * Input embedding of the 2D networks (WORKLOAD.md §3), computed outside the LayersModel:
 *   emb = concat[time(timeDim), coord x(coordDim), coord y(coordDim)]   (defaults 64 + 32 + 32 = 128)
 * - time, t = 1000*sigma: f_j = exp(-ln(10000) * j / (h-1)), j < h = timeDim/2; [cos(t f), sin(t f)]
 *   (diffusers Timesteps, flip_sin_to_cos=True, downscale_freq_shift=1).
 * - coordinate c: periods p_j = exp(ln(5e-3) + j (ln 50 - ln 5e-3) / (m-1)), j < m = coordDim/2,
 *   b_j = c * 2π / p_j; [sin(b), cos(b)]; x first, then y.
 */
import * as tf from '@tensorflow/tfjs';

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
  const f = timeFreqs(timeDim);
  const h = f.length;
  const out = new Float32Array(sigma.length * timeDim);
  for (let i = 0; i < sigma.length; i++) {
    const o = i * timeDim;
    if (i > 0 && sigma[i] === sigma[i - 1]) {
      out.copyWithin(o, o - timeDim, o);
      continue;
    }
    const t = T_SCALE * sigma[i];
    for (let j = 0; j < h; j++) {
      out[o + j] = Math.cos(t * f[j]);
      out[o + h + j] = Math.sin(t * f[j]);
    }
  }
  return out;
}

/**
 * x: [B, 2] (tensor), sigma: [B] (host) -> [B, timeDim + 2*coordDim].
 * Kernels: one upload (time part), mul, sin, cos, 2 concats. Not meant to be differentiated.
 */
export function embed2d(x: tf.Tensor2D, sigma: Float64Array, cfg: EmbedConfig = {}): tf.Tensor2D {
  const { timeDim, coordDim } = embedDims(cfg);
  const [B, d] = x.shape;
  if (d !== 2) throw new Error(`embed2d: x must be [B, 2], got [${x.shape}]`);
  if (sigma.length !== B) throw new Error(`embed2d: sigma has length ${sigma.length}, expected B = ${B}`);
  const m = coordDim / 2;
  return tf.tidy(() => {
    const time = tf.tensor2d(timeEmbedding(sigma, timeDim), [B, timeDim]); // [B, timeDim]
    const freqs = tf.tensor3d(Float32Array.from(coordFreqs(coordDim)), [1, 1, m]); // [1, 1, m]
    const b = tf.mul(tf.reshape(x, [B, 2, 1]), freqs); // [B, 2, m]
    const coord = tf.reshape(tf.concat([tf.sin(b), tf.cos(b)], 2), [B, 2 * coordDim]); // [B, 2*coordDim]
    return tf.concat([time, coord], 1) as tf.Tensor2D;
  });
}

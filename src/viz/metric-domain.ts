/**
 * The data domain of a metric scatter (quality against diversity or fidelity: one marker per sampler
 * on a ScatterView), pure so that the figures (src/cli/figures.ts) and the comparison notebook
 * (notebooks/methods-2d.ts) frame their scatters the same way: padded around the values, with room
 * above them for the legend (one 13 px row per layer in the top left corner).
 */
import type { Domain } from './frame.js';

const round4 = (v: number) => Number(v.toFixed(4));

/**
 * The domain around every finite (x, y) of `layers` ([n·2] interleaved each); `fixed` pins an axis;
 * `size` is the view's side in px; `legendRows` the legend's rows (default: one per layer).
 */
export function metricDomain(
  layers: readonly { points: ArrayLike<number> }[],
  fixed: { x?: [number, number]; y?: [number, number] } = {},
  size = 420,
  legendRows = layers.length,
): Domain {
  const xs: number[] = [], ys: number[] = [];
  for (const l of layers) {
    for (let i = 0; i + 1 < l.points.length; i += 2) {
      if (Number.isFinite(l.points[i]) && Number.isFinite(l.points[i + 1])) {
        xs.push(l.points[i]);
        ys.push(l.points[i + 1]);
      }
    }
  }
  // the legend's share f of the plot's height must fit in the top padding: top·d ≥ f·(1.12 + top)·d
  const f = Math.min(0.8, (legendRows * 13 + 16) / Math.max(100, size - 60));
  const top = Math.min(4, (1.12 * f) / (1 - f) + 0.05);
  const pad = ([a, b]: [number, number], up: number): [number, number] => {
    const d = b - a || Math.abs(a) || 1;
    return [round4(a - 0.12 * d), round4(b + up * d)];
  };
  const range = (v: number[]): [number, number] => (v.length ? [Math.min(...v), Math.max(...v)] : [0, 1]);
  return [fixed.x ?? pad(range(xs), 0.12), fixed.y ?? pad(range(ys), top)];
}

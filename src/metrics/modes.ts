/**
 * Precision and mode coverage of 2D samples against a dataset's descriptor (datasets/): pure host
 * functions on [n, 2] row-major points.
 *
 * - precision: the share of samples inside the data's support (`inSupport`; each dataset documents
 *   its threshold in `supportRule`). The data's own samples score about 1 (checkerboard exactly 1).
 * - mode coverage: every sample goes to a mode by the dataset's `modeOf` (the nearest centre, or a
 *   per-dataset rule for rings, moons and spirals), off-support samples included; a mode is covered
 *   when it holds at least `minShare` (2%) of the samples; the entropy of the occupancy is normalised
 *   by log(modes), so equal shares give 1 and one mode gives 0. `targetEntropy` is the same measure of
 *   the dataset's own weights (below 1 for unequal mixtures such as unequal8).
 */
import { getDataset, type Dataset2d } from '../../datasets/index.js';

export interface ModeCoverage {
  /** the mode labels, in the descriptor's order */
  labels: string[];
  /** the data's mode weights */
  weights: number[];
  /** samples assigned to each mode */
  counts: number[];
  /** counts / samples */
  share: number[];
  /** share >= minShare */
  covered: boolean[];
  /** how many modes are covered */
  modesCovered: number;
  modes: number;
  /** entropy of `share`, divided by log(modes) (1 for one mode only) */
  entropy: number;
  /** the same for the data's weights: what a perfect sampler scores */
  targetEntropy: number;
  minShare: number;
}

function resolve(dataset: Dataset2d | string): Dataset2d {
  return typeof dataset === 'string' ? getDataset(dataset) : dataset;
}

function checkPoints(samples: Float32Array | ArrayLike<number>, what: string): number {
  if (samples.length === 0 || samples.length % 2 !== 0) {
    throw new Error(`${what}: expected a non-empty [n, 2] point set, got length ${samples.length}`);
  }
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) throw new Error(`${what}: sample ${Math.floor(i / 2)} is not finite (${samples[i]})`);
  }
  return samples.length / 2;
}

function normalisedEntropy(p: readonly number[]): number {
  if (p.length < 2) return 1;
  let h = 0;
  for (const v of p) if (v > 0) h -= v * Math.log(v);
  return h / Math.log(p.length);
}

/** Share of the samples inside the dataset's support, in [0, 1]. */
export function precision(samples: Float32Array | ArrayLike<number>, dataset: Dataset2d | string): number {
  const d = resolve(dataset);
  const n = checkPoints(samples, 'precision');
  let inside = 0;
  for (let i = 0; i < n; i++) if (d.inSupport(samples[2 * i], samples[2 * i + 1])) inside++;
  return inside / n;
}

/** Mode occupancy of the samples (see the module comment). */
export function modeCoverage(samples: Float32Array | ArrayLike<number>, dataset: Dataset2d | string, minShare = 0.02): ModeCoverage {
  const d = resolve(dataset);
  const n = checkPoints(samples, 'modeCoverage');
  if (!(minShare > 0 && minShare <= 1)) throw new Error(`modeCoverage: minShare must be in (0, 1], got ${minShare}`);
  const m = d.modes.length;
  const counts = new Array<number>(m).fill(0);
  for (let i = 0; i < n; i++) {
    const k = d.modeOf(samples[2 * i], samples[2 * i + 1]);
    if (!(Number.isInteger(k) && k >= 0 && k < m)) throw new Error(`modeCoverage: ${d.name}.modeOf gave ${k}, expected 0..${m - 1}`);
    counts[k]++;
  }
  const share = counts.map((c) => c / n);
  const covered = share.map((s) => s >= minShare);
  return {
    labels: d.modes.map((x) => x.label),
    weights: d.modes.map((x) => x.weight),
    counts,
    share,
    covered,
    modesCovered: covered.filter(Boolean).length,
    modes: m,
    entropy: normalisedEntropy(share),
    targetEntropy: normalisedEntropy(d.modes.map((x) => x.weight)),
    minShare,
  };
}

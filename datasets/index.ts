/**
 * The registry of shipped 2D datasets, in display order (the notebooks' data select, `--dataset`
 * choices, `piflow --help`). A new dataset is one module in datasets/ plus one line in `DATASETS`.
 * MNIST is described separately, in datasets/mnist.ts.
 */
import type { Rng } from '../src/engine/rng.js';
import type { Dataset2d } from './types.js';
import { checkerboard } from './checkerboard.js';
import { moons } from './moons.js';
import { gaussians8 } from './gaussians8.js';
import { spirals } from './spirals.js';
import { rings } from './rings.js';
import { unequal8 } from './unequal8.js';

export type { Dataset2d, Mode } from './types.js';
export { defineDataset, nearestCentre } from './types.js';

export const DATASETS = [checkerboard, moons, gaussians8, spirals, rings, unequal8] as const;
export type DatasetName = (typeof DATASETS)[number]['name'];
export const DATASET_NAMES: readonly DatasetName[] = DATASETS.map((d) => d.name);

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

/** The descriptor named `name`; unknown names throw, listing the known ones. */
export function getDataset(name: string): Dataset2d<DatasetName> {
  const d = DATASETS.find((x) => x.name === name);
  if (!d) throw new Error(`unknown dataset '${name}'; allowed: ${DATASET_NAMES.join(', ')}`);
  return d;
}

/** `n` seeded points of one descriptor, [n, 2] row-major float32 (n checked by the caller). */
export function samplePoints(d: Dataset2d, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = d.point(rng);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** One line per dataset, `name  description`, indented (for help texts). */
export function describeDatasets(indent = '      '): string {
  const w = Math.max(...DATASET_NAMES.map((n) => n.length));
  return DATASETS.map((d) => `${indent}${d.name.padEnd(w)}  ${d.description}`).join('\n');
}

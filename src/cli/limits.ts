/**
 * Memory bounds of the size options: each command's peak bytes are estimated from its sizes (batch ×
 * width, batch × K × dims, count × dims, U-Net batch × feature maps …) and compared with a budget,
 * min(total memory / 2, 2 GiB) on wasm (its heap cannot grow much past that), min(total / 2, 4 GiB)
 * on cpu. A run over budget is refused at once (UsageError, exit 2) naming the option, its value
 * and the largest value that fits with the other options as given. The estimates are deliberately
 * rough (within a small factor); they exist to refuse the hopeless, not to tune the feasible.
 */
import os from 'node:os';
import { UsageError, type OptSpecs, type ParsedOpts } from './args.js';
import { headWidth, type PolicyFamily } from '../engine/families.js';

const GiB = 2 ** 30;
const F32 = 4;
/** V8's longest string, in characters (a CSV is built as one string). */
const MAX_STRING = 2 ** 29 - 24;

export function memoryBudget(backend: string): number {
  return Math.min(os.totalmem() / 2, backend === 'wasm' ? 2 * GiB : 4 * GiB);
}

export function formatBytes(b: number): string {
  if (b >= GiB) return `${(b / GiB).toFixed(1)} GiB`;
  return `${(b / 2 ** 20).toFixed(0)} MiB`;
}

type Estimate = (o: ParsedOpts) => number;

/**
 * Refuses options whose estimated peak exceeds the budget. The size options are tried from the one
 * furthest above its default (value / default); the first that, lowered alone, would fit is named
 * with its largest fitting value; otherwise the combination is named.
 */
export function checkMemory(o: ParsedOpts, specs: OptSpecs, sizeOptions: string[], estimate: Estimate, backend: string): void {
  const budget = memoryBudget(backend);
  const need = estimate(o);
  if (need <= budget) return;
  const head = Number.isFinite(need)
    ? `the run would need about ${formatBytes(need)}, over the memory budget of ${formatBytes(budget)} (${backend} backend)`
    : 'the output would not fit in memory (its text would be longer than the longest string Node can hold)';
  const ratio = (n: string) => Number(o[n]) / Math.max(Number(specs[n]?.default ?? 1), 1);
  for (const name of [...sizeOptions].sort((a, b) => ratio(b) - ratio(a))) {
    const v = Number(o[name]);
    if (!Number.isInteger(v) || v <= 1) continue;
    if (estimate({ ...o, [name]: 1 }) > budget) continue;
    let lo = 1;
    let hi = v; // estimate(lo) ≤ budget < estimate(hi)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (estimate({ ...o, [name]: mid }) <= budget) lo = mid;
      else hi = mid;
    }
    throw new UsageError(`--${name} ${v}: ${head}; with the other options as given, --${name} can be at most ${lo}`);
  }
  throw new UsageError(`${sizeOptions.map((n) => `--${n} ${o[n]}`).join(' ')}: ${head}; lower them`);
}

/** An MLP trained on `rows` inputs: activations with their gradients, and weights × (value, grad, Adam m, v, copy). */
export function mlpTrainBytes(rows: number, width: number, depth: number, outDim: number, inDim = 64): number {
  const acts = rows * (width * depth * 6 + outDim * 4 + inDim);
  const weights = width * width * Math.max(depth - 1, 0) + width * (inDim + outDim) + outDim;
  return F32 * (acts + 5 * weights);
}

/** An MLP forward pass (no gradients) on `rows` inputs. */
export function mlpForwardBytes(rows: number, width: number, depth: number, outDim: number, inDim = 64): number {
  return F32 * (rows * (width * 2 + outDim + inDim) + width * width * depth + width * (inDim + outDim));
}

/** 2D policy output values per sample, from the family registry (GMFlow 3K+1, DX 2N, constant 2). */
export function toyOutDim(policy: PolicyFamily, size: number): number {
  return headWidth(policy, size, 2, 'points');
}

/** Samples held on the host as float32 plus, for a CSV, its text (one string, which V8 caps). */
export function samplesBytes(count: number, dims: number, csvCharsPerRow = 0): number {
  if (csvCharsPerRow > 0 && count * csvCharsPerRow > MAX_STRING) return Infinity;
  // the CSV's rows array (a string object each) and the joined string
  return count * dims * F32 + count * csvCharsPerRow * 3;
}

/** U-Net feature-map floats per image: about 32 full-resolution maps of `base` channels (forward + backward). */
export function unetFloatsPerImage(cfg: { size: number; base: number; channels: number }): number {
  return cfg.size * cfg.size * cfg.base * 32;
}

/** A U-Net trained on `rows` images (`outChannels` output maps), plus ~1M parameters × 5. */
export function unetTrainBytes(rows: number, cfg: { size: number; base: number; channels: number }, outChannels: number): number {
  return F32 * (rows * (unetFloatsPerImage(cfg) + cfg.size * cfg.size * outChannels * 6) + 5 * 1e6 * (cfg.base / 64) ** 2);
}

/** The MNIST classifier trained on `rows` images. */
export function classifierTrainBytes(rows: number): number {
  return F32 * rows * 28 * 28 * 32 * 8;
}

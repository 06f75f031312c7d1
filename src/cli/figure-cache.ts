/**
 * The model cache of `piflow figures` (figures.ts, figures-mnist.ts), whatever the net: each model is
 * saved under `root/<hash>/` where the hash covers the dataset, the model's spec (method and training
 * settings), the seed, the backend and the teacher's weights, with the CLI's crash-safe writer, and
 * its per-iteration training loss in loss.json beside it (a folder without loss.json counts as
 * incomplete and is trained again). A later run loads the model instead of training it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A cached model's spec: its method (and, for π-ID, its policy family) and training settings. */
export interface CachedSpec {
  method: string;
  policy?: string;
}

export interface ModelRecord {
  id: string;
  spec: CachedSpec;
  hash: string;
  dir: string;
  cached: boolean;
  /** training time when it was trained (a cached model reports its original time) */
  trainSeconds: number;
  lastLoss: number | null;
  /** the training loss of every iteration (null where not finite), kept in loss.json next to the cached model */
  lossHistory: (number | null)[];
}

export interface Trained<N> {
  net: N;
  lastLoss: number | null;
  lossHistory: (number | null)[];
}

/** How a cache loads, saves, trains and frees one kind of net. */
export interface CacheOps<N, S extends CachedSpec> {
  dataset: string;
  seed: number;
  backend: string;
  /** the teacher's weights digest */
  teacher: string;
  load: (dir: string) => Promise<N & { meta: Record<string, unknown> }>;
  save: (net: N, dir: string, meta: Record<string, unknown>) => Promise<void>;
  train: (spec: S) => Promise<Trained<N>>;
  dispose: (net: N) => void;
}

export const LOSS_FILE = 'loss.json';

const round = (v: number, d: number) => Number(v.toFixed(d));

/** Runs `iters` steps, keeping every loss (rounded, null where not finite) and the last finite one. */
export async function trainSteps(iters: number, step: () => Promise<{ loss: number }>): Promise<{ lastLoss: number | null; lossHistory: (number | null)[] }> {
  let lastLoss: number | null = null;
  const lossHistory: (number | null)[] = [];
  for (let i = 0; i < iters; i++) {
    const l = (await step()).loss;
    lossHistory.push(Number.isFinite(l) ? round(l, 6) : null);
    if (Number.isFinite(l)) lastLoss = l;
  }
  return { lastLoss, lossHistory };
}

export class ModelCache<N, S extends CachedSpec> {
  private readonly nets = new Map<string, N>();
  /** `records` may be shared by several caches (one figures.json models table) */
  constructor(
    private readonly root: string,
    private readonly ops: CacheOps<N, S>,
    readonly records: Map<string, ModelRecord> = new Map(),
  ) {}

  hashOf(spec: S): string {
    const { dataset, seed, backend, teacher } = this.ops;
    const key = JSON.stringify({ v: 1, dataset, spec, seed, backend, teacher });
    return createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** the model for `spec`: from memory, the cache folder (a folder without its loss history counts as incomplete) or trained */
  async get(id: string, spec: S): Promise<N> {
    const hash = this.hashOf(spec);
    const have = this.nets.get(hash);
    if (have) return have;
    const dir = path.join(this.root, hash);
    let net: N | null = null;
    let rec: ModelRecord | null = null;
    if (existsSync(path.join(dir, 'config.json'))) {
      try {
        const loaded = await this.ops.load(dir);
        const m = loaded.meta as { figures?: { hash?: string; trainSeconds?: number; lastLoss?: number | null } };
        const lossFile = path.join(dir, LOSS_FILE);
        const lossHistory = existsSync(lossFile) ? (JSON.parse(await readFile(lossFile, 'utf8')) as { loss: (number | null)[] }).loss : null;
        if (m.figures?.hash === hash && lossHistory) {
          net = loaded;
          rec = { id, spec, hash, dir, cached: true, trainSeconds: m.figures.trainSeconds ?? NaN, lastLoss: m.figures.lastLoss ?? null, lossHistory };
        } else this.ops.dispose(loaded);
      } catch (e) {
        console.error(`figures: cached model ${dir} unreadable (${(e as Error).message}); training it again`);
      }
    }
    if (!net) {
      console.error(`figures: training ${id} (${JSON.stringify(spec)})`);
      const t0 = performance.now();
      const { net: trained, lastLoss, lossHistory } = await this.ops.train(spec);
      const trainSeconds = round((performance.now() - t0) / 1000, 1);
      const { dataset, seed, backend } = this.ops;
      await this.ops.save(trained, dir, { dataset, figures: { id, hash, spec, seed, backend, trainSeconds, lastLoss } });
      // the saved folder replaces any old one whole, so the history goes in after it (a crash in between loses only the history: retrained when a figure needs it)
      await writeFile(path.join(dir, LOSS_FILE), JSON.stringify({ loss: lossHistory }) + '\n');
      net = trained;
      rec = { id, spec, hash, dir, cached: false, trainSeconds, lastLoss, lossHistory };
      console.error(`figures: trained ${id} in ${trainSeconds} s`);
    } else console.error(`figures: reusing ${id} from ${dir}`);
    this.nets.set(hash, net);
    this.records.set(id, rec!);
    return net;
  }

  dispose(): void {
    for (const n of this.nets.values()) this.ops.dispose(n);
    this.nets.clear();
  }
}

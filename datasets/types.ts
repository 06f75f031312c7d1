/**
 * The shape of a shipped 2D dataset (one module per dataset in datasets/, listed in datasets/index.ts).
 *
 * A descriptor carries what every consumer needs: the name and a one-line description (the notebooks'
 * data select, `piflow --help`), a seeded sampler (`point`, one draw from an `Rng`; the order of the
 * draws is part of the contract: shipped teachers and tests depend on it), and what the metrics need:
 * a support test (`inSupport`, for precision) and the modes (`modes` with weights, and `modeOf`, for
 * mode coverage). All sets share roughly the [-4, 4]² extent, so one teacher recipe fits them all.
 */
import type { Rng } from '../src/engine/rng.js';

export interface Mode {
  /** short name, e.g. 'square (0,0)', 'ring r=1.5' */
  readonly label: string;
  /** share of the data's mass (the weights of a dataset sum to 1) */
  readonly weight: number;
  /** a representative point of the mode, which `modeOf` assigns to it (a square's or Gaussian's centre, a moon's or arm's midpoint); null where none is meaningful (a ring) */
  readonly centre: readonly [number, number] | null;
}

export interface Dataset2d<N extends string = string> {
  readonly name: N;
  /** one line, shown in the notebooks' data select and in `piflow --help` */
  readonly description: string;
  /** one seeded draw, [x, y] */
  point(rng: Rng): [number, number];
  /** is (x, y) inside the data's support (see `supportRule`) */
  inSupport(x: number, y: number): boolean;
  /** the support test in words, with its threshold */
  readonly supportRule: string;
  readonly modes: readonly Mode[];
  /** index into `modes` of the mode (x, y) belongs to; defined for every finite point (off-support ones too) */
  modeOf(x: number, y: number): number;
  /** how `modeOf` assigns, in words */
  readonly modeRule: string;
}

export interface Dataset2dSpec<N extends string> extends Omit<Dataset2d<N>, 'modeOf' | 'modeRule'> {
  /** default: the nearest mode centre (every mode must then have one) */
  modeOf?: (x: number, y: number) => number;
  modeRule?: string;
}

/** The index of the centre nearest to (x, y) (first one on ties). */
export function nearestCentre(centres: readonly (readonly [number, number])[], x: number, y: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < centres.length; k++) {
    const d = (x - centres[k][0]) ** 2 + (y - centres[k][1]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** Checks a spec (weights sum to 1, a mode rule exists) and fills in nearest-centre mode assignment. */
export function defineDataset<const N extends string>(spec: Dataset2dSpec<N>): Dataset2d<N> {
  const where = `dataset '${spec.name}'`;
  if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) throw new Error(`${where}: names are lower-case letters, digits and '-'`);
  if (spec.description.trim() === '' || spec.description.includes('\n')) throw new Error(`${where}: the description is one non-empty line`);
  if (spec.modes.length === 0) throw new Error(`${where}: needs at least one mode`);
  const total = spec.modes.reduce((s, m) => s + m.weight, 0);
  if (!spec.modes.every((m) => m.weight > 0) || Math.abs(total - 1) > 1e-9) {
    throw new Error(`${where}: mode weights must be positive and sum to 1 (sum ${total})`);
  }
  let modeOf = spec.modeOf;
  let modeRule = spec.modeRule;
  if (!modeOf) {
    const centres = spec.modes.map((m) => m.centre);
    if (centres.some((c) => c === null)) throw new Error(`${where}: modes without a centre need a modeOf`);
    const cs = centres as (readonly [number, number])[];
    modeOf = (x, y) => nearestCentre(cs, x, y);
    modeRule ??= 'nearest mode centre';
  }
  if (!modeRule) throw new Error(`${where}: a custom modeOf needs a modeRule`);
  return Object.freeze({ ...spec, modes: Object.freeze(spec.modes.map((m) => Object.freeze({ ...m }))), modeOf, modeRule });
}

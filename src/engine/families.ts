/**
 * The policy-family registry, part 1 — the table (no tfjs, so pages can read it): one entry per family
 * of network-free policies with everything the rest of the playground needs to know about it — its
 * name and labels, its size parameter (K, N or none) with its range, the network head it needs per
 * layout, its π-ID defaults, which sampling/training knobs apply (temperature, GM dropout, modes) and
 * what the inspector draws. Part 2, policies.ts, builds a family's policy from its network output.
 *
 * Models (head widths, student init), students, samplers, the inspector, the notebooks' controls, the
 * CLI's choices, the limits and the playground check read this table; only the family files
 * (gmflow.ts, dx.ts, constant.ts) know the policies' insides. Adding a family is one family file, one
 * entry here and its builder line in policies.ts (the compiler asks for it).
 *
 * Layouts: x is [B, C] (points) or [B, C, H, W] (images).
 */

/** The registered family names, in display order. */
export const POLICY_FAMILY_NAMES = ['gmflow', 'dx', 'constant'] as const;
export type PolicyFamily = (typeof POLICY_FAMILY_NAMES)[number];
export type PolicyLayout = 'points' | 'images';

/** A family's size parameter: the config field it lives in, its symbol, label and range. */
export interface FamilySize {
  key: 'k' | 'n';
  symbol: string;
  label: string;
  min: number;
  max: number;
}

/**
 * The head a family needs, in units of the teacher's velocity head (C values per sample or pixel):
 * `replicas` copies of it (replicated from the teacher at init), then `logits` extra values (zero at
 * init), then, when `logstd`, one log-std (points: the last column; images: a second output).
 */
export interface HeadLayout {
  replicas: number;
  logits: number;
  logstd: boolean;
}

/** What the inspector draws of a family's policy (the viz layer switches on it). */
export type InspectorDrawing = 'mixture' | 'points' | 'none';

export interface PolicyFamilyDef {
  readonly name: PolicyFamily;
  /** short name, e.g. 'GMFlow' */
  readonly title: string;
  /** control label, e.g. 'GMFlow (K Gaussians)' */
  readonly label: string;
  /** the size parameter, or null for a family with none */
  readonly size: FamilySize | null;
  /** interpolation modes (the config's dxMode), or null when the family has none */
  readonly modes: readonly string[] | null;
  head(size: number): HeadLayout;
  /** std of the noise on the replicated head biases at init */
  readonly initNoiseStd: number;
  /** π-ID defaults for this family */
  readonly defaults: { windowSubsteps: number };
  /** whether sampling's temperature applies (the policies have `temperature`) */
  readonly temperature: boolean;
  /** whether π-ID's GM dropout applies (the policies have `dropout`) */
  readonly gmDropout: boolean;
  readonly inspector: InspectorDrawing;
}

const BIG = 1_000_000;

/** Throws a clear error unless `cond` (as engine/tensors.ts, without tfjs). */
function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

const GMFLOW: PolicyFamilyDef = {
  name: 'gmflow',
  title: 'GMFlow',
  label: 'GMFlow (K Gaussians)',
  size: { key: 'k', symbol: 'K', label: 'GMFlow components K', min: 1, max: BIG },
  modes: null,
  head: (K) => ({ replicas: K, logits: K, logstd: true }),
  initNoiseStd: 0.05,
  defaults: { windowSubsteps: 0 },
  temperature: true,
  gmDropout: true,
  inspector: 'mixture',
};

const DX: PolicyFamilyDef = {
  name: 'dx',
  title: 'DX',
  label: 'DX (N grid points)',
  size: { key: 'n', symbol: 'N', label: 'DX grid points N', min: 1, max: BIG },
  modes: ['grid', 'polynomial'],
  head: (N) => ({ replicas: N, logits: 0, logstd: false }),
  initNoiseStd: 0,
  defaults: { windowSubsteps: 3 },
  temperature: false,
  gmDropout: false,
  inspector: 'points',
};

const CONSTANT: PolicyFamilyDef = {
  name: 'constant',
  title: 'Constant velocity',
  label: 'Constant velocity (one u per step)',
  size: null,
  modes: null,
  head: () => ({ replicas: 1, logits: 0, logstd: false }),
  initNoiseStd: 0,
  defaults: { windowSubsteps: 0 },
  temperature: false,
  gmDropout: false,
  inspector: 'none',
};

export const POLICY_FAMILIES: Readonly<Record<PolicyFamily, PolicyFamilyDef>> = { gmflow: GMFLOW, dx: DX, constant: CONSTANT };

/** "a, b or c" */
function listOr(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

export function isPolicyFamily(name: unknown): name is PolicyFamily {
  return typeof name === 'string' && (POLICY_FAMILY_NAMES as readonly string[]).includes(name);
}

/** The family of that name; a clear error naming the registered ones otherwise. */
export function policyFamily(name: unknown): PolicyFamilyDef {
  check(isPolicyFamily(name), `policy must be ${listOr(POLICY_FAMILY_NAMES)}, got '${String(name)}'`);
  return POLICY_FAMILIES[name];
}

/** The size a config gives a family (its K or N; 1 for a family without one). */
export function familySize(def: PolicyFamilyDef, cfg: { k?: number; n?: number }): number {
  return def.size ? (cfg[def.size.key] as number) : 1;
}

/** The config fields a student network of this family carries: { k } or { n } or none. */
export function familySizeFields(def: PolicyFamilyDef, size: number): { k?: number; n?: number } {
  return def.size ? { [def.size.key]: size } : {};
}

/**
 * Head width per sample (points, [C]) or head channels per pixel (images, [C, H, W]; the log-std is a
 * separate output there): replicas·C + logits (+ 1 log-std column for points).
 */
export function headWidth(name: PolicyFamily, size: number, channels: number, layout: PolicyLayout): number {
  const h = policyFamily(name).head(size);
  return h.replicas * channels + h.logits + (layout === 'points' && h.logstd ? 1 : 0);
}

/**
 * Validates a family's part of a config: the name, its size parameter (when `sizes`) and its mode;
 * errors name the field, the value and what is allowed.
 */
export function validateFamilyConfig(cfg: { policy: unknown; k?: number; n?: number; dxMode?: string }, sizes = true): PolicyFamilyDef {
  const def = policyFamily(cfg.policy);
  if (sizes && def.size) {
    const v = cfg[def.size.key];
    check(Number.isInteger(v) && v! >= def.size.min && v! <= def.size.max,
      `${def.size.symbol} must be an integer >= ${def.size.min}${v! > def.size.max ? ` and <= ${def.size.max}` : ''}, got ${v}`);
  }
  if (def.modes && cfg.dxMode !== undefined) {
    check(def.modes.includes(cfg.dxMode), `dx mode must be one of ${def.modes.join(', ')}, got '${cfg.dxMode}'`);
  }
  return def;
}

/** The π-ID window for a family: `window` when ≥ 0, else (−1) the family's default (3 for DX, 0 for GMFlow). */
export function windowSubstepsFor(policy: PolicyFamily, window: number): number {
  return window >= 0 ? window : POLICY_FAMILIES[policy].defaults.windowSubsteps;
}

/** "0 for gmflow, 3 for dx, …": the families' default windows, for help texts (`title`: the families' titles). */
export function windowDefaultsText(name: 'name' | 'title' = 'name'): string {
  return POLICY_FAMILY_NAMES.map((f) => `${POLICY_FAMILIES[f].defaults.windowSubsteps} for ${name === 'name' ? f : POLICY_FAMILIES[f].title}`).join(', ');
}

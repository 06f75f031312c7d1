/**
 * The policy-family registry: one entry per family of network-free policies, and everything the rest
 * of the playground needs to know about a family — its name and labels, its size parameter (K, N or
 * none), the network head it needs per layout, how a policy is built from that head's output, its
 * π-ID defaults, which sampling/training knobs apply, and what the inspector draws.
 *
 * Models (head widths, student init), students, samplers, the inspector, the notebooks' controls, the
 * CLI's choices, the limits and the playground check read this table; only the family files
 * (gmflow.ts, dx.ts, constant.ts) know the policies' insides. Adding a family is one family file and
 * one entry here.
 *
 * Layouts: x is [B, C] (points) or [B, C, H, W] (images). A head output is `out` [B, width] (points)
 * or [B, J, H, W] (images, J channels per pixel), plus `logstd` [B, 1] for families with a separate
 * log-std output on images.
 */
import * as tf from '@tensorflow/tfjs';
import type { Policy } from './policy.js';
import type { Times } from './time.js';
import { segmentBase } from './time.js';
import { check } from './tensors.js';
import { GMFlowPolicy, gmflowImageOutput, gmflowPointsOutput } from './gmflow.js';
import { DXMode, DXPolicy, DX_MODES, dxOutput } from './dx.js';
import { ConstantVelocityPolicy } from './constant.js';

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

/** A network's raw output: points [B, width]; images [B, J, H, W] and, for a log-std family, [B, 1]. */
export interface HeadOutput {
  out: tf.Tensor;
  logstd?: tf.Tensor;
}

/** What building a policy needs besides the network output. */
export interface PolicyContext {
  /** the NFE the student was distilled for (fixes DX's segment size) */
  nfe: number;
  finalStepSizeScale: number;
  shift: number;
  dxMode: string;
  /** the policies' ε (1e-6 in π-ID, 1e-4 in sampling) */
  eps: number;
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
  /** the policy from a head output; the output is not consumed */
  build(head: HeadOutput, size: number, xTSrc: tf.Tensor, sigmaTSrc: Times, ctx: PolicyContext): Policy;
}

const BIG = 1_000_000;

function layoutOf(xTSrc: tf.Tensor): PolicyLayout {
  return xTSrc.rank === 2 ? 'points' : 'images';
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
  build(head, K, xTSrc, sigmaTSrc, ctx) {
    const C = xTSrc.shape[1] as number;
    const parts = layoutOf(xTSrc) === 'points' ? gmflowPointsOutput(head.out, K, C) : gmflowImageOutput(head.out, head.logstd, K, C);
    try {
      return new GMFlowPolicy(parts, xTSrc, sigmaTSrc, ctx.eps);
    } finally {
      tf.dispose([parts.means, parts.logweights, parts.logstds]);
    }
  },
};

const DX: PolicyFamilyDef = {
  name: 'dx',
  title: 'DX',
  label: 'DX (N grid points)',
  size: { key: 'n', symbol: 'N', label: 'DX grid points N', min: 1, max: BIG },
  modes: DX_MODES,
  head: (N) => ({ replicas: N, logits: 0, logstd: false }),
  initNoiseStd: 0,
  defaults: { windowSubsteps: 3 },
  temperature: false,
  gmDropout: false,
  inspector: 'points',
  build(head, N, xTSrc, sigmaTSrc, ctx) {
    const d = dxOutput(head.out, N, xTSrc.shape[1] as number);
    try {
      return new DXPolicy(d, xTSrc, sigmaTSrc, {
        segmentSize: segmentBase(ctx.nfe, ctx.finalStepSizeScale), shift: ctx.shift, mode: ctx.dxMode as DXMode, eps: ctx.eps,
      });
    } finally {
      d.dispose();
    }
  },
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
  build: (head, _size, xTSrc, sigmaTSrc) => new ConstantVelocityPolicy(head.out, xTSrc, sigmaTSrc),
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

/** The policy a family's network output gives at (x_src, σ_src). */
export function policyFromOutput(
  name: PolicyFamily,
  head: HeadOutput,
  size: number,
  xTSrc: tf.Tensor,
  sigmaTSrc: Times,
  ctx: PolicyContext,
): Policy {
  return policyFamily(name).build(head, size, xTSrc, sigmaTSrc, ctx);
}

/**
 * The policy-family registry, part 2 — building a family's policy from its network output (the table
 * itself, with names, sizes, heads, defaults and capabilities, is families.ts, tfjs-free). One builder
 * per registered family; the Record type makes a new entry in families.ts ask for its builder here.
 *
 * A head output is `out` [B, width] (points, x [B, C]) or [B, J, H, W] (images, x [B, C, H, W], J
 * channels per pixel), plus `logstd` [B, 1] for families with a separate log-std output on images.
 */
import * as tf from '@tensorflow/tfjs';
import type { Policy } from './policy.js';
import type { Times } from './time.js';
import { segmentBase } from './time.js';
import { GMFlowPolicy, gmflowImageOutput, gmflowPointsOutput } from './gmflow.js';
import { DXMode, DXPolicy, dxOutput } from './dx.js';
import { ConstantVelocityPolicy } from './constant.js';
import { policyFamily, type PolicyFamily } from './families.js';

export * from './families.js';

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

/** Builds a policy from a head output (not consumed) at (x_src, σ_src); `size` is the family's K or N (1 without one). */
export type PolicyBuilder = (head: HeadOutput, size: number, xTSrc: tf.Tensor, sigmaTSrc: Times, ctx: PolicyContext) => Policy;

const BUILDERS: Readonly<Record<PolicyFamily, PolicyBuilder>> = {
  gmflow(head, K, xTSrc, sigmaTSrc, ctx) {
    const C = xTSrc.shape[1] as number;
    const parts = xTSrc.rank === 2 ? gmflowPointsOutput(head.out, K, C) : gmflowImageOutput(head.out, head.logstd, K, C);
    try {
      return new GMFlowPolicy(parts, xTSrc, sigmaTSrc, ctx.eps);
    } finally {
      tf.dispose([parts.means, parts.logweights, parts.logstds]);
    }
  },
  dx(head, N, xTSrc, sigmaTSrc, ctx) {
    const d = dxOutput(head.out, N, xTSrc.shape[1] as number);
    try {
      return new DXPolicy(d, xTSrc, sigmaTSrc, {
        segmentSize: segmentBase(ctx.nfe, ctx.finalStepSizeScale), shift: ctx.shift, mode: ctx.dxMode as DXMode, eps: ctx.eps,
      });
    } finally {
      d.dispose();
    }
  },
  constant: (head, _size, xTSrc, sigmaTSrc) => new ConstantVelocityPolicy(head.out, xTSrc, sigmaTSrc),
};

/** The policy a family's network output gives at (x_src, σ_src). */
export function policyFromOutput(
  name: PolicyFamily,
  head: HeadOutput,
  size: number,
  xTSrc: tf.Tensor,
  sigmaTSrc: Times,
  ctx: PolicyContext,
): Policy {
  return BUILDERS[policyFamily(name).name](head, size, xTSrc, sigmaTSrc, ctx);
}

/**
 * Golden-case conformance: runs the reference's test vectors (format of tests/fixtures/cases.json)
 * through the engine's ordinary public functions and compares with the numpy.allclose rule
 *   |actual − expected| ≤ atol + rtol·|expected|.
 * No DOM and no file system here: the CLI reads the file and prints.
 */
import * as tf from '@tensorflow/tfjs';
import { GMFlowPolicy } from './gmflow.js';
import { DXMode, DXPolicy } from './dx.js';
import { Policy, policyAverageU, policyRollout } from './policy.js';
import { flowmapSdeTimesteps, piflowSampleT, unwarpTimes, warpTimes } from './time.js';
import { forwardDiffusion } from './forward.js';
import { flowmapSdeStep, piflowSample } from './sample.js';

type Nested = number | Nested[];
export interface GoldenCase {
  id: string;
  kind: string;
  params: Record<string, number | string>;
  inputs: Record<string, Nested>;
  expected: Record<string, Nested>;
  rtol: number;
  atol: number;
}
export interface GoldenFile {
  format: number;
  cases: GoldenCase[];
}
export interface CaseResult {
  id: string;
  kind: string;
  pass: boolean;
  /** the largest |a − e| − (atol + rtol|e|) over all outputs (≤ 0 passes) */
  worstExcess: number;
  message?: string;
}

export const KNOWN_KINDS = [
  'warp_t', 'unwarp_t', 'gmflow_pi', 'gmflow_temperature', 'dx_pi', 'policy_rollout', 'policy_average_u',
  'piflow_sample_t', 'flowmap_sde_timesteps', 'flowmap_sde_step', 'forward_diffusion', 'piflow_sample_ode',
] as const;

/** Validate the file's structure; throws an Error naming what is wrong. */
export function parseGoldenFile(text: string, name = 'cases file'): GoldenFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
  }
  const d = data as GoldenFile;
  if (!d || typeof d !== 'object' || d.format !== 1 || !Array.isArray(d.cases)) {
    throw new Error(`${name}: expected {"format": 1, "cases": [...]}`);
  }
  d.cases.forEach((c, i) => {
    for (const key of ['id', 'kind', 'params', 'inputs', 'expected', 'rtol', 'atol'] as const) {
      if (!(key in c)) throw new Error(`${name}: case #${i} (${c.id ?? 'no id'}) lacks '${key}'`);
    }
  });
  return d;
}

function shapeOf(v: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flat(v: Nested): number[] {
  return Array.isArray(v) ? (v as Nested[]).flat(Infinity as 1) as number[] : [v];
}

function host(v: Nested): Float64Array {
  return Float64Array.from(flat(v));
}

function tensor(v: Nested): tf.Tensor {
  return tf.tensor(Float32Array.from(flat(v)), shapeOf(v));
}

interface Actual {
  shape: number[];
  values: ArrayLike<number>;
}

async function fromTensor(t: tf.Tensor): Promise<Actual> {
  const values = await t.data();
  const shape = t.shape.slice();
  t.dispose();
  return { shape, values };
}

function fromHost(values: ArrayLike<number>): Actual {
  return { shape: [values.length], values };
}

function buildPolicy(c: GoldenCase, output: Record<string, tf.Tensor>, xSrc: tf.Tensor, sigmaSrc: Float64Array): Policy {
  const p = c.params;
  const policy = String(p.policy ?? (c.kind.startsWith('dx') ? 'DX' : 'GMFlow'));
  const eps = Number(p.eps ?? 1e-4);
  if (policy === 'DX') {
    return new DXPolicy(output.denoising_output, xSrc, sigmaSrc, {
      segmentSize: Number(p.dx_segment_size ?? p.segment_size),
      shift: Number(p.dx_shift ?? p.shift),
      mode: String(p.dx_mode ?? p.mode) as DXMode,
      eps,
    });
  }
  return new GMFlowPolicy(
    { means: output.means, logweights: output.logweights, logstds: output.logstds }, xSrc, sigmaSrc, eps,
  );
}

/** Runs one case; returns its outputs by name. */
export async function runCase(c: GoldenCase): Promise<Record<string, Actual>> {
  const p = c.params;
  const inp = c.inputs;
  const owned: tf.Tensor[] = [];
  const T = (name: string) => {
    if (!(name in inp)) throw new Error(`input '${name}' missing`);
    const t = tensor(inp[name]);
    owned.push(t);
    return t;
  };
  const policyInputs = () => {
    const out: Record<string, tf.Tensor> = {};
    for (const k of ['means', 'logweights', 'logstds', 'denoising_output']) if (k in inp) out[k] = T(k);
    return out;
  };
  try {
    switch (c.kind) {
      case 'warp_t':
        return { sigma: fromHost(warpTimes(host(inp.raw_t), Number(p.shift))) };
      case 'unwarp_t':
        return { raw_t: fromHost(unwarpTimes(host(inp.sigma), Number(p.shift))) };
      case 'gmflow_pi':
      case 'gmflow_temperature':
      case 'dx_pi': {
        let policy = buildPolicy(c, policyInputs(), T('x_t_src'), host(inp.sigma_t_src));
        if (c.kind === 'gmflow_temperature') {
          const tempered = (policy as GMFlowPolicy).temperature(Number(p.temperature));
          policy.dispose();
          policy = tempered;
        }
        const u = policy.pi(T('x_t'), host(inp.sigma_t));
        policy.dispose();
        return { u: await fromTensor(u) };
      }
      case 'policy_rollout':
      case 'policy_average_u': {
        const policy = buildPolicy(c, policyInputs(), T('x_t_src'), host(inp.sigma_t_src));
        const args = [
          policy, T('x_t_start'), host(inp.sigma_t_start), host(inp.raw_t_start), host(inp.raw_t_end),
          Number(p.total_substeps), Number(p.shift),
        ] as const;
        try {
          if (c.kind === 'policy_rollout') {
            const { xTEnd, sigmaTEnd } = policyRollout(...args);
            return { x_t_end: await fromTensor(xTEnd), sigma_t_end: fromHost(sigmaTEnd) };
          }
          return { pred_u: await fromTensor(policyAverageU(...args, Number(p.avg_eps))) };
        } finally {
          policy.dispose();
        }
      }
      case 'piflow_sample_t': {
        const r = piflowSampleT(host(inp.raw_t), {
          nfe: Number(p.nfe), finalStepSizeScale: Number(p.final_step_size_scale), shift: Number(p.shift), eps: Number(p.eps),
        });
        return { raw_t_src: fromHost(r.rawTSrc), segment_size: fromHost(r.segmentSize), sigma_t_src: fromHost(r.sigmaTSrc) };
      }
      case 'flowmap_sde_timesteps': {
        const s = flowmapSdeTimesteps({
          nfe: Number(p.nfe), shift: Number(p.shift), finalStepSizeScale: Number(p.final_step_size_scale), h: Number(p.h),
        });
        return { sigmas: fromHost(s.sigmas), sigmas_dst: fromHost(s.sigmasDst) };
      }
      case 'flowmap_sde_step': {
        const s = flowmapSdeTimesteps({
          nfe: Number(p.nfe), shift: Number(p.shift), finalStepSizeScale: Number(p.final_step_size_scale), h: Number(p.h),
        });
        const i = Number(p.step_index);
        const xDst = T('x_t_dst');
        const out = flowmapSdeStep(xDst, s.sigmas[i + 1], s.m[i]);
        return { x_t: await fromTensor(out === xDst ? xDst.clone() : out) };
      }
      case 'forward_diffusion': {
        const { xT, u } = forwardDiffusion(T('x_0'), T('noise'), host(inp.sigma));
        return { x_t: await fromTensor(xT), u: await fromTensor(u) };
      }
      case 'piflow_sample_ode': {
        const stacked = policyInputs();
        const x0 = piflowSample(
          (x, sigma, step) => {
            const out: Record<string, tf.Tensor> = {};
            for (const [k, v] of Object.entries(stacked)) out[k] = tf.tidy(() => v.gather(step).reshape(v.shape.slice(1)));
            try {
              return buildPolicy(c, out, x, sigma);
            } finally {
              Object.values(out).forEach((t) => t.dispose());
            }
          },
          T('noise'),
          {
            nfe: Number(p.nfe), totalSubsteps: Number(p.total_substeps), shift: Number(p.shift),
            finalStepSizeScale: Number(p.final_step_size_scale), temperature: Number(p.temperature ?? 1),
          },
        );
        return { x_0: await fromTensor(x0) };
      }
      default:
        throw new Error(`unknown kind '${c.kind}' (known: ${KNOWN_KINDS.join(', ')})`);
    }
  } finally {
    owned.forEach((t) => t.dispose());
  }
}

/** Compares outputs to the case's expected values with its own rtol/atol. */
export function compareCase(c: GoldenCase, actual: Record<string, Actual>): CaseResult {
  let worst = -Infinity;
  for (const [name, exp] of Object.entries(c.expected)) {
    const a = actual[name];
    if (!a) return { id: c.id, kind: c.kind, pass: false, worstExcess: Infinity, message: `no output '${name}'` };
    const eShape = shapeOf(exp);
    const e = flat(exp);
    const sizeA = a.values.length;
    if (sizeA !== e.length || a.shape.join(',') !== eShape.join(',')) {
      return {
        id: c.id, kind: c.kind, pass: false, worstExcess: Infinity,
        message: `'${name}' has shape [${a.shape}], expected [${eShape}]`,
      };
    }
    for (let i = 0; i < e.length; i++) {
      const diff = Math.abs(a.values[i] - e[i]);
      const excess = Number.isNaN(diff) ? Infinity : diff - (c.atol + c.rtol * Math.abs(e[i]));
      if (excess > worst) worst = excess;
    }
  }
  return { id: c.id, kind: c.kind, pass: worst <= 0, worstExcess: worst };
}

/** Runs every case; never throws for a single case's failure. */
export async function runGolden(file: GoldenFile): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of file.cases) {
    try {
      results.push(compareCase(c, await runCase(c)));
    } catch (e) {
      results.push({ id: c.id, kind: c.kind, pass: false, worstExcess: Infinity, message: (e as Error).message });
    }
  }
  return results;
}

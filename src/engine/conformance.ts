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

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Why `v` is not a number or a rectangular nested array of finite numbers (undefined when it is). */
function nestedProblem(v: unknown, at = ''): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${at || 'value'} is not a finite number`;
  if (!Array.isArray(v)) return `${at || 'value'} is ${v === null ? 'null' : typeof v}, expected a number or an array of numbers`;
  if (v.length === 0) return `${at || 'value'} is an empty array`;
  const firstIsArray = Array.isArray(v[0]);
  const len0 = firstIsArray ? (v[0] as unknown[]).length : -1;
  for (let i = 0; i < v.length; i++) {
    const el = v[i];
    if (Array.isArray(el) !== firstIsArray || (firstIsArray && (el as unknown[]).length !== len0)) {
      return `${at}[${i}] breaks the array's rectangular shape`;
    }
    const p = nestedProblem(el, `${at}[${i}]`);
    if (p) return p;
  }
  return undefined;
}

/** Validate the file's structure; throws an Error naming what is wrong and where (case index and id, field). */
export function parseGoldenFile(text: string, name = 'cases file'): GoldenFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(data)) throw new Error(`${name}: expected {"format": 1, "cases": [...]}, got ${Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data}`);
  if (data.format !== 1) throw new Error(`${name}: "format" must be 1, got ${JSON.stringify(data.format)}`);
  if (!Array.isArray(data.cases)) throw new Error(`${name}: "cases" must be an array`);
  const ids = new Set<string>();
  data.cases.forEach((c: unknown, i: number) => {
    if (!isObject(c)) throw new Error(`${name}: case #${i} is not an object`);
    const where = `${name}: case #${i} (${typeof c.id === 'string' ? `id '${c.id}'` : 'no id'})`;
    for (const key of ['id', 'kind', 'params', 'inputs', 'expected', 'rtol', 'atol'] as const) {
      if (!(key in c)) throw new Error(`${where} lacks '${key}'`);
    }
    if (typeof c.id !== 'string' || c.id === '') throw new Error(`${where}: 'id' must be a non-empty string`);
    if (ids.has(c.id)) throw new Error(`${where}: 'id' is used by an earlier case`);
    ids.add(c.id);
    if (typeof c.kind !== 'string' || c.kind === '') throw new Error(`${where}: 'kind' must be a non-empty string`);
    if (!isObject(c.params)) throw new Error(`${where}: 'params' must be an object`);
    for (const [k, v] of Object.entries(c.params)) {
      if (!((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean')) {
        throw new Error(`${where}: params.${k} must be a finite number, a string or a boolean, got ${JSON.stringify(v)}`);
      }
    }
    for (const field of ['inputs', 'expected'] as const) {
      const obj = c[field];
      if (!isObject(obj)) throw new Error(`${where}: '${field}' must be an object of named arrays`);
      if (field === 'expected' && Object.keys(obj).length === 0) throw new Error(`${where}: 'expected' names no output`);
      for (const [k, v] of Object.entries(obj)) {
        const p = nestedProblem(v);
        if (p) throw new Error(`${where}: ${field}.${k}: ${p}`);
      }
    }
    for (const tol of ['rtol', 'atol'] as const) {
      const v = c[tol];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${where}: '${tol}' must be a finite number >= 0, got ${JSON.stringify(v)}`);
    }
  });
  return data as unknown as GoldenFile;
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

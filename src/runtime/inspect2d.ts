/**
 * What the 2D views show, computed from the models (browser-safe; runs in the training worker):
 * teacher ODE trajectories, policy trajectories with every substep, each step's policy in x₀ space,
 * the policy's x̂₀ along its substeps, and the teacher's velocity field. Results are plain typed arrays
 * read back with one `data()` each, so views never touch tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { eulerSample } from '../engine/sample.js';
import { piflowSample } from '../engine/sample.js';
import { fillTimes, type Times } from '../engine/time.js';
import type { Policy, PolicyView } from '../engine/policy.js';
import type { VelocityFn } from '../engine/sample.js';
import { ToyNet } from '../models/mlp.js';
import { StudentPolicyConfig, studentPolicy, teacherVelocity } from './toy.js';
import type { Paths, PolicyPaths, StepPolicy } from './paths.js';

export { particleX0, splitPaths, type Paths, type PolicyPaths, type StepPolicy } from './paths.js';

/** Stacks [P, …F] snapshots into one [T, P, …F] array with a single readback; disposes the snapshots. */
async function stackStates(snaps: tf.Tensor[]): Promise<Float32Array> {
  const stacked = tf.stack(snaps);
  snaps.forEach((t) => t.dispose());
  const data = (await stacked.data()) as Float32Array;
  stacked.dispose();
  return data;
}

/**
 * The teacher's Euler ODE from noise [P, …F] (any layout), recording every state and the teacher's
 * x̂₀ = x − σ·u at it (the last state's x̂₀ is the state itself).
 */
export async function teacherPathsOf(velocity: VelocityFn, noise: tf.Tensor, steps: number): Promise<Paths & { x0: Float32Array }> {
  const snaps: tf.Tensor[] = [];
  const x0s: tf.Tensor[] = [];
  const sigma: number[] = [];
  const tracked: VelocityFn = (x, s) => {
    const u = velocity(x, s);
    x0s.push(tf.keep(x.sub(u.mul(s[0]))));
    return u;
  };
  const end = eulerSample(tracked, noise, steps, {
    observe: (_i, xi, s) => {
      snaps.push(xi.clone());
      sigma.push(s);
    },
  });
  x0s.push(end);
  return { sigma, states: await stackStates(snaps), x0: await stackStates(x0s), numParticles: noise.shape[0] };
}

/** The teacher's Euler ODE from the given noise points (noise: [P, 2]). */
export async function teacherPaths(teacher: ToyNet, noise: Float32Array, steps: number): Promise<Paths> {
  const x = tf.tensor2d(noise, [noise.length / 2, 2]);
  try {
    const { x0: _x0, ...paths } = await teacherPathsOf(teacherVelocity(teacher), x, steps);
    return paths;
  } finally {
    x.dispose();
  }
}

export interface PolicyPathOptions {
  nfe?: number;
  temperature?: number;
  totalSubsteps?: number;
}

/**
 * The student's few-step sampling from noise [P, …F] (any layout), recording every substep and the
 * policy's x̂₀ along its own substeps; `onStep` may copy what it wants of each step's policy.
 */
export async function policyPathsOf(
  make: (x: tf.Tensor, sigma: Times) => Policy,
  p: StudentPolicyConfig,
  noise: tf.Tensor,
  opts: PolicyPathOptions = {},
  onStep?: (policy: Policy, sigmaSrc: number) => void,
): Promise<Paths & { nfeIndices: number[]; x0: Float32Array }> {
  const P = noise.shape[0];
  const snaps: tf.Tensor[] = [];
  const x0s: tf.Tensor[] = [];
  const sigma: number[] = [];
  const nfeIndices: number[] = [];
  let current: Policy | null = null;
  const end = piflowSample((xs, s) => make(xs, s), noise, {
    nfe: opts.nfe ?? p.nfe,
    totalSubsteps: opts.totalSubsteps ?? p.totalSubsteps,
    shift: p.shift,
    finalStepSizeScale: p.finalStepSizeScale,
    temperature: opts.temperature ?? 1,
    onStep: (_i, policy, _xSrc, sigmaSrc) => {
      current = policy;
      onStep?.(policy, sigmaSrc);
    },
    onSubstep: (_i, j, xs, s) => {
      if (j === 0) {
        // the step's source: the end of the previous step's substeps unless this is the first
        if (snaps.length > 0) {
          snaps.pop()!.dispose();
          x0s.pop()!.dispose();
          sigma.pop();
        }
        nfeIndices.push(snaps.length);
      }
      snaps.push(xs.clone());
      x0s.push(current!.x0(xs, fillTimes(P, s[0])));
      sigma.push(s[0]);
    },
  });
  end.dispose();
  return { sigma, states: await stackStates(snaps), x0: await stackStates(x0s), numParticles: P, nfeIndices };
}

/**
 * The 2D student's few-step sampling from the given noise points, recording every substep, each step's
 * policy (after temperature), and the policy's x̂₀ along its own substeps.
 */
export async function policyPaths(student: ToyNet, p: StudentPolicyConfig, noise: Float32Array, opts: PolicyPathOptions = {}): Promise<PolicyPaths> {
  const stepViews: { sigmaSrc: number; view: PolicyView }[] = [];
  const make = studentPolicy(student, p);
  const x = tf.tensor2d(noise, [noise.length / 2, 2]);
  let paths: Paths & { nfeIndices: number[]; x0: Float32Array };
  try {
    paths = await policyPathsOf((xs, s) => make(xs, s, 1e-4), p, x, opts, (policy, sigmaSrc) => {
      stepViews.push({ sigmaSrc, view: policy.view?.() ?? { draw: 'none' } });
    });
  } finally {
    x.dispose();
  }
  const steps: StepPolicy[] = [];
  const kind = p.policy;
  for (const { sigmaSrc, view: v } of stepViews) {
    if (v.draw === 'mixture') {
      const [means, weights, std] = (await Promise.all([v.means.data(), v.weights.data(), v.std.data()])) as Float32Array[];
      steps.push({ kind, draw: 'mixture', sigmaSrc, means, weights, std, k: v.weights.shape[1] as number });
      tf.dispose([v.means, v.weights, v.std]);
    } else if (v.draw === 'points') {
      steps.push({ kind, draw: 'points', sigmaSrc, points: (await v.points.data()) as Float32Array, n: v.points.shape[1] as number });
      v.points.dispose();
    } else {
      steps.push({ kind, draw: 'none', sigmaSrc });
    }
  }
  return { ...paths, steps };
}

/** The teacher's velocity on an n×n grid over [−extent, extent]² at σ: positions and −u (the direction of motion as σ falls). */
export async function velocityField(teacher: ToyNet, sigma: number, n: number, extent: number): Promise<{ positions: Float32Array; vectors: Float32Array }> {
  const positions = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      positions[2 * (i * n + j)] = -extent + (2 * extent * (j + 0.5)) / n;
      positions[2 * (i * n + j) + 1] = -extent + (2 * extent * (i + 0.5)) / n;
    }
  }
  const u = tf.tidy(() => teacherVelocity(teacher)(tf.tensor2d(positions, [n * n, 2]), fillTimes(n * n, sigma)).neg());
  const vectors = (await u.data()) as Float32Array;
  u.dispose();
  return { positions, vectors };
}

/** A normalised 2D histogram of points on an n×n grid over [−extent, extent]²: [n, n] row-major (y rows). */
export function densityGrid(points: Float32Array, n: number, extent: number): Float32Array {
  const grid = new Float32Array(n * n);
  const scale = n / (2 * extent);
  let count = 0;
  for (let i = 0; i < points.length; i += 2) {
    const gx = Math.floor((points[i] + extent) * scale);
    const gy = Math.floor((points[i + 1] + extent) * scale);
    if (gx >= 0 && gx < n && gy >= 0 && gy < n) {
      grid[gy * n + gx]++;
      count++;
    }
  }
  if (count > 0) for (let i = 0; i < grid.length; i++) grid[i] /= count;
  return grid;
}

/**
 * Paths as the views take them, with no tfjs (pages import this, the worker computes the paths):
 * [T, P, 2] states split per particle, and the policy's x̂₀ path of one particle.
 */
import type { PolicyFamily } from '../engine/families.js';

/** States along paths: `states` is [T, P, 2] row-major (T states of P particles), σ per state. */
export interface Paths {
  sigma: number[];
  states: Float32Array;
  numParticles: number;
}

/**
 * A step's policy in x₀ space, per particle, as its family's inspector entry draws it (registry:
 * 'mixture' for GMFlow, 'points' for DX, 'none' for the constant velocity); `kind` names the family.
 */
export type StepPolicy =
  | { kind: PolicyFamily; draw: 'mixture'; sigmaSrc: number; means: Float32Array /* [P, K, 2] */; weights: Float32Array /* [P, K] */; std: Float32Array /* [P] */; k: number }
  | { kind: PolicyFamily; draw: 'points'; sigmaSrc: number; points: Float32Array /* [P, N, 2] */; n: number }
  | { kind: PolicyFamily; draw: 'none'; sigmaSrc: number };

export interface PolicyPaths extends Paths {
  /** index into `sigma`/`states` of each network evaluation (the step's source state) */
  nfeIndices: number[];
  /** the policy's x̂₀ at every state: [T, P, 2] */
  x0: Float32Array;
  /** each step's policy */
  steps: StepPolicy[];
}

/** Per-particle paths from [T, P, 2] states: one {sigma, points [T·2]} per particle (what path views take). */
export function splitPaths(p: Paths, nfeIndices?: number[]): { sigma: number[]; points: Float32Array; nfeIndices: number[] }[] {
  const T = p.sigma.length;
  const P = p.numParticles;
  const out: { sigma: number[]; points: Float32Array; nfeIndices: number[] }[] = [];
  for (let i = 0; i < P; i++) {
    const pts = new Float32Array(2 * T);
    for (let t = 0; t < T; t++) {
      pts[2 * t] = p.states[(t * P + i) * 2];
      pts[2 * t + 1] = p.states[(t * P + i) * 2 + 1];
    }
    out.push({ sigma: p.sigma, points: pts, nfeIndices: nfeIndices ?? [] });
  }
  return out;
}

/** Particle i's x̂₀ path ([T·2]) from a PolicyPaths' [T, P, 2] x̂₀ array. */
export function particleX0(p: PolicyPaths, i: number): Float32Array {
  return splitPaths({ sigma: p.sigma, states: p.x0, numParticles: p.numParticles })[i].points;
}

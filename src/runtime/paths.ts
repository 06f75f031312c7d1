/**
 * Paths as the views take them, with no tfjs (pages import this, the worker computes the paths):
 * [T, P, 2] states split per particle, and the policy's x̂₀ path of one particle.
 */
import type { PolicyPaths } from './inspect2d.js';

/** States along paths: `states` is [T, P, 2] row-major (T states of P particles), σ per state. */
export interface Paths {
  sigma: number[];
  states: Float32Array;
  numParticles: number;
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

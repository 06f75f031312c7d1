/**
 * What the MNIST views show of a set of image paths (mnist-lab.ts `paths`), on the host and with no
 * tfjs (the page imports this): the PCA projection of teacher and policy paths, the x̂₀ strip across a
 * step's substeps next to the teacher's at the same σ, and single pixels against σ.
 */
import { fitPca, projectPca } from '../metrics/pca.js';
import { sigmaIndex } from '../viz/geometry.js';
import { splitPaths } from './paths.js';
import type { ImagePaths } from './mnist-lab.js';

type PathSet = { sigma: number[]; states: Float32Array; x0: Float32Array };

/** Teacher and policy paths projected on the first two principal components of the teacher's states. */
export function pcaPaths(p: ImagePaths) {
  const { numParticles: P, dim: D, teacher, policy } = p;
  const Tt = teacher.sigma.length;
  const pca = fitPca(teacher.states, Tt * P, D, 2);
  const project = (src: PathSet, nfeIndices: number[]) =>
    splitPaths({ sigma: src.sigma, states: projectPca(pca, src.states, src.sigma.length * P), numParticles: P }, nfeIndices);
  return { teacher: project(teacher, []), policy: policy ? project(policy, policy.nfeIndices) : [] };
}

/** The `k` pixels whose values differ most (variance) across the teacher's final images. */
export function mostVaryingPixels(p: ImagePaths, k = 3): number[] {
  const { numParticles: P, dim: D, teacher } = p;
  const last = teacher.sigma.length - 1;
  const variance = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    let m = 0;
    let m2 = 0;
    for (let i = 0; i < P; i++) {
      const v = teacher.states[(last * P + i) * D + j];
      m += v / P;
      m2 += (v * v) / P;
    }
    variance[j] = m2 - m * m;
  }
  return Array.from(variance.keys()).sort((a, b) => variance[b] - variance[a]).slice(0, k);
}

/** Pixel `j` of image `image` at every state of a path set. */
export function pixelTrace(p: ImagePaths, src: { sigma: number[]; states: Float32Array }, image: number, j: number): number[] {
  return src.sigma.map((_, t) => src.states[(t * p.numParticles + image) * p.dim + j]);
}

/**
 * Image `image` at `cols` evenly spaced states of the policy's substeps (the teacher's ODE without a
 * student): the policy's x̂₀ and state there, and the teacher's at the nearest σ of its own ODE. Columns
 * are labelled by σ, a ◆ marking a network evaluation of the student.
 */
export function x0Strip(p: ImagePaths, image: number, cols = 10): { columns: string[]; rows: { label: string; images: Float32Array }[] } {
  const { numParticles: P, dim: D, policy, teacher } = p;
  const ref: PathSet = policy ?? teacher;
  const T = ref.sigma.length;
  const idx = Array.from({ length: cols }, (_, c) => Math.round((c * (T - 1)) / (cols - 1)));
  const tIdx = idx.map((t) => Math.round(sigmaIndex(teacher.sigma, ref.sigma[t])));
  const strip = (src: PathSet, which: 'x0' | 'states', at: number[]) => {
    const out = new Float32Array(cols * D);
    at.forEach((t, c) => out.set(src[which].subarray((t * P + image) * D, (t * P + image + 1) * D), c * D));
    return out;
  };
  const rows = [{ label: 'teacher x̂₀ (its ODE)', images: strip(teacher, 'x0', tIdx) }];
  if (policy) rows.unshift({ label: 'policy x̂₀ (substeps)', images: strip(policy, 'x0', idx) });
  if (policy) rows.push({ label: 'policy state x_σ', images: strip(policy, 'states', idx) });
  rows.push({ label: 'teacher state x_σ', images: strip(teacher, 'states', tIdx) });
  return { columns: idx.map((t) => `${policy?.nfeIndices.includes(t) ? '◆ ' : ''}σ=${ref.sigma[t].toFixed(2)}`), rows };
}

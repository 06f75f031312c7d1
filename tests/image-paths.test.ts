/** The MNIST views' host-side helpers on small synthetic paths (P = 2 images of D = 4 pixels). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mostVaryingPixels, pcaPaths, pixelTrace, x0Strip } from '../src/runtime/image-paths.js';
import type { ImagePaths } from '../src/runtime/mnist-lab.js';

/** value of state t, image i, pixel j: 100·t + 10·i + j, plus `extra` on pixel 2 of image 1 */
function states(T: number, extra = 0): Float32Array {
  const a = new Float32Array(T * 2 * 4);
  for (let t = 0; t < T; t++) for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) a[(t * 2 + i) * 4 + j] = 100 * t + 10 * i + j + (i === 1 && j === 2 ? extra : 0);
  return a;
}

const paths: ImagePaths = {
  numParticles: 2,
  dim: 4,
  teacher: { sigma: [1, 0.5, 0], states: states(3, 50), x0: states(3).map((v) => -v) },
  policy: { sigma: [1, 0.75, 0.5, 0.25, 0], states: states(5), x0: states(5).map((v) => v + 0.5), nfeIndices: [0, 2] },
};

test('image paths: most varying pixels, pixel traces, the x̂₀ strip, PCA paths', () => {
  assert.deepEqual(mostVaryingPixels(paths, 1), [2], 'pixel 2 differs most across the final images');
  assert.deepEqual(pixelTrace(paths, paths.policy!, 1, 3), [13, 113, 213, 313, 413]);
  const strip = x0Strip(paths, 1, 3);
  assert.deepEqual(strip.columns, ['◆ σ=1.00', '◆ σ=0.50', 'σ=0.00']);
  assert.deepEqual(strip.rows.map((r) => r.label), ['policy x̂₀ (substeps)', 'teacher x̂₀ (its ODE)', 'policy state x_σ', 'teacher state x_σ']);
  // policy states 0, 2, 4 and teacher states 0, 1, 2 (same σ), image 1
  assert.deepEqual(Array.from(strip.rows[2].images), [10, 11, 12, 13, 210, 211, 212, 213, 410, 411, 412, 413]);
  assert.deepEqual(Array.from(strip.rows[3].images), [10, 11, 62, 13, 110, 111, 162, 113, 210, 211, 262, 213]);
  assert.deepEqual(Array.from(strip.rows[0].images.subarray(0, 4)), [10.5, 11.5, 12.5, 13.5]);
  const noStudent = x0Strip({ ...paths, policy: null }, 0, 3);
  assert.deepEqual(noStudent.rows.map((r) => r.label), ['teacher x̂₀ (its ODE)', 'teacher state x_σ']);
  assert.deepEqual(noStudent.columns, ['σ=1.00', 'σ=0.50', 'σ=0.00']);
  const pca = pcaPaths(paths);
  assert.equal(pca.teacher.length, 2);
  assert.equal(pca.policy.length, 2);
  assert.equal(pca.teacher[0].points.length, 2 * 3);
  assert.equal(pca.policy[1].points.length, 2 * 5);
  assert.deepEqual(pca.policy[0].nfeIndices, [0, 2]);
  assert.ok(pca.policy.every((p) => p.points.every(Number.isFinite)));
});

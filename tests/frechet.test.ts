import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { classStats, frechetDistance, frechetFromFeatures, jacobiEigen, meanCov, sqrtmSym } from '../src/metrics/frechet.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('Jacobi eigen: known matrices', () => {
  const e = jacobiEigen([2, 1, 1, 2], 2);
  const v = Array.from(e.values).sort((a, b) => a - b);
  close(v[0], 1, 1e-12, 'λ0');
  close(v[1], 3, 1e-12, 'λ1');
  const d3 = jacobiEigen([4, 0, 0, 0, -1, 0, 0, 0, 2.5], 3);
  assert.deepEqual(Array.from(d3.values).sort((a, b) => a - b), [-1, 2.5, 4]);
  // a random symmetric 12×12: A V = V Λ and VᵀV = I
  const d = 12;
  const rng = new Rng(4);
  const r = rng.normalArray(d * d);
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) A[i * d + j] = r[i * d + j] + r[j * d + i];
  const { values, vectors: V } = jacobiEigen(A, d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += A[i * d + j] * V[j * d + k];
      close(av, values[k] * V[i * d + k], 1e-9, `AV=VΛ (${i},${k})`);
      let vv = 0;
      for (let j = 0; j < d; j++) vv += V[j * d + i] * V[j * d + k];
      close(vv, i === k ? 1 : 0, 1e-10, `VᵀV (${i},${k})`);
    }
  }
  assert.throws(() => jacobiEigen([1, 2, 3, 4], 2), /not symmetric/);
});

test('sqrtm of an SPD matrix squares back; Fréchet of known Gaussians', () => {
  const S = [4, 1, 0, 1, 3, 0.5, 0, 0.5, 2];
  const R = sqrtmSym(S, 3);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += R[i * 3 + k] * R[k * 3 + j];
    close(s, S[i * 3 + j], 1e-10, `R² (${i},${j})`);
  }
  // identical → 0; diagonal covariances: Σ (√a − √b)²; mean shift adds |Δμ|²
  const m = Float64Array.from([0, 0]);
  close(frechetDistance(m, Float64Array.from([1, 0, 0, 1]), m, Float64Array.from([1, 0, 0, 1])), 0, 1e-12, 'same');
  close(frechetDistance(m, Float64Array.from([4, 0, 0, 9]), Float64Array.from([1, 2]), Float64Array.from([1, 0, 0, 1])), 5 + 1 + 4, 1e-10, 'diag');
  // from samples: two draws of the same Gaussian are close; a shifted one is |shift|² away
  const rng = new Rng(1);
  const n = 20000;
  const a = rng.normalArray(2 * n);
  const b = rng.normalArray(2 * n);
  const c = b.map((v, i) => v + (i % 2 === 0 ? 3 : 0));
  assert.ok(frechetFromFeatures(a, n, b, n, 2) < 0.01);
  close(frechetFromFeatures(a, n, c, n, 2), 9, 0.15, 'shift 3');
  const { mean, cov } = meanCov([1, 2, 3, 4, 5, 9], 3, 2);
  assert.deepEqual(Array.from(mean), [3, 5]);
  assert.deepEqual(Array.from(cov), [4, 7, 7, 13]);
});

test('class statistics', () => {
  const s = classStats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  close(s.entropy, Math.log(10), 1e-12, 'uniform');
  assert.equal(s.classesCovered, 10);
  const t = classStats([3, 3, 3, 1]);
  assert.deepEqual(t.histogram, [0, 1, 0, 3, 0, 0, 0, 0, 0, 0]);
  assert.equal(t.classesCovered, 2);
});

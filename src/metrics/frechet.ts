/**
 * Fréchet distance between two Gaussians fitted to feature sets (float64 throughout):
 *   d² = |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½)
 * The matrix square roots come from a cyclic Jacobi eigen-decomposition of symmetric matrices
 * (eigenvalues clamped at 0). Browser-safe. Also: class histogram, entropy, classes covered.
 */

/** Mean [d] and covariance [d·d] (unbiased, n − 1) of n rows of d features (row-major). */
export function meanCov(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Float64Array } {
  if (x.length !== n * d) throw new Error(`meanCov: ${x.length} values for ${n}×${d}`);
  if (n < 2) throw new Error(`meanCov: need at least 2 rows, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  return { mean, cov };
}

/**
 * Eigen-decomposition of a symmetric d×d matrix (row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues (unsorted) and eigenvectors as the columns of `vectors` (row-major d×d): A = V diag(λ) Vᵀ.
 */
export function jacobiEigen(a: ArrayLike<number>, d: number, maxSweeps = 100, tol = 1e-14): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== d * d) throw new Error(`jacobiEigen: ${a.length} values for ${d}×${d}`);
  const A = Float64Array.from(a);
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const s = Math.abs(A[i * d + j] - A[j * d + i]);
      if (s > 1e-9 * (Math.abs(A[i * d + j]) + Math.abs(A[j * d + i]) + 1e-300)) throw new Error(`jacobiEigen: matrix is not symmetric at (${i}, ${j})`);
    }
  }
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  let total = 0;
  for (const v of A) total += v * v;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += A[p * d + q] * A[p * d + q];
    if (off <= tol * tol * Math.max(total, 1e-300)) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = A[p * d + q];
        if (apq === 0) continue;
        const app = A[p * d + p];
        const aqq = A[q * d + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          // rows/cols p and q: A ← Jᵀ A J
          const akp = A[k * d + p];
          const akq = A[k * d + q];
          A[k * d + p] = c * akp - s * akq;
          A[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = A[p * d + k];
          const aqk = A[q * d + k];
          A[p * d + k] = c * apk - s * aqk;
          A[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p];
          const vkq = V[k * d + q];
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = A[i * d + i];
  return { values, vectors: V };
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues clamped to 0). */
export function sqrtmSym(a: ArrayLike<number>, d: number): Float64Array {
  const { values, vectors: V } = jacobiEigen(a, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = V[i * d + k] * s;
      if (vik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * V[j * d + k];
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  }
  return out;
}

/** Fréchet distance (squared form, as FID) between N(μ₁, Σ₁) and N(μ₂, Σ₂). */
export function frechetDistance(m1: Float64Array, c1: Float64Array, m2: Float64Array, c2: Float64Array): number {
  const d = m1.length;
  let diff = 0;
  for (let i = 0; i < d; i++) diff += (m1[i] - m2[i]) ** 2;
  const s1 = sqrtmSym(c1, d);
  const m = matMul(matMul(s1, c2, d), s1, d);
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
  const { values } = jacobiEigen(m, d);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(v, 0));
  let tr = 0;
  for (let i = 0; i < d; i++) tr += c1[i * d + i] + c2[i * d + i];
  return diff + tr - 2 * trSqrt;
}

/** Fréchet distance between two feature sets (rows of d features). */
export function frechetFromFeatures(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number, d: number): number {
  const A = meanCov(a, na, d);
  const B = meanCov(b, nb, d);
  return frechetDistance(A.mean, A.cov, B.mean, B.cov);
}

export interface ClassStats {
  histogram: number[];
  /** entropy of the predicted-class frequencies (nats; ln 10 ≈ 2.3026 is uniform over 10) */
  entropy: number;
  classesCovered: number;
}

/** Histogram, entropy and coverage of predicted classes (`minShare`: a class counts as covered above this share; default any). */
export function classStats(pred: ArrayLike<number>, numClasses = 10, minShare = 0): ClassStats {
  const histogram = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < pred.length; i++) histogram[pred[i]]++;
  const n = pred.length;
  let entropy = 0;
  let classesCovered = 0;
  for (const c of histogram) {
    if (c > 0) entropy -= (c / n) * Math.log(c / n);
    if (c > 0 && c / n > minShare) classesCovered++;
  }
  return { histogram, entropy, classesCovered };
}

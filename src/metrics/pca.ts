/**
 * Principal components on the host, for projecting image trajectories to 2D: fitted on the teacher's
 * paths (n states of dimension d, n ≪ d), through the n×n Gram matrix of the centred data (power
 * iteration with deflation), so a 784-pixel image costs O(n²·d) and never a d×d covariance.
 */
export interface Pca {
  mean: Float64Array;
  /** [k, d] row-major, unit rows, orthogonal */
  components: Float64Array;
  /** the variance along each component */
  variances: number[];
  k: number;
  d: number;
}

/** Fits the top `k` principal components of `data` ([n, d] row-major). Deterministic. */
export function fitPca(data: ArrayLike<number>, n: number, d: number, k = 2, iterations = 200): Pca {
  if (!(n >= 2) || data.length !== n * d) throw new Error(`fitPca: expected ${n}×${d} values, got ${data.length}`);
  k = Math.min(k, n - 1);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
  const centred = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) centred[i * d + j] = data[i * d + j] - mean[j];
  // Gram matrix G = X Xᵀ (n × n): its eigenvectors v give the components Xᵀv / |Xᵀv|
  const gram = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += centred[a * d + j] * centred[b * d + j];
      gram[a * n + b] = s;
      gram[b * n + a] = s;
    }
  }
  const components = new Float64Array(k * d);
  const variances: number[] = [];
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) v[i] = 1 + ((i * 7919) % 13) / 13; // fixed start: deterministic
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      for (let a = 0; a < n; a++) {
        let s = 0;
        for (let b = 0; b < n; b++) s += gram[a * n + b] * v[b];
        w[a] = s;
      }
      let norm = 0;
      for (let a = 0; a < n; a++) norm += w[a] * w[a];
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      lambda = norm;
      for (let a = 0; a < n; a++) v[a] = w[a] / norm;
    }
    // component = Xᵀ v, normalised
    const comp = components.subarray(c * d, (c + 1) * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) comp[j] += centred[i * d + j] * v[i];
    let cn = 0;
    for (let j = 0; j < d; j++) cn += comp[j] * comp[j];
    cn = Math.sqrt(cn);
    if (cn > 0) for (let j = 0; j < d; j++) comp[j] /= cn;
    variances.push(lambda / (n - 1));
    // deflate: G ← G − λ v vᵀ
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) gram[a * n + b] -= lambda * v[a] * v[b];
  }
  return { mean, components, variances, k, d };
}

/** Projects rows ([n, d]) onto the fitted components: [n, k] (float32, for the path views). */
export function projectPca(p: Pca, data: ArrayLike<number>, n: number): Float32Array {
  if (data.length !== n * p.d) throw new Error(`projectPca: expected ${n}×${p.d} values, got ${data.length}`);
  const out = new Float32Array(n * p.k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < p.k; c++) {
      let s = 0;
      for (let j = 0; j < p.d; j++) s += (data[i * p.d + j] - p.mean[j]) * p.components[c * p.d + j];
      out[i * p.k + c] = s;
    }
  }
  return out;
}

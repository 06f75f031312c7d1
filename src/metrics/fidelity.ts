/**
 * Fidelity to the teacher (the paper's "teacher alignment"): how far a student's sample lands from the
 * teacher's many-step ODE sample drawn from the same noise. Both arrays are [n, dims] row-major, row i
 * of each from the same noise point (every sampler here draws its noise from the same seeded stream).
 */
export function meanPairDistance(a: Float32Array, b: Float32Array, dims: number): number {
  if (!Number.isInteger(dims) || dims < 1) throw new Error(`dims must be an integer >= 1, got ${dims}`);
  if (a.length !== b.length || a.length % dims !== 0 || a.length === 0) {
    throw new Error(`fidelity: need two non-empty [n, ${dims}] arrays of the same length, got ${a.length} and ${b.length}`);
  }
  const n = a.length / dims;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let d2 = 0;
    for (let c = 0; c < dims; c++) {
      const d = a[i * dims + c] - b[i * dims + c];
      d2 += d * d;
    }
    sum += Math.sqrt(d2);
  }
  return sum / n;
}

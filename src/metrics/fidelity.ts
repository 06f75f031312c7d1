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

/** Share of rows whose predicted class is the same in `a` and `b` (row i of each from the same noise point). */
export function classAgreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`class agreement: need two non-empty label arrays of the same length, got ${a.length} and ${b.length}`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** One image sample set as the fidelity metrics see it: pixels [n, P], classifier features [n, F], predicted classes [n]. */
export interface ClassifiedImages {
  pixels: Float32Array;
  features: Float32Array;
  pred: ArrayLike<number>;
}

export interface ImageFidelity {
  /** mean ℓ2 distance between paired images (over all P pixel values; pixels in [-1, 1]) */
  pixelL2: number;
  /** mean ℓ2 distance between paired classifier features (the penultimate layer) */
  featureDistance: number;
  /** share of pairs with the same predicted class */
  classMatch: number;
}

/**
 * An image student's fidelity to its teacher (MNIST): `s` and `ref` are row-paired (row i of each from
 * the same noise; `ref` the teacher's many-step sample). Identical sets give 0, 0 and 1.
 */
export function imageFidelity(s: ClassifiedImages, ref: ClassifiedImages, pixelDims: number, featureDim: number): ImageFidelity {
  const n = s.pred.length;
  if (ref.pred.length !== n) throw new Error(`image fidelity: ${n} samples against ${ref.pred.length} references`);
  if (s.pixels.length !== n * pixelDims || s.features.length !== n * featureDim) {
    throw new Error(`image fidelity: pixels/features do not hold ${n} rows of ${pixelDims} / ${featureDim}`);
  }
  return {
    pixelL2: meanPairDistance(s.pixels, ref.pixels, pixelDims),
    featureDistance: meanPairDistance(s.features, ref.features, featureDim),
    classMatch: classAgreement(s.pred, ref.pred),
  };
}

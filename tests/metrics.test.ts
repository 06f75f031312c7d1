import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { sample2d } from '../src/data/toy2d.js';
import { Float64Sorter, slicedWasserstein1 } from '../src/metrics/swd.js';
import { classAgreement, imageFidelity } from '../src/metrics/fidelity.js';

test('SW1 of a set with itself is 0', () => {
  const a = sample2d('moons', 3000, new Rng(0));
  assert.equal(slicedWasserstein1(a, a.slice(), 2, 64, new Rng(1)), 0);
});

test('SW1 to a copy shifted by d along x is d * E|cos θ| = 2d/π', () => {
  const a = sample2d('checkerboard', 2000, new Rng(0));
  for (const d of [0.5, 3]) {
    const b = a.map((v, i) => (i % 2 === 0 ? v + d : v));
    const sw = slicedWasserstein1(a, b, 2, 2000, new Rng(2));
    assert.ok(Math.abs(sw / ((2 * d) / Math.PI) - 1) < 0.03, `d=${d}: sw ${sw} vs ${(2 * d) / Math.PI}`);
  }
});

test('SW1 in dim 3 (generic path) matches the shift formula E|cos θ| = 1/2', () => {
  const rng = new Rng(4);
  const a = rng.normalArray(3 * 500);
  const b = a.map((v, i) => (i % 3 === 0 ? v + 1 : v));
  const sw = slicedWasserstein1(a, b, 3, 4000, new Rng(5));
  assert.ok(Math.abs(sw - 0.5) < 0.015, `sw ${sw}`);
});

test('SW1 noise floor: two independent checkerboard draws of 20,000 (256 projections)', () => {
  const a = sample2d('checkerboard', 20000, new Rng(10));
  const b = sample2d('checkerboard', 20000, new Rng(11));
  const sw = slicedWasserstein1(a, b, 2, 256, new Rng(12));
  assert.ok(sw > 0.01 && sw < 0.035, `sw ${sw}`);
  const far = slicedWasserstein1(a, sample2d('gaussians8', 20000, new Rng(13)), 2, 256, new Rng(12));
  assert.ok(far > 10 * sw, `checkerboard vs gaussians8 ${far}`);
});

test('Float64Sorter agrees with the native sort (spread, tiny, signed zeros/infinities, tie-heavy)', () => {
  const rng = new Rng(20);
  const gens: Array<() => number> = [
    () => rng.normal() * 3,
    () => (rng.uniform() - 0.5) * 1e-300,
    () => [0, -0, 1, -1, Infinity, -Infinity, 5e-324, -5e-324][rng.int(8)],
    () => 1 + rng.uniform() * 1e-9, // all share the high word: fallback path
    () => 2 + rng.int(3) * 1e-12 - rng.int(2) * 4,
  ];
  for (const n of [1, 2, 1000, 20000]) {
    const sorter = new Float64Sorter(n);
    for (const g of gens) {
      const a = Float64Array.from({ length: n }, g);
      const want = a.slice().sort();
      const got = sorter.sort(a);
      assert.equal(got, a);
      for (let i = 0; i < n; i++) assert.ok(got[i] === want[i], `n=${n} i=${i}: ${got[i]} vs ${want[i]}`);
    }
  }
});

test('SW1 argument errors', () => {
  const a = new Float32Array(10);
  assert.throws(() => slicedWasserstein1(a, new Float32Array(12), 2, 8, new Rng(0)), /counts differ \(5 vs 6\)/);
  assert.throws(() => slicedWasserstein1(a, a, 3, 8, new Rng(0)), /multiples of dim 3/);
  assert.throws(() => slicedWasserstein1(a, a, 2, 0, new Rng(0)), /nProj/);
  assert.throws(() => slicedWasserstein1(new Float32Array(0), new Float32Array(0), 2, 8, new Rng(0)), /empty/);
});

test('image fidelity: identical sets give 0 / 0 / 1; known pixel and feature offsets and class swaps', () => {
  const n = 4, P = 9, F = 3;
  const pixels = Float32Array.from({ length: n * P }, (_, i) => Math.sin(i));
  const features = Float32Array.from({ length: n * F }, (_, i) => i / 7);
  const pred = [0, 3, 3, 9];
  const ref = { pixels, features, pred };
  assert.deepEqual(imageFidelity(ref, ref, P, F), { pixelL2: 0, featureDistance: 0, classMatch: 1 });
  // every pixel 0.5 off: ℓ2 = 0.5·√9 = 1.5; features shifted by (3, 4, 0) in row 0 only: mean 5/4; one class of four changed
  const shifted = {
    pixels: pixels.map((v) => v + 0.5),
    features: features.map((v, i) => (i === 0 ? v + 3 : i === 1 ? v + 4 : v)),
    pred: [0, 3, 2, 9],
  };
  const f = imageFidelity(shifted, ref, P, F);
  assert.ok(Math.abs(f.pixelL2 - 1.5) < 1e-6, `pixel ℓ2 ${f.pixelL2}`);
  assert.ok(Math.abs(f.featureDistance - 1.25) < 1e-6, `feature distance ${f.featureDistance}`);
  assert.equal(f.classMatch, 0.75);
  assert.equal(classAgreement([1, 2, 3], [3, 2, 1]), 1 / 3);
  assert.throws(() => classAgreement([1], [1, 2]), /same length/);
  assert.throws(() => imageFidelity(shifted, { ...ref, pred: [0, 1] }, P, F), /4 samples against 2/);
  assert.throws(() => imageFidelity({ ...shifted, features: new Float32Array(5) }, ref, P, F), /do not hold 4 rows/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { sample2d } from '../src/data/toy2d.js';
import { modeCoverage, precision } from '../src/metrics/modes.js';
import { DATASETS, getDataset } from '../datasets/index.js';
import { LIGHT_MODE } from '../datasets/unequal8.js';

const N = 20000;

test('the data itself: precision about 1 (checkerboard exactly), every mode covered, entropy near the target', () => {
  for (const d of DATASETS) {
    const p = sample2d(d.name, N, new Rng(21));
    const prec = precision(p, d.name);
    if (d.name === 'checkerboard') assert.equal(prec, 1);
    else assert.ok(prec > 0.98 && prec <= 1, `${d.name}: precision ${prec}`);
    const c = modeCoverage(p, d);
    assert.equal(c.modes, d.modes.length);
    assert.equal(c.modesCovered, c.modes, `${d.name}: covered ${c.covered}`);
    assert.equal(c.counts.reduce((a, b) => a + b, 0), N);
    c.share.forEach((s, k) => assert.ok(Math.abs(s - d.modes[k].weight) < 0.015, `${d.name} ${c.labels[k]}: share ${s} vs ${d.modes[k].weight}`));
    assert.ok(Math.abs(c.entropy - c.targetEntropy) < 0.005, `${d.name}: entropy ${c.entropy} vs ${c.targetEntropy}`);
  }
  // equal weights: the target is exactly 1
  assert.equal(modeCoverage(sample2d('gaussians8', 100, new Rng(0)), 'gaussians8').targetEntropy, 1);
});

test('unequal8: the light mode holds about 3%; a sampler that drops it loses coverage and entropy', () => {
  const p = sample2d('unequal8', N, new Rng(5));
  const c = modeCoverage(p, 'unequal8');
  assert.ok(Math.abs(c.share[LIGHT_MODE] - 0.03) < 0.005, `light share ${c.share[LIGHT_MODE]}`);
  assert.equal(c.covered[LIGHT_MODE], true);
  assert.ok(c.targetEntropy < 0.98 && c.targetEntropy > 0.96, `target ${c.targetEntropy}`);
  // gaussians8 samples lie on the same centres, but every mode is 1/8: well above the light weight
  const g = modeCoverage(sample2d('gaussians8', N, new Rng(5)), 'unequal8');
  assert.ok(g.share[LIGHT_MODE] > 0.11, String(g.share[LIGHT_MODE]));
  // mode-seeking: the samples of the light mode removed
  const kept: number[] = [];
  for (let i = 0; i < N; i++) if (getDataset('unequal8').modeOf(p[2 * i], p[2 * i + 1]) !== LIGHT_MODE) kept.push(p[2 * i], p[2 * i + 1]);
  const dropped = modeCoverage(Float32Array.from(kept), 'unequal8');
  assert.equal(dropped.modesCovered, 7);
  assert.equal(dropped.covered[LIGHT_MODE], false);
  assert.equal(dropped.counts[LIGHT_MODE], 0);
  assert.ok(dropped.entropy < c.entropy - 0.02, `${dropped.entropy} vs ${c.entropy}`);
  assert.ok(precision(Float32Array.from(kept), 'unequal8') > 0.98); // precision cannot see a dropped mode
});

test('samples from only some modes: coverage and entropy drop, precision stays', () => {
  // checkerboard squares: all points in squares 0 and 5 (centres (-3,-3) and (1,1))
  const two = new Float32Array(2 * 1000);
  const rng = new Rng(1);
  for (let i = 0; i < 1000; i++) {
    const [cx, cy] = i % 2 ? [-3, -3] : [1, 1];
    two[2 * i] = cx + 1.8 * (rng.uniform() - 0.5);
    two[2 * i + 1] = cy + 1.8 * (rng.uniform() - 0.5);
  }
  const c = modeCoverage(two, 'checkerboard');
  assert.equal(c.modesCovered, 2);
  assert.deepEqual(c.covered.map((v, k) => (v ? k : -1)).filter((k) => k >= 0), [0, 5]);
  assert.ok(Math.abs(c.entropy - Math.log(2) / Math.log(8)) < 1e-9, String(c.entropy));
  assert.equal(precision(two, 'checkerboard'), 1);
  // one mode only: entropy 0
  assert.equal(modeCoverage(Float32Array.from([2.83, 0, 2.8, 0.1]), 'gaussians8').entropy, 0);
  // the 2% threshold: 1 of 60 points (1.7%) is not covered, 2 of 60 (3.3%) are
  const pts = (light: number) => Float32Array.from([...Array.from({ length: 60 - light }, () => [0.75, 0]).flat(), ...Array.from({ length: light }, () => [3, 0]).flat()]);
  assert.equal(modeCoverage(pts(1), 'rings').covered[3], false);
  assert.equal(modeCoverage(pts(2), 'rings').covered[3], true);
  assert.equal(modeCoverage(pts(1), 'rings', 0.01).covered[3], true);
});

test('points outside the support: precision drops by their share', () => {
  for (const { name } of DATASETS) {
    const data = sample2d(name, 4000, new Rng(9));
    const base = precision(data, name);
    // every 4th point moved to one outside every support: a black checkerboard square, between two
    // Gaussians, off the arcs, arms and rings
    const out = [-0.5, -3.5] as const;
    assert.equal(getDataset(name).inSupport(out[0], out[1]), false, `${name}: the probe point`);
    const mixed = Float32Array.from(data);
    for (let i = 0; i < 4000; i += 4) [mixed[2 * i], mixed[2 * i + 1]] = out;
    const p = precision(mixed, name);
    assert.ok(p < base - 0.2 && p > base - 0.3, `${name}: ${p} vs ${base}`);
  }
  assert.equal(precision(Float32Array.from([0, 0, 10, 10]), 'gaussians8'), 0);
});

test('bad input: clear errors', () => {
  assert.throws(() => precision(new Float32Array(0), 'moons'), /non-empty \[n, 2\]/);
  assert.throws(() => precision(Float32Array.from([1, 2, 3]), 'moons'), /non-empty \[n, 2\]/);
  assert.throws(() => modeCoverage(Float32Array.from([1, 2, NaN, 0]), 'moons'), /sample 1 is not finite/);
  assert.throws(() => precision(Float32Array.from([1, 2]), 'swissroll'), /unknown dataset 'swissroll'; allowed: checkerboard/);
  assert.throws(() => modeCoverage(Float32Array.from([1, 2]), 'moons', 0), /minShare/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { DATASETS_2D, PointSampler, parseCsv2d, sample2d, toCsv2d } from '../src/data/toy2d.js';

test('checkerboard: only white squares, all 8 covered, uniform-ish, in [-4,4]^2', () => {
  const n = 20000;
  const p = sample2d('checkerboard', n, new Rng(0));
  assert.equal(p.length, 2 * n);
  const counts = new Map<string, number>();
  for (let k = 0; k < n; k++) {
    const [x, y] = [p[2 * k], p[2 * k + 1]];
    assert.ok(x >= -4 && x < 4 && y >= -4 && y < 4, `point ${x},${y} outside [-4,4)^2`);
    const i = Math.floor(x / 2 + 2);
    const j = Math.floor(y / 2 + 2);
    assert.equal((i + j) % 2, 0, `point ${x},${y} in black square (${i},${j})`);
    counts.set(`${i},${j}`, (counts.get(`${i},${j}`) ?? 0) + 1);
  }
  assert.equal(counts.size, 8);
  for (const c of counts.values()) assert.ok(Math.abs(c / n - 1 / 8) < 0.01, `square frequency ${c / n}`);
});

test('every dataset: seeded, finite, extent about [-4,4]', () => {
  for (const name of DATASETS_2D) {
    const a = sample2d(name, 5000, new Rng(7));
    const b = sample2d(name, 5000, new Rng(7));
    const c = sample2d(name, 5000, new Rng(8));
    assert.deepEqual(a, b, `${name}: same seed must give the same samples`);
    assert.notDeepEqual(a, c, `${name}: different seeds must differ`);
    let maxAbs = 0;
    const mean = [0, 0];
    for (let i = 0; i < a.length; i++) {
      assert.ok(Number.isFinite(a[i]));
      maxAbs = Math.max(maxAbs, Math.abs(a[i]));
      mean[i % 2] += a[i] / 5000;
    }
    assert.ok(maxAbs > 2.5 && maxAbs < 5, `${name}: max |coord| ${maxAbs}`);
    assert.ok(Math.abs(mean[0]) < 0.3 && Math.abs(mean[1]) < 0.3, `${name}: mean ${mean}`);
  }
});

test('gaussians8: 8 modes on a circle of radius 4/sqrt2', () => {
  const p = sample2d('gaussians8', 8000, new Rng(1));
  const modes = new Set<number>();
  for (let k = 0; k < 8000; k++) {
    const r = Math.hypot(p[2 * k], p[2 * k + 1]);
    assert.ok(Math.abs(r - 2.83) < 1.5);
    modes.add(((Math.round((Math.atan2(p[2 * k + 1], p[2 * k]) / Math.PI) * 4) % 8) + 8) % 8);
  }
  assert.equal(modes.size, 8);
});

test('sample2d argument errors', () => {
  assert.throws(() => sample2d('swissroll', 10, new Rng(0)), /'swissroll'.*checkerboard, moons, gaussians8, spirals, rings/);
  for (const n of [0, -1, 2.5, NaN]) assert.throws(() => sample2d('moons', n, new Rng(0)), /positive integer/);
});

test('CSV: parse, header, blank lines, round-trip, errors name the line', () => {
  assert.deepEqual(parseCsv2d('x,y\n1,2\n\n-3.5, 4e-1\r\n'), Float32Array.from([1, 2, -3.5, 0.4]));
  assert.deepEqual(parseCsv2d('1,2\n3,4'), Float32Array.from([1, 2, 3, 4]));
  const pts = sample2d('spirals', 100, new Rng(3));
  const csv = toCsv2d(pts);
  assert.ok(csv.startsWith('x,y\n'));
  assert.equal(csv.trim().split('\n').length, 101);
  assert.deepEqual(parseCsv2d(csv), pts);
  assert.throws(() => parseCsv2d('x,y\n1,2\n3,abc\n'), /line 3.*'3,abc'/);
  assert.throws(() => parseCsv2d('1,2\n\n1,Infinity'), /line 3/);
  assert.throws(() => parseCsv2d('1,2,3'), /line 1/);
  assert.throws(() => parseCsv2d('1,'), /line 1/);
  assert.throws(() => parseCsv2d('x,y\n1,2\nx,y'), /line 3/);
  assert.throws(() => parseCsv2d('x,y\n\n'), /no data rows/);
  assert.throws(() => parseCsv2d(''), /no data rows/);
});

test('PointSampler: draws only given points, seeded, covers the set', () => {
  const pts = Float32Array.from([0, 0, 1, 1, 2, -2]);
  const s = new PointSampler(pts);
  assert.equal(s.count, 3);
  const a = s.sample(3000, new Rng(5));
  assert.deepEqual(a, s.sample(3000, new Rng(5)));
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) seen.add(`${a[2 * i]},${a[2 * i + 1]}`);
  assert.deepEqual([...seen].sort(), ['0,0', '1,1', '2,-2']);
  assert.throws(() => new PointSampler(new Float32Array(0)), /non-empty/);
  assert.throws(() => new PointSampler(Float32Array.from([1, 2, 3])), /non-empty/);
  assert.throws(() => s.sample(0, new Rng(0)), /positive integer/);
});

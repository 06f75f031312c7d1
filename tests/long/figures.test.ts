/**
 * `piflow figures --quick`: every figure's SVG and PNG exist and are well-formed, figures.json holds
 * finite numbers for every method × NFE, figures.md lists each figure with its command, and a second
 * run reuses the cached models and writes byte-identical SVGs. Needs the Vite build (dist/web) and
 * Debian's chromium; runs in the long suite (after `vite build`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers.js';

const FIGURES = ['few-step-collapse', 'trajectories', 'k-sweep', 'methods-2d', 'nfe-elastic', 'dx-window', 'policy-inside', 'methods-mnist'];
/** marks each SVG must hold (data-testid values of the views) */
const MARKS: Record<string, string[]> = {
  'few-step-collapse': ['data-testid="scatter-layer"', 'data-name="data"', '<circle'],
  trajectories: ['data-testid="policy-path"', 'data-testid="teacher-path"', 'data-testid="nfe-marker"', 'data-testid="policy-substeps"'],
  'k-sweep': ['data-testid="scatter-layer"', 'data-name="1 NFE"', 'data-name="2 NFE"'],
  'methods-2d': ['data-testid="scatter-layer"', 'data-name="DMD-style, 1 NFE"', 'data-name="π-Flow GMFlow, 1 NFE"', 'every method and NFE on checkerboard', 'every method and NFE on gaussians8'],
  'nfe-elastic': ['data-testid="scatter-layer"', 'data-testid="figure-line"', 'data-name="teacher Euler"', 'data-name="π-Flow GMFlow"', 'GMFlow (2-NFE student), 8 NFE'],
  'dx-window': ['data-testid="scatter-layer"', 'data-testid="figure-line"', 'data-name="window 0"', 'data-name="window 3"'],
  'policy-inside': ['data-testid="gm-component"', 'data-testid="dx-point"', 'data-testid="x0-path"', 'data-testid="x0-current"'],
  'methods-mnist': ['data-testid="image-row"', 'data-label="DMD-style, 1 NFE"', 'data-label="π-Flow GMFlow, 4 NFE"', 'data-label="shortcut, 2 NFE"', '<image', 'data-testid="scatter-layer"'],
};
/** the rows of methods-mnist (label, NFE): the quick configuration's many-step teacher is Euler 8 */
const MNIST_ROWS: [string, number | null][] = [
  ['data (train images)', null], ['teacher Euler 1', 1], ['teacher Euler 2', 2], ['teacher Euler 4', 4], ['teacher Euler 8', 8],
  ['π-Flow GMFlow, 1 NFE', 1], ['π-Flow GMFlow, 2 NFE', 2], ['π-Flow GMFlow, 4 NFE', 4],
  ['π-Flow DX, 1 NFE', 1], ['π-Flow DX, 2 NFE', 2], ['π-Flow DX, 4 NFE', 4], ['shortcut, 1 NFE', 1], ['shortcut, 2 NFE', 2],
  ['DMD-style, 1 NFE', 1], ['shipped GMFlow (1500 it.), 2 NFE', 2],
];
const METHODS: [string, number][] = [
  ['teacher Euler', 1], ['teacher Euler', 2], ['teacher Euler', 4], ['teacher Euler', 128],
  ['π-Flow GMFlow', 1], ['π-Flow GMFlow', 2], ['π-Flow GMFlow', 4], ['π-Flow DX', 1], ['π-Flow DX', 2], ['π-Flow DX', 4],
  ['constant velocity (π-ID)', 1], ['constant velocity (π-ID)', 2],
  ['shortcut regression', 1], ['shortcut regression', 2], ['DMD-style', 1],
];

let tmp = '';
interface Row { dataset: string; method: string; nfe: number | null; swd: number; precision: number; modesCovered: number; modes: number; entropy: number; fidelity: number | null }
interface MnistRow {
  label: string; nfe: number | null; frechet: number; entropy: number; classesCovered: number;
  pixelL2: number | null; featureDistance: number | null; classMatch: number | null;
}
interface FiguresJson {
  runs: { command: string; figures: string[] }[];
  models: Record<string, { cached: boolean; hash: string }>;
  figures: Record<string, { command: string; svg: string; png: string; width: number; height: number; rows: Row[]; models: string[] } & Record<string, unknown>>;
}

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'piflow-figures-'));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function run(out: string, ...more: string[]) {
  const r = runCli(['figures', '--quick', ...more, '--out', out, '--cache', path.join(tmp, 'cache')], { timeoutMs: 900_000 });
  assert.equal(r.code, 0, `piflow figures failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(readFileSync(path.join(out, 'figures.json'), 'utf8')) as FiguresJson;
}

function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file}: not a PNG`);
  assert.equal(b.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

test('bad options fail fast with a clear message', () => {
  const r = runCli(['figures', '--quick', '--only', 'k-sweep,bogus,nope', '--out', path.join(tmp, 'x')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown figure\(s\) bogus, nope; known: few-step-collapse, trajectories, k-sweep, methods-2d, nfe-elastic, dx-window, policy-inside, methods-mnist/);
  const b = runCli(['figures', '--quick', '--backend', 'webgl', '--out', path.join(tmp, 'x')]);
  assert.equal(b.code, 2, b.stderr);
  assert.match(b.stderr, /--backend webgl: must be one of wasm, cpu/);
  assert.ok(!existsSync(path.join(tmp, 'x')), 'nothing is written for bad options');
});

test('piflow figures --quick: eight figures, every number, cached models and byte-identical SVGs on a rerun; --only merges', async () => {
  const out1 = path.join(tmp, 'run1');
  const out2 = path.join(tmp, 'run2');
  const j1 = run(out1);
  assert.deepEqual(Object.keys(j1.figures), FIGURES);
  assert.ok(Object.keys(j1.models).length >= 10, `models: ${Object.keys(j1.models)}`);
  for (const [id, m] of Object.entries(j1.models)) assert.equal(m.cached, false, `${id} was trained on the first run`);

  for (const name of FIGURES) {
    const f = j1.figures[name];
    const svg = readFileSync(path.join(out1, `${name}.svg`), 'utf8');
    assert.ok(svg.startsWith('<?xml'), `${name}.svg: no XML declaration`);
    assert.match(svg, /<svg\b[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'), `${name}.svg: not closed`);
    assert.equal((svg.match(/<svg\b/g) ?? []).length, (svg.match(/<\/svg>/g) ?? []).length, `${name}.svg: unbalanced <svg>`);
    for (const mark of MARKS[name]) assert.ok(svg.includes(mark), `${name}.svg lacks ${mark}`);
    const size = pngSize(path.join(out1, `${name}.png`));
    assert.deepEqual(size, { width: f.width, height: f.height }, `${name}.png is the SVG's size`);
    if (name === 'methods-mnist') continue; // its rows are checked below
    for (const r of f.rows) {
      for (const k of ['swd', 'precision', 'entropy'] as const) assert.ok(Number.isFinite(r[k]), `${name} ${r.method} ${r.nfe}: ${k} = ${r[k]}`);
      if (r.nfe !== null) assert.ok(r.fidelity !== null && Number.isFinite(r.fidelity) && r.fidelity >= 0, `${name} ${r.method}: fidelity ${r.fidelity}`);
      assert.ok(r.modesCovered >= 0 && r.modesCovered <= r.modes);
    }
  }
  // every method × NFE of the methods figure, on both datasets
  const all2d = j1.figures['methods-2d'].rows;
  assert.equal(all2d.length, 2 * METHODS.length);
  for (const dataset of ['checkerboard', 'gaussians8']) {
    const rs = all2d.filter((r) => r.dataset === dataset);
    for (const [method, nfe] of METHODS) assert.ok(rs.some((r) => r.method === method && r.nfe === nfe), `methods-2d lacks ${method} at ${nfe} NFE on ${dataset}`);
    assert.equal(rs.find((r) => r.method === 'teacher Euler' && r.nfe === 128)!.fidelity, 0, `${dataset}: the reference is its own`);
  }
  assert.ok(j1.figures['methods-2d'].models.includes('gaussians8/dmd'), 'the 8-Gaussians students have their own ids');
  const rows = all2d.filter((r) => r.dataset === 'checkerboard');
  // methods-mnist: every method's row, finite metrics in range, the many-step teacher is its own reference
  const mnist = j1.figures['methods-mnist'].rows as unknown as MnistRow[];
  assert.deepEqual(mnist.map((r) => [r.label, r.nfe]), MNIST_ROWS);
  for (const r of mnist) {
    assert.ok(Number.isFinite(r.frechet) && r.frechet > 0, `${r.label}: FD ${r.frechet}`);
    assert.ok(r.entropy >= 0 && r.entropy <= Math.log(10) + 1e-9, `${r.label}: entropy ${r.entropy}`);
    assert.ok(Number.isInteger(r.classesCovered) && r.classesCovered >= 1 && r.classesCovered <= 10);
    if (r.nfe === null) assert.deepEqual([r.pixelL2, r.featureDistance, r.classMatch], [null, null, null]);
    else {
      assert.ok(r.pixelL2! >= 0 && Number.isFinite(r.pixelL2) && r.featureDistance! >= 0 && Number.isFinite(r.featureDistance), `${r.label}: fidelity`);
      assert.ok(r.classMatch! >= 0 && r.classMatch! <= 1, `${r.label}: class match ${r.classMatch}`);
    }
  }
  assert.deepEqual(mnist.filter((r) => r.label === 'teacher Euler 8').map((r) => [r.pixelL2, r.featureDistance, r.classMatch]), [[0, 0, 1]]);
  assert.ok(mnist.find((r) => r.label === 'teacher Euler 1')!.pixelL2! > 1, 'Euler 1 is far from the many-step sample');
  assert.deepEqual(j1.figures['methods-mnist'].models, ['mnist/gmflow', 'mnist/dx', 'mnist/shortcut-nfe1', 'mnist/shortcut-nfe2', 'mnist/dmd']);
  assert.equal((readFileSync(path.join(out1, 'methods-mnist.svg'), 'utf8').match(/data-testid="image-row"/g) ?? []).length, MNIST_ROWS.length);
  // the same noise for every sampler: the Euler-128 teacher is its own reference, Euler-1 is far from it
  const e128 = rows.find((r) => r.method === 'teacher Euler' && r.nfe === 128)!;
  const e1 = rows.find((r) => r.method === 'teacher Euler' && r.nfe === 1)!;
  assert.equal(e128.fidelity, 0);
  assert.ok(e1.fidelity! > 1, `Euler-1 fidelity ${e1.fidelity}`);
  assert.ok(e1.swd > 5 * e128.swd, `Euler-1 ${e1.swd} vs Euler-128 ${e128.swd}`);
  // K × NFE of the sweep
  const sweep = j1.figures['k-sweep'].rows;
  for (const k of [1, 2, 4, 8, 32]) for (const nfe of [1, 2]) assert.ok(sweep.some((r) => r.method === `π-Flow GMFlow K=${k}` && r.nfe === nfe), `k-sweep lacks K=${k} at ${nfe} NFE`);
  // the 2-NFE GMFlow student of methods-2d at 1 / 2 / 4 / 8 NFE against the teacher's Euler at the same NFE
  const elastic = j1.figures['nfe-elastic'];
  assert.deepEqual(elastic.models, ['gmflow-k8']);
  for (const method of ['teacher Euler', 'π-Flow GMFlow']) {
    for (const nfe of [1, 2, 4, 8]) assert.ok(elastic.rows.some((r) => r.method === method && r.nfe === nfe), `nfe-elastic lacks ${method} at ${nfe} NFE`);
  }
  assert.deepEqual(elastic.rows.find((r) => r.method === 'π-Flow GMFlow' && r.nfe === 2), rows.find((r) => r.method === 'π-Flow GMFlow' && r.nfe === 2), 'the same student and noise as methods-2d');
  // DX window 0 vs 3, each with its per-iteration loss (window 3 is methods-2d's DX student)
  const dxw = j1.figures['dx-window'];
  assert.deepEqual(dxw.models, ['dx-window0', 'dx']);
  assert.equal(dxw.rows.length, 2);
  for (const id of dxw.models) {
    const h = (dxw[id] as { lossHistory: (number | null)[] }).lossHistory;
    assert.equal(h.length, 40, `${id}: one loss per quick iteration`);
    assert.ok(h.every((v) => v !== null && Number.isFinite(v)), `${id}: finite losses`);
  }
  // one particle inside the GMFlow (K = 8) and DX (N = 10) students: one panel per network evaluation
  const inside = j1.figures['policy-inside'];
  assert.deepEqual(inside.models, ['gmflow-k8', 'dx']);
  const insideSvg = readFileSync(path.join(out1, 'policy-inside.svg'), 'utf8');
  assert.equal((insideSvg.match(/data-testid="gm-component"/g) ?? []).length, 2 * 8, 'K components at each of 2 steps');
  assert.equal((insideSvg.match(/data-testid="dx-point"/g) ?? []).length, 2 * 10, 'N grid points at each of 2 steps');
  for (const id of inside.models) {
    const st = (inside[id] as { steps: { sigmaSrc: number; x0Start: number[]; x0End: number[] }[] }).steps;
    assert.equal(st.length, 2);
    for (const s of st) assert.ok([s.sigmaSrc, ...s.x0Start, ...s.x0End].every(Number.isFinite), `${id}: finite x̂₀`);
  }

  const md = readFileSync(path.join(out1, 'figures.md'), 'utf8');
  for (const name of FIGURES) {
    assert.ok(md.includes(`## ${name}\n`), `figures.md lacks ${name}`);
    assert.ok(md.includes(`Command: \`${j1.figures[name].command}\``), `figures.md lacks ${name}'s command`);
    assert.match(j1.figures[name].command, new RegExp(`^npx piflow figures --quick --only ${name} `));
  }
  assert.ok(md.includes('- window 0: 40 iterations, first loss '), 'figures.md: the DX loss summary');
  assert.match(md, /- gmflow-k8: step 1 \(σ_src 1\.00\) x̂₀ \(/, 'figures.md: the particle inside the GMFlow student');

  const j2 = run(out2);
  assert.deepEqual(Object.keys(j2.models).sort(), Object.keys(j1.models).sort());
  for (const [id, m] of Object.entries(j2.models)) {
    assert.equal(m.cached, true, `${id} reused from the cache on the second run`);
    assert.equal(m.hash, j1.models[id].hash);
  }
  assert.deepEqual(j2.figures['methods-2d'].rows, all2d, 'the same numbers from the cached models');
  assert.deepEqual(j2.figures['methods-mnist'].rows, j1.figures['methods-mnist'].rows, 'the same MNIST numbers from the cached models');
  assert.deepEqual(j2.figures['dx-window'], { ...dxw, command: j2.figures['dx-window'].command }, 'the loss histories come back from the cache');
  const pngSame: string[] = [];
  for (const name of FIGURES) {
    const a = readFileSync(path.join(out1, `${name}.svg`));
    const b = readFileSync(path.join(out2, `${name}.svg`));
    assert.ok(a.equals(b), `${name}.svg differs between runs`);
    if (readFileSync(path.join(out1, `${name}.png`)).equals(readFileSync(path.join(out2, `${name}.png`)))) pngSame.push(name);
  }
  console.log(`PNGs byte-identical between the runs: ${pngSame.join(', ') || 'none'}`);

  // --only into a folder that holds every figure: the others, their numbers and models are kept, and both runs are listed
  const j3 = run(out2, '--only', 'few-step-collapse');
  assert.deepEqual(Object.keys(j3.figures), FIGURES, 'every figure is still there, in order');
  for (const name of FIGURES.filter((n) => n !== 'few-step-collapse')) assert.deepEqual(j3.figures[name], j2.figures[name], `${name} kept as it was`);
  assert.deepEqual(j3.figures['few-step-collapse'].rows, j2.figures['few-step-collapse'].rows);
  assert.deepEqual(j3.runs.map((r) => r.figures), [FIGURES.filter((n) => n !== 'few-step-collapse'), ['few-step-collapse']]);
  assert.deepEqual(Object.keys(j3.models).sort(), Object.keys(j2.models).sort(), 'the kept figures keep their models');
  const md3 = readFileSync(path.join(out2, 'figures.md'), 'utf8');
  for (const name of FIGURES) assert.ok(md3.includes(`## ${name}\n`), `merged figures.md lacks ${name}`);
  assert.ok(md3.includes('--only few-step-collapse'), 'figures.md names the second run');
});

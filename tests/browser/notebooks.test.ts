/**
 * The 2D notebooks in headless Debian chromium: each loads on wasm (and the π-Flow notebook on webgpu
 * through SwiftShader), trains a teacher / distills a student for a few iterations through the page's
 * own controls, and shows teacher and policy paths and loss/metric points; the page answers between
 * the worker's training steps (work-based: no wall-clock figure; frame gaps are in `npm run
 * bench:browser`); controls round-trip through
 * the URL; invalid input gets a message at the control; a malformed upload leaves the model as it was;
 * nothing logs an error and no request leaves localhost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Download } from 'playwright-core';
import { startHarness, type Harness, type PageRecord } from './harness.js';
import { assertClean, assertTitleClear, iterationsSeenWhileRunning, READY, setField, tid } from './page-helpers.js';

/** Number of points in a Plotly chart's first trace, once it has at least `atLeast` (charts flush every 100 ms). */
async function plotPoints(r: PageRecord, id: string, atLeast = 1): Promise<number> {
  const count = () =>
    r.page.evaluate((sel) => {
      const el = document.querySelector(sel) as unknown as { data?: { x?: unknown[] }[] } | null;
      return el?.data?.[0]?.x?.length ?? 0;
    }, tid(id));
  await r.page
    .waitForFunction(
      ([sel, n]) => ((document.querySelector(sel as string) as unknown as { data?: { x?: unknown[] }[] } | null)?.data?.[0]?.x?.length ?? 0) >= (n as number),
      [tid(id), atLeast],
      { timeout: 10_000 },
    )
    .catch(() => undefined);
  return count();
}

async function waitDone(r: PageRecord, timeout: number): Promise<void> {
  await r.page.waitForFunction(
    () => ['done', 'error'].includes(document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') ?? ''),
    null,
    { timeout },
  );
  assert.equal(await r.page.locator(tid('progress')).getAttribute('data-status'), 'done');
}

describe('notebooks on wasm', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  test('flow matching in 2D: train a teacher live, the page stays responsive', async () => {
    const r = await h.open('notebooks/flow-matching-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('backend-indicator')).getAttribute('data-backend'), 'wasm');
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 60_000 }); // pretrained teacher
      await setField(r, 'teacher-steps', '150');
      await setField(r, 'teacher-batch', '256');
      await r.page.click(tid('train-teacher'));
      const seen = await iterationsSeenWhileRunning(r, 120_000);
      await waitDone(r, 120_000);
      assert.ok(seen.length >= 3, `the page answered between training steps (iterations seen while running: ${seen.join(', ')})`);
      assert.ok((await plotPoints(r, 'loss-plot', 150)) >= 150, 'loss curve has a point per step');
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 24);
      assert.ok(Number(await r.page.locator(`${tid('samples-plot')} ${tid('scatter-layer')}`).count()) >= 2);
      // the controls are in the URL
      assert.match(new URL(r.page.url()).hash, /steps=150/);
      assertClean(r, 'flow-matching-2d');
    } finally {
      await r.close();
    }
  });

  test('flow matching in 2D: the sample panel follows the teacher while training; new data flag the old teacher as stale', async () => {
    const r = await h.open('notebooks/flow-matching-2d.html', { backend: 'wasm' });
    type Seen = { status: string; iteration: number; teacherIteration: number; version: number };
    const seen = (): Promise<Seen> =>
      r.page.evaluate(() => {
        const p = document.querySelector('[data-testid="progress"]');
        const s = document.querySelector('[data-testid="samples-plot"]');
        return {
          status: p?.getAttribute('data-status') ?? '',
          iteration: Number(p?.getAttribute('data-iteration') ?? NaN),
          teacherIteration: Number(s?.getAttribute('data-teacher-iteration') ?? NaN),
          version: Number(s?.getAttribute('data-version') ?? NaN),
        };
      });
    /** waits until the sample panel was redrawn while running from a later teacher than `after` */
    const redrawnWhileRunning = (after: Seen) =>
      r.page.waitForFunction(
        ([it, v]) => {
          const p = document.querySelector('[data-testid="progress"]');
          const s = document.querySelector('[data-testid="samples-plot"]');
          return p?.getAttribute('data-status') === 'running' && Number(s?.getAttribute('data-teacher-iteration')) > it && Number(s?.getAttribute('data-version')) > v;
        },
        [after.teacherIteration, after.version],
        { timeout: 120_000 },
      );
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForSelector(`${tid('samples-plot')}[data-version]`, { timeout: 60_000 }); // the pretrained teacher drawn
      assert.equal(await r.page.locator(tid('stale-note')).isHidden(), true, 'the pretrained teacher is the data\'s own');
      // the schema-built controls: messages from the URL validator, the last valid value kept, log sliders
      const errorText = async (id: string) => ((await r.page.locator(tid(`${id}-error`)).isVisible()) ? (await r.page.locator(tid(`${id}-error`)).textContent()) ?? '' : '');
      await setField(r, 'teacher-lr', 'abc');
      assert.equal(await errorText('teacher-lr'), "Learning rate: 'abc' is not a number");
      await setField(r, 'teacher-depth', '0');
      assert.equal(await errorText('teacher-depth'), 'Depth: must be ≥ 1');
      await setField(r, 'teacher-depth', '2.5');
      assert.equal(await errorText('teacher-depth'), 'Depth: must be a whole number');
      await setField(r, 'teacher-depth', '');
      assert.equal(await errorText('teacher-depth'), 'Depth: enter a number');
      assert.doesNotMatch(new URL(r.page.url()).hash, /depth=|lr=/, 'refused entries do not reach the state');
      await setField(r, 'teacher-depth', '2');
      assert.equal(await errorText('teacher-depth'), '');
      assert.match(new URL(r.page.url()).hash, /depth=2/);
      await r.page.fill(tid('teacher-batch-slider'), String(Math.log(64)));
      assert.equal(await r.page.inputValue(tid('teacher-batch')), '64', 'the log slider sets the field');
      assert.match(new URL(r.page.url()).hash, /batch=64/);
      // (a) a long run at a small batch (paused below): the sample panel follows the teacher being trained
      await setField(r, 'teacher-steps', '100000');
      await setField(r, 'teacher-batch', '32');
      await setField(r, 'teacher-width', '32');
      const before = await seen();
      await r.page.click(tid('train-teacher'));
      await redrawnWhileRunning({ ...before, teacherIteration: 0 }); // the new teacher, after at least one step
      const first = await seen();
      await redrawnWhileRunning(first);
      const second = await seen();
      assert.ok(second.teacherIteration > first.teacherIteration && second.version > first.version, `redrawn while training (${JSON.stringify([first, second])})`);
      // Pause: the panel shows the paused teacher at once
      await r.page.click(tid('pause'));
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'paused', null, { timeout: 30_000 });
      await r.page
        .waitForFunction(
          () => document.querySelector('[data-testid="samples-plot"]')?.getAttribute('data-teacher-iteration') === document.querySelector('[data-testid="progress"]')?.getAttribute('data-iteration'),
          null,
          { timeout: 30_000 },
        )
        .catch(() => undefined);
      const paused = await seen();
      assert.equal(paused.teacherIteration, paused.iteration, `the panel shows the paused teacher (${JSON.stringify(paused)})`);
      assert.equal(paused.status, 'paused');
      assert.ok(paused.teacherIteration >= second.teacherIteration && paused.teacherIteration < 100000, JSON.stringify(paused));
      // (b) CSV data: the draw pad hides; the old teacher is flagged stale on every teacher panel
      await r.page.selectOption(tid('dataset'), 'csv');
      await r.page.waitForSelector(tid('csv-input'), { state: 'visible', timeout: 30_000 });
      assert.equal(await r.page.locator(tid('draw-pad')).isHidden(), true, 'no draw pad in CSV mode');
      const dir = mkdtempSync(path.join(tmpdir(), 'piflow-csv-'));
      const csv = path.join(dir, 'ring.csv');
      const rows = Array.from({ length: 64 }, (_, i) => `${(2 * Math.cos((2 * Math.PI * i) / 64)).toFixed(4)},${(2 * Math.sin((2 * Math.PI * i) / 64)).toFixed(4)}`);
      writeFileSync(csv, ['x,y', ...rows].join('\n'));
      await r.page.setInputFiles(tid('csv-input'), csv);
      await r.page.waitForSelector(tid('stale-note'), { state: 'visible', timeout: 30_000 });
      assert.match((await r.page.locator(tid('stale-note')).textContent()) ?? '', /stale: this teacher was trained on checkerboard, not on 64 points from ring\.csv; press Train/);
      for (const panel of ['samples-plot', 'trajectory-plot']) {
        await r.page.waitForFunction((sel) => document.querySelector(sel)?.closest('[data-stale]')?.getAttribute('data-stale') === 'true', tid(panel), { timeout: 30_000 });
      }
      // (c) a teacher trained on the CSV data: the note goes
      await setField(r, 'teacher-steps', '30');
      await r.page.click(tid('train-teacher'));
      await waitDone(r, 120_000);
      await r.page.waitForSelector(tid('stale-note'), { state: 'hidden', timeout: 30_000 });
      assert.equal(await r.page.locator(tid('samples-plot')).getAttribute('data-stale'), 'false');
      await r.page.waitForFunction(() => document.querySelector('[data-testid="samples-plot"]')?.getAttribute('data-teacher-iteration') === '30', null, { timeout: 30_000 });
      assertClean(r, 'flow-matching-2d staleness');
    } finally {
      await r.close();
    }
  });

  test('π-Flow: distill a student live; teacher and policy paths; the inspector shows the policy', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 60_000 });
      await setField(r, 'iters', '60');
      await setField(r, 'student-batch', '128');
      await r.page.click(tid('distill-student'));
      await waitDone(r, 180_000);
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="policy-path"]').length === 24, null, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 24);
      assert.ok((await r.page.locator(tid('nfe-marker')).count()) >= 24 * 2, 'every network evaluation is marked');
      assert.ok((await plotPoints(r, 'loss-plot', 60)) >= 60);
      assert.ok((await plotPoints(r, 'metric-plot')) >= 1, 'the live sliced-W1 has a point');
      for (const chart of ['loss-plot', 'metric-plot']) await assertTitleClear(r, chart);
      // the selected particle's GMFlow policy: K = 8 components
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="gm-component"]').length === 8, null, { timeout: 30_000 });
      // samples at 1, 2 and 4 NFE next to the teacher's
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="panel"]').length === 4, null, { timeout: 60_000 });
      assertClean(r, 'piflow-2d');
    } finally {
      await r.close();
    }
  });

  test('a link reproduces the configuration; bad input gets a message at the control', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.goto(`${r.page.url().split('#')[0]}#policy=dx&n=5&nfe=3&seed=7&k=abc`);
      await r.page.reload();
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      assert.equal(await r.page.inputValue(tid('policy')), 'dx');
      assert.equal(await r.page.inputValue(tid('n')), '5');
      assert.equal(await r.page.inputValue(tid('nfe')), '3');
      assert.equal(await r.page.inputValue(tid('seed')), '7');
      assert.match((await r.page.locator(tid('student-message')).textContent()) ?? '', /invalid.*k/i);
      await setField(r, 'student-lr', 'abc');
      assert.match((await r.page.locator(tid('student-lr-error')).textContent()) ?? '', /Learning rate: 'abc' is not a number/);
      await setField(r, 'k', '0');
      assert.match((await r.page.locator(tid('k-error')).textContent()) ?? '', /K: must be ≥ 1/);
      // download through tfjs's downloads:// handler (two files), upload them back through browserFiles
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 60_000 });
      const dir = mkdtempSync(path.join(tmpdir(), 'piflow-upload-'));
      const downloads: Download[] = [];
      r.page.on('download', (d) => downloads.push(d));
      await r.page.click(tid('teacher-download'));
      await r.page.waitForFunction(() => /Downloaded/.test(document.querySelector('[data-testid="teacher-io-message"]')?.textContent ?? ''), null, { timeout: 30_000 });
      for (let i = 0; i < 50 && downloads.length < 2; i++) await new Promise((res) => setTimeout(res, 100));
      const names = downloads.map((d) => d.suggestedFilename()).sort();
      assert.deepEqual(names, ['teacher-checkerboard.json', 'teacher-checkerboard.weights.bin']);
      const saved: Record<string, string> = {};
      for (const d of downloads) {
        saved[d.suggestedFilename()] = path.join(dir, d.suggestedFilename());
        await d.saveAs(saved[d.suggestedFilename()]);
      }
      const modelJson = JSON.parse(readFileSync(saved['teacher-checkerboard.json'], 'utf8'));
      assert.equal(modelJson.userDefinedMetadata.piflow.config.kind, 'teacher', 'the config rides in userDefinedMetadata');
      const ioMessage = async (pattern: RegExp) => {
        await r.page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid="teacher-io-message"]')?.textContent ?? ''), pattern.source, { timeout: 30_000 });
        return (await r.page.locator(tid('teacher-io-message')).textContent()) ?? '';
      };
      await r.page.setInputFiles(tid('teacher-upload-input'), [saved['teacher-checkerboard.json'], saved['teacher-checkerboard.weights.bin']]);
      assert.match(await ioMessage(/Loaded|failed/), /Loaded the teacher from teacher-checkerboard\.json \+ teacher-checkerboard\.weights\.bin/);
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="teacher-path"]').length === 24, null, { timeout: 60_000 });
      // malformed uploads (truncated weights; not a model) leave the teacher as it was
      const truncated = path.join(dir, 'short', 'teacher-checkerboard.weights.bin');
      mkdirSync(path.dirname(truncated));
      writeFileSync(truncated, readFileSync(saved['teacher-checkerboard.weights.bin']).subarray(0, 1000));
      await r.page.setInputFiles(tid('teacher-upload-input'), [saved['teacher-checkerboard.json'], truncated]);
      assert.match(await ioMessage(/failed/), /Upload failed: .*1000 bytes, expected \d+/);
      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, '{"format":"piflow-model","weights":"AAAA"}');
      await r.page.setInputFiles(tid('teacher-upload-input'), bad);
      assert.match(await ioMessage(/bad\.json/), /Upload failed: bad\.json: not a tfjs layers model/);
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 24, 'the teacher is still there');
      assertClean(r, 'piflow-2d state');
    } finally {
      await r.close();
    }
  });

  test('policy explorer: a sweep over K gives one student, one sample panel and one quality point per value', async () => {
    const r = await h.open('notebooks/policy-explorer.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await setField(r, 'sweep-values', '1,4');
      await setField(r, 'iters', '15');
      await setField(r, 'student-batch', '64');
      await r.page.click(tid('run-sweep'));
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="sweep-plot"]') as unknown as { data?: { x?: unknown[] }[] })?.data?.[0]?.x?.length === 2, null, { timeout: 180_000 });
      assert.equal(await r.page.locator(`#samples ${tid('panel')}`).count(), 2);
      assert.ok((await r.page.locator(tid('policy-path')).count()) >= 32);
      // the small multiples export as one SVG figure: a titled panel per swept value
      const grids: [string, string, RegExp][] = [['#samples', 'sweep-samples.svg', /<image [^>]*href="data:image\/png|data-name="student"/], ['#trajectories', 'sweep-trajectories.svg', /data-testid="policy-path"/]];
      for (const [where, file, inner] of grids) {
        const [download] = await Promise.all([r.page.waitForEvent('download'), r.page.click(`${where} ${tid('export-svg')}`)]);
        assert.equal(download.suggestedFilename(), file);
        const svg = readFileSync(await download.path(), 'utf8');
        assert.match(svg, /^<\?xml/);
        assert.equal((svg.match(/<svg\b/g) ?? []).length >= 3, true, `${file}: root + one nested svg per panel`);
        assert.ok(svg.includes('>k = 1</text>') && svg.includes('>k = 4</text>'), `${file}: a title per panel`);
        assert.match(svg, inner, `${file}: the panels' marks`);
      }
      assertClean(r, 'policy-explorer');
    } finally {
      await r.close();
    }
  });
});

/**
 * One WebGPU page on SwiftShader, sized to finish well under a minute: it loads on webgpu, draws the
 * pretrained teacher (one Euler step for the sample panel: SwiftShader runs every program on the CPU),
 * trains a few steps, loses its device mid-training, falls back and finishes the run on the next
 * backend, and draws again there. WebGPU numerics are checked in Node (tests/webgpu-node.test.ts).
 */
describe('a WebGPU page (SwiftShader): loads, draws, survives device loss', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gpu: 'software' });
  });
  after(() => h?.close());

  test('flow matching on webgpu: teacher drawn, a lost device falls back and training goes on from the last good state', async () => {
    const r = await h.open('notebooks/flow-matching-2d.html', { backend: 'webgpu' });
    try {
      await r.page.goto(`${r.page.url().split('#')[0]}#eulerSteps=1&steps=30&batch=32`);
      await r.page.reload();
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('backend-indicator')).getAttribute('data-backend'), 'webgpu');
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 120_000 });
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 24);
      assert.ok((await r.page.locator(`${tid('samples-plot')} ${tid('scatter-layer')}`).count()) >= 2, 'data and teacher samples drawn on webgpu');
      await r.page.click(tid('train-teacher'));
      await r.page.waitForFunction(() => Number(document.querySelector('[data-testid="progress"]')?.getAttribute('data-iteration') ?? 0) >= 2, null, { timeout: 120_000 });
      type Lab = { call: { simulateDeviceLoss(): Promise<boolean>; status(): Promise<{ teacherIteration: number; backend: { name: string } }> } };
      assert.equal(await r.page.evaluate(() => (window as unknown as { piflowLab: Lab }).piflowLab.call.simulateDeviceLoss()), true);
      await r.page.waitForFunction(() => document.querySelector('[data-testid="backend-indicator"]')?.getAttribute('data-backend') !== 'webgpu', null, { timeout: 60_000 });
      assert.match((await r.page.locator(tid('backend-indicator')).textContent()) ?? '', /fell back from webgpu/);
      assert.match((await r.page.locator(tid('backend-reason')).textContent()) ?? '', /restored/);
      await waitDone(r, 120_000);
      const st = await r.page.evaluate(() => (window as unknown as { piflowLab: Lab }).piflowLab.call.status());
      assert.equal(st.teacherIteration, 30, 'the training reached its target after the fallback');
      assert.notEqual(st.backend.name, 'webgpu');
      // the views follow the teacher on the fallback backend
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="teacher-path"]').length === 24, null, { timeout: 60_000 });
      assert.ok((await plotPoints(r, 'loss-plot', 30)) >= 30, 'a loss point per step, across the fallback');
      assert.deepEqual(r.pageErrors, []);
      assert.deepEqual(r.externalRequests, []);
    } finally {
      await r.close();
    }
  });
});

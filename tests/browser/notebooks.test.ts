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
import { runCli } from '../helpers.js';
import { assertClean, assertPresentToggleClear, assertInspectorLegendClear, assertScatterLegendsClear, assertTitleClear, assertTrajectoryLegendsClear, iterationsSeenWhileRunning, READY, requestCountsOnce, setField, tid } from './page-helpers.js';

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

/** the entries of the trajectory view's legend (the SVG holding the teacher paths) */
function trajectoryLegend(r: PageRecord): Promise<(string | null)[]> {
  return r.page.evaluate(() => Array.from(document.querySelector('[data-testid="teacher-path"]')?.closest('svg')?.querySelectorAll(':scope > g.legend text') ?? [], (t) => t.textContent));
}

/** The short seeded runs of the ordering test (iterations and batch per student; checked at seeds 0–2 with the CLI). */
const ORDER = { k: { iters: '300', batch: '128' }, window: { iters: '100', batch: '64' } };

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
      // the trajectory legend names only what this notebook draws: the teacher, no policy
      assert.deepEqual(await trajectoryLegend(r), ['teacher ODE']);
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
      // each view of the teacher ran once on arrival (the field's density comes last)
      const counts = await requestCountsOnce(r, 'density', 1);
      assert.deepEqual([counts.teacherSamples, counts.teacherPaths, counts.field, counts.density], [1, 1, 1, 1], JSON.stringify(counts));
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

  test('π-Flow: the shipped student on arrival; Start from: continue it or a fresh copy of the teacher; distill a student live; teacher and policy paths; the inspector shows the policy', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 60_000 });
      // on arrival, before any distillation: the shipped GMFlow K = 8 student (static/pretrained/checkerboard/gmflow-k8-nfe2)
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="policy-path"]').length === 24, null, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="gm-component"]').length === 8, null, { timeout: 30_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('#samples [data-testid="panel"]').length === 4, null, { timeout: 60_000 });
      const arrivalTitles = await r.page.locator(`#samples ${tid('panel')}`).evaluateAll((els) => els.map((e) => e.getAttribute('data-title') ?? ''));
      assert.equal(arrivalTitles[0], 'teacher, 128 Euler steps'); // the samples the reference distance is measured on
      // each teacher view ran once on arrival: the two reference samplings (128 steps, also the panel; 2 steps) and the paths
      const counts = await requestCountsOnce(r, 'teacherSamples', 2);
      assert.deepEqual([counts.teacherSamples, counts.teacherPaths, counts.loadTeacherUrl], [2, 1, 1], JSON.stringify(counts));
      assert.deepEqual(arrivalTitles.slice(1), [1, 2, 4].map((n) => `Shipped GMFlow student (K = 8), distilled for 2 NFE, shown at ${n} NFE`));
      assert.equal(await r.page.evaluate(() => (window as unknown as { piflowLab: { call: { status(): Promise<{ studentIteration: number }> } } }).piflowLab.call.status().then((s) => s.studentIteration)), 400, 'the shipped student (400 π-ID iterations)');
      assert.match((await r.page.locator(tid('student-origin')).textContent()) ?? '', /shipped GMFlow student \(K = 8\), distilled for 2 NFE/);
      // "Start from": before Distill the page says what it will do to the shipped student
      const plan = async (re: RegExp) => r.page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid="distill-plan"]')?.textContent ?? ''), re.source, { timeout: 30_000 });
      await plan(/^Distill replaces the shipped GMFlow student \(K = 8\), distilled for 2 NFE, by a fresh copy of the teacher/);
      // the shipped student's panels sampled once (1, 2, 4 NFE): its version bump, which can arrive after they were drawn
      // with it (a race: before the samples were keyed by the student's weights, about every other arrival sampled
      // twice), redraws them from the same samples; read once the worker's counts have settled
      // (the sampling requests only: the page polls status, and each read is itself a request)
      let settled = '';
      for (let i = 0; i < 40; i++) {
        const c = await requestCountsOnce(r, 'studentSamples', 3);
        const now = JSON.stringify([c.studentSamples, c.teacherSamples, c.policyPaths, c.dataSamples]);
        if (now === settled) break;
        settled = now;
        await r.page.waitForTimeout(500);
      }
      assert.equal(JSON.parse(settled)[0], 3, `studentSamples, teacherSamples, policyPaths, dataSamples: ${settled}`);
      // the student's samples from fixed noise (2 NFE)
      const probe = () => r.page.evaluate(async () => {
        const lab = (window as unknown as { piflowLab: { call: { studentSamples(n: number, seed: number, o: { nfe: number }): Promise<Float32Array> } } }).piflowLab.call;
        return Array.from(await lab.studentSamples(500, 303, { nfe: 2 }));
      });
      const gap = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
      const firstLoss = () => r.page.evaluate(() => (document.querySelector('[data-testid="loss-plot"]') as unknown as { data: { y: number[] }[] }).data[0].y[0]);
      const shipped = await probe();
      // continue the shipped student for 5 iterations: it starts from its own weights
      await r.page.selectOption(tid('distill-from'), 'student');
      await plan(/^Distill continues the shipped GMFlow student \(K = 8\), distilled for 2 NFE, from its own weights/);
      await setField(r, 'iters', '5');
      await setField(r, 'student-batch', '128');
      await r.page.click(tid('distill-student'));
      await waitDone(r, 120_000);
      assert.match((await r.page.locator(tid('distill-origin')).textContent()) ?? '', /^Continuing the shipped GMFlow student \(K = 8\), distilled for 2 NFE, with these settings/);
      assert.equal(await r.page.evaluate(() => (window as unknown as { piflowLab: { call: { status(): Promise<{ studentIteration: number }> } } }).piflowLab.call.status().then((s) => s.studentIteration)), 5, 'a continued run counts its iterations from 0');
      await plotPoints(r, 'loss-plot', 5);
      const continuedLoss = await firstLoss();
      const continued = await probe();
      // then a fresh copy of the teacher (the run the rest of this test inspects)
      await r.page.selectOption(tid('distill-from'), 'teacher');
      await plan(/^Distill replaces the GMFlow student \(K = 8\), distilled for 2 NFE, by a fresh copy of the teacher/);
      await setField(r, 'iters', '60');
      await r.page.click(tid('distill-student'));
      await r.page.waitForFunction(() => /^Started from a fresh copy of the teacher; the GMFlow student \(K = 8\), distilled for 2 NFE, was replaced/.test(document.querySelector('[data-testid="distill-origin"]')?.textContent ?? ''), null, { timeout: 60_000 });
      // the student's sample panels follow the distillation live (the first progress event refreshes them)
      await r.page.waitForFunction(() => Array.from(document.querySelectorAll('#samples [data-testid="panel"]')).some((p) => /^GMFlow student \(K = 8\), distilled for 2 NFE, iteration \d+, shown at 1 NFE$/.test(p.getAttribute('data-title') ?? '')), null, { timeout: 120_000 });
      await waitDone(r, 180_000);
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="policy-path"]').length === 24, null, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 24);
      assert.ok((await r.page.locator(tid('nfe-marker')).count()) >= 24 * 2, 'every network evaluation is marked');
      assert.deepEqual(await trajectoryLegend(r), ['teacher ODE', 'policy', 'network evaluation']);
      assert.ok((await plotPoints(r, 'loss-plot', 60)) >= 60);
      const freshLoss = await firstLoss();
      const fresh = await probe();
      // the continued run's first π-ID loss is the shipped student's (0.039 here), a fresh copy's is an untrained one's (1.08);
      // and from the same noise the continued student's samples stay nearer the shipped one's (mean gap 0.062 against 0.170)
      assert.ok(continuedLoss < freshLoss / 5, `first π-ID loss: continued ${continuedLoss}, fresh ${freshLoss}`);
      assert.ok(gap(continued, shipped) < gap(fresh, shipped), `sample gap to the shipped student: continued ${gap(continued, shipped)}, fresh ${gap(fresh, shipped)}`);
      assert.ok((await plotPoints(r, 'metric-plot')) >= 1, 'the live sliced-W1 has a point');
      for (const chart of ['loss-plot', 'metric-plot']) await assertTitleClear(r, chart);
      // the selected particle's GMFlow policy: K = 8 components
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="gm-component"]').length === 8, null, { timeout: 30_000 });
      // samples at 1, 2 and 4 NFE next to the teacher's, labelled with the student's own NFE (not 'shipped' any more)
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="panel"]').length === 4, null, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelector('#samples [data-testid="panel"]:nth-child(2)')?.getAttribute('data-title') === 'GMFlow student (K = 8), distilled for 2 NFE, shown at 1 NFE', null, { timeout: 60_000 });
      assertClean(r, 'piflow-2d');
    } finally {
      await r.close();
    }
  });

  test('π-Flow: controls that do not apply to the policy family are hidden (K for DX, N and DX mode for GMFlow)', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      const visible = async () => Object.fromEntries(await Promise.all(['k', 'n', 'dx-mode', 'gm-dropout', 'temperature', 'nfe'].map(async (id) => [id, await r.page.locator(tid(id)).isVisible()] as const)));
      await r.page.waitForFunction(() => !(document.querySelector('[data-testid="n"]') as HTMLElement | null)?.checkVisibility(), null, { timeout: 30_000 });
      assert.deepEqual(await visible(), { k: true, n: false, 'dx-mode': false, 'gm-dropout': true, temperature: true, nfe: true }, 'GMFlow');
      await r.page.selectOption(tid('policy'), 'dx');
      await r.page.waitForFunction(() => !(document.querySelector('[data-testid="k"]') as HTMLElement | null)?.checkVisibility(), null, { timeout: 30_000 });
      assert.deepEqual(await visible(), { k: false, n: true, 'dx-mode': true, 'gm-dropout': false, temperature: false, nfe: true }, 'DX');
      // the shipped DX student (N = 10, grid, 2 NFE) follows the policy choice: its grid points are drawn
      await r.page.waitForFunction(() => /shipped DX student \(N = 10\), distilled for 2 NFE/.test(document.querySelector('[data-testid="student-origin"]')?.textContent ?? ''), null, { timeout: 60_000 });
      assertClean(r, 'piflow-2d controls');
    } finally {
      await r.close();
    }
  });

  test('π-Flow presentation mode at 1280×720: Distill and the trajectory plot on one screen, 14 px ticks, space distills, ←/→ scrub σ', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm', query: { present: '1' } });
    try {
      await r.page.setViewportSize({ width: 1280, height: 720 });
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('present-toggle')).getAttribute('aria-pressed'), 'true');
      assert.equal(await r.page.evaluate(() => window.scrollY), 0);
      await assertPresentToggleClear(r);
      // "Start from" and the line saying what Distill will do: in the run buttons' column, on the same screen
      await r.page.waitForSelector(tid('distill-plan'), { state: 'visible', timeout: 60_000 });
      for (const id of ['distill-student', 'trajectory-plot', 'distill-from', 'distill-plan']) {
        const b = await r.page.locator(tid(id)).boundingBox();
        assert.ok(b, `${id} is laid out`);
        assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= 1280 && b.y + b.height <= 720, `${id} inside the 1280×720 viewport: ${JSON.stringify(b)}`);
      }
      const column = await r.page.locator(tid('distill-student')).boundingBox();
      const plot = await r.page.locator(tid('trajectory-plot')).boundingBox();
      for (const id of ['distill-from', 'distill-plan']) {
        const b = (await r.page.locator(tid(id)).boundingBox())!;
        assert.ok(b.x >= column!.x - 1 && b.x + b.width <= column!.x + column!.width + 1 && b.y > column!.y, `${id} under the Distill button, in its column: ${JSON.stringify(b)}, Distill ${JSON.stringify(column)}`);
        assert.ok(b.x + b.width <= plot!.x, `${id} beside the trajectory plot, not over it: ${JSON.stringify(b)}, plot ${JSON.stringify(plot)}`);
      }
      // the inspector's legend (14 px type here) covers none of its marks
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="gm-component"]').length === 8, null, { timeout: 60_000 });
      await assertInspectorLegendClear(r);
      const d3Ticks = await r.page.locator(`${tid('trajectory-plot')} .axes text`).evaluateAll((els) => els.map((e) => parseFloat(getComputedStyle(e).fontSize)));
      assert.ok(d3Ticks.length > 0 && d3Ticks.every((px) => px >= 14), `trajectory ticks ${d3Ticks}`);
      // ←/→ scrub σ (the slider's right is σ = 0)
      const slider = () => r.page.locator(tid('time-slider')).inputValue().then(Number);
      const v0 = await slider();
      await r.page.keyboard.press('ArrowRight');
      await r.page.keyboard.press('ArrowRight');
      const v1 = await slider();
      assert.ok(v1 > v0, `→ moves the scrubber (${v0} → ${v1})`);
      await r.page.keyboard.press('ArrowLeft');
      assert.ok((await slider()) < v1, '← moves it back');
      // space distills: the progress runs, and the loss chart's ticks are at least 14 px
      await r.page.keyboard.press(' ');
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'running', null, { timeout: 60_000 });
      await r.page.waitForSelector(`${tid('loss-plot')} .xtick text`, { timeout: 60_000 });
      // (polled: while the chart redraws during the run a read can catch tick labels Plotly is replacing)
      const ticksOk = await r.page.waitForFunction(() => {
        const px = Array.from(document.querySelectorAll('[data-testid="loss-plot"] .xtick text, [data-testid="loss-plot"] .ytick text')).map((e) => parseFloat(getComputedStyle(e).fontSize));
        return px.length > 0 && px.every((v) => v >= 14);
      }, null, { timeout: 30_000 }).then(() => true, () => false);
      const plotlyTicks = await r.page.locator(`${tid('loss-plot')} .xtick text, ${tid('loss-plot')} .ytick text`).evaluateAll((els) => els.map((e) => parseFloat(getComputedStyle(e).fontSize)));
      assert.ok(ticksOk, `loss chart ticks ${plotlyTicks}`);
      await r.page.keyboard.press(' ');
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'paused', null, { timeout: 60_000 });
      // the toggle leaves presentation mode: the buttons go back to section 2, the address loses ?present, the ticks shrink
      await r.page.click(tid('present-toggle'));
      assert.equal(await r.page.locator(tid('present-toggle')).getAttribute('aria-pressed'), 'false');
      assert.equal(await r.page.evaluate(() => new URL(location.href).searchParams.get('present')), null);
      assert.equal(await r.page.locator(tid('present-stage')).count(), 0);
      for (const id of ['distill-student', 'distill-from', 'distill-plan']) assert.match((await r.page.locator(tid(id)).evaluate((b) => b.closest('section')?.querySelector('h2')?.textContent)) ?? '', /Distill a student/, `${id} back in section 2`);
      await r.page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid="loss-plot"] .xtick text')).every((e) => parseFloat(getComputedStyle(e).fontSize) < 14), null, { timeout: 10_000 });
      assertClean(r, 'piflow-2d presentation');
    } finally {
      await r.close();
    }
  });

  test('π-Flow sliced-W1 chart: an empty state until Distill gives a point, then the student against the teacher\'s lines', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    type Drawn = { axes: boolean; text: string; shapes: number; points: number };
    const drawn = (): Promise<Drawn> => r.page.evaluate(() => {
      const el = document.querySelector('[data-testid="metric-plot"]') as unknown as { layout?: { xaxis?: { visible?: boolean }; annotations?: { text?: string }[]; shapes?: unknown[] }; data?: { x?: unknown[] }[] } | null;
      const l = el?.layout;
      return { axes: l?.xaxis?.visible !== false, text: (l?.annotations ?? []).map((a) => a.text ?? '').join(' | '), shapes: l?.shapes?.length ?? 0, points: el?.data?.[0]?.x?.length ?? 0 };
    });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      // the teacher's two reference distances are there (kept for later), the chart still shows what to do
      await r.page.waitForSelector(`${tid('metric-plot')}[data-references="2"]`, { timeout: 120_000 });
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="metric-plot"]') as unknown as { layout?: { annotations?: { text?: string }[] } } | null)?.layout?.annotations?.length === 1, null, { timeout: 30_000 });
      const before = await drawn();
      assert.equal(before.axes, false, `no iteration axis before a run: ${JSON.stringify(before)}`);
      assert.match(before.text, /^run Distill to see the student's sliced W1<br>against the teacher's \(a point every 50 iterations\)$/);
      assert.equal(before.shapes, 0, 'no reference line drawn alone');
      await setField(r, 'iters', '50');
      await setField(r, 'student-batch', '64');
      await r.page.click(tid('distill-student'));
      await waitDone(r, 180_000);
      assert.ok((await plotPoints(r, 'metric-plot')) >= 1, 'the live sliced W1 has its point at iteration 50');
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="metric-plot"]') as unknown as { layout?: { shapes?: unknown[] } } | null)?.layout?.shapes?.length === 2, null, { timeout: 30_000 });
      const after = await drawn();
      assert.equal(after.axes, true, `the axes once there is a point: ${JSON.stringify(after)}`);
      assert.doesNotMatch(after.text, /run Distill/, 'the empty state is gone');
      await assertTitleClear(r, 'metric-plot');
      assertClean(r, 'piflow-2d metric empty state');
    } finally {
      await r.close();
    }
  });

  test('2D scatter and trajectory legends: below the plot area, clear of the points and paths, in both modes (π-Flow)', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.setViewportSize({ width: 1280, height: 720 });
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('#samples [data-testid="panel"] [data-testid="scatter-layer"]').length === 8, null, { timeout: 120_000 });
      assert.equal(await assertScatterLegendsClear(r, '#samples'), 4);
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="trajectory-legend"] g.legend-item').length === 3, null, { timeout: 60_000 });
      assert.equal(await assertTrajectoryLegendsClear(r), 1);
      // presentation mode: 14 px legend type, the rows re-laid (the samples stay in their section, the trajectories go on the stage, zoomed)
      await r.page.click(tid('present-toggle'));
      await r.page.waitForFunction(() => parseFloat(getComputedStyle(document.querySelector('#samples [data-testid="scatter-layer"] text')!).fontSize) >= 14, null, { timeout: 10_000 });
      assert.equal(await assertScatterLegendsClear(r, '#samples'), 4);
      assert.equal(await assertTrajectoryLegendsClear(r), 1);
      assertClean(r, 'piflow-2d scatter legends');
    } finally {
      await r.close();
    }
  });

  test('π-Flow inspector: a legend names its marks; its title follows the scrubbed σ', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="gm-component"]').length === 8, null, { timeout: 60_000 });
      const legend = await r.page.locator(`${tid('policy-inspector')} ${tid('inspector-legend')} text`).allTextContents();
      for (const re of [/GM component \(area ∝ weight\)/, /one-σ ring/, /x̂₀ along the substeps/]) assert.ok(legend.some((t) => re.test(t)), `legend has ${re}: ${legend}`);
      await assertInspectorLegendClear(r);
      const title = () => r.page.locator(`${tid('policy-inspector')} svg text.title`).textContent().then((t) => t ?? '');
      const before = await title();
      assert.match(before, /^step 1, σ_src = 1\.00 · σ = 1\.000$/);
      await r.page.locator(tid('time-slider')).evaluate((el: HTMLInputElement) => { el.value = '0.1'; el.dispatchEvent(new Event('input')); });
      await r.page.waitForFunction((b) => (document.querySelector('[data-testid="policy-inspector"] svg text.title')?.textContent ?? b) !== b, before, { timeout: 10_000 });
      assert.match(await title(), /^step 1, σ_src = 1\.00 · σ = 0\.900$/);
      assertClean(r, 'piflow-2d inspector');
    } finally {
      await r.close();
    }
  });

  test('policy explorer (presentation mode, 1280×720): a preset sets the sweep, its fixed axes and both teacher references; titles not cut', async () => {
    const r = await h.open('notebooks/policy-explorer.html', { backend: 'wasm', query: { present: '1' } });
    try {
      await r.page.setViewportSize({ width: 1280, height: 720 });
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await assertPresentToggleClear(r);
      // the default preset: K ∈ {1, 8, 32} at 1 NFE; K is shown, N is not (GMFlow)
      assert.equal(await r.page.inputValue(tid('preset')), 'k-1nfe');
      assert.equal(await r.page.inputValue(tid('sweep-values')), '1,8,32');
      assert.equal(await r.page.inputValue(tid('nfe')), '1');
      assert.equal(await r.page.locator(tid('k')).isVisible(), true);
      assert.equal(await r.page.locator(tid('n')).isVisible(), false);
      // another preset sets its own sweep (and hides K for DX) ...
      await r.page.selectOption(tid('preset'), 'dx-window');
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="sweep-values"]') as HTMLInputElement).value === '0,3', null, { timeout: 10_000 });
      assert.equal(await r.page.inputValue(tid('sweep')), 'window');
      assert.equal(await r.page.inputValue(tid('policy')), 'dx');
      await r.page.waitForFunction(() => !(document.querySelector('[data-testid="k"]') as HTMLElement | null)?.checkVisibility(), null, { timeout: 10_000 });
      assert.equal(await r.page.locator(tid('n')).isVisible(), true);
      // ... and back to K at 1 NFE, run with tiny settings (editing them makes the preset 'custom', the sweep stays)
      await r.page.selectOption(tid('preset'), 'k-1nfe');
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="sweep-values"]') as HTMLInputElement).value === '1,8,32', null, { timeout: 10_000 });
      await setField(r, 'iters', '5');
      await setField(r, 'student-batch', '32');
      assert.equal(await r.page.inputValue(tid('preset')), 'custom');
      await r.page.click(tid('run-sweep'));
      type Plot = { data?: { name: string; x?: unknown[] }[]; layout?: { xaxis: { type: string; title: { text: string }; tickvals?: number[] }; yaxis: { type: string; range?: number[] }; shapes?: unknown[]; annotations?: { text: string }[] } };
      const layoutOf = (id: string) => r.page.evaluate((sel) => {
        const el = document.querySelector(sel) as unknown as Plot;
        return { x: el.data?.[0]?.x ?? [], xaxis: el.layout!.xaxis, yaxis: el.layout!.yaxis, shapes: el.layout!.shapes?.length ?? 0, labels: (el.layout!.annotations ?? []).map((a) => a.text) };
      }, tid(id));
      await r.page.waitForFunction(() => ((document.querySelector('[data-testid="precision-plot"]') as unknown as Plot)?.data?.[0]?.x?.length ?? 0) === 3, null, { timeout: 180_000 });
      const w1 = await layoutOf('sweep-plot');
      assert.deepEqual(w1.x, [1, 8, 32]);
      assert.equal(w1.xaxis.type, 'log', 'K on a log₂ axis');
      assert.match(w1.xaxis.title.text, /GMFlow components K/);
      assert.deepEqual(w1.xaxis.tickvals?.slice(0, 6), [1, 2, 4, 8, 16, 32]);
      assert.equal(w1.yaxis.type, 'log', 'sliced W1 on a log axis');
      assert.deepEqual(w1.yaxis.range?.map((v) => +v.toFixed(3)), [Math.log10(0.03), Math.log10(3)].map((v) => +v.toFixed(3)), 'a fixed y range');
      assert.equal(w1.shapes, 2, 'two teacher reference lines');
      assert.deepEqual(w1.labels, ['teacher, 128 Euler steps', 'teacher, 1 Euler step']);
      const pr = await layoutOf('precision-plot');
      assert.equal(pr.xaxis.type, 'log');
      assert.equal(pr.yaxis.type, 'linear');
      assert.deepEqual(pr.labels, ['teacher, 128 Euler steps', 'teacher, 1 Euler step']);
      // 420 px wide at presentation type: both titles wrap inside the chart, clear of their legends
      for (const id of ['sweep-plot', 'precision-plot']) await assertTitleClear(r, id);
      await waitDone(r, 60_000);
      assertClean(r, 'policy-explorer preset');
      // a link naming only a preset opens that preset (the settings it leaves out are the preset's)
      await r.page.goto(`${r.page.url().split('#')[0]}#preset=nfe-elasticity`);
      await r.page.reload();
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="sweep-values"]') as HTMLInputElement).value === '1,2,4,8', null, { timeout: 10_000 });
      assert.equal(await r.page.inputValue(tid('preset')), 'nfe-elasticity');
      assert.equal(await r.page.inputValue(tid('sweep')), 'sampleNfe');
      assert.equal(await r.page.inputValue(tid('nfe')), '2');
      assertClean(r, 'policy-explorer preset link');
    } finally {
      await r.close();
    }
  });

  // The presets' claims on a seeded run, sized for a busy 2-core machine: fewer iterations and a smaller batch
  // than the presets' own, where the ordering still held at seeds 0, 1 and 2 with the CLI (README, Policy explorer).
  test('policy explorer: the presets give their documented ordering on a seeded run (K = 1 worse than K = 8 at 1 NFE; DX window 0 worse than 3)', async () => {
    const r = await h.open('notebooks/policy-explorer.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      type Plot = { data?: { name: string; x?: number[]; y?: number[] }[] };
      const sweepOf = (values: number[]) => r.page.waitForFunction((want) => {
        const got = (id: string) => (document.querySelector(`[data-testid="${id}"]`) as unknown as Plot | null)?.data?.find((d) => d.name === 'student');
        const w1 = got('sweep-plot'), pr = got('precision-plot');
        return JSON.stringify(w1?.x) === JSON.stringify(want) && JSON.stringify(pr?.x) === JSON.stringify(want) ? { w1: w1!.y!, precision: pr!.y! } : null;
      }, values, { timeout: 300_000, polling: 500 }).then((hd) => hd.jsonValue() as Promise<{ w1: number[]; precision: number[] }>);
      const run = async (preset: string, values: string, iters: string, batch: string) => {
        await r.page.selectOption(tid('preset'), preset);
        await r.page.waitForFunction((p) => (document.querySelector('[data-testid="preset"]') as HTMLSelectElement).value === p, preset, { timeout: 10_000 });
        await setField(r, 'sweep-values', values);
        await setField(r, 'iters', iters);
        await setField(r, 'student-batch', batch);
        await setField(r, 'seed', '0');
        await r.page.click(tid('run-sweep'));
        return sweepOf(values.split(',').map(Number));
      };
      const k = await run('k-1nfe', '1,8', ORDER.k.iters, ORDER.k.batch);
      assert.ok(k.w1[0] > k.w1[1], `1 NFE: K = 1 has the larger sliced W1 (${k.w1})`);
      assert.ok(k.precision[0] < k.precision[1], `1 NFE: K = 1 has the lower precision (${k.precision})`);
      await waitDone(r, 60_000);
      const w = await run('dx-window', '0,3', ORDER.window.iters, ORDER.window.batch);
      assert.ok(w.w1[0] > w.w1[1], `DX: window 0 has the larger sliced W1 (${w.w1})`);
      assert.ok(w.precision[0] < w.precision[1], `DX: window 0 has the lower precision (${w.precision})`);
      await waitDone(r, 60_000);
      assertClean(r, 'policy-explorer ordering');
    } finally {
      await r.close();
    }
  });

  test('π-Flow: a student saved in the browser while distilling resumes its run exactly (Start from: the student\'s run)', async () => {
    const r = await h.open('notebooks/piflow-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="policy-path"]').length === 24, null, { timeout: 60_000 });
      type Call = { status(): Promise<{ studentIteration: number; running: string }>; studentSamples(n: number, seed: number, o: { nfe: number }): Promise<Float32Array> };
      const status = () => r.page.evaluate(() => (window as unknown as { piflowLab: { call: Call } }).piflowLab.call.status());
      const iteration = async () => (await status()).studentIteration;
      const probe = () => r.page.evaluate(async () => Array.from(await (window as unknown as { piflowLab: { call: Call } }).piflowLab.call.studentSamples(300, 303, { nfe: 2 })));
      const ioMessage = async (pattern: RegExp) => {
        await r.page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid="student-io-message"]')?.textContent ?? ''), pattern.source, { timeout: 30_000 });
        return (await r.page.locator(tid('student-io-message')).textContent()) ?? '';
      };
      // a run is over when the worker is idle at its last iteration (the progress bar still says 'done' from the run before)
      const distill = async (from: string, iters: string, until: number) => {
        await r.page.selectOption(tid('distill-from'), from);
        await setField(r, 'iters', iters);
        await r.page.click(tid('distill-student'));
        for (let i = 0; i < 600; i++) {
          const st = await status();
          if (st.running === 'idle' && st.studentIteration === until) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        await waitDone(r, 120_000);
        assert.equal(await iteration(), until);
      };
      await setField(r, 'student-batch', '64');
      // the uninterrupted run: 5 iterations from a fresh copy of the teacher
      await distill('teacher', '5', 5);
      const straight = await probe();
      // 3 iterations, saved in this browser; another run in between; loaded back; its run resumed for 2
      await distill('teacher', '3', 3);
      await r.page.click(tid('student-save-browser'));
      await ioMessage(/Saved the student/);
      await distill('teacher', '1', 1);
      await r.page.click(tid('student-load-browser'));
      assert.match(await ioMessage(/Loaded|failed/), /Loaded the student saved in this browser\. π-ID goes on exactly from iteration 3 \(its optimizer and random stream restored\)\./);
      assert.equal(await iteration(), 3);
      await r.page.selectOption(tid('distill-from'), 'run');
      await r.page.waitForFunction(() => /^Distill resumes the π-ID run of the loaded GMFlow student \(K = 8\), distilled for 2 NFE, from iteration 3/.test(document.querySelector('[data-testid="distill-plan"]')?.textContent ?? ''), null, { timeout: 30_000 });
      await distill('run', '2', 5);
      assert.deepEqual(await probe(), straight, 'the resumed run ends where the uninterrupted one did');
      // the download carries the state in userDefinedMetadata (train-state.json as text, train-state.bin as base64)
      const [download] = await Promise.all([r.page.waitForEvent('download'), r.page.click(tid('student-download'))]);
      const json = JSON.parse(readFileSync(await download.path(), 'utf8'));
      assert.deepEqual(json.userDefinedMetadata.piflowExtra.map((e: { name: string }) => e.name).sort(), ['train-state.bin', 'train-state.json']);
      // a CLI run's folder, uploaded with its train-state.json + train-state.bin, resumes exactly too
      const out = path.join(mkdtempSync(path.join(tmpdir(), 'piflow-cli-run-')), 'student');
      const cli = runCli(['distill', '--teacher', 'static/pretrained/checkerboard', '--policy', 'gmflow', '--k', '8', '--nfe', '2', '--iters', '3', '--batch', '64', '--out', out]);
      assert.equal(cli.code, 0, cli.stderr);
      const files = ['model.json', 'weights.bin', 'config.json', 'train-state.json', 'train-state.bin'].map((f) => path.join(out, f));
      await r.page.setInputFiles(tid('student-upload-input'), files);
      assert.match(await ioMessage(/Loaded the student from model|failed/), /Loaded the student from model\.json \+ .*train-state\.bin\. π-ID goes on exactly from iteration 3 \(its optimizer and random stream restored\)\./);
      await distill('run', '2', 5);
      // without its state the same folder goes on from the iteration only, and says so
      await r.page.setInputFiles(tid('student-upload-input'), files.slice(0, 3));
      assert.match(await ioMessage(/Loaded the student from model\.json \+ weights\.bin \+ config\.json\./), /π-ID goes on from iteration 3 \(the schedule\); this save has no training state/);
      // half a state is refused; the student stays
      await r.page.setInputFiles(tid('student-upload-input'), files.slice(0, 4));
      assert.match(await ioMessage(/failed/), /Upload failed: train-state\.json: choose train-state\.json and train-state\.bin together \(or neither\)/);
      assert.equal(await iteration(), 3);
      assertClean(r, 'piflow-2d resume');
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
      // the link chose DX, so K is hidden (it does not apply) and N is the size to check
      assert.equal(await r.page.locator(tid('k')).isVisible(), false);
      await setField(r, 'n', '0');
      assert.match((await r.page.locator(tid('n-error')).textContent()) ?? '', /N: must be ≥ 1/);
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

  test('policy explorer charts: before a sweep, an empty state naming the Run sweep button (no axes, presentation-mode type); a sweep replaces it', async () => {
    const r = await h.open('notebooks/policy-explorer.html', { backend: 'wasm' });
    type Drawn = { axes: boolean; text: string; traces: number };
    const drawn = (id: string): Promise<Drawn> => r.page.evaluate((sel) => {
      const el = document.querySelector(sel) as unknown as { layout?: { xaxis?: { visible?: boolean }; annotations?: { text?: string }[] }; data?: unknown[] } | null;
      const l = el?.layout;
      return { axes: l?.xaxis?.visible !== false, text: (l?.annotations ?? []).map((a) => a.text ?? '').join(' | '), traces: el?.data?.length ?? 0 };
    }, tid(id));
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForSelector(tid('run-sweep'), { timeout: 60_000 });
      const label = ((await r.page.textContent(tid('run-sweep'))) ?? '').trim();
      assert.equal(label, 'Run sweep');
      const what = { 'sweep-plot': "sliced W1", 'precision-plot': 'precision' };
      for (const [id, metric] of Object.entries(what)) {
        const before = await drawn(id);
        assert.equal(before.axes, false, `${id}: no axes before a sweep (${JSON.stringify(before)})`);
        assert.equal(before.text, `press “${label}” to see each student's ${metric}<br>at every swept value, against the teacher's lines`, `${id}: names the button and what will appear`);
        assert.equal(before.traces, 0);
      }
      // presentation mode: the empty state's text grows with the charts' type (≥ 14 px), and shrinks back on leaving
      const emptyPx = () => r.page.evaluate(() => ['sweep-plot', 'precision-plot'].map((id) => parseFloat(getComputedStyle(document.querySelector(`[data-testid="${id}"] .annotation-text`)!).fontSize)));
      assert.deepEqual(await emptyPx(), [12, 12]);
      await r.page.click(tid('present-toggle'));
      await r.page.waitForFunction(() => ['sweep-plot', 'precision-plot'].every((id) => parseFloat(getComputedStyle(document.querySelector(`[data-testid="${id}"] .annotation-text`)!).fontSize) >= 14), null, { timeout: 10_000 });
      await r.page.click(tid('present-toggle'));
      await r.page.waitForFunction(() => ['sweep-plot', 'precision-plot'].every((id) => parseFloat(getComputedStyle(document.querySelector(`[data-testid="${id}"] .annotation-text`)!).fontSize) === 12), null, { timeout: 10_000 });
      // one swept value, a few iterations: the charts draw their axes and the empty state goes
      await setField(r, 'sweep-values', '8');
      await setField(r, 'iters', '5');
      await setField(r, 'student-batch', '32');
      await r.page.click(tid('run-sweep'));
      await r.page.waitForFunction(() => ((document.querySelector('[data-testid="precision-plot"]') as unknown as { data?: { x?: unknown[] }[] })?.data?.[0]?.x?.length ?? 0) === 1, null, { timeout: 180_000 });
      await waitDone(r, 60_000);
      for (const id of Object.keys(what)) {
        const after = await drawn(id);
        assert.equal(after.axes, true, `${id}: axes once there is a point (${JSON.stringify(after)})`);
        assert.doesNotMatch(after.text, /press/, `${id}: the empty state is gone`);
      }
      assertClean(r, 'policy-explorer empty state');
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

/**
 * The comparison notebook ("Quality, diversity, fidelity: π-Flow vs the baselines") in headless Debian
 * chromium on wasm: it loads the shipped checkerboard teacher with no console error; a short seeded race
 * trains every method the same number of iterations; every sample panel and every table cell fill with
 * finite numbers; the toggle draws the segments to the teacher's samples from the same noise (counted
 * in the panels' data-links); Pause holds the round counter; the worker's tensor count is the same after
 * more rounds (no leak) and back to the teacher's after Reset; a bad value gets a message at its control;
 * presentation mode puts Train beside the panels. No wall-clock assertion: waits are for states.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Download } from 'playwright-core';
import { startHarness, type Harness, type PageRecord } from './harness.js';
import { assertClean, assertPresentToggleClear, assertScatterLegendsClear, READY, setField, tid } from './page-helpers.js';

type Status = { round: number; running: string; paused: boolean; quiet: boolean; tensors: number; methods: { method: string; iteration: number }[] };
const status = (r: PageRecord): Promise<Status> =>
  r.page.evaluate(() => (window as unknown as { piflowLab: { call: { status(): Promise<Status> } } }).piflowLab.call.status());

/** Polls the worker's status until `ok` holds (a state, not a time). */
async function waitStatus(r: PageRecord, ok: (s: Status) => boolean, what: string, timeoutMs = 120_000): Promise<Status> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(r);
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const METHOD_IDS = ['gmflow', 'constant', 'shortcut', 'dmd'];

describe('comparison notebook on wasm', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  test('π-Flow vs the baselines: a seeded race fills every panel, the table and the scatters; the toggle draws the segments; Pause holds; no tensor leak; Reset releases', async () => {
    const r = await h.open('notebooks/methods-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('backend-indicator')).getAttribute('data-backend'), 'wasm');
      assert.equal(await r.page.inputValue(tid('dataset')), 'checkerboard');
      // the teacher's two reference rows before any training
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="metrics-row"]').length === 2, null, { timeout: 60_000 });
      const teacherOnly = (await waitStatus(r, (s) => s.quiet && s.running === 'idle', 'the teacher loaded')).tensors;

      // a bad value: a message at the control, the last valid value kept
      await setField(r, 'batch', '8');
      assert.match((await r.page.locator(tid('batch-error')).textContent()) ?? '', /Batch: must be ≥ 16/);
      await setField(r, 'batch', '32');
      await setField(r, 'iters', '4');
      await setField(r, 'seed', '7');
      assert.match(new URL(r.page.url()).hash, /iters=4/);
      assert.match(new URL(r.page.url()).hash, /seed=7/);

      await r.page.click(tid('train-race'));
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'done', null, { timeout: 180_000 });
      const done = await status(r);
      assert.equal(done.round, 4);
      assert.deepEqual(done.methods.map((m) => [m.method, m.iteration]), METHOD_IDS.map((m) => [m, 4]), 'every method the same budget');
      // every student downloads as a tfjs pair whose config names its method, NFE and iterations
      const downloads: Download[] = [];
      r.page.on('download', (d) => downloads.push(d));
      await r.page.click(tid('download-students'));
      await r.page.waitForFunction(() => /Downloaded 4 students/.test(document.querySelector('[data-testid="race-message"]')?.textContent ?? ''), null, { timeout: 60_000 });
      for (let i = 0; i < 50 && downloads.length < 8; i++) await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(downloads.map((d) => d.suggestedFilename()).sort(), METHOD_IDS.flatMap((m) => [`checkerboard-${m}-nfe1-it4.json`, `checkerboard-${m}-nfe1-it4.weights.bin`]).sort());
      const dir = mkdtempSync(path.join(tmpdir(), 'piflow-race-'));
      for (const d of downloads.filter((x) => x.suggestedFilename().endsWith('.json'))) {
        const file = path.join(dir, d.suggestedFilename());
        await d.saveAs(file);
        const meta = JSON.parse(readFileSync(file, 'utf8')).userDefinedMetadata.piflow.meta;
        const method = d.suggestedFilename().split('-')[1];
        assert.equal(meta.itersDone, 4, file);
        if (method === 'gmflow' || method === 'constant') assert.equal(meta.policy.policy, method, file);
        else assert.deepEqual([meta.method, meta.nfe], [method, 1], file);
      }
      r.page.removeAllListeners('download');
      // the panels follow the end of the race: the teacher's two references and one per method, all at iteration 4
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="method-panels"] [data-testid="panel"][data-iteration="4"]').length === 4, null, { timeout: 60_000 });
      const panels = await r.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="method-panels"] [data-testid="panel"]')].map((p) => ({
        id: p.dataset.id, title: p.dataset.title,
        counts: [...p.querySelectorAll<SVGGElement>('[data-testid="scatter-layer"]')].map((l) => [l.dataset.name, Number(l.dataset.count)]),
      })));
      assert.deepEqual(panels.map((p) => p.id), ['teacher-many', 'teacher-few', ...METHOD_IDS]);
      for (const p of panels) {
        assert.deepEqual(p.counts.map(([, n]) => n), [2000, 2000], `${p.id}: data and 2,000 finite samples`);
        if (p.id!.startsWith('teacher')) continue;
        assert.match(p.title!, /, 1 NFE · iteration 4$/, `${p.id}: labelled with NFE and iteration`);
      }
      // the table: a row per sampler, every metric a finite number
      const rows = await r.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="metrics-row"]')].map((tr) => ({
        id: tr.dataset.id,
        values: Object.fromEntries([...tr.querySelectorAll<HTMLElement>('[data-value]')].map((td) => [td.dataset.metric, Number(td.dataset.value)])),
        iteration: tr.querySelector('[data-metric="iteration"]')?.textContent,
      })));
      assert.deepEqual(rows.map((x) => x.id), ['teacher-many', 'teacher-few', ...METHOD_IDS]);
      for (const row of rows) {
        for (const k of ['swd', 'precision', 'entropy', 'fidelity', 'modes']) assert.ok(Number.isFinite(row.values[k]), `${row.id}: ${k} is finite (${row.values[k]})`);
      }
      assert.equal(rows[0].values.fidelity, 0, 'the many-step teacher is the fidelity reference');
      assert.ok(rows[1].values.fidelity > 1, "the teacher's 1-step Euler lands far from its 128-step sample");
      assert.deepEqual(rows.slice(2).map((x) => x.iteration), ['4', '4', '4', '4']);
      // the live W1 chart (log y): a series per method, and each teacher reference's label sits on its line
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="w1-plot"] .shapelayer path').length === 2, null, { timeout: 30_000 });
      const w1 = await r.page.evaluate(() => {
        const el = document.querySelector('[data-testid="w1-plot"]') as unknown as HTMLElement & { data: { name: string }[] };
        const lines = [...el.querySelectorAll('.shapelayer path')].map((p) => p.getBoundingClientRect().y);
        const labels = [...el.querySelectorAll('.annotation')].map((a) => ({ text: a.textContent, bottom: a.getBoundingClientRect().bottom }));
        return { series: el.data.map((d) => d.name), lines, labels };
      });
      assert.deepEqual(w1.series, ['π-Flow GMFlow (π-ID)', 'constant velocity (π-ID)', 'shortcut regression', 'DMD-style']);
      assert.deepEqual(w1.labels.map((l) => l.text), ['teacher, Euler 128 steps', 'teacher, Euler 1 step']);
      w1.labels.forEach((l, i) => assert.ok(Math.abs(l.bottom - w1.lines[i]) < 8, `${l.text}: label at y ${l.bottom}, its line at ${w1.lines[i]}`));
      // the scatters: one marker per sampler
      for (const id of ['scatter-diversity', 'scatter-fidelity']) {
        assert.equal(await r.page.locator(`${tid(id)} ${tid('scatter-layer')}`).count(), 6, `${id}: six samplers`);
      }

      // fidelity made visible: no segments until the toggle, then 300 per panel but the reference's
      const links = () => r.page.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="method-panels"] .viz-frame')].map((f) => Number(f.dataset.links ?? 0)));
      assert.deepEqual(await links(), [0, 0, 0, 0, 0, 0]);
      await r.page.check(tid('links'));
      await r.page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('[data-testid="method-panels"] .viz-frame')].some((f) => Number(f.dataset.links ?? 0) > 0), null, { timeout: 30_000 });
      assert.deepEqual(await links(), [0, 300, 300, 300, 300, 300]);
      assert.match(new URL(r.page.url()).hash, /links=true/);

      // a longer race: Pause holds the round counter, and more rounds leave no tensor behind
      await setField(r, 'iters', '400');
      await r.page.click(tid('train-race'));
      await waitStatus(r, (s) => s.round >= 2 && s.running === 'student', 'two rounds');
      await r.page.click(tid('pause'));
      const p1 = await waitStatus(r, (s) => s.paused && s.quiet, 'the pause to settle');
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'paused', null, { timeout: 30_000 });
      for (let i = 0; i < 5; i++) {
        // several status reads apart (the page redraws meanwhile): the counter stays
        await r.page.waitForTimeout(200);
        assert.equal((await status(r)).round, p1.round, 'no round while paused');
      }
      await r.page.click(tid('resume'));
      await waitStatus(r, (s) => s.round >= p1.round + 3, 'three more rounds');
      await r.page.click(tid('pause'));
      const p2 = await waitStatus(r, (s) => s.paused && s.quiet, 'the second pause to settle');
      assert.ok(p2.round > p1.round);
      assert.equal(p2.tensors, p1.tensors, `no tensor leak in the worker across rounds ${p1.round} → ${p2.round}`);

      // Reset drops every student: the worker holds the teacher's tensors only
      await r.page.click(tid('reset-race'));
      const reset = await waitStatus(r, (s) => s.methods.length === 0 && s.running === 'idle' && s.quiet, 'the reset');
      assert.equal(reset.tensors, teacherOnly, 'reset released every student, optimizer, fake network');
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="metrics-row"]').length === 2, null, { timeout: 30_000 });
      assertClean(r, 'methods-2d');
    } finally {
      await r.close();
    }
  });

  test('π-Flow vs the baselines in presentation mode: Train and the progress beside the sample panels; space starts and pauses the race', async () => {
    const r = await h.open('notebooks/methods-2d.html#iters=400&batch=32', { backend: 'wasm', query: { present: '1' } });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="metrics-row"]').length === 2, null, { timeout: 60_000 });
      assert.equal(await r.page.evaluate(() => document.body.classList.contains('present')), true);
      assert.equal(await r.page.locator(`${tid('present-stage')} ${tid('train-race')}`).count(), 1);
      assert.equal(await r.page.locator(`${tid('present-stage')} ${tid('method-panels')}`).count(), 1);
      await r.page.locator('h1').click(); // focus on the page, not on an input
      await r.page.keyboard.press(' ');
      await waitStatus(r, (s) => s.round >= 1 && s.running === 'student', 'space started the race');
      await r.page.keyboard.press(' ');
      const paused = await waitStatus(r, (s) => s.paused && s.quiet, 'space paused the race');
      assert.ok(paused.round < 400, 'paused before the end');
      await r.page.click(tid('reset-race'));
      await waitStatus(r, (s) => s.methods.length === 0 && s.running === 'idle', 'the reset');
      assertClean(r, 'methods-2d presentation');
    } finally {
      await r.close();
    }
  });

  test('π-Flow vs the baselines in presentation mode at 1280×720: after a race the six sample panels fit one screen, 14 px ticks and titles, legends clear of the points', async () => {
    const r = await h.open('notebooks/methods-2d.html#iters=3&batch=32', { backend: 'wasm', query: { present: '1' } });
    try {
      await r.page.setViewportSize({ width: 1280, height: 720 });
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="metrics-row"]').length === 2, null, { timeout: 60_000 });
      await r.page.click(tid('train-race'));
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="method-panels"] [data-testid="panel"][data-iteration="3"]').length === 4, null, { timeout: 180_000 });
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'done', null, { timeout: 60_000 });
      // scrolled to the panels: the whole grid (six panels, titles, legend bands) inside the 720 px viewport
      const fit = await r.page.evaluate(() => {
        const grid = document.querySelector('[data-testid="method-panels"]')!;
        grid.scrollIntoView({ block: 'start' });
        const b = grid.getBoundingClientRect();
        const t = document.querySelector('[data-testid="present-toggle"]')!.getBoundingClientRect();
        const px = (sel: string) => Math.min(...[...grid.querySelectorAll(sel)].map((e) => parseFloat(getComputedStyle(e).fontSize)));
        return {
          panels: grid.querySelectorAll('[data-testid="panel"]').length, top: b.top, bottom: b.bottom, right: b.right, vh: innerHeight, vw: innerWidth,
          toggle: { x: t.x, y: t.y, w: t.width, h: t.height }, grid: { x: b.x, y: b.y, w: b.width, h: b.height },
          tick: px('.tick text'), legend: px('[data-testid="scatter-legend"] text'), title: px('.panel-title'),
        };
      });
      assert.equal(fit.panels, 6);
      assert.ok(fit.top >= 0 && fit.bottom <= fit.vh, `the panels fit the viewport's height: ${fit.top}–${fit.bottom} in ${fit.vh} px`);
      assert.ok(fit.right <= fit.vw, `and its width: right edge ${fit.right} in ${fit.vw} px`);
      assert.ok(fit.tick >= 14, `ticks at ≥ 14 px (${fit.tick})`);
      assert.ok(fit.legend >= 14, `legend names at ≥ 14 px (${fit.legend})`);
      assert.ok(fit.title >= 14, `panel titles at ≥ 14 px (${fit.title})`);
      const g = fit.grid, t = fit.toggle;
      assert.ok(!(t.x < g.x + g.w && g.x < t.x + t.w && t.y < g.y + g.h && g.y < t.y + t.h), `the Present toggle covers no panel (${JSON.stringify(t)}, panels ${JSON.stringify(g)})`);
      assert.equal(await assertScatterLegendsClear(r, '#samples'), 6);
      await assertPresentToggleClear(r);
      assertClean(r, 'methods-2d presentation fit');
    } finally {
      await r.close();
    }
  });
});

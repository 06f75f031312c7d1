/**
 * The MNIST notebook in headless Chromium (Debian's chromium via playwright-core) on wasm: it loads
 * the test set, classifier and pretrained models from its own server, renders the sample grid from the
 * same noise, a short π-ID run through the page's controls streams its loss, and the student's rows,
 * the x̂₀ strip, the PCA paths and the pixel traces appear. No console errors, no request off localhost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness, type PageRecord } from './harness.js';
import { assertClean, assertPresentToggleClear, assertTitleClear, iterationsSeenWhileRunning, READY, setField, tid } from './page-helpers.js';

const rowLabels = (r: PageRecord, plot: string) =>
  r.page.$$eval(`${tid(plot)} ${tid('image-row')}`, (rows) => rows.map((g) => `${g.getAttribute('data-label')}:${g.getAttribute('data-count')}`));

describe('MNIST notebook on wasm', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  test('loads its assets, renders the sample grid, distills a few iterations live', async () => {
    const r = await h.open('notebooks/piflow-mnist.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      assert.equal(await r.page.locator(tid('backend-indicator')).getAttribute('data-backend'), 'wasm');
      await r.page.waitForFunction(() => /Loaded: test set/.test(document.querySelector('[data-testid="assets-message"]')?.textContent ?? ''), null, { timeout: 120_000 });
      // the sample grid: teacher many/4/2/1 Euler steps (and the student's rows when one is loaded), test images
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="samples-plot"] [data-testid="image-row"]').length >= 5, null, { timeout: 180_000 });
      const rows = await rowLabels(r, 'samples-plot');
      for (const want of ['teacher, 128 Euler steps (its best):10', 'teacher, 32 Euler steps:10', 'teacher, 1 Euler step:10', 'test images:10']) assert.ok(rows.includes(want), `${want} in ${rows}`);
      assert.equal(rows[0], 'teacher, 128 Euler steps (its best):10', "the teacher's best sampler on top");
      const href = await r.page.locator(`${tid('samples-plot')} image`).first().getAttribute('href');
      assert.match(href ?? '', /^data:image\/png;base64,/);
      await r.page.waitForSelector(tid('teacher-path'), { timeout: 180_000 });
      // distill a few iterations with tiny settings (data-free: no training set to fetch)
      await setField(r, 'iters', '6');
      await setField(r, 'student-batch', '2');
      await setField(r, 'k', '0');
      assert.match((await r.page.locator(tid('k-error')).textContent()) ?? '', /K: must be ≥ 1/);
      await setField(r, 'k', '2');
      await setField(r, 'substeps', '16');
      await r.page.selectOption(tid('data-free'), 'data-free');
      // Distill starts from a fresh copy of the teacher by default, and says that the shipped student was replaced
      assert.equal(await r.page.locator(tid('distill-from')).inputValue(), 'teacher');
      await r.page.click(tid('distill-student'));
      await r.page.waitForFunction(() => /fresh copy of the teacher/.test(document.querySelector('[data-testid="distill-origin"]')?.textContent ?? ''), null, { timeout: 60_000 });
      assert.match((await r.page.locator(tid('distill-origin')).textContent()) ?? '', /the shipped GMFlow student \(K = 8\), distilled for 2 NFE, was replaced/);
      const seen = await iterationsSeenWhileRunning(r, 300_000);
      await r.page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') ?? ''), null, { timeout: 300_000 });
      assert.equal(await r.page.locator(tid('progress')).getAttribute('data-status'), 'done', (await r.page.locator(tid('student-message')).textContent()) ?? '');
      assert.ok(seen.length >= 3, `the page answered between π-ID iterations (iterations seen while running: ${seen.join(', ')})`);
      await r.page.waitForFunction(() => ((document.querySelector('[data-testid="loss-plot"]') as unknown as { data?: { x?: unknown[] }[] })?.data?.[0]?.x?.length ?? 0) >= 2, null, { timeout: 30_000 });
      // continue the student just distilled (K = 2): a π-ID run around the same network, paused and resumed
      await r.page.selectOption(tid('distill-from'), 'student');
      await setField(r, 'iters', '40');
      await r.page.click(tid('distill-student'));
      await r.page.waitForFunction(() => /^Continuing the GMFlow student \(K = 2\), distilled for 2 NFE/.test(document.querySelector('[data-testid="distill-origin"]')?.textContent ?? ''), null, { timeout: 60_000 });
      // (the bar still shows the last run's 6/6 'done' until this one runs)
      await r.page.waitForFunction(() => {
        const p = document.querySelector('[data-testid="progress"]');
        return p?.getAttribute('data-status') === 'running' && p.getAttribute('data-total') === '40' && Number(p.getAttribute('data-iteration') ?? 0) >= 1;
      }, null, { timeout: 120_000 });
      await r.page.click(tid('pause'));
      // the status says so in words: 'pausing…' until the worker answers, then 'paused', and the count stands still
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"] [data-testid="progress-state"]')?.textContent === 'paused', null, { timeout: 120_000 }).catch(async (e) => {
        const p = r.page.locator(tid('progress'));
        throw new Error(`not paused: ${(e as Error).message}; progress ${await p.getAttribute('data-status')} ${await p.getAttribute('data-iteration')}/${await p.getAttribute('data-total')} '${await p.textContent()}', message '${await r.page.locator(tid('student-message')).textContent()}'`);
      });
      assert.equal(await r.page.locator(tid('progress')).getAttribute('data-status'), 'paused');
      const pausedAt = Number(await r.page.locator(tid('progress')).getAttribute('data-iteration'));
      assert.ok(pausedAt < 40, `paused before the end (${pausedAt})`);
      await r.page.waitForTimeout(1500);
      assert.equal(Number(await r.page.locator(tid('progress')).getAttribute('data-iteration')), pausedAt, 'no iterations while paused');
      assert.equal(await r.page.locator(`${tid('progress')} ${tid('progress-state')}`).textContent(), 'paused');
      await r.page.click(tid('resume'));
      await r.page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'done', null, { timeout: 300_000 });
      assert.equal(await r.page.locator(`${tid('progress')} ${tid('progress-state')}`).textContent(), 'done');
      assert.equal(await r.page.locator(tid('progress')).getAttribute('data-iteration'), '40');
      // continuing with another K is refused with the reason, and the student stays
      await setField(r, 'k', '3');
      await r.page.click(tid('distill-student'));
      await r.page.waitForFunction(() => /cannot continue the loaded student: it has K = 2, these settings ask for K = 3/.test(document.querySelector('[data-testid="student-message"]')?.textContent ?? ''), null, { timeout: 60_000 });
      await setField(r, 'k', '2');
      // the live Fréchet distance has the teacher's many-step and NFE-step distances as reference lines
      await r.page.waitForFunction(() => ((document.querySelector('[data-testid="metric-plot"]') as unknown as { layout?: { shapes?: unknown[] } })?.layout?.shapes?.length ?? 0) >= 2, null, { timeout: 120_000 });
      // the student's rows, its x̂₀ strip, its PCA paths and the pixel traces
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="samples-plot"] [data-testid="image-row"]').length === 9, null, { timeout: 300_000 });
      const after = await rowLabels(r, 'samples-plot');
      for (const nfe of [1, 2, 4]) assert.ok(after.includes(`π-Flow student, ${nfe} NFE:10`), `${nfe} NFE row in ${after}`);
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="policy-path"]').length === 8, null, { timeout: 300_000 });
      assert.equal(await r.page.locator(tid('teacher-path')).count(), 8);
      const inside = await rowLabels(r, 'inside-plot');
      assert.deepEqual(inside, ['policy x̂₀ (substeps):10', 'teacher x̂₀ (its ODE):10', 'policy state x_σ:10', 'teacher state x_σ:10']);
      const traces = await r.page.evaluate(() => ((document.querySelector('[data-testid="pixel-plot"]') as unknown as { data?: { name: string }[] })?.data ?? []).map((d) => d.name));
      assert.equal(traces.length, 6, `pixel traces: ${traces}`);
      // quality and diversity of every sampler, on demand (few samples here: the numbers are the CLI's)
      await setField(r, 'quality-count', '50');
      await setField(r, 'many-steps', '8');
      await r.page.click(tid('measure-quality'));
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="quality-table"] tr[data-sampler]').length === 7, null, { timeout: 300_000 });
      const table = await r.page.$$eval('[data-testid="quality-table"] tr[data-sampler]', (rows) => rows.map((tr) => [tr.getAttribute('data-sampler'), Number(tr.children[1].textContent)]));
      assert.deepEqual(table.map((t) => t[0]), ['teacher 8 steps', 'teacher 4 steps', 'teacher 2 steps', 'teacher 1 step', 'student 4 NFE', 'student 2 NFE', 'student 1 NFE']);
      assert.ok(table.every((t) => Number.isFinite(t[1]) && (t[1] as number) > 0), JSON.stringify(table));
      const fd = Object.fromEntries(table) as Record<string, number>;
      assert.ok(fd['teacher 8 steps'] < fd['teacher 1 step'], `8 Euler steps beat 1: ${JSON.stringify(fd)}`);
      // the FD chart is a bar per sampler on a category axis, with the same values as the table
      const bars = await r.page.evaluate(() => {
        const el = document.querySelector('[data-testid="quality-plot"]') as unknown as { data?: { type: string; x: string[]; y: number[] }[]; layout?: { xaxis?: { type?: string } } } | null;
        return { type: el?.data?.[0]?.type, x: el?.data?.[0]?.x, y: el?.data?.[0]?.y, axis: el?.layout?.xaxis?.type, drawn: document.querySelectorAll('[data-testid="quality-plot"] .trace.bars .point path').length };
      });
      assert.equal(bars.type, 'bar');
      assert.equal(bars.axis, 'category');
      assert.deepEqual(bars.x, table.map((t) => t[0]));
      assert.equal(bars.y?.length, table.length);
      table.forEach((t, i) => assert.ok(Math.abs(bars.y![i] - (t[1] as number)) <= 0.006, `bar ${t[0]}: ${bars.y![i]} vs table ${t[1]}`));
      assert.equal(bars.drawn, 7, 'a drawn bar per sampler');
      await assertTitleClear(r, 'quality-plot');
      // the class histogram: one bar series per sampler shown, and the test set's label shares as reference marks
      const hist = await r.page.evaluate(() => {
        const el = document.querySelector('[data-testid="classes-plot"]') as unknown as { data?: { type: string; name: string; x: string[]; y: number[] }[] } | null;
        return (el?.data ?? []).map((d) => ({ type: d.type, name: d.name, x: d.x, y: d.y }));
      });
      const ref = hist.find((d) => d.type === 'scatter');
      assert.ok(ref, `a reference trace in ${JSON.stringify(hist.map((d) => d.name))}`);
      assert.equal(ref.name, 'test set (10,000 labels)');
      assert.deepEqual(ref.x, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      assert.ok(Math.abs(ref.y.reduce((a, b) => a + b, 0) - 1) < 1e-6 && ref.y.every((v) => v > 0.08 && v < 0.12), `test-set shares ${ref.y}`);
      assert.equal(hist.filter((d) => d.type === 'bar').length, 5, 'teacher many and 4 steps, student 4/2/1 NFE');
      await assertTitleClear(r, 'classes-plot');
      // the controls are in the URL
      assert.match(new URL(r.page.url()).hash, /iters=40&.*distillFrom=student/);
      assertClean(r, 'piflow-mnist');
    } finally {
      await r.close();
    }
  });

  test('presentation mode at 1280×720: the image grids\' row labels at 14 px, whole and clear of the images; Start from under Distill; the live FD chart\'s empty state', async () => {
    const r = await h.open('notebooks/piflow-mnist.html', { backend: 'wasm', query: { present: '1' } });
    try {
      await r.page.setViewportSize({ width: 1280, height: 720 });
      await r.page.waitForSelector(READY, { timeout: 60_000 });
      // the samples (teacher rows, the shipped student's, test images) and the x̂₀ strip of the shipped student
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="samples-plot"] [data-testid="image-row"]').length >= 5, null, { timeout: 180_000 });
      await r.page.waitForFunction(() => document.querySelectorAll('[data-testid="inside-plot"] [data-testid="image-row"]').length === 4, null, { timeout: 180_000 });
      await assertPresentToggleClear(r);
      for (const plot of ['samples-plot', 'inside-plot']) {
        const got = await r.page.evaluate((sel) => {
          const svg = document.querySelector(sel)!;
          const box = (el: Element) => { const b = el.getBoundingClientRect(); return { x: b.x, y: b.y, w: b.width, h: b.height }; };
          const rows = Array.from(svg.querySelectorAll('[data-testid="image-row"]'), (g) => {
            const t = g.querySelector('text')!;
            const img = g.querySelector('image');
            return { label: t.textContent, px: parseFloat(getComputedStyle(t).fontSize), text: box(t), image: img ? box(img) : null };
          });
          const columns = Array.from(svg.querySelectorAll(':scope > text'), box);
          return { svg: box(svg), rows, columns };
        }, tid(plot));
        assert.ok(got.rows.length > 0, `${plot}: rows`);
        for (const row of got.rows) {
          assert.ok(row.px >= 14, `${plot}: "${row.label}" at ${row.px} px`);
          assert.ok(row.text.x >= got.svg.x - 0.5, `${plot}: "${row.label}" cut at the grid's left edge (label ${JSON.stringify(row.text)}, grid ${JSON.stringify(got.svg)})`);
          if (row.image) assert.ok(row.text.x + row.text.w <= row.image.x + 0.5, `${plot}: "${row.label}" runs into its images (label ${JSON.stringify(row.text)}, images ${JSON.stringify(row.image)})`);
        }
        // the title and the column titles (σ on the x̂₀ strip) overlap neither each other nor the grid's edges
        const c = got.columns;
        c.forEach((a, i) => {
          assert.ok(a.x >= got.svg.x - 0.5 && a.x + a.w <= got.svg.x + got.svg.w + 0.5, `${plot}: a column title cut at the grid's edge ${JSON.stringify(a)}`);
          for (const b of c.slice(i + 1)) assert.ok(!(a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h), `${plot}: titles overlap ${JSON.stringify(a)} ${JSON.stringify(b)}`);
        });
      }
      // the live Fréchet-distance chart before a run: what to do, not an iteration axis with the teacher's lines alone
      await r.page.waitForSelector(`${tid('metric-plot')}[data-references="2"]`, { timeout: 120_000 });
      await r.page.waitForFunction(() => (document.querySelector('[data-testid="metric-plot"]') as unknown as { layout?: { annotations?: { text?: string }[] } } | null)?.layout?.annotations?.length === 1, null, { timeout: 30_000 });
      const metric = await r.page.evaluate(() => {
        const l = (document.querySelector('[data-testid="metric-plot"]') as unknown as { layout: { xaxis?: { visible?: boolean }; annotations: { text: string }[]; shapes?: unknown[] } }).layout;
        return { axes: l.xaxis?.visible !== false, text: l.annotations[0].text, shapes: l.shapes?.length ?? 0 };
      });
      assert.deepEqual(metric, { axes: false, text: "run Distill to see the student's Fréchet distance<br>against the teacher's (a point every 25 iterations)", shapes: 0 });
      // Start from in the run buttons' column, on the same screen
      const distill = (await r.page.locator(tid('distill-student')).boundingBox())!;
      const from = (await r.page.locator(tid('distill-from')).boundingBox())!;
      assert.ok(from.y + from.height <= 720 && from.y > distill.y && from.x >= distill.x - 1 && from.x + from.width <= distill.x + distill.width + 1, `Start from under Distill: ${JSON.stringify(from)}, Distill ${JSON.stringify(distill)}`);
      assertClean(r, 'piflow-mnist presentation');
    } finally {
      await r.close();
    }
  });
});

/** Small helpers shared by the browser tests: selectors, filling a control, the clean-page assertion. */
import assert from 'node:assert/strict';
import type { PageRecord } from './harness.js';

export const READY = '[data-testid="backend-indicator"][data-state="ready"]';
export const tid = (id: string) => `[data-testid="${id}"]`;

export function assertClean(r: PageRecord, what: string): void {
  assert.deepEqual(r.pageErrors, [], `${what}: uncaught errors`);
  assert.deepEqual(r.consoleErrors, [], `${what}: console errors`);
  assert.deepEqual(r.externalRequests, [], `${what}: requests that left localhost`);
}

export async function setField(r: PageRecord, id: string, value: string): Promise<void> {
  await r.page.fill(tid(id), value);
  await r.page.press(tid(id), 'Enter');
  await r.page.locator(tid(id)).dispatchEvent('change');
}


/**
 * Work-based responsiveness (no wall-clock figure): polls the page while its worker runs a loop and
 * returns the distinct iteration counts the page reported while the status was 'running'. A page whose
 * main thread were blocked by the training would answer only after the loop, seeing one value or none;
 * a responsive one answers between iterations. Call it right after the click that starts the loop.
 */
export async function iterationsSeenWhileRunning(r: PageRecord, timeoutMs: number): Promise<number[]> {
  const seen = new Set<number>();
  const end = Date.now() + timeoutMs;
  let started = false;
  while (Date.now() < end) {
    const { status, iteration } = await r.page.evaluate(() => {
      const p = document.querySelector('[data-testid="progress"]');
      return { status: p?.getAttribute('data-status') ?? '', iteration: Number(p?.getAttribute('data-iteration') ?? 0) };
    });
    if (status === 'running') {
      started = true;
      seen.add(iteration);
    } else if (started && (status === 'done' || status === 'error')) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * A Plotly chart's title and legend do not overlap, and both lie inside the chart (bounding boxes in
 * page pixels). Call it once the chart has data (an empty chart shows no legend).
 */
export async function assertTitleClear(r: PageRecord, id: string): Promise<void> {
  const boxes = await r.page.evaluate((sel) => {
    const root = document.querySelector(sel);
    const box = (el: Element | null | undefined) => {
      if (!el) return null;
      const b = el.getBoundingClientRect();
      return { x: b.x, y: b.y, w: b.width, h: b.height };
    };
    return { chart: box(root), title: box(root?.querySelector('.gtitle')), legend: box(root?.querySelector('.legend')) };
  }, tid(id));
  assert.ok(boxes.chart && boxes.title && boxes.legend, `${id}: chart, title and legend drawn (${JSON.stringify(boxes)})`);
  const { title: t, legend: l, chart: c } = boxes as { [k: string]: { x: number; y: number; w: number; h: number } };
  const overlap = t.x < l.x + l.w && l.x < t.x + t.w && t.y < l.y + l.h && l.y < t.y + t.h;
  assert.ok(!overlap, `${id}: the legend covers the title (title ${JSON.stringify(t)}, legend ${JSON.stringify(l)})`);
  for (const [name, b] of [['title', t], ['legend', l]] as const) {
    assert.ok(b.y >= c.y - 1 && b.y + b.h <= c.y + c.h + 1, `${id}: the ${name} lies inside the chart (${JSON.stringify(b)} in ${JSON.stringify(c)})`);
    assert.ok(b.x >= c.x - 1 && b.x + b.w <= c.x + c.w + 1, `${id}: the ${name} is not cut at the chart's sides (${JSON.stringify(b)} in ${JSON.stringify(c)})`);
  }
}

/**
 * The policy inspector's legend covers none of its marks: the legend's box lies outside the plot area
 * (the frame's clip rectangle) and meets no GM component, DX point or x̂₀ / x_σ mark; it lies inside the
 * SVG. Call it once a particle's policy is drawn.
 */
export async function assertInspectorLegendClear(r: PageRecord): Promise<void> {
  const got = await r.page.evaluate(() => {
    const root = document.querySelector('[data-testid="policy-inspector"]');
    const box = (el: Element | null | undefined) => {
      if (!el) return null;
      const b = el.getBoundingClientRect();
      return { x: b.x, y: b.y, w: b.width, h: b.height };
    };
    const marks = Array.from(root?.querySelectorAll('[data-testid="gm-component"] circle.mean, [data-testid="dx-point"], [data-testid="x0-current"], [data-testid="xt-point"], [data-testid="x0-path"]') ?? []).map(box);
    // the plot area: the clip rectangle's attributes (a <clipPath> child has no layout box), in page pixels (presentation mode zooms the frame)
    const svg = root?.querySelector('svg');
    const rect = root?.querySelector('svg clipPath rect');
    const sb = box(svg);
    let plot = null;
    if (svg && rect && sb) {
      const k = sb.w / Number(svg.getAttribute('width'));
      const a = (n: string) => Number(rect.getAttribute(n)) * k;
      plot = { x: sb.x + a('x'), y: sb.y + a('y'), w: a('width'), h: a('height') };
    }
    return { svg: sb, plot, legend: box(root?.querySelector('[data-testid="inspector-legend"]')), marks };
  });
  assert.ok(got.svg && got.plot && got.legend && got.marks.length > 0, `inspector drawn with a legend and marks (${JSON.stringify(got)})`);
  type Box = { x: number; y: number; w: number; h: number };
  const meets = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const l = got.legend as Box;
  assert.ok(!meets(l, got.plot as Box), `the legend lies outside the plot area (legend ${JSON.stringify(l)}, plot ${JSON.stringify(got.plot)})`);
  for (const m of got.marks as Box[]) assert.ok(!meets(l, m), `the legend covers a mark (${JSON.stringify(m)}, legend ${JSON.stringify(l)})`);
  const s = got.svg as Box;
  assert.ok(l.x >= s.x - 1 && l.y >= s.y - 1 && l.x + l.w <= s.x + s.w + 1 && l.y + l.h <= s.y + s.h + 1, `the legend lies inside the figure (${JSON.stringify(l)} in ${JSON.stringify(s)})`);
}

/** Starts recording the gaps between animation frames (ms), for `npm run bench:browser`. */
export async function watchFrames(r: PageRecord): Promise<void> {
  await r.page.evaluate(() => {
    const w = window as unknown as { __gaps: number[]; __stop: boolean };
    w.__gaps = [];
    w.__stop = false;
    let last = performance.now();
    const tick = (t: number) => {
      w.__gaps.push(t - last);
      last = t;
      if (!w.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/** Stops the recording: frame-gap percentiles (ms) and the frame count. For benchmarks, never asserted. */
export async function frameGaps(r: PageRecord): Promise<{ max: number; p99: number; p50: number; n: number }> {
  return r.page.evaluate(() => {
    const w = window as unknown as { __gaps: number[]; __stop: boolean };
    w.__stop = true;
    const g = w.__gaps.slice(1).sort((a, b) => a - b);
    return { max: g[g.length - 1] ?? 0, p99: g[Math.floor(g.length * 0.99)] ?? 0, p50: g[Math.floor(g.length * 0.5)] ?? 0, n: g.length };
  });
}

/**
 * Every figure matched by `svgs` (a CSS selector of <svg> elements) has its legend (`legend`, a selector
 * inside the SVG) clear of its marks: the legend's box meets no part of the plot area (the frame's clip
 * rectangle, in page pixels), lies below it and inside its SVG (the frame grew by the legend's band),
 * and holds at least one entry (`entry`). Returns how many figures were checked.
 */
export async function assertLegendsBelowPlot(r: PageRecord, svgs: string, legend: string, entry: string): Promise<number> {
  const got = await r.page.evaluate(([sel, lsel, esel]) => {
    const box = (el: Element | null | undefined) => {
      if (!el) return null;
      const b = el.getBoundingClientRect();
      return { x: b.x, y: b.y, w: b.width, h: b.height };
    };
    return Array.from(document.querySelectorAll(sel), (svg) => {
      const rect = svg.querySelector('clipPath rect');
      const sb = box(svg);
      let plot = null;
      if (rect && sb) {
        const k = sb.w / Number(svg.getAttribute('width'));
        const a = (n: string) => Number(rect.getAttribute(n)) * k;
        plot = { x: sb.x + a('x'), y: sb.y + a('y'), w: a('width'), h: a('height') };
      }
      const lg = svg.querySelector(lsel);
      return { svg: sb, plot, legend: box(lg), entries: lg?.querySelectorAll(esel).length ?? 0 };
    });
  }, [svgs, legend, entry] as const);
  type Box = { x: number; y: number; w: number; h: number };
  const meets = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  assert.ok(got.length > 0, `figures matching ${svgs}`);
  got.forEach((v, i) => {
    assert.ok(v.svg && v.plot && v.legend && v.entries > 0, `${svgs} #${i}: drawn with a legend (${JSON.stringify(v)})`);
    const l = v.legend as Box, p = v.plot as Box, s = v.svg as Box;
    assert.ok(!meets(l, p), `${svgs} #${i}: the legend lies outside the plot area (legend ${JSON.stringify(l)}, plot ${JSON.stringify(p)})`);
    assert.ok(l.y >= p.y + p.h, `${svgs} #${i}: the legend is below the plot area (legend ${JSON.stringify(l)}, plot ${JSON.stringify(p)})`);
    assert.ok(l.x >= s.x - 1 && l.y >= s.y - 1 && l.x + l.w <= s.x + s.w + 1 && l.y + l.h <= s.y + s.h + 1, `${svgs} #${i}: the legend lies inside its figure (${JSON.stringify(l)} in ${JSON.stringify(s)})`);
  });
  return got.length;
}

/** `assertLegendsBelowPlot` for the scatter views (sample panels) under `root`. */
export function assertScatterLegendsClear(r: PageRecord, root: string): Promise<number> {
  return assertLegendsBelowPlot(r, `${root} [data-testid="samples-plot"] svg`, '[data-testid="scatter-legend"]', '[data-testid="scatter-layer"]');
}

/** `assertLegendsBelowPlot` for the trajectory views on the page (their `trajectory-plot` SVGs). */
export function assertTrajectoryLegendsClear(r: PageRecord): Promise<number> {
  return assertLegendsBelowPlot(r, 'svg[data-testid="trajectory-plot"]', '[data-testid="trajectory-legend"]', 'g.legend-item');
}

/**
 * In presentation mode the Present / Leave presentation toggle heads the stage's side column and covers
 * no heading, paragraph, control or figure of the page (scrolled to the top and to every section heading).
 */
export async function assertPresentToggleClear(r: PageRecord): Promise<void> {
  const got = await r.page.evaluate(async () => {
    const toggle = document.querySelector('[data-testid="present-toggle"]') as HTMLElement;
    const inSide = toggle.parentElement?.classList.contains('present-side') ?? false;
    const hits: string[] = [];
    const check = () => {
      const t = toggle.getBoundingClientRect();
      for (const el of document.querySelectorAll('h1, h2, h3, p, li, label, select, input, button, svg, .js-plotly-plot, canvas, table')) {
        if (el === toggle || el.contains(toggle) || toggle.contains(el)) continue;
        const b = el.getBoundingClientRect();
        if (b.width === 0 || b.height === 0) continue;
        if (t.x < b.x + b.width && b.x < t.x + t.width && t.y < b.y + b.height && b.y < t.y + t.height) hits.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 40)}" at scroll ${Math.round(scrollY)}`);
      }
    };
    scrollTo(0, 0);
    check();
    for (const h of document.querySelectorAll('h2')) {
      h.scrollIntoView({ block: 'start' });
      check();
    }
    scrollTo(0, 0);
    return { inSide, hits, visible: toggle.getBoundingClientRect().bottom <= innerHeight && toggle.getBoundingClientRect().top >= 0 };
  });
  assert.ok(got.inSide, 'the toggle heads the stage\'s side column');
  assert.ok(got.visible, 'the toggle is on the first screen');
  assert.deepEqual(got.hits, [], 'the toggle covers nothing');
}

/**
 * The page's training worker's request counts per method (worker-host.ts `requestCounts`), once
 * `method` has been asked at least `atLeast` times (polled): each view ran once, or more.
 */
export async function requestCountsOnce(r: PageRecord, method: string, atLeast: number): Promise<Record<string, number>> {
  type Lab = { piflowLab: { call: { requestCounts(): Promise<Record<string, number>> } } };
  await r.page.waitForFunction(
    async ([m, n]) => ((await (window as unknown as Lab).piflowLab.call.requestCounts())[m as string] ?? 0) >= (n as number),
    [method, atLeast] as const,
    { timeout: 30_000, polling: 200 },
  );
  return r.page.evaluate(() => (window as unknown as Lab).piflowLab.call.requestCounts());
}

#!/usr/bin/env node
/**
 * Screenshots of every notebook at 1440×900 and 1280×720 (and the π-Flow, explorer, MNIST and comparison notebooks
 * in presentation mode at 1280×720), in headless Debian chromium on wasm, into docs/screenshots/ (or the folder given).
 * Each page is shot once its backend is ready and its first figure is drawn: at the top of the page as it
 * arrives (`NAME-WxH.png`: prose and controls), then scrolled to its main figure (`NAME-figures-WxH.png`: flow
 * matching's samples and paths, π-Flow's paths and policy inspector, the explorer's charts and panels after its
 * default sweep (K = 1, 8, 32, 150 iterations each: under a minute here), MNIST's sample grid, the comparison's
 * sample panels). The comparison notebook is
 * also shot after its default seeded race (300 rounds, about 1.5 minutes here; segments to the teacher
 * on), scrolled to its sample panels (`methods-2d-race-1440x900.png`). Needs the builds:
 * npm run build && npx vite build. `--only NAME,…` shoots just those notebooks (e.g. `--only methods-2d`).
 *
 *   node scripts/screenshots.mjs [OUT_DIR] [--only NAME,…]
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startHarness } from '../dist/tests/browser/harness.js';

const args = process.argv.slice(2);
const at = args.indexOf('--only');
const only = at >= 0 ? new Set((args.splice(at, 2)[1] ?? '').split(',').filter(Boolean)) : null;
const out = args[0] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
/** [notebook, selector its first figure is drawn at, query ('' | 'present=1' | 'race'), its main figure (scrolled to for the -figures shots)] */
const PAGES = [
  ['flow-matching-2d', '[data-testid="teacher-path"]', '', '#samples'],
  ['piflow-2d', '[data-testid="policy-path"]', '', '#trajectories'],
  ['policy-explorer', '[data-testid="run-sweep"]', '', '#sweep-chart'],
  ['piflow-mnist', '[data-testid="samples-plot"] [data-testid="image-row"]', '', '#samples'],
  ['methods-2d', '[data-testid="metrics-row"]', '', '#samples'],
  ['piflow-2d', '[data-testid="policy-path"]', 'present=1'],
  ['policy-explorer', '[data-testid="run-sweep"]', 'present=1'],
  ['piflow-mnist', '[data-testid="samples-plot"] [data-testid="image-row"]', 'present=1'],
  ['methods-2d', '[data-testid="metrics-row"]', 'present=1'],
  ['methods-2d', '[data-testid="metrics-row"]', 'race'],
];

/** What a page needs before its figures are worth a look: the explorer's default sweep (its charts and panels are empty until then). */
async function prepareFigures(name, page) {
  if (name !== 'policy-explorer') return;
  await page.click('[data-testid="run-sweep"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') === 'done', null, { timeout: 600_000 });
}

/** Scrolls the page so that `sel`'s top is 8 px below the viewport's (the figure's title in view). */
async function scrollToFigure(page, sel) {
  await page.evaluate((s) => {
    const el = document.querySelector(s);
    if (!el) throw new Error(`no ${s} on the page`);
    window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 8);
  }, sel);
  await page.waitForTimeout(300);
}

/** The comparison notebook after its default seeded race, its sample panels with the segments in view. */
async function race(page) {
  const rounds = await page.inputValue('[data-testid="iters"]');
  await page.check('[data-testid="links"]');
  await page.click('[data-testid="train-race"]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="panel"][data-id="dmd"]')?.dataset.iteration === n, rounds, { timeout: 900_000 });
  await page.evaluate(() => document.querySelector('#links-control').scrollIntoView({ block: 'start' }));
}
if (only) {
  const known = new Set(PAGES.map(([name]) => name));
  const unknown = [...only].filter((n) => !known.has(n));
  if (unknown.length || only.size === 0) {
    console.error(`--only: unknown notebook(s) ${unknown.join(', ') || '(none given)'}; known: ${[...known].join(', ')}`);
    process.exit(2);
  }
}
const SIZES = [[1440, 900], [1280, 720]];
const h = await startHarness();
const shoot = async (page, file) => {
  await page.screenshot({ path: file });
  console.log(file);
};
try {
  for (const [name, ready, query, figure] of PAGES) {
    if (only && !only.has(name)) continue;
    if (!query) {
      // one page per notebook: the top of the page as it arrives at both sizes, then (after any preparation) its figures at both
      const r = await h.open(`notebooks/${name}.html`, { backend: 'wasm' });
      try {
        await r.page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
        await r.page.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 120_000 });
        await r.page.waitForSelector(ready, { timeout: 240_000 });
        await r.page.waitForTimeout(1500); // let the charts' last flush land
        for (const [width, height] of SIZES) {
          await r.page.setViewportSize({ width, height });
          await r.page.evaluate(() => window.scrollTo(0, 0));
          await r.page.waitForTimeout(300);
          await shoot(r.page, path.join(out, `${name}-${width}x${height}.png`));
        }
        await prepareFigures(name, r.page);
        await r.page.waitForTimeout(1500);
        for (const [width, height] of SIZES) {
          await r.page.setViewportSize({ width, height });
          await scrollToFigure(r.page, figure);
          await shoot(r.page, path.join(out, `${name}-figures-${width}x${height}.png`));
        }
      } finally {
        await r.close();
      }
      continue;
    }
    for (const [width, height] of SIZES) {
      if (query !== 'race' && width !== 1280) continue;
      if (query === 'race' && width !== 1440) continue;
      const r = await h.open(`notebooks/${name}.html`, { backend: 'wasm', query: query !== 'race' ? Object.fromEntries([query.split('=')]) : {} });
      try {
        await r.page.setViewportSize({ width, height });
        await r.page.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 120_000 });
        await r.page.waitForSelector(ready, { timeout: 240_000 });
        if (query === 'race') await race(r.page);
        await r.page.waitForTimeout(1500); // let the charts' last flush land
        await shoot(r.page, path.join(out, `${name}${query === 'race' ? '-race' : '-present'}-${width}x${height}.png`));
      } finally {
        await r.close();
      }
    }
  }
} finally {
  await h.close();
}

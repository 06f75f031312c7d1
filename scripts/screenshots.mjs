#!/usr/bin/env node
/**
 * Screenshots of every notebook at 1440×900 and 1280×720 (and the π-Flow and comparison notebooks in
 * presentation mode), in headless Debian chromium on wasm, into docs/screenshots/ (or the folder given).
 * Each page is shot once its backend is ready and its first figure is drawn. Needs the builds:
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
const PAGES = [
  ['flow-matching-2d', '[data-testid="teacher-path"]', ''],
  ['piflow-2d', '[data-testid="policy-path"]', ''],
  ['policy-explorer', '[data-testid="run-sweep"]', ''],
  ['piflow-mnist', '[data-testid="samples-plot"] [data-testid="image-row"]', ''],
  ['methods-2d', '[data-testid="metrics-row"]', ''],
  ['piflow-2d', '[data-testid="policy-path"]', 'present=1'],
  ['methods-2d', '[data-testid="metrics-row"]', 'present=1'],
];
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
try {
  for (const [name, ready, query] of PAGES) {
    if (only && !only.has(name)) continue;
    for (const [width, height] of SIZES) {
      if (query && width !== 1280) continue;
      const r = await h.open(`notebooks/${name}.html`, { backend: 'wasm', query: query ? Object.fromEntries([query.split('=')]) : {} });
      try {
        await r.page.setViewportSize({ width, height });
        await r.page.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 120_000 });
        await r.page.waitForSelector(ready, { timeout: 240_000 });
        await r.page.waitForTimeout(1500); // let the charts' last flush land
        const file = path.join(out, `${name}${query ? '-present' : ''}-${width}x${height}.png`);
        await r.page.screenshot({ path: file });
        console.log(file);
      } finally {
        await r.close();
      }
    }
  }
} finally {
  await h.close();
}

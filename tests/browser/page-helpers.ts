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


/** Starts recording the largest gap between animation frames (ms). */
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

export async function frameGaps(r: PageRecord): Promise<{ max: number; p99: number; n: number }> {
  return r.page.evaluate(() => {
    const w = window as unknown as { __gaps: number[]; __stop: boolean };
    w.__stop = true;
    const g = w.__gaps.slice(1).sort((a, b) => a - b);
    return { max: g[g.length - 1] ?? 0, p99: g[Math.floor(g.length * 0.99)] ?? 0, n: g.length };
  });
}

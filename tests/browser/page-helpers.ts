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


/**
 * Browser-test harness: the offline server on a free localhost port, Debian's chromium driven by
 * playwright-core (never a downloaded browser), and pages that record console errors, page errors and
 * every request that leaves localhost (such requests are also aborted, so a test cannot pass by
 * reaching the network).
 *
 * Expects the Vite build in dist/web (`npm test` runs `vite build` first).
 * CHROMIUM=/path/to/chromium overrides the browser; the default is /usr/bin/chromium.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startServer, WEB_ROOT, type RunningServer } from '../../src/cli/serve.js';
import { BASE_FLAGS, chromiumPath, isLocalUrl, SOFTWARE_GPU_FLAGS } from '../../src/cli/browser.js';

export { WEB_ROOT };

export { BASE_FLAGS, SOFTWARE_GPU_FLAGS, isLocalUrl, chromiumPath };

export function assertWebBuilt(): void {
  if (!existsSync(path.join(WEB_ROOT, 'index.html'))) {
    throw new Error(`${WEB_ROOT}/index.html is missing: build the pages first (npx vite build; npm test does it)`);
  }
}

export interface PageRecord {
  page: Page;
  context: BrowserContext;
  /** console messages of type 'error' */
  consoleErrors: string[];
  /** uncaught exceptions and unhandled rejections */
  pageErrors: string[];
  /** every request whose host is not localhost / 127.0.0.1 (aborted) */
  externalRequests: string[];
  /** all console lines, for diagnostics */
  consoleLog: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  backend?: string;
  query?: Record<string, string>;
  hardwareConcurrency?: number;
}

export interface Harness {
  server: RunningServer;
  browser: Browser;
  baseUrl: string;
  /**
   * Opens `pathname` (e.g. 'notebooks/playground-check.html') with `?backend=` when given.
   * `hardwareConcurrency` makes the page's (not its workers') navigator report that many logical
   * cores, e.g. to see tfjs's wasm backend (which takes half of them) use threads on a 2-core machine.
   */
  open(pathname: string, opts?: OpenOptions): Promise<PageRecord>;
  close(): Promise<void>;
}

/**
 * Starts the server and a headless chromium. `gpu: 'software'` adds the SwiftShader WebGPU/WebGL
 * flags (needed for the webgpu and webgl backends on machines without a GPU). `isolation: false`
 * serves the pages without the cross-origin isolation headers (as `npm start` sends them by default).
 */
export async function startHarness(opts: { gpu?: 'none' | 'software'; isolation?: boolean } = {}): Promise<Harness> {
  assertWebBuilt();
  const executablePath = chromiumPath();
  const server = await startServer({ port: 0, quiet: true, ...(opts.isolation !== undefined ? { isolation: opts.isolation } : {}) });
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [...BASE_FLAGS, ...(opts.gpu === 'software' ? SOFTWARE_GPU_FLAGS : [])],
      timeout: 60_000,
    });
  } catch (e) {
    await server.close();
    throw e;
  }
  const baseUrl = `http://127.0.0.1:${server.port}/`;

  async function open(pathname: string, o: OpenOptions = {}): Promise<PageRecord> {
    const context = await browser.newContext();
    if (o.hardwareConcurrency !== undefined) {
      await context.addInitScript((n: number) => {
        Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n, configurable: true });
      }, o.hardwareConcurrency);
    }
    const page = await context.newPage();
    const rec: PageRecord = {
      page,
      context,
      consoleErrors: [],
      pageErrors: [],
      externalRequests: [],
      consoleLog: [],
      close: () => context.close(),
    };
    page.on('console', (m) => {
      const line = `[${m.type()}] ${m.text()}`;
      rec.consoleLog.push(line);
      if (m.type() === 'error') rec.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => rec.pageErrors.push(e.stack ?? e.message));
    // every request of the context, workers included, passes here: record and abort the external ones
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocalUrl(url)) return route.continue();
      rec.externalRequests.push(url);
      return route.abort('blockedbyclient');
    });
    context.on('request', (r) => {
      if (!isLocalUrl(r.url()) && !rec.externalRequests.includes(r.url())) rec.externalRequests.push(r.url());
    });
    const url = new URL(pathname, baseUrl);
    if (o.backend !== undefined) url.searchParams.set('backend', o.backend);
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    await page.goto(url.toString(), { waitUntil: 'load' });
    return rec;
  }

  return {
    server,
    browser,
    baseUrl,
    open,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

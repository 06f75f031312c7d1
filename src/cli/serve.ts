/**
 * `npm start`: a local, offline web server for the playground on http://localhost:PORT (default 5173).
 * Serves the Vite build in dist/web (`npm run build:web`) as the site root, bound to 127.0.0.1 only;
 * nothing is fetched from the internet. Also used by the browser tests (port 0 = a free port).
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** the Vite build (vite.config.ts writes it) */
export const WEB_ROOT = path.join(REPO, 'dist', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export interface ServeOptions {
  /** 0 picks a free port */
  port?: number;
  host?: string;
  /** folder served as the site root */
  root?: string;
  /** no start-up line on stdout */
  quiet?: boolean;
  /**
   * Send the cross-origin isolation headers (COOP/COEP/CORP, see ISOLATION_HEADERS); default true.
   * false serves the pages without them (not `crossOriginIsolated`: the wasm backend then runs on one
   * thread), which the browser tests use to check that fallback.
   */
  isolation?: boolean;
}

/**
 * Cross-origin isolation: with these the pages are `crossOriginIsolated`, so SharedArrayBuffer exists
 * and tfjs's threaded wasm build can run its pthread workers. Everything the pages load is same-origin
 * (bundled tfjs and wasm, /mnist/ IDX files, blob: worker URLs and downloads), so `require-corp` blocks
 * nothing; CORP `same-origin` on every response keeps that explicit.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

export interface RunningServer {
  server: Server;
  port: number;
  /** e.g. http://localhost:5173/ */
  url: string;
  close(): Promise<void>;
}

function send(res: import('node:http').ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Maps a request path to a file under `root`, or null (outside the root, missing, not a file). */
export function resolveRequest(root: string, pathname: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  let file = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

/** Starts the server; resolves once it listens. */
export function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const root = path.resolve(opts.root ?? WEB_ROOT);
  const host = opts.host ?? '127.0.0.1';
  const isolation = opts.isolation ?? true;
  const server = createServer((req, res) => {
    if (isolation) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const file = resolveRequest(root, url.pathname);
    if (file === null) {
      send(res, 404, `not found: ${url.pathname}\n`);
      return;
    }
    const ext = path.extname(file);
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      // hashed assets never change; pages and public files are revalidated
      'cache-control': file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 5173, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const url = `http://localhost:${port}/`;
      if (!opts.quiet) console.log(`π-Flow Playground: ${url}  (serving ${path.relative(process.cwd(), root) || '.'}; Ctrl-C to stop)`);
      resolve({
        server,
        port,
        url,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const port = Number(process.env.PORT ?? 5173);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`PORT must be an integer in 1..65535, got ${process.env.PORT}`);
    process.exit(2);
  }
  if (!existsSync(path.join(WEB_ROOT, 'index.html'))) {
    console.error(`${path.relative(process.cwd(), WEB_ROOT)}/index.html not found: build the pages first (npm run build:web, or npm start)`);
    process.exit(1);
  }
  startServer({ port }).catch((e: NodeJS.ErrnoException) => {
    console.error(e.code === 'EADDRINUSE' ? `port ${port} is in use; choose another with PORT=…` : e.message);
    process.exit(1);
  });
}

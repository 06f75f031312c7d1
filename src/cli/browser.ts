/**
 * Debian's chromium for the CLI and the browser tests (playwright-core, never a downloaded browser):
 * the launch flags, the executable's path, and the test for URLs that stay on this machine.
 * CHROMIUM=/path/to/chromium overrides the browser; the default is /usr/bin/chromium.
 */
import { existsSync } from 'node:fs';

export const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** WebGPU (and WebGL) on the CPU through SwiftShader: slow, but it runs on machines without a GPU. */
export const SOFTWARE_GPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** true for URLs that stay on this machine (localhost, data:, blob:, about:) */
export function isLocalUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return LOCAL_HOSTS.has(u.hostname);
}

export function chromiumPath(): string {
  const p = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(p)) {
    throw new Error(`chromium not found at ${p}: install Debian's package (apt-get install -y chromium) or set CHROMIUM=/path`);
  }
  return p;
}

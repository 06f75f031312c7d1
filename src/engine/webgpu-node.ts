/**
 * WebGPU in Node: Dawn's Node bindings (the optional `webgpu` npm package) provide `navigator.gpu`,
 * and `@tensorflow/tfjs-backend-webgpu` runs on it unchanged, so the CLI, the benchmark and the tests
 * can use the same WebGPU programs as the browser.
 *
 * A machine without a GPU has no Vulkan driver; Debian's `chromium` package ships a loader and the
 * SwiftShader ICD (a software Vulkan: correct, slow). The loader is found through LD_LIBRARY_PATH, which
 * the dynamic linker reads when the process starts, so it has to be in the environment of the process
 * (`softwareVulkanEnv()` gives the variables; the tests spawn their WebGPU children with them).
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB_DIR}/vk_swiftshader_icd.json`;

/** What the adapter says of itself; `software` for SwiftShader / fallback adapters (no GPU numbers). */
export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  software: boolean;
}

let adapterInfo: WebGpuAdapterInfo | null = null;

/** The adapter tfjs runs on, once `installNodeWebGpu()` has succeeded. */
export function nodeWebGpuAdapter(): WebGpuAdapterInfo | null {
  return adapterInfo;
}

/**
 * Environment variables that give Dawn the software Vulkan driver of Debian's chromium, or null when
 * that package is not installed. Merge them into a child process's env.
 */
export function softwareVulkanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv | null {
  if (!existsSync(SWIFTSHADER_ICD)) return null;
  const ld = base.LD_LIBRARY_PATH ? `${CHROMIUM_LIB_DIR}:${base.LD_LIBRARY_PATH}` : CHROMIUM_LIB_DIR;
  return { ...base, LD_LIBRARY_PATH: ld, VK_ICD_FILENAMES: SWIFTSHADER_ICD };
}

const HINT =
  `on a machine without a GPU driver, use the software Vulkan driver of Debian's chromium package: ` +
  `LD_LIBRARY_PATH=${CHROMIUM_LIB_DIR} VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (slow; no GPU figures)`;

interface DawnModule {
  create(flags: string[]): { requestAdapter(opts?: unknown): Promise<DawnAdapter | null> };
  globals: Record<string, unknown>;
}
interface DawnAdapter {
  info?: { vendor?: string; architecture?: string; description?: string };
  isFallbackAdapter?: boolean;
}

/**
 * Makes `navigator.gpu` available from Dawn, checks that an adapter exists and registers tfjs's
 * webgpu backend (it registers itself on import only where navigator.gpu exists). Throws a clear
 * error when the package is missing or no adapter is found.
 */
export async function installNodeWebGpu(): Promise<WebGpuAdapterInfo> {
  if (adapterInfo) return adapterInfo;
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new Error(`--backend webgpu needs the optional 'webgpu' npm package (Dawn's Node bindings): npm install webgpu (${(e as Error).message})`);
  }
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error(`--backend webgpu: no WebGPU adapter (Dawn found no Vulkan driver); ${HINT}`);
  Object.assign(globalThis, dawn.globals);
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav && typeof nav === 'object') {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `node ${process.version}` }, configurable: true, writable: true });
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  const info = adapter.info ?? {};
  const architecture = info.architecture ?? '';
  adapterInfo = {
    vendor: info.vendor ?? '',
    architecture,
    description: info.description ?? '',
    software: Boolean(adapter.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe/i.test(`${architecture} ${info.description ?? ''}`),
  };
  return adapterInfo;
}

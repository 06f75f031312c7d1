/** Save/load of an ImageNet in Node (same files as the 2D nets; see io-node.ts and image-artifacts.ts). */
import { readArtifactsDir, writeArtifactsDir, type ExtraFile } from './io-node.js';
import { imageNetFromArtifacts, imageNetToArtifacts, isImageNetFile, type LoadedImageNet } from './image-artifacts.js';
import type { ImageNet, UNetConfig } from './unet.js';

/** Saves `net` crash-safe into `dir`; `extra` files (a training state) go into the same atomic folder, before config.json. */
export async function saveImageNet(net: ImageNet, dir: string, meta: Record<string, unknown> = {}, extra?: ExtraFile[]): Promise<void> {
  await writeArtifactsDir(dir, { ...(await imageNetToArtifacts(net, meta)), extra });
}

export async function loadImageNet(dir: string, expectKind?: UNetConfig['kind']): Promise<LoadedImageNet> {
  const art = await readArtifactsDir(dir);
  if (!isImageNetFile(art.file)) throw new Error(`${art.where.config}: not an image network (config.arch must be 'unet')`);
  return imageNetFromArtifacts(art, art.where, expectKind);
}

/** True when `dir` holds an image network (reads config.json only). */
export async function isImageNetDir(dir: string): Promise<boolean> {
  try {
    const { promises: fs } = await import('node:fs');
    const path = await import('node:path');
    return isImageNetFile(JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')));
  } catch {
    return false;
  }
}

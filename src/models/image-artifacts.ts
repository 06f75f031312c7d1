/**
 * ImageNet ⇄ tfjs artifacts, browser-safe: the same three files as the 2D nets (artifacts.ts):
 * `model.json` (tfjs layers format; the custom layers of unet.ts must be registered, i.e. unet.ts
 * imported, before loading), the weights' bytes, and `config.json` ({config: UNetConfig, meta}).
 * The manifest/byte checks are shared with artifacts.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN, netFromArtifacts, type NetFile } from './artifacts.js';
import type { NetArtifacts } from './io-handlers.js';
import { checkUNetAgainstConfig, imageNetFromModel, validateUNetConfig, type ImageNet, type UNetConfig } from './unet.js';

export { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN };

export type ImageNetFile = NetFile<UNetConfig>;
export type ImageNetArtifacts = NetArtifacts<ImageNetFile>;

export type LoadedImageNet = ImageNet & { meta: Record<string, unknown> };

export async function imageNetToArtifacts(net: ImageNet, meta: Record<string, unknown> = {}): Promise<ImageNetArtifacts> {
  let captured: ImageNetArtifacts | null = null;
  await net.model.save(
    tf.io.withSaveHandler(async (art) => {
      const weights = art.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(art.weightData);
      captured = {
        modelJson: {
          modelTopology: art.modelTopology!,
          format: art.format,
          generatedBy: art.generatedBy,
          convertedBy: art.convertedBy,
          weightsManifest: [{ paths: [WEIGHTS_BIN], weights: art.weightSpecs ?? [] }],
        },
        weights,
        file: { config: net.cfg, meta },
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(art) };
    }),
  );
  return captured!;
}

/** True when a config.json's config is an image network's (`arch: 'unet'`). */
export function isImageNetFile(file: unknown): boolean {
  return file !== null && typeof file === 'object' && (file as { config?: { arch?: unknown } }).config?.arch === 'unet';
}

export function imageNetFromArtifacts(
  art: { modelJson: unknown; weights: ArrayBuffer; file: unknown },
  where: { config: string; model: string; weights: string },
  expectKind?: UNetConfig['kind'],
): Promise<LoadedImageNet> {
  return netFromArtifacts(art, where, { validate: validateUNetConfig, check: checkUNetAgainstConfig, build: imageNetFromModel }, expectKind);
}

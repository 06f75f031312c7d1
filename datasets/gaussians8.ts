/** 8 Gaussians evenly on a circle (FFJORD's 8gaussians: scale 4, divided by √2), std 0.25. */
import { defineDataset } from './types.js';

export const GAUSS8_RADIUS = 4 / Math.SQRT2; // ≈ 2.83
export const GAUSS8_STD = 0.25;
/** support radius around a centre: 3 std (holds 1 − e^−4.5 ≈ 98.9% of a 2D Gaussian's mass) */
export const GAUSS8_BAND = 3 * GAUSS8_STD;
/** centre k at angle kπ/4, k = 0..7, computed as the sampler does */
export const GAUSS8_CENTRES: ReadonlyArray<readonly [number, number]> = Array.from({ length: 8 }, (_, k) => {
  const a = (k * Math.PI) / 4;
  return [GAUSS8_RADIUS * Math.cos(a), GAUSS8_RADIUS * Math.sin(a)] as const;
});

/** within GAUSS8_BAND of one of the 8 centres */
export function nearGauss8Centre(x: number, y: number): boolean {
  return GAUSS8_CENTRES.some(([cx, cy]) => (x - cx) ** 2 + (y - cy) ** 2 <= GAUSS8_BAND ** 2);
}

export const gaussians8 = defineDataset({
  name: 'gaussians8',
  description: '8 equal Gaussians (std 0.25) evenly on a circle of radius 2.83',
  point: (rng) => {
    const a = (rng.int(8) * Math.PI) / 4;
    return [GAUSS8_RADIUS * Math.cos(a) + GAUSS8_STD * rng.normal(), GAUSS8_RADIUS * Math.sin(a) + GAUSS8_STD * rng.normal()];
  },
  inSupport: nearGauss8Centre,
  supportRule: `within ${GAUSS8_BAND} (3 std) of a centre: about 98.9% of the data`,
  modes: GAUSS8_CENTRES.map((c, k) => ({ label: `${k * 45}°`, weight: 1 / 8, centre: c })),
});

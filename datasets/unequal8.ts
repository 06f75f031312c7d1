/**
 * Unequal 8 Gaussians: gaussians8's circle, centres and std, but the mode at 45° carries 3% of the mass
 * and the other seven share the remaining 97% (13.86% each). A mode-seeking student tends to drop the
 * light mode; mode coverage (a mode is covered from 2% of the samples) shows it.
 */
import { defineDataset } from './types.js';
import { GAUSS8_BAND, GAUSS8_CENTRES, GAUSS8_STD, nearGauss8Centre } from './gaussians8.js';

export const LIGHT_MODE = 1; // 45°, top right: off the axes, so the data's mean stays near 0
export const LIGHT_WEIGHT = 0.03;
const WEIGHTS = GAUSS8_CENTRES.map((_, k) => (k === LIGHT_MODE ? LIGHT_WEIGHT : (1 - LIGHT_WEIGHT) / 7));
const CUMULATIVE = WEIGHTS.map((_, k) => WEIGHTS.slice(0, k + 1).reduce((a, b) => a + b, 0));

export const unequal8 = defineDataset({
  name: 'unequal8',
  description: '8 Gaussians on the gaussians8 circle, the one at 45° with only 3% of the mass (diversity test)',
  point: (rng) => {
    const u = rng.uniform();
    let k = 0;
    while (k < 7 && u >= CUMULATIVE[k]) k++;
    const [cx, cy] = GAUSS8_CENTRES[k];
    return [cx + GAUSS8_STD * rng.normal(), cy + GAUSS8_STD * rng.normal()];
  },
  inSupport: nearGauss8Centre,
  supportRule: `within ${GAUSS8_BAND} (3 std) of a centre: about 98.9% of the data`,
  modes: GAUSS8_CENTRES.map((c, k) => ({ label: `${k * 45}°`, weight: WEIGHTS[k], centre: c })),
});

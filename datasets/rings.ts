/** 4 concentric rings of equal mass, radii 0.75, 1.5, 2.25, 3, noise std 0.1. */
import { defineDataset } from './types.js';

const RING_RADII = [0.75, 1.5, 2.25, 3.0];
const NOISE = 0.1;
/** support band: 3 noise std from the nearest ring (the rings are 0.75 apart, so bands never touch) */
const BAND = 3 * NOISE;

function nearestRing(x: number, y: number): number {
  const r = Math.hypot(x, y);
  let best = 0;
  for (let k = 1; k < RING_RADII.length; k++) if (Math.abs(r - RING_RADII[k]) < Math.abs(r - RING_RADII[best])) best = k;
  return best;
}

export const rings = defineDataset({
  name: 'rings',
  description: '4 concentric rings of equal mass (radii 0.75 to 3), noise std 0.1',
  point: (rng) => {
    const r = RING_RADII[rng.int(RING_RADII.length)];
    const a = 2 * Math.PI * rng.uniform();
    return [r * Math.cos(a) + NOISE * rng.normal(), r * Math.sin(a) + NOISE * rng.normal()];
  },
  inSupport: (x, y) => Math.abs(Math.hypot(x, y) - RING_RADII[nearestRing(x, y)]) <= BAND,
  supportRule: `radius within ${BAND} (3 noise std) of a ring's`,
  // one mode per ring; a ring has no point centre (its mean is the origin for every ring)
  modes: RING_RADII.map((r) => ({ label: `ring r=${r}`, weight: 1 / RING_RADII.length, centre: null })),
  modeOf: nearestRing,
  modeRule: 'the ring with the nearest radius',
});

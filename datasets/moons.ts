/** Two moons: sklearn's make_moons, centred and scaled by 2.5, noise std 0.2. */
import { defineDataset } from './types.js';

const SCALE = 2.5;
const NOISE = 0.2;
/** support band: 3 noise std from a moon's arc */
const BAND = 3 * NOISE;
/** the arcs: radius 2.5 around these centres; the upper moon spans angles [0, π], the lower [π, 2π] */
const UPPER = [-0.5 * SCALE, -0.25 * SCALE] as const;
const LOWER = [0.5 * SCALE, 0.25 * SCALE] as const;

/** distance from (x, y) to the half circle of radius SCALE around c, upper half (side 1) or lower (-1) */
function arcDistance(x: number, y: number, c: readonly [number, number], side: 1 | -1): number {
  const dx = x - c[0];
  const dy = y - c[1];
  if (side * dy >= 0) return Math.abs(Math.hypot(dx, dy) - SCALE);
  return Math.min(Math.hypot(dx - SCALE, dy), Math.hypot(dx + SCALE, dy)); // nearer end of the arc
}

const upper = (x: number, y: number) => arcDistance(x, y, UPPER, 1);
const lower = (x: number, y: number) => arcDistance(x, y, LOWER, -1);

export const moons = defineDataset({
  name: 'moons',
  description: 'two interleaved half circles (scikit-learn make_moons), noise std 0.2',
  // two interleaved half circles (sklearn make_moons), centred and scaled by 2.5, noise std 0.2
  point: (rng) => {
    const th = Math.PI * rng.uniform();
    const [x, y] = rng.uniform() < 0.5 ? [Math.cos(th), Math.sin(th)] : [1 - Math.cos(th), 0.5 - Math.sin(th)];
    return [(x - 0.5) * SCALE + NOISE * rng.normal(), (y - 0.25) * SCALE + NOISE * rng.normal()];
  },
  inSupport: (x, y) => Math.min(upper(x, y), lower(x, y)) <= BAND,
  supportRule: `within ${BAND} (3 noise std) of either moon's arc`,
  modes: [
    // the arcs' midpoints (their means lie off the arcs, next to the other moon's tip)
    { label: 'upper moon', weight: 0.5, centre: [UPPER[0], UPPER[1] + SCALE] },
    { label: 'lower moon', weight: 0.5, centre: [LOWER[0], LOWER[1] - SCALE] },
  ],
  modeOf: (x, y) => (upper(x, y) <= lower(x, y) ? 0 : 1),
  modeRule: "the moon whose arc is nearer (the moons interleave, so not the nearest centre)",
});

/** Two interleaved spirals (FFJORD's 2spirals): radius = angle in [0, 3π], divided by 3. */
import { defineDataset } from './types.js';

const TURNS = 3 * Math.PI;
/**
 * Support band around an arm's mean curve: the noise is 0.1 std per coordinate plus a uniform offset
 * in [0, 1/6] per coordinate (std 0.048), about 0.11 std across the arm; 0.35 is just over 3 of those.
 */
const BAND = 0.35;
const SEGMENTS = 600;

/** arm `sgn` (+1 or −1) without noise: the offsets at their mean 0.25/3 */
function armPoint(th: number, sgn: number): [number, number] {
  return [(sgn * (-Math.cos(th) * th + 0.25)) / 3, (sgn * (Math.sin(th) * th + 0.25)) / 3];
}

/** each arm's mean curve as a polyline, flat [x0, y0, x1, y1, ...] */
const ARMS = [1, -1].map((sgn) => {
  const out = new Float64Array(2 * (SEGMENTS + 1));
  for (let s = 0; s <= SEGMENTS; s++) [out[2 * s], out[2 * s + 1]] = armPoint((s / SEGMENTS) * TURNS, sgn);
  return out;
});

function armDistance(x: number, y: number, arm: Float64Array): number {
  let best = Infinity;
  for (let s = 0; s < SEGMENTS; s++) {
    const ax = arm[2 * s], ay = arm[2 * s + 1];
    const ux = arm[2 * s + 2] - ax, uy = arm[2 * s + 3] - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * ux + (y - ay) * uy) / (ux * ux + uy * uy)));
    const d = (x - ax - t * ux) ** 2 + (y - ay - t * uy) ** 2;
    if (d < best) best = d;
  }
  return Math.sqrt(best);
}

/** the arm's median point: half an arm's mass lies at smaller θ (θ = √U·3π, so θ = 3π/√2) */
const MEDIAN_THETA = TURNS / Math.SQRT2;

export const spirals = defineDataset({
  name: 'spirals',
  description: 'two interleaved spiral arms (FFJORD 2spirals), noise std 0.1',
  point: (rng) => {
    const th = Math.sqrt(rng.uniform()) * 3 * Math.PI; // as written before datasets/: keeps the draws bit-identical
    const sgn = rng.uniform() < 0.5 ? 1 : -1;
    const x = (sgn * (-Math.cos(th) * th + 0.5 * rng.uniform())) / 3 + 0.1 * rng.normal();
    const y = (sgn * (Math.sin(th) * th + 0.5 * rng.uniform())) / 3 + 0.1 * rng.normal();
    return [x, y];
  },
  inSupport: (x, y) => Math.min(armDistance(x, y, ARMS[0]), armDistance(x, y, ARMS[1])) <= BAND,
  supportRule: `within ${BAND} of an arm's mean curve (about 3 std of the noise across the arm)`,
  modes: [
    { label: 'arm +', weight: 0.5, centre: armPoint(MEDIAN_THETA, 1) },
    { label: 'arm −', weight: 0.5, centre: armPoint(MEDIAN_THETA, -1) },
  ],
  modeOf: (x, y) => (armDistance(x, y, ARMS[0]) <= armDistance(x, y, ARMS[1]) ? 0 : 1),
  modeRule: "the arm whose mean curve is nearer (the arms interleave, so not the nearest centre)",
});

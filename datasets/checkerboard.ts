/** Checkerboard: uniform on the 8 white squares of a 4×4 board over [-4, 4]² (WORKLOAD.md §2). */
import { defineDataset } from './types.js';

/** White squares (i, j) of the 4x4 board, (i + j) % 2 == 0, i outer (as the peer's `_WHITE`). */
const WHITE: ReadonlyArray<readonly [number, number]> = [0, 1, 2, 3].flatMap((i) =>
  [0, 1, 2, 3].filter((j) => (i + j) % 2 === 0).map((j) => [i, j] as const),
);

export const checkerboard = defineDataset({
  name: 'checkerboard',
  description: 'uniform on the 8 white squares of a 4×4 board over [-4, 4]²',
  // WORKLOAD.md §2: x0 = ((square + v) * 2/4 - 1) * 4, square (i, j) -> (x, y)
  point: (rng) => {
    const [i, j] = WHITE[rng.int(WHITE.length)];
    return [((i + rng.uniform()) * 0.5 - 1) * 4, ((j + rng.uniform()) * 0.5 - 1) * 4];
  },
  // closed squares: float32 rounding can put a sample exactly on an edge, which still counts
  inSupport: (x, y) => WHITE.some(([i, j]) => x >= 2 * i - 4 && x <= 2 * i - 2 && y >= 2 * j - 4 && y <= 2 * j - 2),
  supportRule: 'inside a white square (edges included); no tolerance',
  modes: WHITE.map(([i, j]) => ({ label: `square (${i},${j})`, weight: 1 / WHITE.length, centre: [2 * i - 3, 2 * j - 3] as const })),
  modeRule: 'nearest square centre (a point in a white square gets that square)',
});

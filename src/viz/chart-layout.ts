/**
 * Pure Plotly layout helpers (no Plotly import, so Node tests can check them): reference lines and
 * colours shared by the charts in charts.ts.
 */

/** a horizontal reference line, e.g. { name: 'teacher Euler-128', value: 0.034 } */
export interface Reference { name: string; value: number; color?: string; dash?: 'dash' | 'dot' | 'dashdot' | 'solid'; }

export const REF_COLORS = ['#555', '#999', '#2ca02c', '#9467bd'];
export const SERIES_COLORS = ['#d62728', '#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];

/** non-finite values become null, which Plotly draws as a gap */
export const fin = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Plotly layout shapes + annotations for horizontal reference lines across the plot width. */
export function referenceLayout(refs: readonly Reference[]) {
  const ok = refs.filter((r) => Number.isFinite(r.value));
  return {
    shapes: ok.map((r, i) => ({
      type: 'line' as const, xref: 'paper' as const, yref: 'y' as const, x0: 0, x1: 1, y0: r.value, y1: r.value,
      line: { color: r.color ?? REF_COLORS[i % REF_COLORS.length], width: 1, dash: r.dash ?? 'dash' },
    })),
    annotations: ok.map((r, i) => ({
      xref: 'paper' as const, yref: 'y' as const, x: 1, y: r.value, xanchor: 'right' as const, yanchor: 'bottom' as const,
      text: r.name, showarrow: false, font: { size: 10, color: r.color ?? REF_COLORS[i % REF_COLORS.length] },
    })),
  };
}


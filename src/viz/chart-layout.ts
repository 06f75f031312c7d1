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

/**
 * Plotly layout shapes + annotations for horizontal reference lines across the plot width. On a log y
 * axis (`logY`) Plotly places shapes in data units but annotations in log₁₀ units, so each label's y is
 * the log of its value there (and a reference ≤ 0, which a log axis cannot show, is left out).
 */
export function referenceLayout(refs: readonly Reference[], logY = false) {
  const ok = refs.filter((r) => Number.isFinite(r.value) && (!logY || r.value > 0));
  // labels sit above their lines; where two lines are close (their labels would overlap), the lower
  // one's label goes under its line
  const close = (a: number, b: number) => (logY ? Math.abs(Math.log10(a) - Math.log10(b)) < 0.15 : Math.abs(a - b) < 0.12 * Math.max(Math.abs(a), Math.abs(b)));
  const under = new Set(ok.filter((r) => ok.some((q) => q !== r && q.value >= r.value && close(q.value, r.value))));
  return {
    shapes: ok.map((r, i) => ({
      type: 'line' as const, xref: 'paper' as const, yref: 'y' as const, x0: 0, x1: 1, y0: r.value, y1: r.value,
      line: { color: r.color ?? REF_COLORS[i % REF_COLORS.length], width: 1, dash: r.dash ?? 'dash' },
    })),
    annotations: ok.map((r, i) => ({
      xref: 'paper' as const, yref: 'y' as const, x: 1, y: logY ? Math.log10(r.value) : r.value, xanchor: 'right' as const, yanchor: under.has(r) ? ('top' as const) : ('bottom' as const),
      text: r.name, showarrow: false, font: { size: 10, color: r.color ?? REF_COLORS[i % REF_COLORS.length] },
    })),
  };
}


export interface ChartLayoutOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  /** category axis for x (bar charts of named samplers or classes) */
  categoryX?: boolean;
  width?: number;
  height?: number;
  /** no data yet: axes hidden, one line of text in their place */
  empty?: boolean;
  /** the text of the empty state (default: 'no data yet'), in the layout's font size (so presentation mode's, on a toggle too) */
  emptyText?: string;
  /**
   * type scale (presentation mode: `PRESENT_SCALE`): title, ticks, legend and axis titles grow by it, ticks
   * never below 14 px once scaled; 1 (the default) leaves Plotly's own sizes
   */
  scale?: number;
}

/** The event a page sends on `document` when presentation mode (`body.present`) is switched on or off. */
export const PRESENT_EVENT = 'piflow:present';

/** The type scale of presentation mode (`?present=1`): 12 px ticks become 15 px. */
export const PRESENT_SCALE = 1.25;

/** Plotly's font sizes at a type scale, for `Plotly.relayout` when presentation mode is toggled. */
export function fontRelayout(scale: number): Record<string, number> {
  const tick = scale === 1 ? 12 : Math.max(14, Math.round(12 * scale));
  return {
    'font.size': Math.round(12 * scale), 'title.font.size': Math.round(13 * scale), 'legend.font.size': Math.round(10 * scale),
    'xaxis.tickfont.size': tick, 'yaxis.tickfont.size': tick,
  };
}

/** An upper bound of the mean glyph width of Plotly's title font (Open Sans / Arial), in em. */
const TITLE_EM = 0.58;

/**
 * The title broken into lines (Plotly's `<br>`) at spaces so that each fits the chart's `width` at
 * `fontSize` px (an estimate from TITLE_EM, erring wide), and the extra top margin of its lines after the first.
 * A 420 px chart in presentation mode (16 px titles) fits about 43 characters a line.
 */
export function wrapTitle(title: string, width: number, fontSize: number): { text: string; lines: number; top: number } {
  // `top`: the extra top margin of the lines after the first
  const per = Math.max(8, Math.floor((width - 16) / (TITLE_EM * fontSize)));
  const words = title.split(/\s+/).filter(Boolean);
  const greedy = (max: number) => {
    const out: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && line.length + 1 + word.length > max) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) out.push(line);
    return out;
  };
  let lines = greedy(per);
  // balanced: as many lines, of about equal length (no orphaned last word)
  const even = greedy(Math.ceil(title.length / lines.length) + 4);
  if (even.length === lines.length && even.every((l) => l.length <= per)) lines = even;
  const n = Math.max(lines.length, 1);
  return { text: lines.join('<br>'), lines: n, top: Math.round(fontSize * 1.3 * (n - 1)) };
}

/** The title's lines and the top margin at a type scale (chartLayout's; for `Plotly.relayout` when presentation mode is toggled). */
export function titleRelayout(o: { title?: string; width?: number }, scale: number): { 'title.text': string; 'margin.t': number; 'title.pad.t': number } {
  if (!o.title) return { 'title.text': '', 'margin.t': 10, 'title.pad.t': 6 };
  const size = fontRelayout(scale)['title.font.size'];
  const w = wrapTitle(o.title, o.width ?? 420, size);
  // Plotly shifts a one-line top-anchored title down by its cap height (0.7 em) but a multi-line one not
  // at all (its first baseline sits at the pad, the glyphs above the chart): the pad does it instead
  return { 'title.text': w.text, 'margin.t': Math.round(30 * scale) + w.top, 'title.pad.t': w.lines > 1 ? 6 + Math.round(0.7 * size) : 6 };
}

/** Log axes label every tick with its full value ('0.08', '0.1', '2'), never with a lone digit. */
const LOG_TICKS = { tickformat: '~g' } as const;

/**
 * The legend's top below the plot area, in paper units (chartLayout's; for `Plotly.relayout` when presentation
 * mode is toggled): 50 px at type scale 1, clear of the tick labels and the x title; in presentation mode their
 * larger type and the legend's own rows (which shrink the plot area the paper units are measured in) need
 * more: 100 px at the presentation scale (the MNIST pixel chart's x title sat inside its three-row legend at 62).
 */
export function legendRelayout(o: { title?: string; width?: number; height?: number }, scale: number): { 'legend.y': number } {
  const top = titleRelayout(o, scale)['margin.t'];
  const px = scale === 1 ? 50 : Math.round(50 * scale * 1.6);
  return { 'legend.y': -px / Math.max(80, (o.height ?? 260) - top - 80) };
}

/**
 * The layout every chart starts from. The title sits at the top left of the figure, above the plot,
 * broken into lines where it would not fit the width (`wrapTitle`);
 * the legend sits below the x axis (Plotly widens the bottom margin for it), so once data arrive
 * neither covers the other. An empty chart shows a sentence instead of meaningless axes.
 */
export function chartLayout(o: ChartLayoutOptions) {
  const empty = o.empty ?? false;
  const scale = o.scale ?? 1;
  const f = fontRelayout(scale);
  const sized = scale !== 1;
  const axis = (title: string, log: boolean | undefined, category = false) => ({
    title: { text: title },
    ...(sized ? { tickfont: { size: f['xaxis.tickfont.size'] } } : {}),
    type: category ? ('category' as const) : log ? ('log' as const) : ('linear' as const),
    zeroline: false,
    automargin: true,
    visible: !empty,
    ...(log && !category ? LOG_TICKS : {}),
  });
  const height = o.height ?? 260;
  const width = o.width ?? 420;
  const { 'title.text': titleText, 'margin.t': top, 'title.pad.t': padTop } = titleRelayout(o, scale);
  const legendY = legendRelayout(o, scale)['legend.y'];
  return {
    title: o.title
      ? { text: titleText, font: { size: f['title.font.size'] }, x: 0, xref: 'container' as const, xanchor: 'left' as const, y: 1, yref: 'container' as const, yanchor: 'top' as const, pad: { l: 8, t: padTop } }
      : undefined,
    width,
    height,
    margin: { l: Math.round(50 * scale), r: 12, t: top, b: 10 },
    ...(sized ? { font: { size: f['font.size'] } } : {}),
    xaxis: axis(o.xTitle ?? 'iteration', o.logX, o.categoryX),
    yaxis: axis(o.yTitle ?? '', o.logY),
    legend: { orientation: 'h' as const, x: 0, xanchor: 'left' as const, y: legendY, yanchor: 'top' as const, font: { size: f['legend.font.size'] } },
    showlegend: !empty,
    annotations: empty
      ? [{ xref: 'paper' as const, yref: 'paper' as const, x: 0.5, y: 0.5, showarrow: false, text: o.emptyText ?? 'no data yet', font: { color: '#888' } }]
      : [],
  };
}

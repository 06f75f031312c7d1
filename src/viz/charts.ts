/**
 * Plotly line charts, fed with plain numbers; PNG export through Plotly.toImage.
 *
 *  - LossChart   (data-testid="loss-plot"): a loss against iteration, streamed with `extend(iter, loss)`
 *    (buffered, flushed with one Plotly.extendTraces at most every `flushMs`), raw trace plus a
 *    bias-corrected EMA trace, optional log-y.
 *  - MetricChart (data-testid="metric-plot"): one or more metric series (e.g. sliced W1 to data) against
 *    iteration, streamed the same way, with horizontal reference lines (e.g. "teacher Euler-128").
 *  - SweepChart  (data-testid="sweep-plot"): quality against a swept hyperparameter value, several
 *    series, optional log-x / log-y, optional reference lines.
 *
 * Non-finite values are plotted as gaps (null). Every chart keeps its own copy of the data, so `update`,
 * log-axis toggles and export never depend on Plotly's internal state.
 */
import Plotly from 'plotly.js-dist';
import type { Data, Layout as PlotlyLayout } from 'plotly.js-dist';
import { Ema } from './geometry.js';
import { chartLayout, fin, fontRelayout, legendRelayout, titleRelayout, PRESENT_EVENT, PRESENT_SCALE, referenceLayout, SERIES_COLORS, type Reference } from './chart-layout.js';
/** The type scale of the page now: PRESENT_SCALE in presentation mode (`body.present`), else 1. */
export function pageScale(doc: Document | undefined = globalThis.document): number {
  return doc?.body?.classList.contains('present') ? PRESENT_SCALE : 1;
}

export { referenceLayout, type Reference };

export interface ChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logY?: boolean;
  /** px (default 420 × 260) */
  width?: number;
  height?: number;
  /** data-testid of the chart div */
  testid?: string;
  /** shown instead of axes while the chart has no data (default 'no data yet') */
  emptyText?: string;
}

type Layout = Partial<PlotlyLayout>;
type Trace = { type: 'scatter'; mode: 'lines' | 'lines+markers'; name: string; x: (number | string)[]; y: (number | null)[];
  line?: { color?: string; width?: number; dash?: string }; opacity?: number; visible?: boolean; error_y?: { type: 'data'; array: number[]; visible: boolean } };

/** Shared Plotly plumbing: a div, an ordered promise chain, relayout, PNG export, purge. */
abstract class PlotlyChart {
  readonly div: HTMLDivElement;
  protected chain: Promise<unknown> = Promise.resolve();
  protected logY: boolean;

  constructor(parent: HTMLElement, protected readonly o: ChartOptions, testid: string) {
    this.div = parent.ownerDocument.createElement('div');
    this.div.dataset.testid = o.testid ?? testid;
    Object.assign(this.div.style, { width: `${o.width ?? 420}px`, height: `${o.height ?? 260}px` });
    parent.appendChild(this.div);
    this.logY = o.logY ?? false;
    // presentation mode switched: the fonts follow (a chart not drawn yet takes them from baseLayout)
    parent.ownerDocument.addEventListener(PRESENT_EVENT, () => {
      void this.enqueue(() => ((this.div as unknown as { _fullLayout?: unknown })._fullLayout ? Plotly.relayout(this.div, { ...fontRelayout(pageScale(this.div.ownerDocument)), ...(o.title ? titleRelayout(o, pageScale(this.div.ownerDocument)) : {}), ...legendRelayout(o, pageScale(this.div.ownerDocument)) } as Layout) : undefined));
    });
  }

  get element(): HTMLDivElement { return this.div; }

  /** runs Plotly calls in order; errors are logged, never thrown into the caller's loop */
  protected enqueue(f: () => Promise<unknown> | unknown): Promise<unknown> {
    this.chain = this.chain.then(f).catch((e) => console.error('chart:', e));
    return this.chain;
  }

  /** the shared layout (chart-layout.ts): title above, legend below, readable log ticks, empty state */
  protected baseLayout(extra: { logX?: boolean; categoryX?: boolean; empty?: boolean } = {}): Layout {
    const o = this.o;
    return chartLayout({ ...o, logY: this.logY, logX: extra.logX, categoryX: extra.categoryX, empty: extra.empty, emptyText: o.emptyText, scale: pageScale(this.div.ownerDocument) }) as Layout;
  }

  /** switches the y axis between linear and log */
  setLogY(on: boolean): Promise<unknown> {
    this.logY = on;
    return this.enqueue(() => Plotly.relayout(this.div, { 'yaxis.type': on ? 'log' : 'linear' } as Layout));
  }

  /** PNG data URL of the chart (scale 2 by default) */
  async exportPng(o: { width?: number; height?: number; scale?: number } = {}): Promise<string> {
    await this.chain;
    return Plotly.toImage(this.div, { format: 'png', width: o.width ?? null, height: o.height ?? null, scale: o.scale ?? 2 });
  }

  /** a promise that settles when every queued Plotly call has run (tests and exports wait on it) */
  flushed(): Promise<unknown> { return this.chain; }

  destroy(): void {
    void this.chain.then(() => { Plotly.purge(this.div); this.div.remove(); });
  }
}

/** Streaming x/y series with a buffered extendTraces flush. */
abstract class StreamChart extends PlotlyChart {
  protected xs: number[] = [];
  protected ys: number[][];
  private buf: { x: number[]; y: number[][] } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(parent: HTMLElement, o: ChartOptions & { maxPoints?: number; flushMs?: number }, testid: string, protected readonly nTraces: number) {
    super(parent, o, testid);
    this.ys = Array.from({ length: nTraces }, () => []);
  }

  protected get maxPoints(): number { return (this.o as { maxPoints?: number }).maxPoints ?? 20000; }

  /** the traces for the current data */
  protected abstract traces(): Trace[];
  protected abstract layout(): Layout;

  /** (re)draws from the stored data */
  protected redraw(): Promise<unknown> {
    // snapshot now: the buffered points are part of it, so the pending flush is dropped
    const traces = this.traces(), layout = this.layout();
    this.buf = null;
    this.drawnEmpty = this.isEmpty();
    return this.enqueue(() => Plotly.react(this.div, traces as Data[], layout));
  }

  /** appends one row: x and one y per trace; flushed to Plotly within `flushMs` (default 100 ms) */
  protected push(x: number, y: number[]): void {
    this.xs.push(x);
    y.forEach((v, k) => this.ys[k].push(v));
    const over = this.xs.length - this.maxPoints;
    if (over > 0) { this.xs.splice(0, over); this.ys.forEach((s) => s.splice(0, over)); }
    if (!this.buf) this.buf = { x: [], y: Array.from({ length: this.nTraces }, () => []) };
    this.buf.x.push(x);
    y.forEach((v, k) => this.buf!.y[k].push(v));
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), (this.o as { flushMs?: number }).flushMs ?? 100);
  }

  /** true while the drawn layout is the empty state */
  protected drawnEmpty = true;

  /** no points (and, for metric charts, no reference lines) */
  protected isEmpty(): boolean { return this.xs.length === 0; }

  private flush(): void {
    this.timer = null;
    if (this.drawnEmpty) {
      // the first points: a full redraw brings the axes back
      if (this.buf) void this.redraw();
      return;
    }
    const b = this.buf;
    this.buf = null;
    if (!b) return;
    const idx = Array.from({ length: this.nTraces }, (_, k) => k);
    this.enqueue(() => Plotly.extendTraces(this.div, { x: idx.map(() => b.x.slice()), y: b.y.map((s) => s.map(fin)) }, idx, this.maxPoints));
  }

  /** removes all points */
  clear(): Promise<unknown> {
    this.xs = [];
    this.ys = this.ys.map(() => []);
    this.buf = null;
    return this.redraw();
  }

  /** number of points stored */
  get length(): number { return this.xs.length; }

  override destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    super.destroy();
  }
}

export interface LossChartOptions extends ChartOptions {
  /** EMA factor β for the smoothed trace (default 0.9; 0 hides it) */
  smoothing?: number;
  /** points kept per trace (default 20 000) */
  maxPoints?: number;
  flushMs?: number;
  color?: string;
}

export class LossChart extends StreamChart {
  private ema: Ema;

  constructor(parent: HTMLElement, readonly options: LossChartOptions = {}) {
    super(parent, { yTitle: 'loss', ...options }, 'loss-plot', 2);
    const beta = options.smoothing ?? 0.9;
    this.ema = new Ema(beta > 0 ? beta : 0);
    void this.redraw();
  }

  /** appends one loss value at iteration `iter` */
  extend(iter: number, loss: number): void { this.push(iter, [loss, this.smooth ? this.ema.push(loss) : NaN]); }

  private get smooth(): boolean { return (this.options.smoothing ?? 0.9) > 0; }

  /** appends many values */
  extendMany(iters: ArrayLike<number>, losses: ArrayLike<number>): void {
    for (let i = 0; i < Math.min(iters.length, losses.length); i++) this.extend(iters[i], losses[i]);
  }

  /** replaces the whole series (e.g. after Reset or on restoring a run) */
  update(data: { iter: ArrayLike<number>; loss: ArrayLike<number> }): Promise<unknown> {
    this.ema.reset();
    this.xs = Array.from(data.iter);
    this.ys = [Array.from(data.loss), Array.from(data.loss, (v) => (this.smooth ? this.ema.push(v) : NaN))];
    return this.redraw();
  }

  override clear(): Promise<unknown> { this.ema.reset(); return super.clear(); }

  protected traces(): Trace[] {
    const c = this.options.color ?? '#1f77b4';
    const smooth = this.smooth;
    return [
      { type: 'scatter', mode: 'lines', name: 'loss', x: this.xs.slice(), y: this.ys[0].map(fin), line: { color: c, width: 1 }, opacity: smooth ? 0.35 : 1 },
      { type: 'scatter', mode: 'lines', name: 'EMA', x: this.xs.slice(), y: this.ys[1].map(fin), visible: smooth, line: { color: c, width: 2 } },
    ];
  }

  protected layout(): Layout { return this.baseLayout({ empty: this.isEmpty() }); }
}

export interface MetricChartOptions extends ChartOptions {
  /** series names (default ['student']) */
  series?: string[];
  /** series colours (default: SERIES_COLORS in order) */
  colors?: string[];
  references?: Reference[];
  /**
   * the empty state (`emptyText`) until the first point, even with reference lines (which are kept and
   * drawn with it): a live metric of a run that has not started shows what to do, not an axis of iterations
   */
  emptyUntilPoints?: boolean;
  maxPoints?: number;
  flushMs?: number;
}

export class MetricChart extends StreamChart {
  private refs: Reference[];
  private readonly names: string[];

  constructor(parent: HTMLElement, readonly options: MetricChartOptions = {}) {
    const names = options.series?.length ? options.series : ['student'];
    super(parent, { yTitle: 'sliced W1 to data', ...options }, 'metric-plot', names.length);
    this.names = names;
    this.refs = options.references ?? [];
    void this.redraw();
  }

  /** appends one value per series (a number when there is one series) at iteration `iter` */
  extend(iter: number, values: number | ArrayLike<number>): void {
    const v = typeof values === 'number' ? [values] : Array.from(values);
    if (v.length !== this.nTraces) throw new Error(`MetricChart: ${v.length} values for ${this.nTraces} series`);
    this.push(iter, v);
  }

  /** replaces every series: values[k] is series k (a flat array when there is one series) */
  update(data: { iter: ArrayLike<number>; values: ArrayLike<number> | ArrayLike<number>[] }): Promise<unknown> {
    const v = data.values;
    const rows = v.length && typeof v[0] !== 'number' ? Array.from(v as ArrayLike<number>[], (s) => Array.from(s)) : [Array.from(v as ArrayLike<number>)];
    if (rows.length !== this.nTraces) throw new Error(`MetricChart: ${rows.length} series for ${this.nTraces}`);
    this.xs = Array.from(data.iter);
    this.ys = rows;
    return this.redraw();
  }

  /** sets the horizontal reference lines (e.g. teacher Euler-128 and Euler-2 distances) */
  setReferences(refs: Reference[]): Promise<unknown> {
    const wasEmpty = this.isEmpty();
    this.refs = refs;
    // how many reference lines the chart holds (drawn or, in the empty state, waiting for points): for tests
    this.div.dataset.references = String(refs.filter((r) => Number.isFinite(r.value)).length);
    if (wasEmpty !== this.isEmpty() || this.drawnEmpty) return this.redraw();
    return this.enqueue(() => Plotly.relayout(this.div, referenceLayout(refs, this.logY) as Layout));
  }

  /** a log y axis moves the reference labels (log₁₀ units there): a full redraw */
  override setLogY(on: boolean): Promise<unknown> {
    this.logY = on;
    return this.redraw();
  }

  /** no points and no reference line (or, with `emptyUntilPoints`, no points) */
  protected override isEmpty(): boolean { return this.xs.length === 0 && (this.options.emptyUntilPoints === true || !this.refs.some((r) => Number.isFinite(r.value))); }

  protected traces(): Trace[] {
    return this.names.map((name, k) => ({
      type: 'scatter', mode: 'lines+markers', name, x: this.xs.slice(), y: this.ys[k].map(fin),
      line: { color: this.options.colors?.[k] ?? SERIES_COLORS[k % SERIES_COLORS.length], width: 1.5 },
    }));
  }

  protected layout(): Layout {
    const empty = this.isEmpty();
    return empty ? this.baseLayout({ empty }) : ({ ...this.baseLayout(), ...referenceLayout(this.refs, this.logY) } as Layout);
  }
}

export interface SweepSeries { name: string; y: ArrayLike<number>; /** optional ± error bars */ error?: ArrayLike<number>; color?: string; }
export interface SweepData { x: ArrayLike<number> | string[]; series: SweepSeries[]; references?: Reference[]; axes?: SweepAxes; }

/**
 * Fixed axes for a sweep (so a preset's chart does not rescale noise into a trend): titles, log axes,
 * ranges in data units (converted for log axes), tick values. Unset fields keep the chart's options.
 */
export interface SweepAxes {
  xTitle?: string;
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
  xRange?: [number, number];
  yRange?: [number, number];
  xTicks?: number[];
}

export interface SweepChartOptions extends ChartOptions { logX?: boolean; }

export class SweepChart extends PlotlyChart {
  private data: SweepData = { x: [], series: [] };
  private logX: boolean;

  constructor(parent: HTMLElement, readonly options: SweepChartOptions = {}) {
    super(parent, { yTitle: 'sliced W1 to data', xTitle: 'value', ...options }, 'sweep-plot');
    this.logX = options.logX ?? false;
    this.update(this.data);
  }

  /** redraws with quality values per swept value (x may be numbers or category labels) */
  update(data: SweepData): Promise<unknown> {
    this.data = data;
    const x = Array.from(data.x as ArrayLike<number | string>);
    const traces: Trace[] = data.series.map((s, k) => ({
      type: 'scatter', mode: 'lines+markers', name: s.name, x, y: Array.from(s.y, fin),
      line: { color: s.color ?? SERIES_COLORS[k % SERIES_COLORS.length], width: 1.5 },
      ...(s.error ? { error_y: { type: 'data' as const, array: Array.from(s.error), visible: true } } : {}),
    }));
    const empty = x.length === 0 || data.series.length === 0;
    const a = data.axes;
    const logX = (a?.logX ?? this.logX) && x.every((v) => typeof v === 'number' && v > 0);
    const base = this.baseLayout({ logX, empty }) as Layout & { xaxis: Record<string, unknown>; yaxis: Record<string, unknown> };
    let layout = base as Layout;
    if (!empty) {
      const logY = a?.logY ?? this.logY;
      const range = (r: [number, number] | undefined, log: boolean) => (r ? { range: log ? r.map(Math.log10) : r, autorange: false } : {});
      const xaxis = { ...base.xaxis, ...(a?.xTitle ? { title: { text: a.xTitle } } : {}), ...range(a?.xRange, logX), ...(a?.xTicks ? { tickvals: a.xTicks, ticktext: a.xTicks.map(String) } : {}) };
      const yaxis = { ...base.yaxis, ...(a?.yTitle ? { title: { text: a.yTitle } } : {}), type: logY ? 'log' : 'linear', ...(logY ? { tickformat: '~g' } : {}), ...range(a?.yRange, logY) };
      layout = { ...base, xaxis, yaxis, ...referenceLayout(data.references ?? [], logY) } as Layout;
    }
    return this.enqueue(() => Plotly.react(this.div, traces as Data[], layout));
  }

  setLogX(on: boolean): Promise<unknown> { this.logX = on; return this.update(this.data); }
}

export interface LineSeries { name: string; x: ArrayLike<number>; y: ArrayLike<number>; color?: string; dash?: 'solid' | 'dash' | 'dot'; width?: number; showlegend?: boolean; }

/** Several lines with their own x (e.g. pixel values against σ), optionally a reversed x axis (σ from 1 to 0). */
export class LineChart extends PlotlyChart {
  private series: LineSeries[] = [];

  constructor(parent: HTMLElement, readonly options: ChartOptions & { reverseX?: boolean; testid?: string } = {}) {
    super(parent, options, 'line-plot');
    this.update([]);
  }

  update(series: LineSeries[]): Promise<unknown> {
    this.series = series;
    const traces = series.map((s, k) => ({
      type: 'scatter', mode: 'lines', name: s.name, x: Array.from(s.x), y: Array.from(s.y, fin), showlegend: s.showlegend ?? true,
      line: { color: s.color ?? SERIES_COLORS[k % SERIES_COLORS.length], width: s.width ?? 1.5, dash: s.dash ?? 'solid' },
    }));
    const base = this.baseLayout({ empty: series.length === 0 });
    const layout = { ...base, xaxis: { ...(base.xaxis as object), autorange: this.options.reverseX ? 'reversed' : true } } as Layout;
    return this.enqueue(() => Plotly.react(this.div, traces as Data[], layout));
  }

  get data(): readonly LineSeries[] { return this.series; }
}

export interface BarSeries { name: string; x: string[]; y: ArrayLike<number>; color?: string; }

/** Grouped bars (e.g. the histogram of predicted classes, one series per sampler). */
export class BarChart extends PlotlyChart {
  constructor(parent: HTMLElement, readonly options: ChartOptions & { testid?: string } = {}) {
    super(parent, options, 'bar-plot');
    this.update([]);
  }

  /**
   * `reference` (e.g. the test set's class shares) is drawn as a black bar-wide tick over each
   * category, above the bars (a scatter trace named in the legend), so every series reads against it.
   */
  update(series: BarSeries[], reference?: BarSeries): Promise<unknown> {
    const traces: Record<string, unknown>[] = series.map((s, k) => ({ type: 'bar', name: s.name, x: s.x, y: Array.from(s.y, fin), marker: { color: s.color ?? SERIES_COLORS[k % SERIES_COLORS.length] } }));
    if (reference && series.length) {
      traces.push({
        type: 'scatter', mode: 'markers', name: reference.name, x: reference.x, y: Array.from(reference.y, fin),
        marker: { symbol: 'line-ew-open', size: 30, color: reference.color ?? '#000', line: { width: 3, color: reference.color ?? '#000' } },
        hovertemplate: '%{x}: %{y:.3f}<extra>' + reference.name + '</extra>',
      });
    }
    const layout = { ...this.baseLayout({ categoryX: true, empty: series.length === 0 }), barmode: 'group' } as Layout;
    return this.enqueue(() => Plotly.react(this.div, traces as Data[], layout));
  }
}

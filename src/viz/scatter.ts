/**
 * ScatterView: 2-D point clouds (e.g. data samples vs model samples) as named, coloured layers on fixed
 * axes (default [-4.5, 4.5]²). Points are drawn on a canvas (fast for 20k+ points per layer, redrawn at
 * ~10 fps); axes, title and legend are SVG. The legend (data-testid="scatter-legend") has its own band
 * below the x axis, its entries in rows that wrap at the frame's width (the frame grows by the band:
 * `frame.outerHeight`), so it never covers a point. Container: data-testid="samples-plot" (settable); each legend
 * entry carries data-testid="scatter-layer", data-name and data-count (the number of finite points).
 *
 * Input (`update`): ScatterLayer[] — { name, points: Float32Array [n·2] interleaved (or [x, y][]),
 * color?, radius? (px), opacity?, links? }. Layers draw in order (last on top). `links` pairs each point
 * with another (row i of `links`, e.g. the teacher's sample from the same noise) and draws a short
 * segment between them under the points (the first `maxLinks`); the legend entry's data-links and the
 * container's data-links give the number of finite segments drawn (absent when no layer has links).
 *
 * `SmallMultiples` lays out several views of any kind in a grid with titles; `scatterGrid` builds one of
 * ScatterViews (e.g. "1, 2, 4 NFE vs teacher", or one panel per swept value).
 */
import * as d3 from 'd3';
import { PlotFrame, type FrameOptions } from './frame.js';
import { count, gridShape, r2, toXY, type Points } from './geometry.js';
import { composeSvgGrid } from './export.js';
import { PRESENT_EVENT } from './chart-layout.js';

export interface ScatterLayer {
  name: string;
  points: Points;
  /** CSS colour (default: a categorical palette by layer index) */
  color?: string;
  /** point radius in px (default 1.2) */
  radius?: number;
  /** point opacity (default 0.5) */
  opacity?: number;
  /** a partner for each point (same layout as `points`): a segment from point i to partner i */
  links?: Points;
  /** segments drawn at most (default 400): enough to see the pairing, few enough to see the points */
  maxLinks?: number;
}

export const PALETTE = ['#9e9e9e', '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];

export interface ScatterOptions extends FrameOptions {
  /** show the legend (default true) */
  legend?: boolean;
  /** vector export draws points as SVG circles when the total is at most this (default 30 000) */
  vectorLimit?: number;
  /** the legend names each layer's point count, "teacher (2000)" (default true; off for one marker per layer) */
  legendCounts?: boolean;
}

interface LayerInfo { name: string; xy: Float32Array; color: string; radius: number; opacity: number; n: number; links: Float32Array | null; nLinks: number; }

/** Indices of the first `max` points whose segment to their partner is finite. */
function linkIndices(xy: Float32Array, to: Float32Array, max: number): number[] {
  const out: number[] = [];
  const n = Math.min(count(xy), count(to));
  for (let k = 0; k < n && out.length < max; k++) {
    if (Number.isFinite(xy[2 * k]) && Number.isFinite(xy[2 * k + 1]) && Number.isFinite(to[2 * k]) && Number.isFinite(to[2 * k + 1])) out.push(k);
  }
  return out;
}

export class ScatterView {
  readonly frame: PlotFrame;
  private layers: LayerInfo[] = [];
  private readonly legend: d3.Selection<SVGGElement, unknown, null, undefined>;
  private readonly vectorLimit: number;

  constructor(parent: HTMLElement, readonly options: ScatterOptions = {}) {
    this.frame = new PlotFrame(parent, { testid: 'samples-plot', ...options });
    this.vectorLimit = options.vectorLimit ?? 30000;
    const f = this.frame;
    // the legend sits in its own band below the x axis (the frame grows by it), never over the points
    this.legend = d3.select(f.svg).append('g').attr('class', 'legend').attr('data-testid', 'scatter-legend')
      .style('display', options.legend === false ? 'none' : '');
    // presentation mode changes the legend's type size: its rows follow
    parent.ownerDocument.addEventListener(PRESENT_EVENT, () => this.layoutLegend());
  }

  /** the legend in its band below the plot (PlotFrame.legendBand), or no band when it is hidden */
  private layoutLegend(): void {
    const f = this.frame;
    if (this.options.legend === false) { f.setBand(0); return; }
    f.legendBand(this.legend.node()!, this.legend.selectAll<SVGGElement, LayerInfo>('g.entry').nodes());
  }

  get element(): HTMLDivElement { return this.frame.root; }

  update(layers: ScatterLayer[]): void {
    this.layers = layers.map((l, i) => {
      const xy = toXY(l.points);
      let n = 0;
      for (let k = 0; k < count(xy); k++) if (Number.isFinite(xy[2 * k]) && Number.isFinite(xy[2 * k + 1])) n++;
      const links = l.links ? toXY(l.links) : null;
      const nLinks = links ? linkIndices(xy, links, l.maxLinks ?? 400).length : 0;
      return { name: l.name, xy, color: l.color ?? PALETTE[i % PALETTE.length], radius: l.radius ?? 1.2, opacity: l.opacity ?? 0.5, n, links, nLinks: nLinks };
    });
    // only where links were asked for: views without them (the figures) export exactly as before
    if (this.layers.some((l) => l.links)) this.frame.root.dataset.links = String(this.layers.reduce((a, l) => a + l.nLinks, 0));
    else delete this.frame.root.dataset.links;
    this.draw();
  }

  setDomain(d: FrameOptions['domain'] & {}): void { this.frame.setDomain(d); this.draw(); }

  private draw(): void {
    const f = this.frame, ctx = f.ctx;
    if (ctx) {
      f.clearCanvas();
      ctx.save();
      f.clipCanvas();
      const { ax, bx, ay, by } = f.affine();
      for (const l of this.layers) {
        if (!l.links || !l.nLinks) continue;
        ctx.globalAlpha = 0.45;
        ctx.strokeStyle = l.color;
        ctx.lineWidth = 0.8;
        ctx.beginPath();
        for (const k of linkIndices(l.xy, l.links, l.nLinks)) {
          ctx.moveTo(ax * l.xy[2 * k] + bx, ay * l.xy[2 * k + 1] + by);
          ctx.lineTo(ax * l.links[2 * k] + bx, ay * l.links[2 * k + 1] + by);
        }
        ctx.stroke();
      }
      for (const l of this.layers) {
        ctx.globalAlpha = l.opacity;
        ctx.fillStyle = l.color;
        const r = l.radius, d = 2 * r, xy = l.xy, n = count(xy);
        for (let k = 0; k < n; k++) {
          const px = ax * xy[2 * k] + bx - r, py = ay * xy[2 * k + 1] + by - r;
          if (px === px && py === py) ctx.fillRect(px, py, d, d); // skips NaN
        }
      }
      ctx.restore();
    }
    const rows = this.legend.selectAll<SVGGElement, LayerInfo>('g.entry')
      .data(this.layers, (l) => l.name)
      .join((enter) => {
        const g = enter.append('g').attr('class', 'entry').attr('data-testid', 'scatter-layer');
        g.append('rect').attr('width', 8).attr('height', 8).attr('y', -7);
        g.append('text').attr('x', 11).attr('fill', 'currentColor');
        return g;
      });
    rows.attr('data-name', (l) => l.name).attr('data-count', (l) => l.n).attr('data-links', (l) => (l.links ? l.nLinks : null));
    rows.select('rect').attr('fill', (l) => l.color);
    rows.select('text').text((l) => (this.options.legendCounts === false ? l.name : `${l.name} (${l.n})`));
    this.layoutLegend();
  }

  /** standalone SVG; points become circles when there are at most `vectorLimit` in all, else a raster */
  exportSvg(): string {
    const total = this.layers.reduce((a, l) => a + l.n, 0);
    const f = this.frame;
    const vector = total <= this.vectorLimit
      ? (g: SVGGElement) => {
        const doc = g.ownerDocument;
        for (const l of this.layers) {
          if (!l.links || !l.nLinks) continue;
          const d = linkIndices(l.xy, l.links, l.nLinks)
            .map((k) => `M${r2(f.x(l.xy[2 * k]))} ${r2(f.y(l.xy[2 * k + 1]))}L${r2(f.x(l.links![2 * k]))} ${r2(f.y(l.links![2 * k + 1]))}`).join('');
          const path = doc.createElementNS('http://www.w3.org/2000/svg', 'path');
          path.setAttribute('d', d);
          path.setAttribute('stroke', l.color);
          path.setAttribute('stroke-opacity', '0.45');
          path.setAttribute('stroke-width', '0.8');
          path.setAttribute('fill', 'none');
          path.setAttribute('data-name', `${l.name} links`);
          g.appendChild(path);
        }
        for (const l of this.layers) {
          const lg = doc.createElementNS('http://www.w3.org/2000/svg', 'g');
          lg.setAttribute('fill', l.color);
          lg.setAttribute('fill-opacity', String(l.opacity));
          lg.setAttribute('data-name', l.name);
          for (let k = 0; k < count(l.xy); k++) {
            const px = f.x(l.xy[2 * k]), py = f.y(l.xy[2 * k + 1]);
            if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
            const c = doc.createElementNS('http://www.w3.org/2000/svg', 'circle');
            c.setAttribute('cx', String(r2(px))); c.setAttribute('cy', String(r2(py))); c.setAttribute('r', String(l.radius));
            lg.appendChild(c);
          }
          g.appendChild(lg);
        }
      }
      : undefined;
    return f.exportSvg({ vector });
  }

  destroy(): void { this.frame.destroy(); }
}

/** A view that small multiples can hold. */
export interface Updatable<D> { update(data: D): void; exportSvg?(): string; destroy?(): void; }

/** One panel: its title and the data for its view. */
export interface Panel<D> { title: string; data: D; }

/**
 * Small multiples: a CSS grid of titled cells, one view per panel, created on demand by `create` and
 * re-used across updates (keyed by position). Container data-testid is settable (default
 * "small-multiples"); each cell has data-testid="panel" and data-title.
 */
export class SmallMultiples<D, V extends Updatable<D>> {
  readonly root: HTMLDivElement;
  private views: V[] = [];

  constructor(
    parent: HTMLElement,
    private readonly create: (cell: HTMLElement, index: number) => V,
    readonly options: { maxCols?: number; testid?: string; gap?: number } = {},
  ) {
    this.root = parent.ownerDocument.createElement('div');
    this.root.dataset.testid = options.testid ?? 'small-multiples';
    Object.assign(this.root.style, { display: 'grid', gap: `${options.gap ?? 8}px`, alignItems: 'start' });
    parent.appendChild(this.root);
  }

  update(panels: Panel<D>[]): void {
    const { cols } = gridShape(panels.length, this.options.maxCols ?? 4);
    this.root.style.gridTemplateColumns = `repeat(${cols}, max-content)`;
    const cells = d3.select(this.root).selectAll<HTMLDivElement, Panel<D>>('div.panel')
      .data(panels)
      .join((enter) => {
        const c = enter.append('div').attr('class', 'panel').attr('data-testid', 'panel');
        // the figure sets the column's width; a long title wraps to it instead of widening the grid past the page
        c.append('div').attr('class', 'panel-title').style('font', 'bold 12px sans-serif').style('margin', '0 0 2px 4px')
          .style('width', '0').style('min-width', 'calc(100% - 4px)');
        return c;
      });
    this.views.splice(panels.length).forEach((v) => v.destroy?.());
    cells.attr('data-title', (p) => p.title);
    cells.select('div.panel-title').text((p) => p.title);
    cells.each((p, i, nodes) => {
      const cell = nodes[i];
      if (!this.views[i]) this.views[i] = this.create(cell, i);
      this.views[i].update(p.data);
    });
  }

  /** the views, in panel order */
  get items(): readonly V[] { return this.views; }

  /** The whole grid as one SVG figure (each panel's own export under its title). */
  exportSvg(): string {
    const titles = Array.from(this.root.querySelectorAll<HTMLElement>(':scope > div.panel'), (c) => c.dataset.title ?? '');
    const panels = this.views.map((v, i) => {
      if (!v.exportSvg) throw new Error('SmallMultiples.exportSvg: a panel cannot export');
      return { title: titles[i] ?? '', svg: v.exportSvg() };
    });
    if (panels.length === 0) throw new Error('nothing to export yet');
    return composeSvgGrid(panels, gridShape(panels.length, this.options.maxCols ?? 4).cols, { gap: this.options.gap ?? 8 });
  }

  destroy(): void { this.views.forEach((v) => v.destroy?.()); this.root.remove(); }
}

/** Small multiples of ScatterViews (each cell 240 px square unless `scatter` says otherwise). */
export function scatterGrid(parent: HTMLElement, o: { maxCols?: number; testid?: string; scatter?: ScatterOptions } = {}) {
  return new SmallMultiples<ScatterLayer[], ScatterView>(
    parent,
    (cell) => new ScatterView(cell, { width: 240, height: 240, testid: 'samples-plot', ...o.scatter }),
    { maxCols: o.maxCols, testid: o.testid },
  );
}

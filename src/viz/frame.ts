/**
 * PlotFrame: the shared scaffold of the 2-D D3 views — a positioned <div> holding a <canvas> layer (for
 * many points or a heat map) under an <svg> layer (axes, paths, markers), fixed square-ish data domain,
 * linear x/y scales (y up), and SVG export that folds the canvas into the SVG as an <image>.
 *
 * Input: options only (size, margins, domain, title, data-testid). Views draw into `plot` (an SVG <g>
 * clipped to the plot area) and `ctx` (the 2-D canvas context, already scaled for devicePixelRatio and
 * set to pixel coordinates of the whole frame).
 */
import * as d3 from 'd3';
import { svgToString } from './export.js';

export type Domain = [[number, number], [number, number]];
export const DEFAULT_DOMAIN: Domain = [[-4.5, 4.5], [-4.5, 4.5]];

export interface FrameOptions {
  /** outer size in px (default 360 × 360) */
  width?: number;
  height?: number;
  /** margins in px for axes and title (default 24 top, 10 right, 24 bottom, 30 left) */
  margin?: { top: number; right: number; bottom: number; left: number };
  /** data domain [[x0, x1], [y0, y1]] (default [-4.5, 4.5]²) */
  domain?: Domain;
  /** title drawn above the plot */
  title?: string;
  /** show tick axes (default true) */
  axes?: boolean;
  /** data-testid of the container div */
  testid?: string;
  /** whether to create a canvas layer (default true) */
  canvas?: boolean;
}

let clipCounter = 0;

export class PlotFrame {
  readonly root: HTMLDivElement;
  readonly svg: SVGSVGElement;
  readonly canvas?: HTMLCanvasElement;
  readonly ctx?: CanvasRenderingContext2D;
  /** clipped group in pixel coordinates of the frame, above the canvas */
  readonly plot: d3.Selection<SVGGElement, unknown, null, undefined>;
  readonly width: number;
  readonly height: number;
  readonly margin: { top: number; right: number; bottom: number; left: number };
  readonly x: d3.ScaleLinear<number, number>;
  readonly y: d3.ScaleLinear<number, number>;
  private readonly axesG: d3.Selection<SVGGElement, unknown, null, undefined>;
  private readonly titleT: d3.Selection<SVGTextElement, unknown, null, undefined>;
  private readonly showAxes: boolean;

  constructor(parent: HTMLElement, o: FrameOptions = {}) {
    this.width = o.width ?? 360;
    this.height = o.height ?? 360;
    this.margin = o.margin ?? { top: o.title ? 22 : 8, right: 10, bottom: o.axes === false ? 8 : 22, left: o.axes === false ? 8 : 30 };
    this.showAxes = o.axes !== false;
    const doc = parent.ownerDocument;
    this.root = doc.createElement('div');
    this.root.className = 'viz-frame';
    Object.assign(this.root.style, { position: 'relative', width: `${this.width}px`, height: `${this.height}px`, display: 'inline-block' });
    if (o.testid) this.root.dataset.testid = o.testid;
    parent.appendChild(this.root);

    if (o.canvas !== false) {
      const c = doc.createElement('canvas');
      const dpr = Math.max(1, Math.min(3, doc.defaultView?.devicePixelRatio ?? 1));
      c.width = Math.round(this.width * dpr);
      c.height = Math.round(this.height * dpr);
      Object.assign(c.style, { position: 'absolute', left: '0', top: '0', width: `${this.width}px`, height: `${this.height}px` });
      this.root.appendChild(c);
      const ctx = c.getContext('2d');
      if (ctx) { ctx.scale(dpr, dpr); this.ctx = ctx; }
      this.canvas = c;
    }

    const svg = d3.select(this.root).append('svg')
      .attr('width', this.width).attr('height', this.height)
      .attr('viewBox', `0 0 ${this.width} ${this.height}`)
      .attr('font-family', 'sans-serif').attr('font-size', 10)
      .style('position', 'absolute').style('left', '0').style('top', '0').style('overflow', 'visible');
    this.svg = svg.node()!;
    const m = this.margin;
    const clipId = `viz-clip-${++clipCounter}`;
    svg.append('defs').append('clipPath').attr('id', clipId).append('rect')
      .attr('x', m.left).attr('y', m.top).attr('width', this.width - m.left - m.right).attr('height', this.height - m.top - m.bottom);
    this.axesG = svg.append('g').attr('class', 'axes');
    this.plot = svg.append('g').attr('class', 'plot').attr('clip-path', `url(#${clipId})`);
    this.titleT = svg.append('text').attr('class', 'title').attr('x', m.left).attr('y', 14)
      .attr('font-size', 12).attr('font-weight', 'bold').attr('fill', 'currentColor').text(o.title ?? '');
    this.x = d3.scaleLinear().range([m.left, this.width - m.right]);
    this.y = d3.scaleLinear().range([this.height - m.bottom, m.top]);
    this.setDomain(o.domain ?? DEFAULT_DOMAIN);
  }

  /** sets the data domain and redraws the axes; views must redraw their marks afterwards */
  setDomain(d: Domain): void {
    this.x.domain(d[0]);
    this.y.domain(d[1]);
    this.axesG.selectAll('*').remove();
    if (!this.showAxes) return;
    const m = this.margin;
    this.axesG.append('g').attr('transform', `translate(0,${this.height - m.bottom})`).call(d3.axisBottom(this.x).ticks(5));
    this.axesG.append('g').attr('transform', `translate(${m.left},0)`).call(d3.axisLeft(this.y).ticks(5));
    this.axesG.append('rect').attr('x', m.left).attr('y', m.top)
      .attr('width', this.width - m.left - m.right).attr('height', this.height - m.top - m.bottom)
      .attr('fill', 'none').attr('stroke', '#ccc');
  }

  /** px added below the frame's `height` (e.g. a legend's band): the plot area and the scales stay */
  private band = 0;

  /** the frame's outer height: `height` and the band below it */
  get outerHeight(): number { return this.height + this.band; }

  /** Gives the frame a band of `px` below its `height` (a legend's own room, clear of the plot): the SVG and the box grow. */
  setBand(px: number): void {
    const b = Math.max(0, Math.ceil(px));
    if (b === this.band) return;
    this.band = b;
    const h = this.height + b;
    this.root.style.height = `${h}px`;
    this.svg.setAttribute('height', String(h));
    this.svg.setAttribute('viewBox', `0 0 ${this.width} ${h}`);
  }

  /**
   * Lays a legend out in its own band below the frame (the frame grows by it), never over the plot: its
   * entries (each a <g> with its mark left of a <text> whose `x` is where the name starts) left to right
   * from the plot's left edge, wrapping to a new row where the next would pass the frame's right edge.
   * Names are measured as drawn (their font from the page's style, e.g. presentation mode's 14 px) once
   * the frame is in a document, estimated from their length before that. No entries: no band.
   */
  legendBand(g: SVGGElement, entries: SVGGElement[]): void {
    if (!entries.length) { this.setBand(0); return; }
    g.setAttribute('transform', `translate(${this.margin.left},${this.height + 2})`);
    const measured = this.svg.isConnected;
    const sizes = entries.map((e) => {
      const t = e.querySelector('text');
      const px = t && measured ? parseFloat(getComputedStyle(t).fontSize) || 10 : 10;
      const w = t && measured ? t.getComputedTextLength() : (t?.textContent?.length ?? 0) * px * 0.6;
      return { w: Number(t?.getAttribute('x') ?? 0) + w, px };
    });
    const rowH = Math.max(13, Math.ceil(Math.max(...sizes.map((s) => s.px)) * 1.3));
    const maxX = this.width - this.margin.left - 4;
    let x = 0, row = 0;
    entries.forEach((e, i) => {
      if (x > 0 && x + sizes[i].w > maxX) { x = 0; row++; }
      e.setAttribute('transform', `translate(${Math.round(x * 100) / 100},${row * rowH + rowH - 3})`);
      x += sizes[i].w + 12;
    });
    this.setBand((row + 1) * rowH + 6);
  }

  get domain(): Domain { return [this.x.domain() as [number, number], this.y.domain() as [number, number]]; }

  setTitle(t: string): void { this.titleT.text(t); }

  /** clears the canvas layer */
  clearCanvas(): void {
    this.ctx?.clearRect(0, 0, this.width, this.height);
  }

  /** clips subsequent canvas drawing to the plot area (call between save() and restore()) */
  clipCanvas(): void {
    const ctx = this.ctx, m = this.margin;
    if (!ctx) return;
    ctx.beginPath();
    ctx.rect(m.left, m.top, this.width - m.left - m.right, this.height - m.top - m.bottom);
    ctx.clip();
  }

  /** affine coefficients of the scales, px = ax·x + bx and py = ay·y + by (fast loops over many points) */
  affine(): { ax: number; bx: number; ay: number; by: number } {
    const bx = this.x(0), by = this.y(0);
    return { ax: this.x(1) - bx, bx, ay: this.y(1) - by, by };
  }

  /** a translucent backdrop behind a legend group, sized to its contents (call after filling it) */
  static backdrop(g: SVGGElement): void {
    g.querySelector(':scope > rect.backdrop')?.remove();
    const b = g.getBBox();
    const r = g.ownerDocument.createElementNS('http://www.w3.org/2000/svg', 'rect');
    r.setAttribute('class', 'backdrop');
    for (const [k, v] of [['x', b.x - 3], ['y', b.y - 2], ['width', b.width + 6], ['height', b.height + 4], ['rx', 3]] as const) r.setAttribute(k, String(v));
    r.setAttribute('fill', 'white');
    r.setAttribute('fill-opacity', '0.75');
    g.insertBefore(r, g.firstChild);
  }

  /** pixel distance of a data length along x (for radii in data units) */
  dx(len: number): number { return Math.abs(this.x(len) - this.x(0)); }

  /**
   * Standalone SVG of the frame. The canvas layer is embedded as a PNG <image> below the marks unless
   * `vector` draws it as SVG into the given group instead (e.g. scatter points as circles).
   */
  exportSvg(o: { background?: string; vector?: (g: SVGGElement) => void } = {}): string {
    return svgToString(this.svg, {
      background: o.background ?? 'white',
      mutate: (clone) => {
        const doc = clone.ownerDocument;
        const g = doc.createElementNS('http://www.w3.org/2000/svg', 'g');
        const plot = clone.querySelector('g.plot');
        if (plot) g.setAttribute('clip-path', plot.getAttribute('clip-path') ?? '');
        if (o.vector) o.vector(g);
        else if (this.canvas && this.ctx) {
          const img = doc.createElementNS('http://www.w3.org/2000/svg', 'image');
          img.setAttribute('x', '0'); img.setAttribute('y', '0');
          img.setAttribute('width', String(this.width)); img.setAttribute('height', String(this.height));
          img.setAttribute('href', this.canvas.toDataURL('image/png'));
          g.appendChild(img);
        }
        if (g.childNodes.length) clone.insertBefore(g, plot ?? clone.firstChild);
      },
    });
  }

  destroy(): void { this.root.remove(); }
}

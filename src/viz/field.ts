/**
 * VelocityFieldView — a velocity field at one σ as arrows on a grid (SVG, data-testid="field-arrow" on
 * each), over an optional density heat map (canvas image layer). Container data-testid="field-plot".
 *
 * Input (`update`): FieldData —
 *   positions: [M·2] grid points (interleaved, or [x, y][])
 *   vectors:   [M·2] the vector at each point, drawn as given (pass the sampling displacement direction,
 *              −u for u = noise − x₀, or set `flip`)
 *   sigma?:    the σ shown in the title
 *   density?:  { nx, ny, values: [ny·nx] row-major, row j at increasing y, column i at increasing x,
 *                extent?: [[x0, x1], [y0, y1]] the cell-edge bounds (default: the plot domain) }
 * Arrow length: `scale: 'auto'` (default) draws the longest arrow 0.9 × grid spacing; a number multiplies
 * vectors by that factor (data units per unit of velocity), which keeps lengths comparable across σ.
 */
import * as d3 from 'd3';
import { PlotFrame, type Domain, type FrameOptions } from './frame.js';
import { arrowD, arrowScale, arrows, densityRGBA, gridSpacing, toXY, type Arrow, type Points } from './geometry.js';

export interface DensityGrid { nx: number; ny: number; values: ArrayLike<number>; extent?: Domain; }
export interface FieldData { positions: Points; vectors: Points; sigma?: number; density?: DensityGrid; }

export interface FieldOptions extends FrameOptions {
  /** 'auto' or a fixed factor (see header) */
  scale?: 'auto' | number;
  /** negate the vectors (draw −v) */
  flip?: boolean;
  /** arrow colour; 'magnitude' colours by |v| (default '#333') */
  color?: string | 'magnitude';
  /** heat-map colour map t ∈ [0, 1] → CSS colour (default d3.interpolateBlues) */
  colormap?: (t: number) => string;
  /** gamma for the heat map (default 0.6: brightens low densities) */
  gamma?: number;
}

export class VelocityFieldView {
  readonly frame: PlotFrame;
  private data?: FieldData;
  private lut: [number, number, number][];
  private readonly gArrows;
  /** the factor used for the last drawing (data units per unit of velocity) */
  scaleUsed = 0;

  constructor(parent: HTMLElement, readonly options: FieldOptions = {}) {
    this.frame = new PlotFrame(parent, { testid: 'field-plot', ...options });
    const cm = options.colormap ?? d3.interpolateBlues;
    this.lut = Array.from({ length: 256 }, (_, i) => {
      const c = d3.rgb(cm(i / 255));
      return [c.r, c.g, c.b] as [number, number, number];
    });
    this.gArrows = this.frame.plot.append('g').attr('class', 'arrows');
  }

  get element(): HTMLDivElement { return this.frame.root; }

  update(data: FieldData): void { this.data = data; this.draw(); }

  setDomain(d: Domain): void { this.frame.setDomain(d); this.draw(); }

  private draw(): void {
    const f = this.frame, data = this.data;
    if (!data) return;
    this.drawDensity(data.density);
    const pos = toXY(data.positions), vec = toXY(data.vectors);
    const o = this.options;
    const spacing = gridSpacing(pos);
    const scale = typeof o.scale === 'number' ? o.scale : arrowScale(vec, Number.isFinite(spacing) ? spacing : 1);
    this.scaleUsed = scale;
    const list = arrows(pos, vec, scale, o.flip);
    const maxMag = list.reduce((m, a) => Math.max(m, a.magnitude), 0);
    const color = (a: Arrow) => (o.color === 'magnitude' ? d3.interpolateInferno(0.15 + 0.7 * (maxMag > 0 ? a.magnitude / maxMag : 0)) : o.color ?? '#333');
    this.gArrows.selectAll<SVGPathElement, Arrow>('path.field-arrow')
      .data(list)
      .join((e) => e.append('path').attr('class', 'field-arrow').attr('data-testid', 'field-arrow')
        .attr('fill', 'none').attr('stroke-width', 1).attr('stroke-linecap', 'round'))
      .attr('stroke', color)
      .attr('d', (a) => arrowD(f.x(a.x1), f.y(a.y1), f.x(a.x2), f.y(a.y2)));
    f.setTitle(o.title ?? (data.sigma !== undefined ? `velocity at σ = ${data.sigma.toFixed(3)}` : ''));
  }

  private drawDensity(d?: DensityGrid): void {
    const f = this.frame, ctx = f.ctx;
    f.clearCanvas();
    if (!d || !ctx || d.nx < 1 || d.ny < 1) return;
    const rgba = densityRGBA(d.values, d.nx, d.ny, (t) => this.lut[Math.round(t * 255)], { gamma: this.options.gamma ?? 0.6 });
    const off = f.root.ownerDocument.createElement('canvas');
    off.width = d.nx;
    off.height = d.ny;
    const octx = off.getContext('2d');
    if (!octx) return;
    const img = octx.createImageData(d.nx, d.ny);
    img.data.set(rgba);
    octx.putImageData(img, 0, 0);
    const [[x0, x1], [y0, y1]] = d.extent ?? f.domain;
    ctx.save();
    f.clipCanvas();
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, f.x(x0), f.y(y1), f.x(x1) - f.x(x0), f.y(y0) - f.y(y1));
    ctx.restore();
  }

  exportSvg(): string { return this.frame.exportSvg(); }

  destroy(): void { this.frame.destroy(); }
}

/**
 * Image grids for the MNIST lesson: rows of grayscale images (e.g. "teacher, 32 Euler steps",
 * "student, 2 NFE"), each row labelled on the left, optional column titles (e.g. σ). One <svg> whose
 * rows are <image> elements (PNG data URLs drawn on a canvas with nearest-neighbour scaling), so the
 * SVG export carries the pixels exactly; PNG export rasterises that SVG. Pixel values in [−1, 1] map to
 * black … white (values outside are clipped). No tfjs here.
 */
import * as d3 from 'd3';
import { standaloneSvg, svgStringToPng } from './export.js';
import { PRESENT_EVENT } from './chart-layout.js';

export interface ImageRow {
  label: string;
  /** n images of size × size, row-major, concatenated: [n, size, size] */
  images: Float32Array;
}

export interface ImageGridData {
  rows: ImageRow[];
  /** titles above the columns (e.g. σ values) */
  columns?: string[];
}

export interface ImageGridOptions {
  /** pixels per image side (default 28 · scale) */
  size?: number;
  /** screen pixels per image pixel (default 2) */
  scale?: number;
  /** px for the row labels (default 150; widened to the longest label as drawn, e.g. in presentation mode's larger type) */
  labelWidth?: number;
  gap?: number;
  title?: string;
  testid?: string;
  /** images per row at most (default all) */
  maxColumns?: number;
}

/** Converts values in [−1, 1] to 8-bit gray (clipped; NaN → mid-red marker pixels are avoided: NaN → 0). */
export function toGray(v: number): number {
  if (!(v > -1)) return 0;
  if (v >= 1) return 255;
  return Math.round(((v + 1) / 2) * 255);
}

/** RGBA pixels of n images tiled in one row with `gap` px (at image scale 1) between them. */
export function tileRow(images: Float32Array, n: number, size: number, gap: number): { width: number; height: number; rgba: Uint8ClampedArray<ArrayBuffer> } {
  const width = n * size + Math.max(0, n - 1) * gap;
  const height = size;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const g = toGray(images[i * size * size + y * size + x]);
        const o = (y * width + i * (size + gap) + x) * 4;
        rgba[o] = g;
        rgba[o + 1] = g;
        rgba[o + 2] = g;
        rgba[o + 3] = 255;
      }
    }
  }
  return { width, height, rgba };
}

export class ImageGridView {
  readonly svg: SVGSVGElement;
  private readonly root: d3.Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly o: Required<Omit<ImageGridOptions, 'title' | 'testid' | 'maxColumns'>> & ImageGridOptions;
  private width = 0;
  private height = 0;
  private data: ImageGridData = { rows: [] };

  constructor(parent: HTMLElement, options: ImageGridOptions = {}) {
    this.o = { size: 28, scale: 2, labelWidth: 150, gap: 2, ...options };
    this.root = d3.select(parent).append('svg').attr('data-testid', options.testid ?? 'image-grid').attr('class', 'image-grid') as unknown as d3.Selection<SVGSVGElement, unknown, null, undefined>;
    this.svg = this.root.node()!;
    this.update({ rows: [] });
    // presentation mode's labels are larger: the label column follows
    parent.ownerDocument.addEventListener(PRESENT_EVENT, () => this.update(this.data));
  }

  /**
   * Draws the grid with the label column `labelWidth` wide, then, where a row label as drawn (its font
   * from the page's style) is longer, once more with the column wide enough for the longest.
   */
  update(data: ImageGridData): void {
    this.data = data;
    this.draw(data, this.o.labelWidth);
    if (!this.svg.isConnected) return;
    const texts = this.svg.querySelectorAll<SVGTextElement>('g[data-testid="image-row"] > text');
    const need = Math.ceil(Math.max(0, ...Array.from(texts, (t) => t.getComputedTextLength())) + 10);
    if (need > this.o.labelWidth) this.draw(data, need);
  }

  private draw(data: ImageGridData, labelWidth: number): void {
    const { size, scale, gap } = this.o;
    const side = size * scale;
    const titleH = this.o.title ? 18 : 0;
    const colH = data.columns?.length ? 14 : 0;
    const rowGap = 6;
    const nMax = Math.max(0, ...data.rows.map((r) => Math.min(r.images.length / (size * size), this.o.maxColumns ?? Infinity)));
    this.width = labelWidth + nMax * side + Math.max(0, nMax - 1) * gap * scale + 4;
    this.height = titleH + colH + data.rows.length * (side + rowGap) + 2;
    this.root.attr('width', this.width).attr('height', this.height).attr('viewBox', `0 0 ${this.width} ${this.height}`);
    this.root.selectAll('*').remove();
    this.root.append('rect').attr('width', this.width).attr('height', this.height).attr('fill', 'white');
    if (this.o.title) {
      this.root.append('text').attr('x', 2).attr('y', 13).attr('font-family', 'sans-serif').attr('font-size', 13).attr('font-weight', 'bold').text(this.o.title);
    }
    (data.columns ?? []).slice(0, nMax).forEach((c, i) => {
      this.root.append('text').attr('x', labelWidth + i * (side + gap * scale) + side / 2).attr('y', titleH + 11)
        .attr('text-anchor', 'middle').attr('font-family', 'sans-serif').attr('font-size', 10).attr('fill', '#444').text(c);
    });
    const doc = this.svg.ownerDocument;
    data.rows.forEach((row, r) => {
      const n = Math.min(Math.floor(row.images.length / (size * size)), this.o.maxColumns ?? Infinity);
      const y = titleH + colH + r * (side + rowGap);
      const g = this.root.append('g').attr('data-testid', 'image-row').attr('data-label', row.label).attr('data-count', n);
      g.append('text').attr('x', labelWidth - 6).attr('y', y + side / 2 + 4).attr('text-anchor', 'end')
        .attr('font-family', 'sans-serif').attr('font-size', 11).text(row.label);
      if (n === 0) return;
      const t = tileRow(row.images, n, size, gap);
      const canvas = doc.createElement('canvas');
      canvas.width = t.width;
      canvas.height = t.height;
      const ctx = canvas.getContext('2d');
      if (!ctx) return;
      ctx.putImageData(new ImageData(t.rgba, t.width, t.height), 0, 0);
      g.append('image').attr('x', labelWidth).attr('y', y).attr('width', t.width * scale).attr('height', t.height * scale)
        .attr('preserveAspectRatio', 'none').attr('style', 'image-rendering: pixelated').attr('href', canvas.toDataURL('image/png'));
    });
  }

  exportSvg(): string {
    return standaloneSvg(new XMLSerializer().serializeToString(this.svg), { width: this.width, height: this.height });
  }

  exportPng(): Promise<string> {
    return svgStringToPng(this.exportSvg(), this.width, this.height, 2);
  }

  destroy(): void {
    this.root.remove();
  }
}

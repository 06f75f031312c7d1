/**
 * The figure renderer behind `piflow figures` (web/figures/render.html): `window.renderFigure(spec)`
 * builds the notebooks' own views — SmallMultiples of ScatterView (scatter.ts), TrajectoryView
 * (trajectories.ts), PolicyInspector (policy-inspector.ts) and the MNIST notebook's ImageGridView
 * (images.ts) — from plain data (plus a minimal D3 line
 * over a scatter panel, e.g. a loss curve: the Plotly charts have no headless SVG export), exports each block with the views' `exportSvg()`, stacks the
 * blocks into one SVG (composeSvgGrid) and shows that SVG as an <img> in #figure-out, so that the
 * caller can take the PNG from an element screenshot of exactly what the SVG draws.
 *
 * Determinism: the views draw only the given data; the only ids in the output are the frames' clip
 * ids, which count up from 1 in a fresh page (the CLI opens a fresh page per figure). Scatter points
 * are exported as SVG circles (coordinates rounded to 0.01 px); a trajectory panel's data background
 * is embedded as the canvas's PNG.
 */
import * as d3 from 'd3';
import { SmallMultiples, ScatterView, type ScatterLayer } from './scatter.js';
import { TrajectoryView, type TrajectoryData } from './trajectories.js';
import { PolicyInspector, type PolicySnapshot } from './policy-inspector.js';
import { ImageGridView } from './images.js';
import { composeSvgGrid, svgSize } from './export.js';
import type { Domain } from './frame.js';

export interface FigureLayer {
  name: string;
  /** [n·2] interleaved */
  points: number[];
  color?: string;
  radius?: number;
  opacity?: number;
}

export interface ScatterPanelSpec {
  title: string;
  layers: FigureLayer[];
  /** data domain (default [-4.5, 4.5]²) */
  domain?: Domain;
  /** a title inside the frame (e.g. what the axes show) */
  frameTitle?: string;
  legend?: boolean;
  /** polylines over the points (e.g. a loss curve), drawn as SVG paths (data-testid="figure-line", data-name) */
  lines?: FigureLine[];
}

export interface FigureLine {
  name: string;
  /** [n·2] interleaved; non-finite entries break the line */
  points: number[];
  color?: string;
  width?: number;
}

export interface TrajectoryPanelSpec {
  title: string;
  teacher: { sigma: number[]; points: number[] }[];
  policy: { sigma: number[]; points: number[]; nfeIndices: number[] }[];
  background?: number[];
}

/** One PolicyInspector panel: a step's policy of one particle (plain arrays), x̂₀ highlighted at x0Path entry `index`. */
export interface InspectorPanelSpec {
  title: string;
  snapshot: PolicySnapshot;
  index: number;
  /** data domain (default [-4.5, 4.5]²) */
  domain?: Domain;
}

/** One labelled row of grayscale images (values in [-1, 1]) of an image block. */
export interface ImageRowSpec {
  label: string;
  /** [n · size · size] row-major */
  images: number[];
}

export type BlockSpec =
  | { kind: 'scatter'; title: string; maxCols: number; size?: number; panels: ScatterPanelSpec[] }
  | { kind: 'trajectories'; title: string; maxCols: number; size?: number; panels: TrajectoryPanelSpec[] }
  | { kind: 'inspector'; title: string; maxCols: number; size?: number; panels: InspectorPanelSpec[] }
  | { kind: 'images'; title: string; rows: ImageRowSpec[]; size?: number; scale?: number; labelWidth?: number };

export interface FigureSpec {
  name: string;
  blocks: BlockSpec[];
}

export interface RenderedFigure {
  svg: string;
  width: number;
  height: number;
}

function scatterBlock(parent: HTMLElement, b: Extract<BlockSpec, { kind: 'scatter' }>): string {
  const size = b.size ?? 240;
  const grid = new SmallMultiples<ScatterLayer[], ScatterView>(
    parent,
    (cell, i) => new ScatterView(cell, {
      width: size, height: size, testid: 'samples-plot', domain: b.panels[i].domain, title: b.panels[i].frameTitle,
      legend: b.panels[i].legend, vectorLimit: Infinity,
    }),
    { maxCols: b.maxCols, testid: 'figure-block' },
  );
  grid.update(b.panels.map((p) => ({ title: p.title, data: p.layers.map((l) => ({ ...l, points: Float32Array.from(l.points) })) })));
  b.panels.forEach((p, i) => { for (const l of p.lines ?? []) drawLine(grid.items[i], l); });
  return grid.exportSvg();
}

/** A minimal D3 line in a scatter view's plot layer (the Plotly charts have no headless SVG export). */
function drawLine(view: ScatterView, l: FigureLine): void {
  const f = view.frame;
  const xy: [number, number][] = [];
  for (let k = 0; k + 1 < l.points.length; k += 2) xy.push([l.points[k], l.points[k + 1]]);
  const line = d3.line<[number, number]>()
    .defined(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .x(([x]) => Math.round(f.x(x) * 100) / 100).y(([, y]) => Math.round(f.y(y) * 100) / 100);
  f.plot.append('path').attr('data-testid', 'figure-line').attr('data-name', l.name)
    .attr('d', line(xy) ?? '').attr('fill', 'none').attr('stroke', l.color ?? '#333').attr('stroke-width', l.width ?? 1.5);
}

function trajectoryBlock(parent: HTMLElement, b: Extract<BlockSpec, { kind: 'trajectories' }>): string {
  const size = b.size ?? 420;
  const grid = new SmallMultiples<TrajectoryData, TrajectoryView>(
    parent,
    (cell) => new TrajectoryView(cell, { width: size, height: size, controls: false }),
    { maxCols: b.maxCols, testid: 'figure-block' },
  );
  grid.update(b.panels.map((p) => ({
    title: p.title,
    data: {
      teacher: p.teacher.map((t) => ({ sigma: t.sigma, points: Float32Array.from(t.points) })),
      policy: p.policy.map((t) => ({ sigma: t.sigma, points: Float32Array.from(t.points), nfeIndices: t.nfeIndices })),
      background: p.background ? Float32Array.from(p.background) : undefined,
    },
  })));
  // the particles mark σ = 1 (the shared noise): at σ = 0 they would sit on the paths' ends
  for (const v of grid.items) v.setTime(1);
  return grid.exportSvg();
}

function inspectorBlock(parent: HTMLElement, b: Extract<BlockSpec, { kind: 'inspector' }>): string {
  const size = b.size ?? 320;
  const grid = new SmallMultiples<PolicySnapshot, PolicyInspector>(
    parent,
    (cell, i) => new PolicyInspector(cell, { width: size, height: size, domain: b.panels[i].domain }),
    { maxCols: b.maxCols, testid: 'figure-block' },
  );
  grid.update(b.panels.map((p) => ({ title: p.title, data: p.snapshot })));
  b.panels.forEach((p, i) => grid.items[i].setIndex(p.index, 0));
  return grid.exportSvg();
}

function imageBlock(parent: HTMLElement, b: Extract<BlockSpec, { kind: 'images' }>): string {
  const view = new ImageGridView(parent, { size: b.size ?? 28, scale: b.scale ?? 2, labelWidth: b.labelWidth ?? 200, testid: 'figure-block' });
  view.update({ rows: b.rows.map((r) => ({ label: r.label, images: Float32Array.from(r.images) })) });
  return view.exportSvg();
}

export async function renderFigure(spec: FigureSpec): Promise<RenderedFigure> {
  const views = document.getElementById('figure-views')!;
  const out = document.getElementById('figure-out')!;
  views.replaceChildren();
  out.replaceChildren();
  const blocks = spec.blocks.map((b) => {
    const host = document.createElement('div');
    views.appendChild(host);
    const svg = b.kind === 'scatter' ? scatterBlock(host, b)
      : b.kind === 'trajectories' ? trajectoryBlock(host, b)
        : b.kind === 'images' ? imageBlock(host, b) : inspectorBlock(host, b);
    return { title: b.title, svg };
  });
  if (blocks.length === 0) throw new Error(`figure ${spec.name}: no blocks`);
  const svg = composeSvgGrid(blocks, 1, { gap: 10 });
  const { width, height } = svgSize(svg);
  const img = document.createElement('img');
  img.width = width;
  img.height = height;
  img.alt = spec.name;
  img.dataset.testid = 'figure-image';
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
  out.appendChild(img);
  await img.decode();
  return { svg, width, height };
}

declare global {
  interface Window {
    renderFigure?: typeof renderFigure;
    figureRendererReady?: boolean;
  }
}

window.renderFigure = renderFigure;
window.figureRendererReady = true;

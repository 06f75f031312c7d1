/**
 * PolicyInspector — the network-free policy of one selected particle, in x₀-space.
 *
 * GMFlow: the K Gaussian components predicted at the particle's source step — each mean a filled circle
 * whose area ∝ its weight (data-testid="gm-component", data-weight), and a dashed one-σ ring of radius =
 * the shared std in x₀ units (std_x0 = exp(logstd)·σ_src for the u-space network output).
 * DX: the N x₀ grid points joined in order (data-testid="dx-point"; X₀ belongs to the segment end,
 * X_{N−1} to the source).
 * What is drawn follows the snapshot's `draw` (the family's registry entry, engine/policies.ts): 'mixture'
 * (GMFlow), 'points' (DX) or 'none' (the constant-velocity policy: only the paths below).
 * All: the posterior-mean x̂₀ along the substeps as a dashed path with dots (data-testid="x0-path"),
 * the current x̂₀ highlighted (data-testid="x0-current"); optionally the particle's own x_t path and a
 * line from the current x_t to x̂₀ (the direction the policy's velocity u = (x_t − x̂₀)/σ points away from).
 * A legend (data-testid="inspector-legend") in its own band below the x axis (the frame is LEGEND_BAND px
 * taller than `height`, so it never covers the marks) names the marks of the snapshot shown; the title is the
 * snapshot's label followed by the σ now highlighted ("step 1, σ_src = 1.00 · σ = 0.873"), so it follows
 * the scrubber.
 * Container data-testid="policy-inspector".
 *
 * Input (`update`): one PolicySnapshot or an array of them (one per NFE step, in order), or null:
 *   { draw: 'mixture', means: [K·2] (or [K][2]), weights: [K] (need not sum to 1), std: number, …base }
 *   { draw: 'points', points: [N·2], …base }
 *   { draw: 'none', …base }
 * base: x0Path: [S·2], sigma?: [S], xPath?: [S·2], label?: string, family?: string (the caption's name,
 *   e.g. 'GMFlow'), symbol?: string (the size's symbol, e.g. 'K')
 * `sigma` gives σ of each x0Path entry so that `setTime(σ)` (wired to the trajectory scrubber) picks the
 * snapshot whose σ range holds σ and highlights x̂₀ there; without it use `setIndex(j)`.
 */
import * as d3 from 'd3';
import { PRESENT_EVENT } from './chart-layout.js';
import { PlotFrame, type Domain, type FrameOptions } from './frame.js';
import { componentCircles, count, pointAtIndex, polylineD, dotsD, sigmaIndex, toXY, type ComponentCircle, type Points } from './geometry.js';

interface SnapshotBase { x0Path: Points; sigma?: ArrayLike<number>; xPath?: Points; label?: string; family?: string; symbol?: string; }
export interface MixtureSnapshot extends SnapshotBase { draw: 'mixture'; means: Points; weights: ArrayLike<number>; std: number; }
export interface PointsSnapshot extends SnapshotBase { draw: 'points'; points: Points; }
export interface PathOnlySnapshot extends SnapshotBase { draw: 'none'; }
export type PolicySnapshot = MixtureSnapshot | PointsSnapshot | PathOnlySnapshot;

export interface InspectorOptions extends FrameOptions {
  /** largest mean-marker radius in px (default 10) */
  maxRadius?: number;
  color?: string;
  /** the legend of the marks (default true) */
  legend?: boolean;
}

/**
 * Which snapshot holds σ: the first whose σ range [min, max] contains it, else the one with the nearest
 * end (−1 when there are none). Snapshots without σ count as containing nothing.
 */
export function snapshotAt(snaps: ReadonlyArray<{ sigma?: ArrayLike<number> }>, s: number): number {
  let best = -1, bestD = Infinity;
  snaps.forEach((sn, k) => {
    const sg = sn.sigma;
    if (!sg || sg.length === 0) return;
    const lo = Math.min(sg[0], sg[sg.length - 1]), hi = Math.max(sg[0], sg[sg.length - 1]);
    const d = s < lo ? lo - s : s > hi ? s - hi : 0;
    if (d < bestD) { bestD = d; best = k; }
  });
  return best;
}

/** The legend's band below the plot: four rows of 17 px and a little air (presentation mode's 14 px type fits). */
const LEGEND_BAND = 78;

export class PolicyInspector {
  readonly frame: PlotFrame;
  private snaps: PolicySnapshot[] = [];
  private active = -1;
  private index = 0;
  private readonly gPolicy; private readonly gPath; private readonly gCurrent;
  private readonly gLegend: d3.Selection<SVGGElement, unknown, null, undefined>;
  private legendKind = '';
  private baseTitle = '';
  private readonly color: string;

  constructor(parent: HTMLElement, readonly options: InspectorOptions = {}) {
    // the legend gets its own band below the x axis (LEGEND_BAND px, four rows), so it never covers the marks
    const band = options.legend === false ? 0 : LEGEND_BAND;
    const title = options.title ?? 'policy';
    const height = (options.height ?? 300) + band;
    const margin = options.margin ?? { top: title ? 22 : 8, right: 10, bottom: (options.axes === false ? 8 : 22) + band, left: options.axes === false ? 8 : 30 };
    this.frame = new PlotFrame(parent, { testid: 'policy-inspector', width: 300, canvas: false, ...options, title, height, margin });
    this.color = options.color ?? '#e8710a';
    const p = this.frame.plot;
    this.gPolicy = p.append('g').attr('class', 'policy');
    this.gPath = p.append('g').attr('class', 'paths');
    this.gCurrent = p.append('g').attr('class', 'current');
    const f = this.frame;
    this.gLegend = d3.select(f.svg).append('g').attr('class', 'legend').attr('data-testid', 'inspector-legend')
      .attr('transform', `translate(${f.margin.left + 6},${f.height - band + 6})`).style('pointer-events', 'none');
    this.drawLegend('none');
    parent.ownerDocument.addEventListener(PRESENT_EVENT, () => { const k = this.legendKind; this.legendKind = ''; this.drawLegend(k); });
  }

  /** the legend for what a snapshot draws ('mixture' | 'points' | 'none'; '' before any data) */
  private drawLegend(kind: string): void {
    if (kind === this.legendKind || this.options.legend === false) return;
    this.legendKind = kind;
    const g = this.gLegend;
    g.selectAll('*').remove();
    type Mark = 'disc' | 'ring' | 'x0' | 'xt' | 'dx';
    const items: [string, Mark][] = [];
    if (kind === 'mixture') items.push(['GM component (area ∝ weight)', 'disc'], ['one-σ ring', 'ring']);
    if (kind === 'points') items.push(['DX grid point (x₀ on the time grid)', 'dx']);
    items.push(['x̂₀ along the substeps', 'x0'], ['x_σ, the particle', 'xt']);
    items.forEach(([name, mark], i) => {
      const row = g.append('g').attr('class', 'legend-item').attr('transform', `translate(0,${i * 17 + 8})`);
      if (mark === 'disc') row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 4.5).attr('fill', '#7b3294');
      if (mark === 'ring') row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 5).attr('fill', 'none').attr('stroke', '#555').attr('stroke-dasharray', '3,3');
      if (mark === 'dx') row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 3.5).attr('fill', '#7b3294');
      if (mark === 'x0') {
        row.append('line').attr('x1', 0).attr('x2', 14).attr('y1', -3).attr('y2', -3).attr('stroke', '#222').attr('stroke-dasharray', '4,2');
        row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 3.5).attr('fill', '#111');
      }
      if (mark === 'xt') {
        row.append('line').attr('x1', 0).attr('x2', 14).attr('y1', -3).attr('y2', -3).attr('stroke', this.color).attr('stroke-width', 1.2);
        row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 3).attr('fill', this.color);
      }
      row.append('text').attr('x', 18).attr('fill', 'currentColor').text(name);
    });
    const node = g.node();
    if (node?.isConnected) PlotFrame.backdrop(node);
  }

  get element(): HTMLDivElement { return this.frame.root; }
  /** index of the snapshot shown (−1 when none) */
  get activeSnapshot(): number { return this.active; }

  update(data: PolicySnapshot | PolicySnapshot[] | null): void {
    this.snaps = data === null ? [] : Array.isArray(data) ? data : [data];
    this.active = this.snaps.length ? Math.min(Math.max(this.active, 0), this.snaps.length - 1) : -1;
    this.draw();
  }

  setDomain(d: Domain): void { this.frame.setDomain(d); this.draw(); }

  /** shows the snapshot holding σ and highlights x̂₀ at σ (needs `sigma` on the snapshots) */
  setTime(s: number): void {
    const k = snapshotAt(this.snaps, s);
    if (k < 0) return;
    const changed = k !== this.active;
    this.active = k;
    this.index = sigmaIndex(this.snaps[k].sigma!, s);
    if (changed) this.draw(); else this.drawCurrent();
  }

  /** highlights x0Path entry j (fractional allowed) of snapshot `snapshot` (default: the active one) */
  setIndex(j: number, snapshot = this.active): void {
    if (snapshot < 0 || snapshot >= this.snaps.length) return;
    const changed = snapshot !== this.active;
    this.active = snapshot;
    this.index = j;
    if (changed) this.draw(); else this.drawCurrent();
  }

  private draw(): void {
    const f = this.frame, sx = (v: number) => f.x(v), sy = (v: number) => f.y(v);
    const sn = this.active >= 0 ? this.snaps[this.active] : undefined;
    const circles: ComponentCircle[] = sn?.draw === 'mixture' ? componentCircles(sn.means, sn.weights, sn.std, this.options.maxRadius ?? 10) : [];
    const comps = this.gPolicy.selectAll<SVGGElement, ComponentCircle>('g.gm-component')
      .data(circles, (c) => c.k)
      .join((e) => {
        const g = e.append('g').attr('class', 'gm-component').attr('data-testid', 'gm-component');
        g.append('circle').attr('class', 'std-ring').attr('fill', 'none').attr('stroke', '#555').attr('stroke-dasharray', '3,3').attr('stroke-width', 0.8);
        g.append('circle').attr('class', 'mean').attr('fill', '#7b3294').attr('stroke', 'white').attr('stroke-width', 0.6);
        return g;
      })
      .attr('data-weight', (c) => c.weight.toFixed(4));
    comps.select('circle.std-ring').attr('cx', (c: ComponentCircle) => f.x(c.cx)).attr('cy', (c: ComponentCircle) => f.y(c.cy))
      .attr('r', (c: ComponentCircle) => f.dx(c.stdR)).attr('stroke-opacity', (c: ComponentCircle) => 0.25 + 0.75 * Math.sqrt(c.weight));
    comps.select('circle.mean').attr('cx', (c: ComponentCircle) => f.x(c.cx)).attr('cy', (c: ComponentCircle) => f.y(c.cy))
      .attr('r', (c: ComponentCircle) => c.r).attr('fill-opacity', (c: ComponentCircle) => 0.35 + 0.65 * Math.sqrt(c.weight));

    const dx = sn?.draw === 'points' ? toXY(sn.points) : new Float32Array(0);
    this.gPolicy.selectAll<SVGPathElement, Float32Array>('path.dx-grid')
      .data(sn?.draw === 'points' ? [dx] : [])
      .join((e) => e.append('path').attr('class', 'dx-grid').attr('fill', 'none').attr('stroke', '#7b3294').attr('stroke-width', 1.2))
      .attr('d', (d) => polylineD(d, sx, sy));
    this.gPolicy.selectAll<SVGCircleElement, number>('circle.dx-point')
      .data(Array.from({ length: count(dx) }, (_, n) => n))
      .join((e) => e.append('circle').attr('class', 'dx-point').attr('data-testid', 'dx-point').attr('r', 3.5)
        .attr('fill', '#7b3294').attr('stroke', 'white').attr('stroke-width', 0.6))
      .attr('data-n', (n) => n)
      .attr('fill-opacity', (n) => 0.4 + (0.6 * (n + 1)) / Math.max(count(dx), 1))
      .attr('cx', (n) => f.x(dx[2 * n])).attr('cy', (n) => f.y(dx[2 * n + 1]));

    const x0 = sn ? toXY(sn.x0Path) : new Float32Array(0);
    const xt = sn?.xPath ? toXY(sn.xPath) : new Float32Array(0);
    const paths: { cls: string; d: string; stroke: string; width: number; dash?: string; cap?: string }[] = sn ? [
      { cls: 'xt-path', d: polylineD(xt, sx, sy), stroke: this.color, width: 1.2 },
      { cls: 'x0-path', d: polylineD(x0, sx, sy), stroke: '#222', width: 1, dash: '4,2' },
      { cls: 'x0-dots', d: dotsD(x0, sx, sy), stroke: '#222', width: 2.4, cap: 'round' },
    ] : [];
    this.gPath.selectAll<SVGPathElement, (typeof paths)[number]>('path')
      .data(paths, (p) => p.cls)
      .join((e) => e.append('path').attr('fill', 'none'))
      .attr('class', (p) => p.cls).attr('data-testid', (p) => (p.cls === 'x0-path' ? 'x0-path' : null))
      .attr('d', (p) => p.d).attr('stroke', (p) => p.stroke).attr('stroke-width', (p) => p.width)
      .attr('stroke-dasharray', (p) => p.dash ?? null).attr('stroke-linecap', (p) => p.cap ?? null)
      .attr('stroke-opacity', (p) => (p.cls === 'x0-dots' ? 0.5 : 0.9));
    const kind = !sn ? 'no particle selected'
      : sn.draw === 'mixture' ? `${sn.family ?? 'GMFlow'}, ${sn.symbol ?? 'K'} = ${circles.length}`
      : sn.draw === 'points' ? `${sn.family ?? 'DX'}, ${sn.symbol ?? 'N'} = ${count(dx)}`
      : sn.family ?? 'policy';
    this.baseTitle = sn?.label ?? (this.snaps.length > 1 ? `${kind} · step ${this.active + 1}/${this.snaps.length}` : kind);
    this.drawLegend(sn ? sn.draw : 'none');
    this.drawCurrent();
  }

  private drawCurrent(): void {
    const f = this.frame;
    const sn = this.active >= 0 ? this.snaps[this.active] : undefined;
    const x0 = sn ? toXY(sn.x0Path) : undefined;
    const xt = sn?.xPath ? toXY(sn.xPath) : undefined;
    const p0 = x0 && count(x0) ? pointAtIndex(x0, this.index) : undefined;
    // the title follows the highlighted state: the snapshot's label, then σ there
    const sg = sn?.sigma;
    let sigma = NaN;
    if (sg && sg.length) {
      const j = Math.min(Math.max(this.index, 0), sg.length - 1), j0 = Math.floor(j), j1 = Math.min(j0 + 1, sg.length - 1);
      sigma = sg[j0] + (j - j0) * (sg[j1] - sg[j0]);
    }
    f.setTitle(Number.isFinite(sigma) ? `${this.baseTitle} · σ = ${sigma.toFixed(3)}` : this.baseTitle);
    const pt = xt && count(xt) ? pointAtIndex(xt, this.index) : undefined;
    this.gCurrent.selectAll<SVGLineElement, [[number, number], [number, number]]>('line.xt-current')
      .data(p0 && pt ? [[pt, p0] as [[number, number], [number, number]]] : [])
      .join((e) => e.append('line').attr('class', 'xt-current').attr('data-testid', 'xt-current')
        .attr('stroke', this.color).attr('stroke-width', 1).attr('stroke-dasharray', '2,2'))
      .attr('x1', (d) => f.x(d[0][0])).attr('y1', (d) => f.y(d[0][1]))
      .attr('x2', (d) => f.x(d[1][0])).attr('y2', (d) => f.y(d[1][1]));
    const marks: { cls: string; p: [number, number]; fill: string; r: number }[] = [];
    if (pt) marks.push({ cls: 'xt-point', p: pt, fill: this.color, r: 4 });
    if (p0) marks.push({ cls: 'x0-current', p: p0, fill: '#111', r: 5 });
    this.gCurrent.selectAll<SVGCircleElement, (typeof marks)[number]>('circle')
      .data(marks.filter((m) => Number.isFinite(m.p[0]) && Number.isFinite(m.p[1])), (m) => m.cls)
      .join((e) => e.append('circle').attr('stroke', 'white').attr('stroke-width', 1.5))
      .attr('class', (m) => m.cls).attr('data-testid', (m) => m.cls)
      .attr('fill', (m) => m.fill).attr('r', (m) => m.r)
      .attr('cx', (m) => f.x(m.p[0])).attr('cy', (m) => f.y(m.p[1]));
  }

  exportSvg(): string { return this.frame.exportSvg(); }

  destroy(): void { this.frame.destroy(); }
}

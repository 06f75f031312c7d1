/**
 * TrajectoryView — teacher ODE paths and π-Flow policy paths from the same noise points, in x-space.
 *
 * Shows: each teacher path (dark blue, drawn wide enough to read under the policy's, data-testid="teacher-path"), each policy path (orange,
 * data-testid="policy-path") with its substeps as small dots (data-testid="policy-substeps") and every
 * network evaluation as a ringed marker (data-testid="nfe-marker"); optionally the data as a faint
 * canvas background. A time scrubber places a particle (data-testid="particle", data-kind teacher |
 * policy, data-index) on every path at σ; `play()` animates σ from 1 → 0 with requestAnimationFrame;
 * clicking a particle or a path selects that index and calls `onSelect(index)`. The <svg> carries
 * data-testid="trajectory-plot"; built-in controls (optional) are a play/pause button (data-testid
 * "play") and a range input (data-testid "time-slider", left = σ 1, right = σ 0). The legend
 * (data-testid="trajectory-legend") names what is drawn, in its own band below the x axis (the frame
 * grows by it), so it never covers a path or the data.
 *
 * Input (`update`): TrajectoryData —
 *   teacher: Path[]        one per noise point: { sigma: [T] (1 → 0), points: [T·2] interleaved x_t,
 *                          nfeIndices?: indices of the network evaluations (markers only if
 *                          `teacherMarkers`) }
 *   policy:  PolicyPath[]  same noise points, same order: { sigma: [S], points: [S·2] x_t at every
 *                          substep (source states included), nfeIndices: indices into sigma/points
 *                          where the student network was evaluated (the source of each NFE step) }
 *   background?: Points    data samples drawn faintly underneath
 * Teacher and policy path i must start from the same noise; `stepsToPaths` (geometry.ts) turns per-step
 * batch states ([B·2] per step) into this per-path shape.
 */
import * as d3 from 'd3';
import { PlotFrame, type Domain, type FrameOptions } from './frame.js';
import { PRESENT_EVENT } from './chart-layout.js';
import { count, dotsD, pointAtSigma, polylineD, toXY, type Points } from './geometry.js';

export interface Path {
  /** σ at each stored state, [T], monotone (1 → 0) */
  sigma: ArrayLike<number>;
  /** states x_t, [T·2] interleaved (or [x, y][]) */
  points: Points;
  /** indices of states where a network was evaluated */
  nfeIndices?: ArrayLike<number>;
}
export interface PolicyPath extends Path { nfeIndices: ArrayLike<number>; }
export interface TrajectoryData { teacher: Path[]; policy: PolicyPath[]; background?: Points; }

export interface TrajectoryOptions extends FrameOptions {
  /** called with the path index when a particle or path is clicked */
  onSelect?: (index: number) => void;
  /** called whenever σ changes (scrubbing, playing, setTime) */
  onTime?: (sigma: number) => void;
  /** play/pause button and σ slider below the plot (default true) */
  controls?: boolean;
  /** ms for a full 1 → 0 animation (default 4000) */
  duration?: number;
  /** restart at σ = 1 after reaching 0 while playing (default false) */
  loop?: boolean;
  /** mark teacher network evaluations too (default false: a 128-step teacher has 128 of them) */
  teacherMarkers?: boolean;
  /** colours */
  teacherColor?: string;
  policyColor?: string;
}

interface PathInfo { i: number; kind: 'teacher' | 'policy'; sigma: ArrayLike<number>; xy: Float32Array; nfe: number[]; }
interface Particle { i: number; kind: 'teacher' | 'policy'; x: number; y: number; }
interface Marker { i: number; k: number; kind: 'teacher' | 'policy'; x: number; y: number; sigma: number; }

export class TrajectoryView {
  readonly frame: PlotFrame;
  onSelect?: (index: number) => void;
  onTime?: (sigma: number) => void;
  private teacher: PathInfo[] = [];
  private policy: PathInfo[] = [];
  private background?: Float32Array;
  private sigma = 1;
  private selected: number | null = null;
  private raf = 0;
  private readonly gTeacher; private readonly gPolicy; private readonly gMarkers; private readonly gParticles;
  private readonly playBtn?: HTMLButtonElement;
  private readonly slider?: HTMLInputElement;
  private readonly label?: HTMLSpanElement;
  private readonly tColor: string;
  private readonly pColor: string;

  constructor(parent: HTMLElement, readonly options: TrajectoryOptions = {}) {
    const wrap = parent.ownerDocument.createElement('div');
    wrap.className = 'trajectory-view';
    parent.appendChild(wrap);
    this.frame = new PlotFrame(wrap, { width: 420, height: 420, ...options });
    this.frame.svg.setAttribute('data-testid', 'trajectory-plot');
    this.onSelect = options.onSelect;
    this.onTime = options.onTime;
    this.tColor = options.teacherColor ?? '#1a56a6';
    this.pColor = options.policyColor ?? '#e8710a';
    const p = this.frame.plot;
    this.gTeacher = p.append('g').attr('class', 'teacher');
    this.gPolicy = p.append('g').attr('class', 'policy');
    this.gMarkers = p.append('g').attr('class', 'markers');
    this.gParticles = p.append('g').attr('class', 'particles');
    this.legend(false, false);
    // presentation mode changes the legend's type size: its rows follow
    parent.ownerDocument.addEventListener(PRESENT_EVENT, () => this.layoutLegend());
    if (options.controls !== false) {
      const doc = parent.ownerDocument;
      const bar = doc.createElement('div');
      Object.assign(bar.style, { display: 'flex', alignItems: 'center', gap: '8px', font: '12px sans-serif', width: `${this.frame.width}px` });
      this.playBtn = doc.createElement('button');
      this.playBtn.type = 'button';
      this.playBtn.dataset.testid = 'play';
      this.playBtn.textContent = '▶ Play';
      this.playBtn.addEventListener('click', () => (this.playing ? this.pause() : this.play()));
      this.slider = doc.createElement('input');
      this.slider.type = 'range';
      this.slider.min = '0'; this.slider.max = '1'; this.slider.step = '0.001';
      this.slider.dataset.testid = 'time-slider';
      this.slider.style.flex = '1';
      this.slider.setAttribute('aria-label', 'noise level σ (left 1, right 0)');
      this.slider.addEventListener('input', () => { this.pause(); this.setTime(1 - Number(this.slider!.value)); });
      this.label = doc.createElement('span');
      this.label.style.fontVariantNumeric = 'tabular-nums';
      bar.append(this.playBtn, this.slider, this.label);
      wrap.appendChild(bar);
    }
    this.setTime(1);
  }

  get element(): HTMLElement { return this.frame.root.parentElement as HTMLElement; }
  /** current σ of the scrubber */
  get time(): number { return this.sigma; }
  get playing(): boolean { return this.raf !== 0; }
  get selection(): number | null { return this.selected; }

  update(data: TrajectoryData): void {
    const info = (kind: 'teacher' | 'policy') => (p: Path, i: number): PathInfo => {
      const xy = toXY(p.points);
      if (p.sigma.length !== count(xy)) throw new Error(`TrajectoryView: ${kind} path ${i} has ${p.sigma.length} σ values for ${count(xy)} points`);
      return { i, kind, sigma: p.sigma, xy, nfe: p.nfeIndices ? Array.from(p.nfeIndices).filter((k) => k >= 0 && k < count(xy)) : [] };
    };
    this.teacher = data.teacher.map(info('teacher'));
    this.policy = data.policy.map(info('policy'));
    this.background = data.background ? toXY(data.background) : undefined;
    if (this.selected !== null && this.selected >= Math.max(this.teacher.length, this.policy.length)) this.selected = null;
    // the legend names what is drawn: no policy entries on a teacher-only view (flow matching)
    const marked = this.policy.some((p) => p.nfe.length > 0) || (!!this.options.teacherMarkers && this.teacher.some((p) => p.nfe.length > 0));
    this.legend(this.policy.length > 0, marked);
    this.draw();
  }

  setDomain(d: Domain): void { this.frame.setDomain(d); this.draw(); }

  /** places the particles at σ (clamped to [0, 1]) */
  setTime(sigma: number): void {
    this.sigma = Math.min(1, Math.max(0, Number.isFinite(sigma) ? sigma : 1));
    if (this.slider) this.slider.value = String(1 - this.sigma);
    if (this.label) this.label.textContent = `σ = ${this.sigma.toFixed(3)}`;
    this.drawParticles();
    this.onTime?.(this.sigma);
  }

  /** animates σ from the current value (or from 1 when at 0) down to 0 */
  play(): void {
    if (this.playing) return;
    const win = this.frame.root.ownerDocument.defaultView;
    if (!win) return;
    const duration = this.options.duration ?? 4000;
    let from = this.sigma <= 0 ? 1 : this.sigma;
    let t0 = -1;
    const tick = (now: number) => {
      if (t0 < 0) t0 = now;
      let s = from - (now - t0) / duration;
      if (s <= 0 && this.options.loop) { from = 1; t0 = now; s = 1; }
      this.setTime(s);
      if (s > 0 || this.options.loop) this.raf = win.requestAnimationFrame(tick);
      else this.stopped();
    };
    this.raf = win.requestAnimationFrame(tick);
    if (this.playBtn) this.playBtn.textContent = '❚❚ Pause';
  }

  pause(): void {
    if (!this.playing) return;
    this.frame.root.ownerDocument.defaultView?.cancelAnimationFrame(this.raf);
    this.stopped();
  }

  private stopped(): void {
    this.raf = 0;
    if (this.playBtn) this.playBtn.textContent = '▶ Play';
  }

  /** highlights path `index` (null clears) without calling onSelect */
  select(index: number | null): void {
    this.selected = index;
    this.styleSelection();
  }

  private pick(i: number): void {
    this.select(i);
    this.onSelect?.(i);
  }

  private draw(): void {
    const f = this.frame, sx = (v: number) => f.x(v), sy = (v: number) => f.y(v);
    f.clearCanvas();
    if (this.background && f.ctx) {
      const ctx = f.ctx, bg = this.background;
      ctx.save();
      f.clipCanvas();
      ctx.fillStyle = '#bdbdbd';
      ctx.globalAlpha = 0.35;
      const { ax, bx, ay, by } = f.affine();
      for (let k = 0; k < count(bg); k++) ctx.fillRect(ax * bg[2 * k] + bx - 1, ay * bg[2 * k + 1] + by - 1, 2, 2);
      ctx.restore();
    }
    this.gTeacher.selectAll<SVGPathElement, PathInfo>('path.teacher-path')
      .data(this.teacher, (d) => d.i)
      .join((e) => e.append('path').attr('class', 'teacher-path').attr('data-testid', 'teacher-path')
        .attr('fill', 'none').attr('stroke', this.tColor).attr('stroke-width', 1.8).attr('stroke-opacity', 0.9)
        .style('cursor', 'pointer').on('click', (_ev: Event, d: PathInfo) => this.pick(d.i)))
      .attr('data-index', (d) => d.i)
      .attr('d', (d) => polylineD(d.xy, sx, sy));

    const items = this.gPolicy.selectAll<SVGGElement, PathInfo>('g.policy-item')
      .data(this.policy, (d) => d.i)
      .join((e) => {
        const g = e.append('g').attr('class', 'policy-item');
        g.append('path').attr('class', 'policy-path').attr('data-testid', 'policy-path')
          .attr('fill', 'none').attr('stroke', this.pColor).attr('stroke-width', 1.3).attr('stroke-opacity', 0.85)
          .style('cursor', 'pointer').on('click', (_ev: Event, d: PathInfo) => this.pick(d.i));
        g.append('path').attr('class', 'policy-substeps').attr('data-testid', 'policy-substeps')
          .attr('fill', 'none').attr('stroke', this.pColor).attr('stroke-opacity', 0.45)
          .attr('stroke-width', 2.2).attr('stroke-linecap', 'round').style('pointer-events', 'none');
        return g;
      })
      .attr('data-index', (d) => d.i);
    items.select('path.policy-path').attr('data-index', (d: PathInfo) => d.i).attr('d', (d: PathInfo) => polylineD(d.xy, sx, sy));
    items.select('path.policy-substeps').attr('d', (d: PathInfo) => dotsD(d.xy, sx, sy));

    const markers: Marker[] = [];
    const addMarkers = (p: PathInfo) => p.nfe.forEach((j, k) => markers.push({ i: p.i, k, kind: p.kind, x: p.xy[2 * j], y: p.xy[2 * j + 1], sigma: p.sigma[j] }));
    this.policy.forEach(addMarkers);
    if (this.options.teacherMarkers) this.teacher.forEach(addMarkers);
    this.gMarkers.selectAll<SVGCircleElement, Marker>('circle.nfe-marker')
      .data(markers.filter((m) => Number.isFinite(m.x) && Number.isFinite(m.y)), (m) => `${m.kind}:${m.i}:${m.k}`)
      .join((e) => e.append('circle').attr('class', 'nfe-marker').attr('data-testid', 'nfe-marker')
        .attr('stroke-width', 1.2).style('pointer-events', 'none'))
      .attr('data-kind', (m) => m.kind).attr('data-index', (m) => m.i).attr('data-sigma', (m) => m.sigma.toFixed(4))
      .attr('r', (m) => (m.kind === 'policy' ? 3.2 : 2))
      .attr('fill', 'white').attr('stroke', (m) => (m.kind === 'policy' ? '#222' : this.tColor))
      .attr('cx', (m) => f.x(m.x)).attr('cy', (m) => f.y(m.y));
    this.drawParticles();
    this.styleSelection();
  }

  private drawParticles(): void {
    const f = this.frame;
    const parts: Particle[] = [];
    for (const p of [...this.teacher, ...this.policy]) {
      const [x, y] = pointAtSigma(p.sigma, p.xy, this.sigma);
      if (Number.isFinite(x) && Number.isFinite(y)) parts.push({ i: p.i, kind: p.kind, x, y });
    }
    this.gParticles.selectAll<SVGCircleElement, Particle>('circle.particle')
      .data(parts, (d) => `${d.kind}:${d.i}`)
      .join((e) => e.append('circle').attr('class', 'particle').attr('data-testid', 'particle')
        .attr('stroke', 'white').attr('stroke-width', 1).style('cursor', 'pointer')
        .on('click', (_ev: Event, d: Particle) => this.pick(d.i)))
      .attr('data-kind', (d) => d.kind).attr('data-index', (d) => d.i)
      .attr('fill', (d) => (d.kind === 'teacher' ? this.tColor : this.pColor))
      .attr('r', (d) => (d.i === this.selected ? 6 : 4.5))
      .attr('cx', (d) => f.x(d.x)).attr('cy', (d) => f.y(d.y));
  }

  private styleSelection(): void {
    const s = this.selected;
    const op = (i: number, on: number, off: number, base: number) => (s === null ? base : i === s ? on : off);
    this.gTeacher.selectAll<SVGPathElement, PathInfo>('path.teacher-path')
      .attr('stroke-opacity', (d) => op(d.i, 1, 0.6, 0.9)).attr('stroke-width', (d) => (d.i === s ? 2.8 : 1.8));
    this.gPolicy.selectAll<SVGGElement, PathInfo>('g.policy-item')
      .attr('opacity', (d) => op(d.i, 1, 0.25, 1))
      .classed('selected', (d) => d.i === s);
    this.gPolicy.selectAll<SVGPathElement, PathInfo>('path.policy-path').attr('stroke-width', (d) => (d.i === s ? 2.4 : 1.3));
    this.gMarkers.selectAll<SVGCircleElement, Marker>('circle.nfe-marker').attr('opacity', (m) => op(m.i, 1, 0.3, 1));
    this.gParticles.selectAll<SVGCircleElement, Particle>('circle.particle')
      .attr('r', (d) => (d.i === s ? 6 : 4.5)).attr('stroke', (d) => (d.i === s ? '#000' : 'white'));
    this.gParticles.selectAll<SVGCircleElement, Particle>('circle.particle').filter((d) => d.i === s).raise();
  }

  private legendKey = '';

  private legend(policy: boolean, markers: boolean): void {
    const f = this.frame;
    const items: [string, string, 'line' | 'marker'][] = [['teacher ODE', this.tColor, 'line']];
    if (policy) items.push(['policy', this.pColor, 'line']);
    if (markers) items.push(['network evaluation', '#222', 'marker']);
    const key = items.map((i) => i[0]).join('|');
    if (key === this.legendKey) return;
    this.legendKey = key;
    d3.select(f.svg).selectAll(':scope > g.legend').remove();
    const g = d3.select(f.svg).append('g').attr('class', 'legend').attr('data-testid', 'trajectory-legend').style('pointer-events', 'none');
    items.forEach(([name, color, kind]) => {
      const row = g.append('g').attr('class', 'legend-item');
      if (kind === 'line') row.append('line').attr('x1', 0).attr('x2', 14).attr('y1', -3).attr('y2', -3).attr('stroke', color).attr('stroke-width', 2);
      else row.append('circle').attr('cx', 7).attr('cy', -3).attr('r', 3.2).attr('fill', 'white').attr('stroke', color).attr('stroke-width', 1.2);
      row.append('text').attr('x', 18).attr('fill', 'currentColor').text(name);
    });
    this.layoutLegend();
  }

  /** the legend in its own band below the x axis (PlotFrame.legendBand): never over the paths or the data */
  private layoutLegend(): void {
    const g = this.frame.svg.querySelector<SVGGElement>(':scope > g.legend');
    if (g) this.frame.legendBand(g, Array.from(g.querySelectorAll<SVGGElement>(':scope > g.legend-item')));
  }

  exportSvg(): string { return this.frame.exportSvg(); }

  destroy(): void { this.pause(); this.element.remove(); }
}

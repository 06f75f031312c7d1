/**
 * ProgressView — a progress bar (data-testid="progress", role="progressbar") with iteration / total,
 * loss, iterations per second, time left and the loop's state in words ("paused", "done"). Child fields
 * carry data-testid progress-iter, progress-loss, progress-rate, progress-eta, progress-state; the root carries data-iteration, data-total, data-status.
 *
 * Input (`update`): ProgressState — plain numbers { iteration, total, loss?, itPerSec?, etaSec?,
 * status? }. When itPerSec / etaSec are missing they are estimated from successive updates
 * (RateMeter over wall-clock time, only while status is 'running' or unset).
 */
import { RateMeter, formatDuration, formatValue } from './geometry.js';

export interface ProgressState {
  iteration: number;
  total: number;
  loss?: number;
  itPerSec?: number;
  etaSec?: number;
  status?: 'idle' | 'running' | 'paused' | 'pausing' | 'done' | 'error';
  /** label before the numbers (e.g. "teacher", "π-ID") */
  label?: string;
}

/** The texts shown for a state (pure; the rate falls back to `est.rate`, the time left to (total − iteration) / rate). */
export function progressText(s: ProgressState, est: { rate?: number } = {}) {
  const total = Math.max(0, s.total);
  const it = Math.min(Math.max(0, s.iteration), total || Infinity);
  const fraction = total > 0 ? it / total : 0;
  const rate = s.itPerSec ?? est.rate ?? NaN;
  const eta = s.etaSec ?? (s.status === 'done' ? 0 : rate > 0 ? (total - it) / rate : NaN);
  return {
    fraction,
    iter: `${s.label ? `${s.label} ` : ''}${Math.round(it)} / ${Math.round(total)}`,
    loss: s.loss === undefined ? '' : `loss ${formatValue(s.loss)}`,
    rate: Number.isFinite(rate) ? `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} it/s` : '– it/s',
    eta: `${formatDuration(eta)} left`,
    /** the loop's state in words where it is not plainly running: 'pausing…' (asked, the step in flight finishes first), 'paused', 'done', 'error' */
    state: s.status === 'paused' ? 'paused' : s.status === 'pausing' ? 'pausing…' : s.status === 'done' ? 'done' : s.status === 'error' ? 'error' : '',
  };
}

export class ProgressView {
  readonly root: HTMLDivElement;
  private readonly fill: HTMLDivElement;
  private readonly fields: Record<'iter' | 'loss' | 'rate' | 'eta' | 'state', HTMLSpanElement>;
  private readonly meter = new RateMeter();
  private lastIter = -1;

  constructor(parent: HTMLElement, readonly options: { width?: number; color?: string; testid?: string } = {}) {
    const doc = parent.ownerDocument;
    this.root = doc.createElement('div');
    this.root.dataset.testid = options.testid ?? 'progress';
    this.root.setAttribute('role', 'progressbar');
    this.root.setAttribute('aria-valuemin', '0');
    Object.assign(this.root.style, { font: '12px sans-serif', width: `${options.width ?? 420}px` });
    const track = doc.createElement('div');
    Object.assign(track.style, { height: '8px', background: '#e6e6e6', borderRadius: '4px', overflow: 'hidden' });
    this.fill = doc.createElement('div');
    Object.assign(this.fill.style, { height: '100%', width: '0%', background: options.color ?? '#1f77b4', transition: 'width 80ms linear' });
    track.appendChild(this.fill);
    const line = doc.createElement('div');
    Object.assign(line.style, { display: 'flex', gap: '12px', marginTop: '3px', fontVariantNumeric: 'tabular-nums' });
    const span = (id: string) => { const s = doc.createElement('span'); s.dataset.testid = `progress-${id}`; line.appendChild(s); return s; };
    this.fields = { iter: span('iter'), loss: span('loss'), rate: span('rate'), eta: span('eta'), state: span('state') };
    this.fields.state.style.fontWeight = 'bold';
    this.root.append(track, line);
    parent.appendChild(this.root);
    this.update({ iteration: 0, total: 0, status: 'idle' });
  }

  get element(): HTMLDivElement { return this.root; }

  update(s: ProgressState): void {
    if (s.iteration < this.lastIter) this.meter.reset();
    this.lastIter = s.iteration;
    const now = typeof performance !== 'undefined' ? performance.now() : Date.now();
    const running = s.status === undefined || s.status === 'running' || s.status === 'pausing';
    if (!running) this.meter.rebase(); // a pause must not count as slow iterations
    else if (s.itPerSec === undefined) this.meter.update(s.iteration, now);
    const t = progressText(s, { rate: this.meter.rate });
    this.fill.style.width = `${(100 * t.fraction).toFixed(2)}%`;
    this.fill.style.background = s.status === 'error' ? '#d62728' : s.status === 'paused' || s.status === 'pausing' ? '#999' : this.options.color ?? '#1f77b4';
    this.fields.iter.textContent = t.iter;
    this.fields.loss.textContent = t.loss;
    this.fields.rate.textContent = t.rate;
    this.fields.eta.textContent = t.eta;
    this.fields.state.textContent = t.state;
    this.root.setAttribute('aria-valuemax', String(s.total));
    this.root.setAttribute('aria-valuenow', String(s.iteration));
    this.root.dataset.iteration = String(s.iteration);
    this.root.dataset.total = String(s.total);
    this.root.dataset.status = s.status ?? 'running';
  }

  destroy(): void { this.root.remove(); }
}

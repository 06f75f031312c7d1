/** One updating progress line on stderr: iteration, loss, iterations/s and time left. */
export class Progress {
  private start = performance.now();
  private lastPrint = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 1000,
  ) {}

  update(iter: number, loss: number, extra = ''): void {
    const now = performance.now();
    const done = iter >= this.total;
    if (!done && now - this.lastPrint < (this.tty ? 200 : this.everyMs)) return;
    this.lastPrint = now;
    const secs = (now - this.start) / 1000;
    const rate = iter / Math.max(secs, 1e-9);
    const left = rate > 0 ? (this.total - iter) / rate : Infinity;
    const line =
      `${this.label} ${String(iter).padStart(String(this.total).length)}/${this.total}` +
      `  loss ${loss.toPrecision(4)}  ${rate.toFixed(2)} it/s  left ${formatSecs(left)}${extra ? '  ' + extra : ''}`;
    if (this.tty) process.stderr.write(`\r${line}\x1b[K${done ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  }

  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }
}

export function formatSecs(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

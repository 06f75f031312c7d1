/**
 * DrawPad — draw your own 2D data with the mouse: click or drag on the square to add points (in data
 * coordinates, default [−4, 4]²), "Clear" to start again. `value` is the [n·2] point set; `input` fires
 * on every change. Plain DOM/SVG; no tfjs.
 */
export class DrawPad {
  readonly root: HTMLDivElement & { value: Float32Array };
  private points: number[] = [];
  private readonly svg: SVGSVGElement;
  private readonly size: number;
  private readonly extent: number;

  constructor(parent: HTMLElement, opts: { size?: number; extent?: number; testid?: string } = {}) {
    this.size = opts.size ?? 320;
    this.extent = opts.extent ?? 4;
    const root = document.createElement('div') as HTMLDivElement & { value: Float32Array };
    root.className = 'draw-pad';
    Object.defineProperty(root, 'value', { get: () => Float32Array.from(this.points) });
    const ns = 'http://www.w3.org/2000/svg';
    this.svg = document.createElementNS(ns, 'svg');
    this.svg.setAttribute('width', String(this.size));
    this.svg.setAttribute('height', String(this.size));
    this.svg.setAttribute('viewBox', `0 0 ${this.size} ${this.size}`);
    this.svg.dataset.testid = opts.testid ?? 'draw-pad';
    this.svg.style.border = '1px solid #bbb';
    this.svg.style.cursor = 'crosshair';
    this.svg.style.touchAction = 'none';
    let drawing = false;
    const add = (e: PointerEvent) => {
      const r = this.svg.getBoundingClientRect();
      const px = ((e.clientX - r.left) / r.width) * this.size;
      const py = ((e.clientY - r.top) / r.height) * this.size;
      const x = (px / this.size) * 2 * this.extent - this.extent;
      const y = this.extent - (py / this.size) * 2 * this.extent;
      this.points.push(x, y);
      const c = document.createElementNS(ns, 'circle');
      c.setAttribute('cx', px.toFixed(1));
      c.setAttribute('cy', py.toFixed(1));
      c.setAttribute('r', '2.5');
      c.setAttribute('fill', '#1f77b4');
      this.svg.append(c);
    };
    this.svg.addEventListener('pointerdown', (e) => {
      drawing = true;
      add(e);
    });
    this.svg.addEventListener('pointermove', (e) => {
      if (drawing && e.buttons) add(e);
    });
    const end = () => {
      if (!drawing) return;
      drawing = false;
      root.dispatchEvent(new Event('input'));
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointerleave', end);
    const clear = document.createElement('button');
    clear.type = 'button';
    clear.textContent = 'Clear';
    clear.dataset.testid = 'draw-clear';
    clear.addEventListener('click', () => {
      this.points = [];
      this.svg.replaceChildren();
      root.dispatchEvent(new Event('input'));
    });
    root.append(this.svg, clear);
    parent.append(root);
    this.root = root;
  }

  get count(): number {
    return this.points.length / 2;
  }
}

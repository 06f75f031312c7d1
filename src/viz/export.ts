/**
 * Figure export: D3 views → standalone SVG strings (inline styles, XML namespaces, explicit size);
 * Plotly charts → PNG data URLs (see charts.ts); downloads and export buttons.
 *
 * `standaloneSvg` works on markup strings and needs no DOM (tested in Node); `svgToString` clones a live
 * <svg>, inlines the computed values of the presentation properties that a stylesheet could have set, and
 * serialises it with XMLSerializer.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

/** Presentation properties copied from computed style into the exported markup. */
export const INLINE_PROPS = [
  'fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'stroke-linecap',
  'stroke-linejoin', 'opacity', 'font-family', 'font-size', 'font-weight', 'font-style', 'text-anchor',
  'dominant-baseline', 'visibility', 'display', 'color',
] as const;

/**
 * Makes SVG markup standalone: adds the SVG (and, when `xlink:` is used, XLink) namespace to the root, an
 * explicit width/height (and a viewBox when missing) when given, optionally a background rect, and an
 * XML declaration. Throws when the markup has no <svg> root.
 */
export function standaloneSvg(markup: string, o: { width?: number; height?: number; background?: string } = {}): string {
  const body = markup.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  const m = /^\s*<svg\b([^>]*?)(\/?)>/.exec(body);
  if (!m) throw new Error('standaloneSvg: markup does not start with an <svg> element');
  let attrs = m[1];
  const has = (name: string) => new RegExp(`\\s${name.replace(':', '\\:')}\\s*=`).test(attrs);
  const set = (name: string, value: string | number) => {
    const re = new RegExp(`(\\s${name})\\s*=\\s*("[^"]*"|'[^']*')`);
    attrs = re.test(attrs) ? attrs.replace(re, `$1="${value}"`) : `${attrs} ${name}="${value}"`;
  };
  if (!has('xmlns')) attrs = ` xmlns="${SVG_NS}"${attrs}`;
  if (/\sxlink:/.test(body) && !has('xmlns:xlink')) attrs += ` xmlns:xlink="${XLINK_NS}"`;
  if (o.width !== undefined) set('width', o.width);
  if (o.height !== undefined) set('height', o.height);
  if (o.width !== undefined && o.height !== undefined && !has('viewBox')) attrs += ` viewBox="0 0 ${o.width} ${o.height}"`;
  let rest = body.slice(m[0].length);
  let selfClosing = m[2];
  if (o.background) {
    const rect = `<rect x="0" y="0" width="100%" height="100%" fill="${escapeXml(o.background)}"/>`;
    if (selfClosing) { selfClosing = ''; rest = `${rect}</svg>`; } else rest = rect + rest;
  }
  return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg${attrs}${selfClosing}>${rest}`;
}

/** The width and height attributes of an SVG document's root (numbers; 0 when missing). */
export function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg\b([^>]*)>/.exec(svg);
  const attr = (name: string) => {
    const a = m && new RegExp(`\\s${name}\\s*=\\s*["']([\\d.]+)`).exec(m[1]);
    return a ? Number(a[1]) : 0;
  };
  return { width: attr('width'), height: attr('height') };
}

/**
 * Composes standalone SVG documents into one: a grid of `cols` columns, each cell its panel's title
 * (bold, 12 px) above the panel's SVG, nested as an <svg> element at its offset. For exporting small
 * multiples as one figure. Cells take the widest panel's width and each row its tallest panel's height.
 */
export function composeSvgGrid(panels: { title: string; svg: string }[], cols: number, o: { gap?: number; background?: string } = {}): string {
  const gap = o.gap ?? 8;
  const titleH = 18;
  const sizes = panels.map((p) => svgSize(p.svg));
  const cellW = Math.max(0, ...sizes.map((s) => s.width));
  const nCols = Math.max(1, Math.min(cols, panels.length));
  const rows = Math.ceil(panels.length / nCols);
  const rowH = Array.from({ length: rows }, (_, r) => titleH + Math.max(0, ...sizes.slice(r * nCols, (r + 1) * nCols).map((s) => s.height)));
  const width = nCols * cellW + (nCols + 1) * gap;
  const height = rowH.reduce((a, b) => a + b, 0) + (rows + 1) * gap;
  let y = gap;
  const parts: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < nCols && r * nCols + c < panels.length; c++) {
      const i = r * nCols + c;
      const x = gap + c * (cellW + gap);
      const inner = panels[i].svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '').replace(/^<svg\b/, `<svg x="${x}" y="${y + titleH}"`);
      parts.push(`<text x="${x + 4}" y="${y + 13}" font-family="sans-serif" font-size="12" font-weight="bold">${escapeXml(panels[i].title)}</text>`, inner);
    }
    y += rowH[r] + gap;
  }
  const bg = o.background ?? 'white';
  return standaloneSvg(`<svg><rect x="0" y="0" width="${width}" height="${height}" fill="${escapeXml(bg)}"/>${parts.join('')}</svg>`, { width, height });
}

/** Escapes text for use inside XML attribute values and text. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Builds a `style` attribute value from property/value pairs, skipping empty values. */
export function styleString(entries: Iterable<[string, string]>): string {
  const parts: string[] = [];
  for (const [k, v] of entries) if (v !== '' && v != null) parts.push(`${k}:${v}`);
  return parts.join(';');
}

/**
 * Serialises a live <svg> as a standalone SVG document string. Computed values of `INLINE_PROPS` are
 * inlined on every element of the clone (when the original is attached to a document), then `mutate`
 * may add content to the clone (e.g. a raster of a canvas layer, or vector marks) before serialisation.
 */
export function svgToString(
  svg: SVGSVGElement,
  o: { background?: string; mutate?: (clone: SVGSVGElement) => void } = {},
): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const view = svg.ownerDocument?.defaultView;
  if (view && svg.isConnected) {
    const src = [svg, ...Array.from(svg.querySelectorAll('*'))];
    const dst = [clone, ...Array.from(clone.querySelectorAll('*'))];
    for (let i = 0; i < src.length && i < dst.length; i++) {
      const cs = view.getComputedStyle(src[i]);
      const entries: [string, string][] = INLINE_PROPS.map((p) => [p, cs.getPropertyValue(p)]);
      const own = (dst[i] as SVGElement).getAttribute('style');
      (dst[i] as SVGElement).setAttribute('style', styleString(entries) + (own ? `;${own}` : ''));
    }
  }
  o.mutate?.(clone);
  const w = Number(svg.getAttribute('width')) || svg.clientWidth || undefined;
  const h = Number(svg.getAttribute('height')) || svg.clientHeight || undefined;
  const markup = new XMLSerializer().serializeToString(clone);
  return standaloneSvg(markup, { width: w, height: h, background: o.background });
}

/** Starts a browser download of `blob` as file `name`. */
export function downloadBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Downloads an SVG string (`name` gets a .svg suffix when missing). */
export function downloadSvg(name: string, svg: string): void {
  downloadBlob(name.endsWith('.svg') ? name : `${name}.svg`, new Blob([svg], { type: 'image/svg+xml;charset=utf-8' }));
}

/** Decodes a base64 data URL into a Blob. */
export function dataUrlToBlob(url: string): Blob {
  const m = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(url);
  if (!m) throw new Error('dataUrlToBlob: not a data URL');
  if (!m[2]) return new Blob([decodeURIComponent(m[3])], { type: m[1] });
  const bin = atob(m[3]);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: m[1] });
}

/** Downloads a PNG given as a data URL (`name` gets a .png suffix when missing). */
export function downloadPng(name: string, dataUrl: string): void {
  downloadBlob(name.endsWith('.png') ? name : `${name}.png`, dataUrlToBlob(dataUrl));
}

/** Rasterises an SVG string to a PNG data URL at `scale` × its size (for a PNG of a D3 view). */
export function svgStringToPng(svg: string, width: number, height: number, scale = 2): Promise<string> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml;charset=utf-8' }));
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = Math.round(width * scale);
      c.height = Math.round(height * scale);
      const ctx = c.getContext('2d');
      if (!ctx) { URL.revokeObjectURL(url); reject(new Error('svgStringToPng: no 2d context')); return; }
      ctx.drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(url);
      resolve(c.toDataURL('image/png'));
    };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('svgStringToPng: the SVG did not load')); };
    img.src = url;
  });
}

/** Anything that exports: D3 views implement `exportSvg`, Plotly charts `exportPng`. */
export interface Exportable {
  exportSvg?(): string;
  exportPng?(): Promise<string>;
}

/**
 * Adds "SVG" and/or "PNG" download buttons (data-testid `export-svg` / `export-png`) for a view to
 * `parent`; returns the wrapper element. File names are `name.svg` / `name.png`. Errors are reported
 * through `onError` (default: console.error) so a failed export never breaks the page.
 */
export function exportButtons(parent: HTMLElement, view: Exportable, name: string, onError: (e: unknown) => void = console.error): HTMLElement {
  const doc = parent.ownerDocument;
  const wrap = doc.createElement('span');
  wrap.className = 'export-buttons';
  const add = (label: string, testid: string, run: () => void | Promise<void>) => {
    const b = doc.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.title = `Download ${label}`;
    b.dataset.testid = testid;
    b.addEventListener('click', () => {
      try { Promise.resolve(run()).catch(onError); } catch (e) { onError(e); }
    });
    wrap.appendChild(b);
  };
  if (view.exportSvg) add('SVG', 'export-svg', () => downloadSvg(name, view.exportSvg!()));
  if (view.exportPng) add('PNG', 'export-png', async () => downloadPng(name, await view.exportPng!()));
  parent.appendChild(wrap);
  return wrap;
}

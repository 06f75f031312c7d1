/**
 * Tests for the DOM-free parts of src/viz: geometry (particle at σ, path data, arrows, component
 * circles, density pixels), EMA / rate / progress texts, snapshot choice in the policy inspector,
 * reference-line layout, and standalone SVG serialisation of markup strings. The DOM views themselves
 * are exercised in headless Chromium (no jsdom in Node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Ema, RateMeter, arrowD, arrowScale, arrows, componentCircles, count, densityRGBA, dotsD, ema, formatDuration,
  formatValue, gridShape, gridSpacing, pointAtIndex, pointAtSigma, polylineD, sigmaIndex, softmax, stepsToPaths, toXY,
} from '../src/viz/geometry.js';
import { tileRow, toGray } from '../src/viz/images.js';
import { fitDomain } from '../src/viz/geometry.js';
import { composeSvgGrid, dataUrlToBlob, escapeXml, standaloneSvg, styleString, svgSize } from '../src/viz/export.js';
import { progressText } from '../src/viz/progress.js';
import { snapshotAt } from '../src/viz/policy-inspector.js';
import { chartLayout, fontRelayout, PRESENT_SCALE, referenceLayout, titleRelayout, wrapTitle } from '../src/viz/chart-layout.js';
import { controlSpec, formatNumber, sliderValue } from '../src/viz/control-spec.js';
import { piflow2dSchema } from '../notebooks/schemas.js';
import { bool, checkInput, int, labelOf, num, numList, oneOf, str, type Prop } from '../src/runtime/url-state.js';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const id = (v: number) => v;

test('toXY accepts interleaved arrays and [x, y] pairs', () => {
  const f = new Float32Array([1, 2, 3, 4]);
  assert.equal(toXY(f), f);
  assert.deepEqual(Array.from(toXY([[1, 2], [3, 4]])), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(toXY([1, 2, 3, 4])), [1, 2, 3, 4]);
  assert.equal(count(toXY([])), 0);
});

test('sigmaIndex on a decreasing grid: ends, interior, exact hits, clamping', () => {
  const s = [1, 0.75, 0.5, 0.25, 0];
  assert.equal(sigmaIndex(s, 1), 0);
  assert.equal(sigmaIndex(s, 1.5), 0);
  assert.equal(sigmaIndex(s, 0), 4);
  assert.equal(sigmaIndex(s, -1), 4);
  assert.equal(sigmaIndex(s, 0.5), 2);
  close(sigmaIndex(s, 0.6), 1.6);
  close(sigmaIndex(s, 0.1), 3.6);
  assert.equal(sigmaIndex([0.3], 0.1), 0);
  assert.equal(sigmaIndex(s, NaN), 0);
});

test('sigmaIndex handles increasing grids and plateaus (frozen samples) at the earliest entry', () => {
  close(sigmaIndex([0, 0.5, 1], 0.25), 0.5);
  // a sample that finished early stays frozen at σ = 0.2
  const s = [1, 0.6, 0.2, 0.2, 0.2];
  assert.equal(sigmaIndex(s, 0.2), 2);
  assert.equal(sigmaIndex(s, 0.1), 4);
  close(sigmaIndex(s, 0.4), 1.5);
});

test('pointAtSigma interpolates the particle linearly between stored states', () => {
  const sigma = [1, 0.5, 0];
  const xy = new Float32Array([0, 0, 2, 4, 2, 8]);
  assert.deepEqual(pointAtSigma(sigma, xy, 1), [0, 0]);
  assert.deepEqual(pointAtSigma(sigma, xy, 0.75), [1, 2]);
  assert.deepEqual(pointAtSigma(sigma, xy, 0.25), [2, 6]);
  assert.deepEqual(pointAtSigma(sigma, xy, 0), [2, 8]);
  assert.deepEqual(pointAtSigma(sigma, xy, -3), [2, 8]);
  assert.deepEqual(pointAtIndex(new Float32Array([5, 6]), 3), [5, 6]);
  assert.ok(Number.isNaN(pointAtIndex(new Float32Array(0), 0)[0]));
});

test('stepsToPaths transposes per-step batches into per-path arrays (shared or per-sample σ)', () => {
  const states = [new Float32Array([0, 0, 10, 10]), new Float32Array([1, 1, 11, 11]), new Float32Array([2, 2, 12, 12])];
  const paths = stepsToPaths([1, 0.5, 0], states);
  assert.equal(paths.length, 2);
  assert.deepEqual(Array.from(paths[1].points), [10, 10, 11, 11, 12, 12]);
  assert.deepEqual(Array.from(paths[0].sigma), [1, 0.5, 0]);
  const per = stepsToPaths([[1, 1], [0.5, 0.4], [0, 0]], states);
  assert.deepEqual(Array.from(per[1].sigma), [1, 0.4, 0]);
  assert.throws(() => stepsToPaths([1], states), /σ entries/);
  assert.throws(() => stepsToPaths([1, 0], [states[0], new Float32Array(2)]), /expected 2/);
});

test('polylineD and dotsD: scaled path data, gaps at non-finite points, index subsets', () => {
  const xy = new Float32Array([0, 0, 1, 1, NaN, 0, 2, 2]);
  const sx = (v: number) => 10 * v, sy = (v: number) => 100 - 10 * v;
  assert.equal(polylineD(xy, sx, sy), 'M0,100L10,90M20,80');
  assert.equal(dotsD(xy, sx, sy, [0, 3]), 'M0,100h0M20,80h0');
  assert.equal(polylineD(new Float32Array([1 / 3, 0]), id, id), 'M0.33,0');
});

test('arrow scaling: the longest arrow spans 0.9 grid cells; flip negates; NaN vectors vanish', () => {
  const pos = new Float32Array([0, 0, 0.5, 0, 0, 0.5, 0.5, 0.5]);
  assert.equal(gridSpacing(pos), 0.5);
  assert.equal(gridSpacing(new Float32Array([1, 1])), Infinity);
  const vec = new Float32Array([3, 4, 0, 1, NaN, 0, 0, 0]);
  const s = arrowScale(vec, 0.5);
  close(s, 0.09);
  const a = arrows(pos, vec, s);
  close(Math.hypot(a[0].x2 - a[0].x1, a[0].y2 - a[0].y1), 0.45);
  assert.equal(a[0].magnitude, 5);
  assert.equal(a[2].x2, a[2].x1);
  const f = arrows(pos, vec, s, true);
  close(f[0].x2, -0.27);
  assert.equal(arrowScale(new Float32Array([0, 0, NaN, 1]), 1), 0);
});

test('arrowD draws shaft + V head, shrinks the head on short arrows, empty for zero length', () => {
  assert.equal(arrowD(0, 0, 0, 0), '');
  const d = arrowD(0, 0, 10, 0, 4);
  assert.match(d, /^M0,0L10,0M6,2L10,0L6,-2$/);
  const short = arrowD(0, 0, 5, 0, 4); // head limited to 40% of 5 = 2
  assert.match(short, /M3,1L5,0L3,-1$/);
});

test('componentCircles: area ∝ weight, normalised weights, std ring radius, heaviest drawn last', () => {
  const c = componentCircles([[0, 0], [1, 1], [2, 2]], [0.2, 0.8, 0], 0.3, 10, 1.5);
  assert.deepEqual(c.map((q) => q.k), [2, 0, 1]);
  const byK = Object.fromEntries(c.map((q) => [q.k, q]));
  close(byK[1].r, 10);
  close(byK[0].r, 5); // sqrt(0.2 / 0.8) = 0.5
  assert.equal(byK[2].r, 1.5);
  close(byK[0].weight + byK[1].weight + byK[2].weight, 1);
  assert.equal(byK[1].stdR, 0.3);
  assert.deepEqual([byK[1].cx, byK[1].cy], [1, 1]);
  // unnormalised, non-finite and all-zero weights
  const u = componentCircles(new Float32Array([0, 0, 1, 0]), [2, NaN], -1);
  assert.equal(u.find((q) => q.k === 0)!.weight, 1);
  assert.equal(u[0].stdR, 0);
  const z = componentCircles(new Float32Array([0, 0, 1, 0]), [0, 0], 1);
  close(z[0].weight, 0.5);
  const sm = softmax([0, Math.log(3)]);
  close(sm[0], 0.25); close(sm[1], 0.75);
  close(softmax([1000, 1000])[0], 0.5);
});

test('densityRGBA flips rows to image order, scales to [lo, hi], leaves non-finite cells clear', () => {
  const gray = (t: number): [number, number, number] => [Math.round(255 * t), 0, 0];
  // 2 × 2: row 0 (bottom) = [0, 1], row 1 (top) = [2, NaN]
  const px = densityRGBA([0, 1, 2, NaN], 2, 2, gray);
  // image row 0 is the top data row
  assert.deepEqual(Array.from(px.slice(0, 4)), [255, 0, 0, 255]);
  assert.deepEqual(Array.from(px.slice(4, 8)), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(px.slice(8, 12)), [0, 0, 0, 255]);
  assert.deepEqual(Array.from(px.slice(12, 16)), [128, 0, 0, 255]);
  const fixed = densityRGBA([5], 1, 1, gray, { lo: 0, hi: 10, alpha: 0.5 });
  assert.deepEqual(Array.from(fixed), [128, 0, 0, 128]);
  assert.throws(() => densityRGBA([1, 2, 3], 2, 2, gray), /2×2/);
});

test('Ema: bias-corrected, skips non-finite values, matches the series helper', () => {
  const e = new Ema(0.5);
  assert.ok(Number.isNaN(e.value));
  assert.equal(e.push(4), 4); // first value is unbiased
  close(e.push(2), (0.5 * 0.5 * 4 + 0.5 * 2) / (1 - 0.25));
  const before = e.value;
  assert.equal(e.push(NaN), before);
  assert.deepEqual(ema([4, 2, NaN], 0.5), [4, before, before]);
  assert.deepEqual(ema([1, 2, 3], 0), [1, 2, 3]);
  assert.throws(() => new Ema(1));
});

test('RateMeter and progress texts: it/s, time left, clamping, done state', () => {
  const m = new RateMeter(0, 250);
  assert.ok(Number.isNaN(m.update(0, 0)));
  assert.ok(Number.isNaN(m.update(10, 1))); // a burst 1 ms apart is not measured on its own
  assert.equal(m.update(50, 1000), 50);
  assert.equal(m.eta(150), 2);
  m.rebase(); // pause: the gap until the next update is not counted
  m.update(50, 60_000);
  assert.equal(m.update(75, 60_500), 50);
  const sm = new RateMeter(0.5, 0);
  sm.update(0, 0); sm.update(10, 1000); // 10 it/s
  assert.equal(sm.update(40, 2000), 20); // 0.5·10 + 0.5·30
  m.reset();
  assert.ok(Number.isNaN(m.rate));
  const t = progressText({ iteration: 50, total: 200, loss: 0.012345, label: 'teacher' }, { rate: 25 });
  assert.equal(t.iter, 'teacher 50 / 200');
  assert.equal(t.fraction, 0.25);
  assert.equal(t.loss, 'loss 0.01235');
  assert.equal(t.rate, '25.0 it/s');
  assert.equal(t.eta, '0:06 left');
  assert.equal(progressText({ iteration: 300, total: 200, status: 'done' }).fraction, 1);
  assert.equal(progressText({ iteration: 300, total: 200, status: 'done' }).eta, '0:00 left');
  assert.equal(progressText({ iteration: 0, total: 0 }).eta, '– left');
  assert.equal(progressText({ iteration: 1, total: 10, itPerSec: 250 }).rate, '250 it/s');
  assert.equal(formatDuration(3725), '1:02:05');
  assert.equal(formatValue(1.23456e-5), '1.235e-5');
  assert.equal(formatValue(NaN), 'NaN');
});

test('gridShape for small multiples', () => {
  assert.deepEqual(gridShape(3), { rows: 1, cols: 3 });
  assert.deepEqual(gridShape(7, 4), { rows: 2, cols: 4 });
  assert.deepEqual(gridShape(0), { rows: 1, cols: 1 });
});

test('snapshotAt picks the NFE step whose σ range holds σ, else the nearest', () => {
  const snaps = [{ sigma: [1, 0.75, 0.5] }, { sigma: [0.5, 0.25, 0] }, {}];
  assert.equal(snapshotAt(snaps, 0.9), 0);
  assert.equal(snapshotAt(snaps, 0.5), 0);
  assert.equal(snapshotAt(snaps, 0.3), 1);
  assert.equal(snapshotAt(snaps, -0.2), 1);
  assert.equal(snapshotAt([{}], 0.3), -1);
});

test('referenceLayout: one dashed paper-wide line and a label per finite reference', () => {
  const l = referenceLayout([{ name: 'teacher Euler-128', value: 0.034 }, { name: 'teacher Euler-2', value: 1.13, dash: 'dot' }, { name: 'bad', value: NaN }]);
  assert.equal(l.shapes.length, 2);
  assert.deepEqual([l.shapes[0].xref, l.shapes[0].x0, l.shapes[0].x1, l.shapes[0].y0, l.shapes[0].y1], ['paper', 0, 1, 0.034, 0.034]);
  assert.equal(l.shapes[1].line.dash, 'dot');
  assert.equal(l.annotations[1].text, 'teacher Euler-2');
  // on a log axis the labels go in log₁₀ units (Plotly's rule for annotations; shapes stay in data units)
  const g = referenceLayout([{ name: 'a', value: 0.01 }, { name: 'b', value: 100 }, { name: 'zero', value: 0 }], true);
  assert.deepEqual(g.shapes.map((s) => s.y0), [0.01, 100]);
  assert.deepEqual(g.annotations.map((a) => a.y), [-2, 2]);
  assert.deepEqual(l.annotations.map((a) => a.yanchor), ['bottom', 'bottom'], 'far apart: both labels above their lines');
  // close lines (precision 0.89 and 0.80): the lower label goes under its line, so the two do not overlap
  const c = referenceLayout([{ name: 'teacher, 128 Euler steps', value: 0.89 }, { name: 'teacher, 1 Euler step', value: 0.8 }]);
  assert.deepEqual(c.annotations.map((a) => a.yanchor), ['bottom', 'top']);
  const cl = referenceLayout([{ name: 'a', value: 0.1 }, { name: 'b', value: 0.12 }], true);
  assert.deepEqual(cl.annotations.map((a) => a.yanchor), ['top', 'bottom']);
});

test('chartLayout: title above the plot, legend below it, full-value log ticks, an empty state without axes', () => {
  const l = chartLayout({ title: 'π-ID loss', yTitle: 'loss', logY: true, height: 260 });
  assert.equal(l.title?.yref, 'container');
  assert.equal(l.title?.yanchor, 'top');
  assert.ok(l.legend.y < 0 && l.legend.yanchor === 'top', `legend below the plot area: y = ${l.legend.y}`);
  // 50 px below a plot area of about 260 − 30 − 80 px
  assert.ok(Math.abs(l.legend.y * (260 - 30 - 80) + 50) < 1e-9);
  assert.equal(l.yaxis.type, 'log');
  assert.equal((l.yaxis as { tickformat?: string }).tickformat, '~g', 'log ticks carry their full value');
  assert.equal((l.xaxis as { tickformat?: string }).tickformat, undefined, 'a linear axis keeps the default ticks');
  assert.equal(l.showlegend, true);
  assert.deepEqual(l.annotations, []);
  assert.equal(l.xaxis.visible, true);
  const e = chartLayout({ title: 'FD', empty: true, emptyText: 'press Measure' });
  assert.equal(e.xaxis.visible, false);
  assert.equal(e.yaxis.visible, false);
  assert.equal(e.showlegend, false);
  assert.equal(e.annotations[0].text, 'press Measure');
  // the empty state's text takes the layout's font size: 12 px, presentation mode's ≥ 14 px (and follows a toggle's relayout)
  assert.equal((e.annotations[0].font as { size?: number }).size, undefined);
  const ep = chartLayout({ title: 'FD', empty: true, emptyText: 'press Measure', scale: PRESENT_SCALE });
  assert.ok((ep.font as { size: number }).size >= 14, `presentation mode's font: ${JSON.stringify(ep.font)}`);
  assert.equal(chartLayout({ categoryX: true, logX: true }).xaxis.type, 'category');
  assert.equal(chartLayout({}).title, undefined);
});

test('standaloneSvg adds namespaces, size, viewBox, background and XML declaration', () => {
  const s = standaloneSvg('<svg width="10"><circle r="1" xlink:href="#a"/></svg>', { width: 300, height: 200, background: 'white' });
  assert.ok(s.startsWith('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.match(s, /xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink"/);
  assert.match(s, / width="300"/);
  assert.doesNotMatch(s, /width="10"/);
  assert.match(s, / height="200"/);
  assert.match(s, /viewBox="0 0 300 200"/);
  assert.match(s, /><rect x="0" y="0" width="100%" height="100%" fill="white"\/><circle/);
  // already standalone markup keeps its namespace and viewBox; no duplicate declaration
  const again = standaloneSvg(s, { width: 300, height: 200 });
  assert.equal((again.match(/<\?xml/g) ?? []).length, 1);
  assert.equal((again.match(/xmlns="/g) ?? []).length, 1);
  assert.equal((again.match(/viewBox=/g) ?? []).length, 1);
  // self-closing root with a background
  assert.match(standaloneSvg('<svg/>', { background: '#fff' }), /<svg xmlns="[^"]+"><rect [^>]+\/><\/svg>$/);
  assert.throws(() => standaloneSvg('<div></div>'), /<svg>/);
});

test('escapeXml, styleString, dataUrlToBlob', async () => {
  assert.equal(escapeXml(`a<b & "c"'`), 'a&lt;b &amp; &quot;c&quot;&apos;');
  assert.equal(styleString([['fill', 'red'], ['stroke', ''], ['opacity', '0.5']]), 'fill:red;opacity:0.5');
  const b = dataUrlToBlob('data:image/png;base64,AAEC');
  assert.equal(b.type, 'image/png');
  assert.deepEqual(Array.from(new Uint8Array(await b.arrayBuffer())), [0, 1, 2]);
  const t = dataUrlToBlob('data:image/svg+xml,%3Csvg%2F%3E');
  assert.equal(await t.text(), '<svg/>');
  assert.throws(() => dataUrlToBlob('nope'));
});

test('composeSvgGrid lays panels out in a titled grid as one standalone SVG', () => {
  const panel = (w: number, h: number, body: string) => standaloneSvg(`<svg>${body}</svg>`, { width: w, height: h });
  const panels = [
    { title: 'K = 1', svg: panel(100, 80, '<circle r="1"/>') },
    { title: 'K = 8 <best>', svg: panel(120, 60, '<rect width="2" height="2"/>') },
    { title: 'K = 32', svg: panel(100, 90, '<path d="M0 0"/>') },
  ];
  const out = composeSvgGrid(panels, 2, { gap: 10 });
  // 2 columns of the widest panel (120), 2 rows of their tallest panel + an 18 px title each
  assert.deepEqual(svgSize(out), { width: 2 * 120 + 3 * 10, height: (18 + 80) + (18 + 90) + 3 * 10 });
  assert.equal((out.match(/<\?xml/g) ?? []).length, 1, 'one XML declaration');
  assert.equal((out.match(/<svg\b/g) ?? []).length, 4, 'root + one nested svg per panel');
  assert.match(out, /<svg x="140" y="28" xmlns="http:\/\/www.w3.org\/2000\/svg" width="120" height="60"/);
  assert.match(out, /<svg x="10" y="136"/);
  assert.match(out, />K = 8 &lt;best&gt;<\/text>/);
  for (const m of ['<circle r="1"/>', '<rect width="2" height="2"/>', '<path d="M0 0"/>']) assert.ok(out.includes(m));
  const doc = new DOMParserish(out);
  assert.ok(doc.balanced, 'well-formed nesting');
});

/** A tiny tag-balance check (Node has no DOMParser): every opened element closes in order. */
class DOMParserish {
  balanced: boolean;
  constructor(xml: string) {
    const stack: string[] = [];
    let ok = true;
    for (const m of xml.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) ok = ok && stack.pop() === m[2];
      else stack.push(m[2]);
    }
    this.balanced = ok && stack.length === 0;
  }
}

test('image grids: values in [−1, 1] map to gray, clipped; rows tile with gaps', () => {
  assert.equal(toGray(-1), 0);
  assert.equal(toGray(1), 255);
  assert.equal(toGray(0), 128);
  assert.equal(toGray(-3), 0);
  assert.equal(toGray(7), 255);
  assert.equal(toGray(NaN), 0);
  const size = 2;
  const images = new Float32Array([-1, 1, 0, 1, /* second */ 1, 1, 1, -1]);
  const t = tileRow(images, 2, size, 1);
  assert.equal(t.width, 2 * 2 + 1);
  assert.equal(t.height, 2);
  const px = (x: number, y: number) => t.rgba[(y * t.width + x) * 4];
  assert.deepEqual([px(0, 0), px(1, 0), px(0, 1), px(1, 1)], [0, 255, 128, 255]);
  assert.equal(t.rgba[(0 * t.width + 2) * 4 + 3], 0, 'the gap stays transparent');
  assert.deepEqual([px(3, 0), px(4, 0), px(3, 1), px(4, 1)], [255, 255, 255, 0]);
});

test('fitDomain: a padded square around every finite point', () => {
  const d = fitDomain([new Float32Array([0, 0, 10, 2]), [4, -3, NaN, 100]], 0.1);
  // x span 10 ≥ y span 5: half = 5·1.2 = 6 around the centre (5, −0.5)
  assert.deepEqual(d.map((r) => r.map((v) => +v.toFixed(6))), [[-1, 11], [-6.5, 5.5]]);
  assert.deepEqual(fitDomain([[NaN, 1]]), [[-1, 1], [-1, 1]]);
});

test('controlSpec: a control from its URL-state property (label, test id, help, slider extent, step)', () => {
  const width = int(128, { min: 8, max: 512 }, 'teacher width', { label: 'Width', testid: 'teacher-width', help: 'hidden units per layer' });
  assert.deepEqual(controlSpec('width', width, 64), {
    key: 'width', label: 'Width', testid: 'teacher-width', help: 'hidden units per layer', kind: 'number', value: 64, integer: true,
    slider: { min: 8, max: 512, log: false, step: 1 },
  });
  // defaults: the description is the label and the help; the key is the test id
  const seed = int(0, { min: 0 }, 'seed');
  assert.deepEqual(controlSpec('seed', seed, 3), { key: 'seed', label: 'seed', testid: 'seed', help: 'seed', kind: 'number', value: 3, integer: true, slider: null }, 'no upper end: a field only');
  assert.equal(controlSpec('n', int(1), 1).label, 'n');
  assert.equal('help' in controlSpec('n', int(1), 1), false);
  // an open or exclusive lower end on a log slider takes the slider's own end
  const lr = num(2e-3, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate', { label: 'Learning rate', log: true, sliderMin: 1e-5 });
  assert.deepEqual(controlSpec('lr', lr, 2e-3).kind === 'number' && controlSpec('lr', lr, 2e-3), {
    key: 'lr', label: 'Learning rate', testid: 'lr', help: 'learning rate', kind: 'number', value: 2e-3, integer: false, slider: { min: 1e-5, max: 0.1, log: true },
  });
  assert.throws(() => controlSpec('lr', { ...lr, ui: { log: true } }, 1e-3), /log slider needs a lower end > 0/);
  assert.throws(() => controlSpec('x', num(0, { min: 1, max: 1 }), 1), /min < max/);
  // a linear slider steps by a hundredth of its extent unless told; integers always by 1, also on log scales
  const sigma = num(0.5, { min: 0, max: 1 }, 'σ', { step: 0.01 });
  assert.deepEqual(controlSpec('s', sigma, 0.5).kind === 'number' && (controlSpec('s', sigma, 0.5) as { slider: unknown }).slider, { min: 0, max: 1, log: false, step: 0.01 });
  assert.deepEqual((controlSpec('s', num(0, { min: 0, max: 2 }), 0) as { slider: unknown }).slider, { min: 0, max: 2, log: false, step: 0.02 });
  assert.deepEqual((controlSpec('b', int(1024, { min: 16, max: 8192 }, 'batch', { log: true }), 1024) as { slider: unknown }).slider, { min: 16, max: 8192, log: true, step: 1 });
  assert.equal((controlSpec('b', int(10, { min: 1, max: 100 }, 'steps', { control: 'field' }), 10) as { slider: unknown }).slider, null, 'a field on request');
  // enums: option labels and tooltips from the metadata, the value otherwise
  const ds = oneOf(['moons', 'draw', 'csv'], 'moons', 'data', { label: 'Data', options: { draw: 'draw your own', csv: ['CSV file', 'x,y rows'] } });
  assert.deepEqual(controlSpec('dataset', ds, 'csv'), {
    key: 'dataset', label: 'Data', testid: 'dataset', help: 'data', kind: 'select', value: 'csv',
    options: [['moons', 'moons'], ['draw', 'draw your own'], ['csv', 'CSV file', 'x,y rows']],
  });
  assert.deepEqual(controlSpec('f', bool(true, 'log-scale loss'), false), { key: 'f', label: 'log-scale loss', testid: 'f', help: 'log-scale loss', kind: 'toggle', value: false });
  assert.equal((controlSpec('v', numList([1, 4]), [1, 4, 8]) as { value: unknown }).value, '1,4,8');
  assert.equal(controlSpec('t', str('a'), 'b').kind, 'text');
  // the field's text and the slider's rounding
  assert.equal(formatNumber(0.0023456, false), '0.002346');
  assert.equal(formatNumber(1024, true), '1024');
  assert.equal(sliderValue(0.0023456, false), 0.00235);
  assert.equal(sliderValue(1023.6, true), 1024);
});

test("the notebooks' schema entries answer through checkInput with the controls' messages", () => {
  const k = piflow2dSchema.k;
  const lr = piflow2dSchema.lr;
  const check = (p: Prop, raw: string) => {
    const r = checkInput(p, raw, labelOf(p));
    return r.ok ? r.value : r.message;
  };
  assert.equal(check(k, '16'), 16);
  assert.equal(check(k, '0'), 'K: must be ≥ 1');
  assert.equal(check(k, '65'), 'K: must be ≤ 64');
  assert.equal(check(k, '1.5'), 'K: must be a whole number');
  assert.equal(check(k, ''), 'K: enter a number');
  assert.equal(check(lr, 'abc'), "Learning rate: 'abc' is not a number");
  assert.equal(check(lr, '0'), 'Learning rate: must be > 0');
  assert.equal(check(lr, '2e-4'), 2e-4);
  assert.equal(check(piflow2dSchema.seed, '1e6'), 1e6, 'open above');
});

test('chartLayout: presentation scale makes ticks at least 14 px and grows title and legend; scale 1 leaves the defaults', () => {
  const plain = chartLayout({ title: 'loss' });
  assert.equal('tickfont' in plain.xaxis, false);
  assert.equal(plain.legend.font.size, 10);
  const big = chartLayout({ title: 'loss', scale: PRESENT_SCALE }) as ReturnType<typeof chartLayout> & { xaxis: { tickfont: { size: number } }; yaxis: { tickfont: { size: number } } };
  assert.ok(big.xaxis.tickfont.size >= 14 && big.yaxis.tickfont.size >= 14);
  assert.ok(big.legend.font.size > 10 && big.title!.font.size > 13);
  assert.ok(fontRelayout(PRESENT_SCALE)['xaxis.tickfont.size'] >= 14);
  assert.equal(fontRelayout(1)['xaxis.tickfont.size'], 12);
});

test('metricDomain: pads around the finite values, leaves room above them for the legend, keeps a fixed axis', async () => {
  const { metricDomain } = await import('../src/viz/metric-domain.js');
  const layers = [{ points: [0.1, 0.9] }, { points: [1.8, 0.2] }, { points: [NaN, 5] }];
  const [[x0, x1], [y0, y1]] = metricDomain(layers, {}, 420);
  assert.ok(x0 < 0.1 && x1 > 1.8 && y0 < 0.2 && y1 > 0.9, 'every finite value inside');
  assert.ok(y1 - 0.9 > 0.2 - y0, 'more room above the values (the legend) than below');
  assert.ok(y1 < 5, 'a non-finite x drops its point');
  assert.deepEqual(metricDomain(layers, { y: [0, 1] })[1], [0, 1]);
});

test('wrapTitle: a long title breaks at spaces into balanced lines that fit the width, and the top margin grows with them', () => {
  const t = 'precision: share of samples inside the data (higher is better)';
  const one = wrapTitle('π-ID loss', 420, 16);
  assert.deepEqual([one.text, one.lines, one.top], ['π-ID loss', 1, 0]);
  const w = wrapTitle(t, 420, 16);
  const lines = w.text.split('<br>');
  assert.equal(w.lines, 2);
  assert.equal(lines.join(' '), t, 'every word kept, in order');
  assert.ok(lines.every((l) => l.length * 0.58 * 16 <= 420 - 16), `each line fits: ${lines}`);
  assert.ok(Math.abs(lines[0].length - lines[1].length) < 12, `balanced, no orphaned word: ${lines}`);
  assert.ok(w.top > 0);
  // chartLayout uses it: the title's lines, and a top margin one line taller
  const l = chartLayout({ title: t, width: 420, scale: PRESENT_SCALE });
  assert.equal(l.title?.text, w.text);
  assert.equal(l.margin.t, titleRelayout({ title: t, width: 420 }, PRESENT_SCALE)['margin.t']);
  assert.ok(l.margin.t > chartLayout({ title: 'loss', width: 420, scale: PRESENT_SCALE }).margin.t);
  // a wider chart needs fewer lines; a single long word stays whole
  assert.equal(wrapTitle(t, 900, 16).lines, 1);
  assert.equal(wrapTitle('x'.repeat(80), 200, 16).text, 'x'.repeat(80));
});

/**
 * src/viz: views that take plain data (numbers, Float32Arrays, arrays of objects) and produce DOM/SVG.
 * No tfjs here. D3 views have `update(data)` and `exportSvg()`; Plotly charts `exportPng()`.
 * (charts.js loads Plotly, which needs a browser; Node code should import the other modules directly.)
 */
export * from './geometry.js';
export * from './export.js';
export { PlotFrame, DEFAULT_DOMAIN, type Domain, type FrameOptions } from './frame.js';
export * from './scatter.js';
export * from './trajectories.js';
export * from './policy-inspector.js';
export * from './field.js';
export * from './charts.js';
export * from './progress.js';

/**
 * Notebook — Quality, diversity, fidelity: π-Flow vs the baselines. A shipped 2D teacher; π-Flow GMFlow
 * (π-ID), the constant-velocity policy (π-ID), shortcut regression and the DMD-style generator trained
 * side by side in the comparison worker (src/runtime/compare-lab.ts), round-robin, with the same seed,
 * batch and iteration budget. Live: one sample panel per sampler (the teacher's many-step and same-NFE
 * Euler as references), the metrics table, quality-vs-diversity and quality-vs-fidelity scatters, and
 * on demand each sample's segment to the teacher's sample from the same noise.
 */
import { schemaInputs } from '../src/viz/schema-controls.js';
import { scatterGrid, ScatterView, type ScatterLayer } from '../src/viz/scatter.js';
import { metricDomain } from '../src/viz/metric-domain.js';
import { LossChart, MetricChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { button } from '../src/viz/controls.js';
import { LabClient } from '../src/runtime/lab-client.js';
import type { CompareApi, CompareEvent } from '../src/runtime/compare-protocol.js';
import { COMPARE_METHODS, COMPARE_TITLES, type CompareConfig, type CompareMethod, type Evaluation, type SamplerRow } from '../src/runtime/compare-lab.js';
import { methodsSchema } from './schemas.js';
import { $, counter, messenger, openNotebook, presentation, startLab } from './common.js';
import { loopButtons, type LoopControls } from './loop-buttons.js';

type Client = LabClient<CompareApi, CompareEvent>;

export const schema = methodsSchema;
const { state, nb } = openNotebook(schema, 'race-message');
const note = messenger('race-message');
const teacherNote = messenger('teacher-message');

/** samples per sampler (one chunk: every sampler starts from the same noise) and their seed */
const COUNT = 2000;
const SAMPLE_SEED = 12345;
/** segments drawn per panel with the toggle on: enough to see the pairing, few enough to see the samples */
const LINKS = 300;

/** One colour per sampler, as in the methods-2d figure (src/cli/figures.ts). */
export const COLORS: Record<SamplerRow['id'], string> = {
  'teacher-many': '#3b75af', 'teacher-few': '#7fa6d0', gmflow: '#e8710a', constant: '#9467bd', shortcut: '#8c564b', dmd: '#d62728',
};

// ---- controls ----------------------------------------------------------------------------------
const rc = $('#race-controls');
const tc = $('#training-controls');
schemaInputs(nb, schema, state, { dataset: $('#teacher-controls'), nfe: rc, constant: rc, k: rc, iters: tc, batch: tc, lr: tc, dmdLr: tc, seed: tc, links: $('#links-control') });
const value = <T>(name: string) => nb.controls.get(name)!.value as T;
/** bumped every few seconds while training and whenever the race pauses, ends or is reset */
const liveVersion = nb.input('liveVersion', counter());

/** The race's settings from the controls. */
export function raceConfig(): Partial<CompareConfig> {
  return {
    methods: COMPARE_METHODS.filter((m) => m !== 'constant' || value<boolean>('constant')),
    nfe: value<number>('nfe'), iters: value<number>('iters'), batch: value<number>('batch'), lr: value<number>('lr'),
    dmdLr: value<number>('dmdLr'), k: value<number>('k'), seed: value<number>('seed'),
  };
}

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: true, title: "π-Flow GMFlow's π-ID loss", width: 420, height: 260 });
let w1Chart: MetricChart | null = null;
/** whether the W1 chart has its teacher reference lines */
let refsSet = false;
/** the sliced-W1 chart, one series per racing method (rebuilt for each race) */
function newW1Chart(methods: readonly CompareMethod[]): MetricChart {
  w1Chart?.destroy();
  refsSet = false;
  $('#w1').replaceChildren();
  w1Chart = new MetricChart($('#w1'), {
    title: 'sliced W1 to data while training (lower is better)', series: methods.map((m) => COMPARE_TITLES[m]), colors: methods.map((m) => COLORS[m]),
    xTitle: 'round (iterations of each method)', logY: true, width: 420, height: 260, testid: 'w1-plot',
  });
  return w1Chart;
}
newW1Chart(['gmflow']);
const grid = scatterGrid($('#samples'), { maxCols: 3, testid: 'method-panels', scatter: { width: 280, height: 280 } });
exportButtons($('#samples'), grid, 'methods-samples');
const diversity = new ScatterView($('#scatter-diversity'), { width: 380, height: 380, testid: 'scatter-diversity', title: 'x: log₁₀ sliced W1   y: mode entropy', vectorLimit: Infinity, legendCounts: false });
const fidelity = new ScatterView($('#scatter-fidelity'), { width: 380, height: 380, testid: 'scatter-fidelity', title: 'x: log₁₀ sliced W1   y: distance to teacher', vectorLimit: Infinity, legendCounts: false });
exportButtons($('#scatter-diversity'), diversity, 'quality-vs-diversity');
exportButtons($('#scatter-fidelity'), fidelity, 'quality-vs-fidelity');

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(digits)) : '–');
const nfeText = (n: number) => `${n} NFE`;
const label = (r: SamplerRow) => `${r.title}${r.id.startsWith('teacher') ? '' : `, ${nfeText(r.nfe)}`}`;

/** The metrics table: one row per sampler, every number in a data-metric cell. */
function drawTable(ev: Evaluation): void {
  const table = $('#metrics-table');
  const head = ['sampler', 'NFE', 'iteration', 'sliced W1 ↓', 'precision ↑', 'modes ≥ 2%', 'mode entropy ↑', 'fidelity: distance to teacher ↓'];
  const rows = ev.rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'metrics-row';
    tr.dataset.id = r.id;
    const cells: [string, string][] = [
      ['name', r.title], ['nfe', String(r.nfe)], ['iteration', r.iteration === null ? '–' : String(r.iteration)],
      ['swd', fmt(r.swd)], ['precision', fmt(r.precision)], ['modes', Number.isFinite(r.modesCovered) ? `${r.modesCovered}/${r.modes}` : '–'],
      ['entropy', fmt(r.entropy)], ['fidelity', r.id === 'teacher-many' ? '0 (the reference)' : fmt(r.fidelity)],
    ];
    const raw: Record<string, number> = { swd: r.swd, precision: r.precision, entropy: r.entropy, fidelity: r.fidelity, modes: r.modesCovered };
    for (const [key, text] of cells) {
      const td = document.createElement(key === 'name' ? 'th' : 'td');
      td.textContent = text;
      td.dataset.metric = key;
      if (key in raw) td.dataset.value = String(raw[key]);
      if (key === 'name') {
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = COLORS[r.id];
        td.prepend(sw);
      }
      tr.append(td);
    }
    if (r.nonFinite) tr.title = `${r.nonFinite} samples were not finite: no scores`;
    return tr;
  });
  const thead = document.createElement('thead');
  thead.append(Object.assign(document.createElement('tr'), { innerHTML: head.map((h) => `<th>${h}</th>`).join('') }));
  const tbody = document.createElement('tbody');
  tbody.append(...rows);
  table.replaceChildren(thead, tbody);
  const caption = $('#metrics-caption');
  caption.textContent = `${ev.count.toLocaleString('en')} samples per sampler from the same seeded noise, round ${ev.round}; fidelity: mean distance to the teacher's ${ev.manySteps}-step Euler sample from the same noise point.`;
}

/** The two metric scatters: one marker per sampler (larger for 2 NFE, largest for the teacher's many steps). */
function drawScatters(ev: Evaluation): void {
  const rows = ev.rows.filter((r) => Number.isFinite(r.swd) && r.swd > 0);
  const layers = (y: 'entropy' | 'fidelity'): (ScatterLayer & { points: Float32Array })[] => rows.map((r) => ({
    name: label(r), color: COLORS[r.id], opacity: 0.95, radius: r.id === 'teacher-many' ? 6 : r.nfe === 1 ? 4 : 5,
    points: Float32Array.of(Math.log10(r.swd), r[y]),
  }));
  for (const [view, y] of [[diversity, 'entropy'], [fidelity, 'fidelity']] as const) {
    const l = layers(y);
    view.setDomain(metricDomain(l, {}, 380));
    view.update(l);
  }
}

/** The small multiples: every sampler's samples over the data, with the segments to the teacher when asked. */
function drawPanels(ev: Evaluation, links: boolean): void {
  const reference = ev.rows.find((r) => r.id === 'teacher-many')!.samples;
  grid.update(ev.rows.map((r) => {
    const it = r.iteration === null ? 'reference' : `iteration ${r.iteration}`;
    const layer: ScatterLayer = { name: r.id.startsWith('teacher') ? 'teacher' : 'student', points: r.samples, color: COLORS[r.id], radius: 1.2, opacity: 0.55, maxLinks: LINKS };
    if (links && r.id !== 'teacher-many') layer.links = reference;
    return { title: `${label(r)} · ${it}`, data: [{ name: 'data', points: ev.data, color: '#c8c8c8', radius: 1, opacity: 0.5 }, layer] };
  }));
  for (const [i, r] of ev.rows.entries()) {
    const panel = grid.root.children[i] as HTMLElement;
    panel.dataset.id = r.id;
    panel.dataset.iteration = r.iteration === null ? '' : String(r.iteration);
  }
}

// presentation mode: Train and its progress beside the panels
let raceLoop: LoopControls | undefined;
presentation({ loop: () => raceLoop, side: [$('#race-buttons'), $('#progress'), $('[data-testid="race-message"]')], figures: [$('#samples')] });

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], () =>
  startLab<CompareApi, CompareEvent>(() => LabClient.connect<CompareApi, CompareEvent>(new Worker(new URL('../src/runtime/compare-worker.ts', import.meta.url), { type: 'module' }))),
);

nb.cell('racing', ['lab'], (lab: Client) => {
  let lastRound = -1;
  raceLoop = loopButtons({
    lab,
    phase: 'student',
    label: 'rounds (every method once)',
    progress,
    loss,
    mount: $('#race-buttons'),
    note,
    total: () => value<number>('iters'),
    iteration: async () => (await lab.call.status()).round,
    prepare: async () => {
      const cfg = raceConfig();
      await lab.call.newRace(cfg);
      const st = await lab.call.status();
      newW1Chart(st.methods.map((m) => m.method));
      lastRound = -1;
    },
    run: () => lab.call.race(),
    onTick: () => liveVersion.bump(),
    onSettle: () => liveVersion.bump(),
    start: ['Train', 'train-race', 'train every method from the teacher with these settings, round-robin'],
  });
  $('#race-buttons').append(button('Reset', 'reset-race', async () => {
    await raceLoop!.stop();
    await lab.call.reset();
    note('');
    await loss.clear();
    newW1Chart(['gmflow']);
    liveVersion.bump();
  }, 'stop and drop every student (the teacher stays)'));
  $('#race-buttons').append(button('Download students', 'download-students', async () => {
    const st = await lab.call.status();
    if (st.methods.length === 0) {
      note('No students yet: press Train first.', 'error');
      return;
    }
    const { downloadModel } = await import('../src/models/io-handlers.js');
    const names: string[] = [];
    try {
      for (const m of st.methods) {
        const art = await lab.call.saveStudent(m.method);
        names.push(...(await downloadModel(art, `${st.dataName}-${m.method}-nfe${m.nfe}-it${m.iteration}`)));
      }
    } catch (e) {
      note(`Download failed: ${(e as Error).message}`, 'error');
      return;
    }
    note(`Downloaded ${st.methods.length} students (${names.filter((n) => n.endsWith('.json')).join(', ')} and their weights): the π-ID ones load in the π-Flow notebook (Upload…); each file's config names its method, NFE and iterations.`);
  }, "save every method's student as a tfjs model pair (<name>.json + <name>.weights.bin)"));
  /** the live W1 chart: each evaluation of a running race adds a point per method */
  return (ev: Evaluation) => {
    if (ev.round === 0 || ev.round === lastRound || !w1Chart) return;
    lastRound = ev.round;
    const students = ev.rows.filter((r) => r.iteration !== null);
    w1Chart.extend(ev.round, students.map((r) => r.swd));
    if (!refsSet) {
      const [many, few] = ev.rows;
      void w1Chart.setReferences([{ name: many.title, value: many.swd }, { name: few.title, value: few.swd, dash: 'dot' }]);
      refsSet = true;
    }
  };
});

nb.cell('teacher', ['lab', 'dataset'], async (lab: Client, dataset: string) => {
  await raceLoop?.stop();
  await lab.call.setData(dataset);
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
    teacherNote(`Pretrained ${dataset} teacher loaded: press Train to race the students on it.`);
  } catch (e) {
    teacherNote(`No pretrained teacher for ${dataset} (${(e as Error).message}): pick another dataset, or add one with bash scripts/pretrain-teachers.sh ${dataset}.`, 'error');
    throw e;
  }
  await loss.clear();
  newW1Chart(['gmflow']);
  return dataset;
});

/** Every sampler's samples and scores; live while training. */
let lastEval: Evaluation | null = null;
nb.cell('evaluation', ['lab', 'teacher', 'liveVersion', 'nfe', 'racing'], async (lab: Client, _t: string, _v: number, nfe: number, onEval: (ev: Evaluation) => void) => {
  const ev = await lab.call.evaluate(COUNT, SAMPLE_SEED, nfe);
  // the race was reset or the teacher replaced meanwhile: keep what is shown until the next evaluation
  if (ev.stale) {
    if (lastEval) return lastEval;
    liveVersion.bump();
    return new Promise<Evaluation>(() => undefined);
  }
  onEval(ev);
  return (lastEval = ev);
});

nb.cell('views', ['evaluation', 'links'], (ev: Evaluation, links: boolean) => {
  drawPanels(ev, links);
  drawTable(ev);
  drawScatters(ev);
  const methods = ev.rows.filter((r) => r.iteration !== null);
  const raced = ev.rows[1]?.nfe;
  const asked = value<number>('nfe');
  $('#panels-note').textContent = methods.length
    ? `Each panel: ${ev.count.toLocaleString('en')} samples over the data (grey), from the same noise in every panel.` +
      (raced !== asked ? ` These students were trained for ${nfeText(raced)}: press Train to race them at ${nfeText(asked)}.` : '')
    : 'The teacher alone so far (press Train): its many-step and same-NFE Euler samplers are the references every student is measured against.';
  return ev.round;
});

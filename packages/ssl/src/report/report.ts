// `pretext report <run>`: one self-contained HTML page (inline SVG plots, no scripts, no
// external files) and a Markdown summary with PNG copies of the plots, from what a run folder
// holds: encoder.json, scores.json, metrics.jsonl, and when present diagnostics.json,
// transfer.json and embedding-map.svg.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncoderMeta, Scores } from '../pipeline.js';
import type { Diagnostics } from '../transfer/diagnostics.js';
import { TRANSFER_ARMS, type TransferRow } from '../transfer/protocol.js';
import { TABULAR_ARMS, type TabularRow } from '../transfer/tabular.js';
import { TEXT_ARMS, type TextArm } from '../transfer/text.js';
import { SEQUENCE_ARMS, type SequenceArm } from '../transfer/sequence.js';
import { lineChart, svgToPng, type Series } from './plot.js';

export type TransferFile =
  | { format: 'pretext-transfer/1'; encoder: string; dataset: string; seeds: number[]; rows: TransferRow[] }
  /** Tables: the metric is AUROC (binary) or accuracy (multi-class), as a fraction. */
  | { format: 'pretext-tabular-transfer/1'; encoder: string; dataset: string; metric?: string; seeds: number[]; rows: TabularRow[] }
  /** Text: accuracy on the test documents, as a fraction. */
  | { format: 'pretext-text-transfer/1'; encoder: string; dataset: string; metric?: string; seeds: number[]; rows: TabularRow<TextArm>[] }
  /** Histories: AUROC (binary labels) or accuracy on the test entities, as a fraction. */
  | {
      format: 'pretext-sequence-transfer/1';
      encoder: string;
      dataset: string;
      metric?: string;
      seeds: number[];
      rows: TabularRow<SequenceArm>[];
    };

type AnyRow = TransferRow | TabularRow | TabularRow<TextArm> | TabularRow<SequenceArm>;

const ARMS_OF_FORMAT: Record<TransferFile['format'], readonly string[]> = {
  'pretext-transfer/1': TRANSFER_ARMS,
  'pretext-tabular-transfer/1': TABULAR_ARMS,
  'pretext-text-transfer/1': TEXT_ARMS,
  'pretext-sequence-transfer/1': SEQUENCE_ARMS,
};
const UNIT_OF_FORMAT: Record<TransferFile['format'], string> = {
  'pretext-transfer/1': 'images',
  'pretext-tabular-transfer/1': 'rows',
  'pretext-text-transfer/1': 'documents',
  'pretext-sequence-transfer/1': 'entities',
};

/** The arms a transfer file holds, in the protocol's order. */
const armsOf = (t: TransferFile): string[] => [...ARMS_OF_FORMAT[t.format]].filter((a) => (t.rows as AnyRow[]).some((r) => r.arm === a));
/** What the transfer file's numbers are, for captions and axes. */
const metricOf = (t: TransferFile): { name: string; percent: boolean; unit: string } =>
  t.format !== 'pretext-transfer/1' && t.metric === 'auroc'
    ? { name: 'AUROC', percent: false, unit: UNIT_OF_FORMAT[t.format] }
    : { name: 'accuracy', percent: true, unit: UNIT_OF_FORMAT[t.format] };
const showValue = (t: TransferFile, v: number): string => (metricOf(t).percent ? (100 * v).toFixed(1) : v.toFixed(3));

interface RunContents {
  meta: EncoderMeta;
  scores: Scores | null;
  metrics: Record<string, number | string | boolean>[];
  diagnostics: Diagnostics | null;
  transfer: TransferFile | null;
  embeddingSvg: string | null;
}

function readJson<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

export function readRun(dir: string): RunContents {
  const meta = readJson<EncoderMeta>(join(dir, 'encoder.json'));
  if (!meta) throw new Error(`${dir} has no encoder.json: is it a pretraining run folder?`);
  const metricsPath = join(dir, 'metrics.jsonl');
  const metrics = existsSync(metricsPath)
    ? readFileSync(metricsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, number>)
    : [];
  const svgPath = join(dir, 'embedding-map.svg');
  return {
    meta,
    scores: readJson<Scores>(join(dir, 'scores.json')),
    metrics,
    diagnostics: readJson<Diagnostics>(join(dir, 'diagnostics.json')),
    transfer: readJson<TransferFile>(join(dir, 'transfer.json')),
    embeddingSvg: existsSync(svgPath) ? readFileSync(svgPath, 'utf8') : null,
  };
}

const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Sort key for budgets: per-class budgets by count, then fractions by share. */
function budgetOrder(label: string): number {
  const perClass = /^(\d+)\/class$/.exec(label);
  if (perClass) return Number(perClass[1]);
  return 1e6 + Number(label.replace('%', ''));
}

export function lossCurve(c: RunContents): string {
  const steps = c.metrics.filter((m) => typeof m.loss === 'number' && m.final === undefined && m.samples_per_s === undefined);
  const series: Series[] = [{ name: 'loss', points: steps.map((m) => [m.step as number, m.loss as number]) }];
  return lineChart(series, { title: 'Training loss', xLabel: 'step', yLabel: 'loss' });
}

export function knnCurve(c: RunContents): string | null {
  // `val_knn`: on the validation split carved from the training data. Runs made before that
  // protocol logged `knn` on the test split; they are drawn and labeled as such.
  const key = c.metrics.some((m) => typeof m.val_knn === 'number') ? 'val_knn' : 'knn';
  const epochs = c.metrics.filter((m) => typeof m[key] === 'number' && typeof m.epoch === 'number');
  if (epochs.length === 0) return null;
  return lineChart([{ name: 'kNN accuracy', points: epochs.map((m) => [m.epoch as number, m[key] as number]) }], {
    title: 'kNN accuracy by epoch',
    xLabel: 'epoch',
    yLabel: key === 'val_knn' ? 'validation accuracy' : 'test accuracy (older run)',
    percent: true,
  });
}

export function labelEfficiencyCurve(t: TransferFile): string {
  const all = t.rows as AnyRow[];
  const budgets = [...new Set(all.map((r) => r.labels))].sort((a, b) => budgetOrder(a) - budgetOrder(b));
  const used = new Map(all.map((r) => [r.labels, r.used]));
  const order = budgets.filter((b) => used.has(b)).sort((a, b) => used.get(a)! - used.get(b)!);
  const classical = new Set(['raw-logistic', 'logistic', 'xgboost']);
  const series: Series[] = armsOf(t).map((arm) => {
    const rows = order.map((b) => all.find((r) => r.arm === arm && r.labels === b)).filter((r): r is AnyRow => !!r);
    return { name: arm, points: rows.map((r) => [r.used, r.mean]), err: rows.map((r) => r.std), dashed: classical.has(arm) };
  });
  const m = metricOf(t);
  return lineChart(series, {
    title: 'Label efficiency',
    xLabel: `labeled ${m.unit} used (log scale)`,
    yLabel: `test ${m.name}`,
    percent: m.percent,
    logX: true,
  });
}

function transferTable(t: TransferFile): { html: string; md: string } {
  const all = t.rows as AnyRow[];
  const budgets = [...new Set(all.map((r) => r.labels))].sort((a, b) => budgetOrder(a) - budgetOrder(b));
  const arms = armsOf(t);
  const unit = metricOf(t).unit;
  const cell = (b: string, a: string): string => {
    const r = all.find((x) => x.labels === b && x.arm === a);
    return r ? `${showValue(t, r.mean)} ± ${showValue(t, r.std)}` : '-';
  };
  const html = `<table><tr><th>labels</th><th>${unit}</th>${arms.map((a) => `<th>${a}</th>`).join('')}</tr>${budgets
    .map(
      (b) =>
        `<tr><td>${b}</td><td>${all.find((r) => r.labels === b)?.used ?? '-'}</td>${arms.map((a) => `<td>${cell(b, a)}</td>`).join('')}</tr>`,
    )
    .join('')}</table>`;
  const md = [
    `| labels | ${unit} | ${arms.join(' | ')} |`,
    `|---|---:|${arms.map(() => '---:').join('|')}|`,
    ...budgets.map((b) => `| ${b} | ${all.find((r) => r.labels === b)?.used ?? '-'} | ${arms.map((a) => cell(b, a)).join(' | ')} |`),
  ].join('\n');
  return { html, md };
}

function diagnosticsRows(d: Diagnostics): [string, string][] {
  return [
    ['alignment (lower is better)', d.alignment.toFixed(3)],
    ['uniformity (lower is better)', d.uniformity.toFixed(3)],
    ['effective rank (RankMe)', `${d.effectiveRank.toFixed(1)} of ${Math.min(d.samples, d.dim)}`],
    ['embedding std (normalized, x sqrt(dim))', d.embeddingStd.toFixed(3)],
    ['collapsed', d.collapsed ? `YES: ${d.findings.join('; ')}` : 'no'],
    ...(d.knn === undefined ? [] : ([['kNN accuracy', pct(d.knn)]] as [string, string][])),
    ...(d.linear === undefined ? [] : ([['linear accuracy', pct(d.linear)]] as [string, string][])),
  ];
}

const CSS = `body{font-family:Helvetica,Arial,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:24px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.flag{color:#b00;font-weight:bold}
.plots{display:flex;flex-wrap:wrap;gap:12px}.muted{color:#777}.kv td:last-child{text-align:left}`;

export interface ReportFiles {
  html: string;
  markdown: string;
  pngs: string[];
}

/** Writes report.html, report.md and the plots as PNG into `dir`. */
export async function writeReport(dir: string): Promise<ReportFiles> {
  const c = readRun(dir);
  const m = c.meta;
  const title = `${m.recipe}: ${m.method} encoder`;
  const kv = (rows: [string, string][]): string =>
    `<table class="kv">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>`;
  const mdKv = (rows: [string, string][]): string => ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const summary: [string, string][] = [
    ['method', m.method],
    ['encoder', `${m.encoder.type} ${JSON.stringify(m.encoder.config)}`],
    ['output dimension', String(m.outDim)],
    ['data set', m.dataset],
    ['data fingerprint', m.dataFingerprint],
    ['training', `${m.trainSteps} steps, ${(m.trainSeconds / 60).toFixed(1)} min`],
    ['created', m.createdAt],
  ];
  const scores: [string, string][] = !c.scores
    ? []
    : c.scores.metric === 'auroc'
      ? [['linear probe AUROC', c.scores.linear === undefined ? '-' : c.scores.linear.toFixed(3)]]
      : [
          ...(m.modality !== undefined && m.modality !== 'image'
            ? []
            : ([['kNN accuracy (k=200)', pct(c.scores.knn)]] as [string, string][])),
          ['linear probe accuracy', pct(c.scores.linear)],
        ];
  const plots: { name: string; svg: string; caption: string }[] = [{ name: 'loss-curve', svg: lossCurve(c), caption: 'Training loss' }];
  const knn = knnCurve(c);
  if (knn) plots.push({ name: 'knn-curve', svg: knn, caption: 'kNN accuracy by epoch' });
  if (c.transfer) plots.push({ name: 'label-efficiency', svg: labelEfficiencyCurve(c.transfer), caption: 'Label efficiency' });
  if (c.embeddingSvg) plots.push({ name: 'embedding-map', svg: c.embeddingSvg, caption: 'Embedding map' });
  const pngs: string[] = [];
  for (const p of plots) {
    const file = join(dir, `${p.name}.png`);
    writeFileSync(file, await svgToPng(p.svg));
    pngs.push(file);
  }
  const transfer = c.transfer ? transferTable(c.transfer) : null;
  const svgOf = (name: string): string => plots.find((p) => p.name === name)?.svg ?? '';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<h2>Encoder</h2>
${kv(summary)}
<h2>Scores on the test split</h2>
${scores.length ? kv(scores) : '<p class="muted">No scores: the data set had no labeled test split.</p>'}
<h2>Training curves</h2>
<div class="plots">${svgOf('loss-curve')}${svgOf('knn-curve')}</div>
<h2>Representation diagnostics</h2>
${c.diagnostics ? kv(diagnosticsRows(c.diagnostics)).replace('YES:', '<span class="flag">YES</span>:') : '<p class="muted">Not measured: run <code>pretext diagnose</code>.</p>'}
<h2>Label efficiency</h2>
${
  transfer && c.transfer
    ? `<p>Test ${metricOf(c.transfer).name}, mean ± std over seeds ${c.transfer.seeds.join(', ')}${metricOf(c.transfer).percent ? ' (%)' : ''}.</p>${transfer.html}<div class="plots">${svgOf('label-efficiency')}</div>`
    : '<p class="muted">Not measured: run <code>pretext transfer-report</code>.</p>'
}
<h2>Embedding map</h2>
${c.embeddingSvg ?? '<p class="muted">Not drawn: run <code>pretext diagnose</code>.</p>'}
</body></html>
`;
  const md = [
    `# ${title}`,
    '',
    mdKv(summary),
    '',
    '## Scores on the test split',
    '',
    scores.length ? mdKv(scores) : 'No labeled test split.',
    '',
    '## Representation diagnostics',
    '',
    c.diagnostics ? mdKv(diagnosticsRows(c.diagnostics)) : 'Not measured.',
    '',
    '## Label efficiency',
    '',
    transfer && c.transfer
      ? `Test ${metricOf(c.transfer).name}${metricOf(c.transfer).percent ? ' (%)' : ''}, mean ± std over seeds ${c.transfer.seeds.join(', ')}.\n\n${transfer.md}`
      : 'Not measured.',
    '',
    '## Plots',
    '',
    ...plots.map((p) => `![${p.caption}](${p.name}.png)`),
    '',
  ].join('\n');
  const htmlPath = join(dir, 'report.html');
  const mdPath = join(dir, 'report.md');
  writeFileSync(htmlPath, html);
  writeFileSync(mdPath, md);
  return { html: htmlPath, markdown: mdPath, pngs };
}

// The transfer commands: finetune, transfer-report, diagnose, report.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_BUDGETS,
  FINETUNE_MODES,
  TABULAR_ARMS,
  TABULAR_BUDGETS,
  TEXT_ARMS,
  TEXT_BUDGETS,
  SEQUENCE_ARMS,
  SEQUENCE_BUDGETS,
  runSequenceTransfer,
  eventDataFor,
  embedEventFile,
  describeHistories,
  type SequenceArm,
  measurementInputs,
  runTextTransfer,
  textDataFor,
  type TabularRun,
  type TextArm,
  embedTableFile,
  tableDataFor,
  runTabularTransfer,
  summarizeTabular,
  type EncoderMeta,
  type TabularArm,
  TRANSFER_ARMS,
  SEMI_DEFAULTS,
  diagnose,
  embeddingMap,
  loadSplits,
  loadEncoder,
  parseDatasetArg,
  parseLabelBudget,
  readEncoderMeta,
  runFinetune,
  runTextFinetune,
  runTransfer,
  summarize,
  svgToPng,
  writeReport,
  type DataSpec,
  type FinetuneMode,
  type TransferArm,
  type TransferFile,
} from '@pretext/ssl';
import { ProgressBar } from '@pretext/data';
import { UsageError } from './errors.js';
import { resolveEncoderArg } from './hub.js';
import { embedTextCommand, writeEmbeddingsCsv } from './text.js';

export const TRANSFER_HELP: Record<string, string> = {
  finetune: `Usage: pretext finetune --encoder DIR --labels BUDGET [--dataset DATA] [--mode MODE]
                        [--unfreeze N] [--epochs N] [--max-steps N] [--lr X] [--seed N]
                        [--semi [--semi-steps N]] [--out DIR] [--json]

Trains a classifier on the encoder with a class-balanced subset of the labels (chosen by
--seed; a fifth of it, from 10 labels per class up, held out for early stopping), then
scores it on the test split. Writes classifier.safetensors, finetune.json, metrics.jsonl
and scores.json into the output folder.

Options:
  --encoder DIR    a pretraining run folder, or a hub reference (team/name[@version])
  --labels BUDGET  1% or 0.01 (share of the labels), or 5/class (labels per class)
  --dataset DATA   fashion-mnist (default) or a labeled image folder (see pretext eval);
                   for a text encoder: a folder of .txt files in class sub-folders, a
                   CSV/TSV/JSONL/Parquet file (with --column and --label), or a corpus name
  --column C       the text column of a file (text encoders)
  --label C        the label column of a file (text encoders)
  --mode MODE      linear (frozen encoder), partial (last --unfreeze blocks train), full
                   (whole encoder at a tenth of the head's learning rate; default)
  --unfreeze N     blocks trained in partial mode, counted from the output (default 1)
  --epochs N       epochs over the labeled images (default 60, at least 500 steps)
  --max-steps N    at most this many steps, fewer epochs on large budgets (default 5000)
  --lr X           the head's learning rate (default 0.001)
  --semi           semi-supervised (images): besides the labels, every step trains on
                   unlabeled training images towards the classifier's own confident labels
                   of a weakly augmented view, on a strongly augmented one (FixMatch); the
                   run lasts --semi-steps and keeps a moving average of the weights
  --semi-steps N   optimizer steps of a semi-supervised run (default ${SEMI_DEFAULTS.steps})
  --seed N         which labels, and the initialization (default 0)
  --out DIR        output folder (default DIR/finetune-MODE-BUDGET-sSEED)
  --json           print the result as one JSON object`,
  'transfer-report': `Usage: pretext transfer-report --encoder DIR [--dataset DATA] [--budgets LIST]
                               [--seeds N] [--arms LIST] [--json]

The label-efficiency protocol. For each label budget and seed, the same subset trains:
pretrained-linear (frozen encoder + linear head), pretrained-finetune (full fine-tuning),
scratch (same architecture from random weights), raw-logistic (logistic regression on
pixels), and pretrained-semi and scratch-semi (the fine-tuning and scratch arms plus
FixMatch on the unlabeled training images; see pretext finetune --semi); all are scored on
the test split. Writes DIR/transfer.json; 'pretext report DIR'
draws it.

A table encoder gets the tabular protocol instead, on the rows it was pretrained on (or
--dataset: a benchmark table's name or a table file with the same columns): stratified
budgets, and the arms ${TABULAR_ARMS.join(', ')},
scored by AUROC (binary) or accuracy (multi-class); early stopping and the choices of the
logistic strength and tree depth use the validation fifth of each budget.

Options:
  --budgets LIST   comma-separated (default ${DEFAULT_BUDGETS.join(',')}; tables ${TABULAR_BUDGETS.join(',')})
  --seeds N        seeds 0..N-1 (default 3)
  --arms LIST      a subset of ${TRANSFER_ARMS.join(',')} (tables: of the arms above)
  --epochs N       epochs for the trained arms (default 60; linear heads 100)
  --min-steps N    at least this many steps per trained arm (default 500)
  --max-steps N    at most this many steps per trained arm (default 5000); the
                   semi-supervised arms run a fixed --semi-steps instead
  --semi-steps N   steps of the semi-supervised arms (default ${SEMI_DEFAULTS.steps})
  --json           one JSON line per budget and arm`,
  diagnose: `Usage: pretext diagnose --encoder DIR [--dataset DATA] [--samples N] [--no-map] [--json]

Measures the representation: alignment and uniformity (Wang and Isola, 2020), effective
rank (RankMe), the per-dimension std of normalized embeddings, kNN and linear accuracy
where labels exist; flags a collapsed encoder. Draws a 2-D embedding map (PCA, then UMAP)
coloured by label as DIR/embedding-map.svg and .png. Writes DIR/diagnostics.json.

Options:
  --samples N      test images the geometry and the map use (default 5000; map: 3000)
  --no-map         skip the embedding map
  --json           print the diagnostics as one JSON object

A table encoder is measured on its own rows (or --dataset: a benchmark table's name or a
file with the same columns): alignment pairs a row with a copy a third of whose cells are
swapped with other rows' values; kNN and linear figures are accuracy, which says little on a
5% minority class (its AUROC comes from 'pretext eval').`,
  embed: `Usage: pretext embed --encoder DIR (--table FILE [--object NAME] | --text PATH [--column C] | --events FILE --entity C --time C) [--out FILE.csv] [--json]

Embeds a team's own rows with a table encoder (a run folder or a hub reference): the
encoder's saved preprocessing reads the file (CSV, TSV, Parquet, ARFF or R data) with the
column types it was trained on; unseen categories and missing cells have their own slots, a
missing column is an error naming it. With a text encoder, --text reads documents: a folder
of .txt files, a CSV/TSV/JSONL/Parquet file's --column, or a benchmark corpus by name; each
document is embedded whole (long ones as the mean of their token windows). Writes one row of
embedding values per input row or document (columns e0..eN), in the input's order, to --out
(default embeddings.csv). With an event-history encoder, --events reads one row per event
(an entity id column, a time column and the encoder's event fields), groups and sorts them
(what grouping fixed is printed) and writes one row per entity, its id first.`,
  report: `Usage: pretext report <run dir> [--no-compute] [--json]

Writes RUN/report.html (one self-contained page: metric tables, training curves, the
label-efficiency table and curve, the embedding map) and RUN/report.md with PNG plots.
Diagnostics and the embedding map are measured first when missing (--no-compute skips
that); the label-efficiency section comes from 'pretext transfer-report'.`,
};

function datasetFor(arg: string, encoderDir: string): DataSpec {
  const shape = readEncoderMeta(encoderDir).inputShape;
  return parseDatasetArg(arg, { channels: shape[0] === 3 ? 3 : 1, size: shape[1] });
}

/** --semi-steps: a whole number of at least 1 (default: the semi-supervised recipe's). */
function semiSteps(v: string | undefined): number {
  const n = positiveInt(v, 'semi-steps', SEMI_DEFAULTS.steps);
  if (n < 1) throw new UsageError('--semi-steps must be at least 1');
  return n;
}

function positiveInt(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  return n;
}

export async function finetuneCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string' },
      labels: { type: 'string' },
      dataset: { type: 'string', default: 'fashion-mnist' },
      mode: { type: 'string', default: 'full' },
      unfreeze: { type: 'string' },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      lr: { type: 'string' },
      semi: { type: 'boolean', default: false },
      'semi-steps': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      column: { type: 'string' },
      label: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRANSFER_HELP.finetune);
    return 0;
  }
  if (!values.encoder || !values.labels)
    throw new UsageError(`pretext finetune needs --encoder DIR and --labels BUDGET\n\n${TRANSFER_HELP.finetune}`);
  values.encoder = await resolveEncoderArg(values.encoder);
  if (!(FINETUNE_MODES as readonly string[]).includes(values.mode) || values.mode === 'scratch') {
    throw new UsageError(`--mode must be one of linear, partial, full; got '${values.mode}'`);
  }
  const mode = values.mode as Exclude<FinetuneMode, 'scratch'>;
  const budget = parseLabelBudget(values.labels);
  const seed = positiveInt(values.seed, 'seed', 0);
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (lr !== undefined && !(lr > 0)) throw new UsageError(`--lr must be a positive number, got '${values.lr}'`);
  const common = {
    encoderDir: values.encoder,
    budget,
    mode,
    seed,
    outDir: values.out,
    quiet: values.json,
    unfreezeBlocks: values.unfreeze === undefined ? undefined : positiveInt(values.unfreeze, 'unfreeze', 1),
    epochs: values.epochs === undefined ? undefined : positiveInt(values.epochs, 'epochs', 60),
    maxSteps: values['max-steps'] === undefined ? undefined : positiveInt(values['max-steps'], 'max-steps', 5000),
    lr,
  };
  if (values['semi-steps'] !== undefined && !values.semi) throw new UsageError('--semi-steps goes with --semi');
  if (values.semi && mode === 'linear') throw new UsageError('--semi trains the encoder: use it with --mode full or partial');
  const semi = values.semi ? { steps: semiSteps(values['semi-steps']) } : undefined;
  if (readEncoderMeta(values.encoder).modality === 'text') {
    if (semi) throw new UsageError('--semi is for image encoders; text fine-tuning has no semi-supervised mode yet');
    if (values.dataset === 'fashion-mnist')
      throw new UsageError('a text encoder fine-tunes on labeled documents: give --dataset FOLDER|FILE|CORPUS');
    const path = existsSync(values.dataset);
    const { outDir: out, meta: run } = await runTextFinetune({
      ...common,
      data: {
        dataset: 'text',
        ...(path ? { path: values.dataset, column: values.column, label: values.label } : { name: values.dataset }),
      },
    });
    const result = {
      encoder: run.encoder,
      dataset: run.dataset,
      mode: run.mode,
      labels: run.labels,
      documents: run.labeledImages,
      seed: run.seed,
      testAccuracy: run.testAccuracy,
      bestEpoch: run.bestEpoch,
      steps: run.steps,
      out,
    };
    if (values.json) console.log(JSON.stringify(result));
    else
      console.log(
        `${run.mode} fine-tuning on ${run.labeledImages} labeled documents (${run.labels}): test accuracy ${(100 * run.testAccuracy).toFixed(2)}%, best epoch ${run.bestEpoch}; classifier in ${out}`,
      );
    return 0;
  }
  const spec = datasetFor(values.dataset, values.encoder);
  const { outDir: out, meta: run } = await runFinetune({ ...common, dataset: spec, ...(semi ? { semi } : {}) });
  const result = {
    encoder: run.encoder,
    dataset: readEncoderMeta(values.encoder).dataset === spec.dataset ? spec.dataset : values.dataset,
    mode: run.mode,
    ...(run.semi ? { semi: run.semi } : {}),
    labels: run.labels,
    labeledImages: run.labeledImages,
    validationImages: run.validationImages,
    seed: run.seed,
    testAccuracy: run.testAccuracy,
    trainAccuracy: run.trainAccuracy,
    valAccuracy: run.valAccuracy,
    bestEpoch: run.bestEpoch,
    epochs: run.epochs,
    steps: run.steps,
    seconds: run.seconds,
  };
  if (values.json) console.log(JSON.stringify({ out, ...result }));
  else {
    console.log(
      `${mode}${semi ? ' semi-supervised' : ''} fine-tune on ${result.labeledImages} labels (${result.labels}, seed ${seed}): test accuracy ${(100 * run.testAccuracy).toFixed(2)}%` +
        `${run.valAccuracy === null ? '' : `, best validation ${(100 * run.valAccuracy).toFixed(1)}% at epoch ${run.bestEpoch}`}, ${run.seconds.toFixed(0)} s`,
    );
    console.log(`written to ${out}`);
  }
  return 0;
}

export async function transferReportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string' },
      dataset: { type: 'string', default: 'fashion-mnist' },
      budgets: { type: 'string' },
      seeds: { type: 'string', default: '3' },
      arms: { type: 'string' },
      epochs: { type: 'string' },
      'min-steps': { type: 'string' },
      'max-steps': { type: 'string' },
      'semi-steps': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRANSFER_HELP['transfer-report']);
    return 0;
  }
  if (!values.encoder) throw new UsageError(`pretext transfer-report needs --encoder DIR\n\n${TRANSFER_HELP['transfer-report']}`);
  values.encoder = await resolveEncoderArg(values.encoder);
  const nSeeds = positiveInt(values.seeds, 'seeds', 3);
  if (nSeeds < 1) throw new UsageError('--seeds must be at least 1');
  const meta = readEncoderMeta(values.encoder);
  if (meta.modality === 'tabular' || meta.modality === 'text' || meta.modality === 'sequence')
    return cellTransferReport(values.encoder, meta, { ...values, seeds: nSeeds });
  const budgets = (values.budgets ?? DEFAULT_BUDGETS.join(',')).split(',').map(parseLabelBudget);
  const arms = values.arms?.split(',') ?? [...TRANSFER_ARMS];
  const unknown = arms.filter((a) => !(TRANSFER_ARMS as readonly string[]).includes(a));
  if (unknown.length) throw new UsageError(`unknown arm(s) ${unknown.join(', ')}; expected some of ${TRANSFER_ARMS.join(', ')}`);
  const spec = datasetFor(values.dataset, values.encoder);
  const [train, test] = await loadSplits(spec);
  const seeds = Array.from({ length: nSeeds }, (_, i) => i);
  const total = budgets.length * seeds.length * arms.length;
  let done = 0;
  const t0 = performance.now();
  const runs = runTransfer(values.encoder, train, test, {
    budgets,
    seeds,
    arms: arms as TransferArm[],
    finetune: {
      ...(values.epochs === undefined ? {} : { epochs: positiveInt(values.epochs, 'epochs', 60) }),
      ...(values['min-steps'] === undefined ? {} : { minSteps: positiveInt(values['min-steps'], 'min-steps', 500) }),
      ...(values['max-steps'] === undefined ? {} : { maxSteps: positiveInt(values['max-steps'], 'max-steps', 5000) }),
    },
    semi: { steps: semiSteps(values['semi-steps']) },
    onRun: (r) => {
      done++;
      const eta = ((performance.now() - t0) / done) * (total - done);
      process.stderr.write(
        `[${done}/${total}] ${r.labels.padEnd(9)} ${r.arm.padEnd(20)} seed ${r.seed}: ${(100 * r.accuracy).toFixed(2)}%  (${r.seconds.toFixed(0)} s, ETA ${Math.round(eta / 1000)} s)\n`,
      );
    },
  });
  const rows = summarize(runs);
  const file: TransferFile = { format: 'pretext-transfer/1', encoder: values.encoder, dataset: values.dataset, seeds, rows };
  writeFileSync(join(values.encoder, 'transfer.json'), `${JSON.stringify({ ...file, runs }, null, 2)}\n`);
  if (values.json)
    for (const r of rows) console.log(JSON.stringify({ labels: r.labels, arm: r.arm, used: r.used, mean: r.mean, std: r.std }));
  else {
    console.log(`${'labels'.padEnd(10)}${'images'.padStart(7)}  ${arms.map((a) => a.padStart(20)).join('')}`);
    for (const b of [...new Set(rows.map((r) => r.labels))]) {
      const used = rows.find((r) => r.labels === b)!.used;
      const cells = arms.map((a) => {
        const r = rows.find((x) => x.labels === b && x.arm === a);
        return (r ? `${(100 * r.mean).toFixed(1)} ± ${(100 * r.std).toFixed(1)}` : '-').padStart(20);
      });
      console.log(`${b.padEnd(10)}${String(used).padStart(7)}  ${cells.join('')}`);
    }
    console.log(`written to ${join(values.encoder, 'transfer.json')}`);
  }
  return 0;
}

/** Table, text and history reports: arms, budgets and runs per modality, one way to run, save and print them. */
async function cellTransferReport(
  encoderDir: string,
  meta: EncoderMeta,
  v: {
    dataset?: string;
    budgets?: string;
    seeds: number;
    arms?: string;
    epochs?: string;
    'min-steps'?: string;
    'max-steps'?: string;
    json: boolean;
  },
): Promise<number> {
  const modality = meta.modality === 'text' ? 'text' : meta.modality === 'sequence' ? 'sequence' : 'tabular';
  const kind = {
    text: { arms: TEXT_ARMS, budgets: TEXT_BUDGETS, unit: 'docs', things: 'documents' },
    sequence: { arms: SEQUENCE_ARMS, budgets: SEQUENCE_BUDGETS, unit: 'entities', things: 'entities' },
    tabular: { arms: TABULAR_ARMS, budgets: TABULAR_BUDGETS, unit: 'rows', things: 'rows' },
  }[modality];
  const known: readonly string[] = kind.arms;
  const budgets = (v.budgets ?? kind.budgets.join(',')).split(',').map(parseLabelBudget);
  const arms = v.arms?.split(',') ?? [...known];
  const unknown = arms.filter((a) => !known.includes(a));
  if (unknown.length) throw new UsageError(`unknown arm(s) ${unknown.join(', ')}; expected some of ${known.join(', ')}`);
  if (modality === 'tabular' && !meta.features?.label?.name)
    throw new UsageError(`${encoderDir} was pretrained without a label column: a transfer report needs labeled rows`);
  const own = v.dataset === 'fashion-mnist' ? undefined : v.dataset;
  const seeds = Array.from({ length: v.seeds }, (_, i) => i);
  const finetune = {
    ...(v.epochs === undefined ? {} : { epochs: positiveInt(v.epochs, 'epochs', 60) }),
    ...(v['min-steps'] === undefined ? {} : { minSteps: positiveInt(v['min-steps'], 'min-steps', 500) }),
    ...(v['max-steps'] === undefined ? {} : { maxSteps: positiveInt(v['max-steps'], 'max-steps', 5000) }),
  };
  // The data the encoder was pretrained on, or other data given by name or path; its test
  // split is opened once, for the scores.
  const load = async <T>(d: { name: string; test: { forFinalScore(p: string): Promise<T> } | null }): Promise<T> => {
    if (!d.test) throw new UsageError(`${d.name} has no labeled test ${kind.things} to score on`);
    return d.test.forFinalScore('pretext transfer-report');
  };
  let bar: ProgressBar | null = null;
  const onRun = (r: { labels: string; arm: string; seed: number; value: number }): void =>
    bar?.tick(1, `${r.labels} ${r.arm} seed ${r.seed}: ${r.value.toFixed(3)}`);
  const start = (): void => {
    bar = v.json ? null : new ProgressBar({ total: budgets.length * seeds.length * arms.length, label: 'transfer report', unit: 'runs' });
  };
  let tested: number;
  let runs: TabularRun<string>[];
  let name: string;
  if (modality === 'text') {
    const data = await textDataFor(encoderDir, own);
    const test = await load(data);
    [name, tested] = [data.name, test.labels?.filter((l) => l >= 0).length ?? 0];
    start();
    runs = runTextTransfer(encoderDir, data.train, test, { budgets, seeds, arms: arms as TextArm[], finetune, onRun });
  } else if (modality === 'sequence') {
    const data = await eventDataFor(encoderDir, own);
    const test = await load(data);
    [name, tested] = [data.name, test.labels?.filter((l) => l >= 0).length ?? 0];
    start();
    runs = runSequenceTransfer(encoderDir, data.train, test, { budgets, seeds, arms: arms as SequenceArm[], finetune, onRun });
  } else {
    const data = await tableDataFor(encoderDir, own);
    const test = await load(data);
    [name, tested] = [data.name, test.rows];
    start();
    runs = runTabularTransfer(encoderDir, data.train, test, { budgets, seeds, arms: arms as TabularArm[], finetune, onRun });
  }
  (bar as ProgressBar | null)?.finish();
  const rows = summarizeTabular(runs);
  const file = {
    format: `pretext-${modality}-transfer/1`,
    encoder: encoderDir,
    dataset: name,
    metric: rows[0]?.metric,
    seeds,
    rows,
    runs,
  };
  writeFileSync(join(encoderDir, 'transfer.json'), `${JSON.stringify(file, null, 2)}\n`);
  if (v.json)
    for (const r of rows)
      console.log(JSON.stringify({ labels: r.labels, arm: r.arm, metric: r.metric, used: r.used, mean: r.mean, std: r.std }));
  else {
    const unit = kind.unit;
    console.log(`${name}, ${rows[0]?.metric} on ${tested} test ${unit}, mean ± std over ${seeds.length} seeds`);
    console.log(`${'labels'.padEnd(10)}${unit.padStart(7)}  ${arms.map((a) => a.padStart(20)).join('')}`);
    for (const b of [...new Set(rows.map((r) => r.labels))]) {
      const used = rows.find((r) => r.labels === b)!.used;
      const cells = arms.map((a) => {
        const r = rows.find((x) => x.labels === b && x.arm === a);
        return (r ? `${r.mean.toFixed(3)} ± ${r.std.toFixed(3)}` : '-').padStart(20);
      });
      console.log(`${b.padEnd(10)}${String(used).padStart(7)}  ${cells.join('')}`);
    }
    console.log(`written to ${join(encoderDir, 'transfer.json')}`);
  }
  return 0;
}

export async function embedCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string' },
      table: { type: 'string' },
      object: { type: 'string' },
      text: { type: 'string' },
      column: { type: 'string' },
      events: { type: 'string' },
      entity: { type: 'string' },
      time: { type: 'string' },
      out: { type: 'string', default: 'embeddings.csv' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRANSFER_HELP.embed);
    return 0;
  }
  const inputs = [values.table, values.text, values.events].filter((v) => v !== undefined).length;
  if (!values.encoder || inputs !== 1)
    throw new UsageError(
      `pretext embed needs --encoder DIR and one of --table FILE, --text PATH or --events FILE\n\n${TRANSFER_HELP.embed}`,
    );
  if (values.events !== undefined && (!values.entity || !values.time))
    throw new UsageError(`pretext embed --events needs --entity COLUMN and --time COLUMN\n\n${TRANSFER_HELP.embed}`);
  const encoder = await resolveEncoderArg(values.encoder);
  if (values.events !== undefined) {
    const h = await embedEventFile(encoder, values.events, { entity: values.entity!, time: values.time!, object: values.object });
    writeEmbeddingsCsv(values.out, { ...h, ids: { name: values.entity!, values: h.entities } });
    if (values.json) console.log(JSON.stringify({ out: values.out, rows: h.rows, dim: h.dim }));
    else {
      process.stderr.write(`${describeHistories(h.histories)}\n`);
      console.log(`${h.rows} entities embedded in ${h.dim} dimensions, written to ${values.out}`);
    }
    return 0;
  }
  const e = values.text
    ? await embedTextCommand(encoder, values.text, values.column, values.out)
    : await embedTableFile(encoder, values.table!, { object: values.object }).then((t) => {
        writeEmbeddingsCsv(values.out, t);
        return t;
      });
  const what = values.text ? 'documents' : 'rows';
  if (values.json) console.log(JSON.stringify({ out: values.out, rows: e.rows, dim: e.dim }));
  else console.log(`${e.rows} ${what} embedded in ${e.dim} dimensions, written to ${values.out}`);
  return 0;
}

/** `datasetArg` undefined: a table encoder's own rows, or fashion-mnist for an image encoder. */
async function runDiagnostics(dir: string, datasetArg: string | undefined, o: { samples?: number; map: boolean; quiet: boolean }) {
  // Tables, text and histories bring their own examples, encoder and positive pair; images use crops.
  const own = await measurementInputs(dir, 'pretext diagnose', datasetArg);
  const [train, test] = own ? own.sets : await loadSplits(datasetFor(datasetArg ?? 'fashion-mnist', dir));
  const encoder = own ? own.encoder : loadEncoder(dir).encoder;
  const meta = readEncoderMeta(dir);
  if (!o.quiet) process.stderr.write('measuring alignment, uniformity, rank and accuracy...\n');
  const augment = own?.corrupt;
  const d = diagnose(encoder, meta.inputNorm, test.images, { samples: o.samples, labeled: { train, test }, augment });
  writeFileSync(join(dir, 'diagnostics.json'), `${JSON.stringify({ dataset: datasetArg ?? meta.dataset, ...d }, null, 2)}\n`);
  if (o.map) {
    if (!o.quiet) process.stderr.write('drawing the embedding map (PCA + UMAP)...\n');
    const map = embeddingMap(encoder, meta.inputNorm, test.images, test.labels, test.classes, {
      samples: Math.min(3000, o.samples ?? 3000),
    });
    writeFileSync(join(dir, 'embedding-map.svg'), map.svg);
    writeFileSync(join(dir, 'embedding-map.png'), await svgToPng(map.svg));
  }
  return d;
}

export async function diagnoseCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      encoder: { type: 'string' },
      dataset: { type: 'string' },
      samples: { type: 'string' },
      'no-map': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRANSFER_HELP.diagnose);
    return 0;
  }
  if (!values.encoder) throw new UsageError(`pretext diagnose needs --encoder DIR\n\n${TRANSFER_HELP.diagnose}`);
  values.encoder = await resolveEncoderArg(values.encoder);
  const samples = values.samples === undefined ? undefined : positiveInt(values.samples, 'samples', 5000);
  const d = await runDiagnostics(values.encoder, values.dataset, { samples, map: !values['no-map'], quiet: values.json });
  if (values.json) console.log(JSON.stringify(d));
  else {
    console.log(
      `alignment ${d.alignment.toFixed(3)}  uniformity ${d.uniformity.toFixed(3)}  effective rank ${d.effectiveRank.toFixed(1)}/${Math.min(d.samples, d.dim)}  embedding std ${d.embeddingStd.toFixed(3)}`,
    );
    if (d.knn !== undefined) console.log(`kNN ${(100 * d.knn).toFixed(2)}%  linear ${(100 * (d.linear ?? 0)).toFixed(2)}%`);
    console.log(d.collapsed ? `COLLAPSED: ${d.findings.join('; ')}` : 'not collapsed');
  }
  return d.collapsed ? 3 : 0;
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'no-compute': { type: 'boolean', default: false },
      dataset: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TRANSFER_HELP.report);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`pretext report needs exactly one run folder\n\n${TRANSFER_HELP.report}`);
  const dir = positionals[0]!;
  const meta = readEncoderMeta(dir);
  if (!values['no-compute'] && !existsSync(join(dir, 'diagnostics.json'))) {
    const dataset =
      values.dataset ??
      (meta.modality === 'tabular'
        ? undefined
        : meta.dataset.startsWith('image-folder:')
          ? meta.dataset.slice('image-folder:'.length)
          : meta.dataset);
    await runDiagnostics(dir, dataset, { map: true, quiet: values.json });
  }
  const files = await writeReport(dir);
  if (values.json) console.log(JSON.stringify(files));
  else console.log(`written ${files.html} and ${files.markdown}`);
  return 0;
}

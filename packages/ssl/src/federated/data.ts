// What a simulated federation needs from a modality: the training examples the sites split
// (with their classes, and a column's values for natural partitions), the views a method
// trains on, the encoder, a validation score for choices, and the final scores on the test
// split, read once per encoder. Images score by kNN and a linear probe; tables and histories by
// the final-score protocol (a regularized linear head on frozen features, AUROC for binary
// labels), tables overall and, when sites are a column's values, on each site's own test rows.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import {
  carveValidation,
  duringSelection,
  eventFieldTypes,
  expectedTypes,
  fitEvents,
  labelCodes,
  labeledEntities,
  takeHistories,
  type EventSchema,
  type Histories,
  fitFeatures,
  labeledRows,
  mergeHistorySummaries,
  mergeTableSummaries,
  summarizeHistories,
  summarizeTable,
  type HistorySummary,
  type TableSummary,
  takeRows,
  TestSplit,
  parsePartition,
  partitionExamples,
  type FeatureSchema,
  type Partition,
  type PartitionSpec,
  type Table,
} from '@pretext/data';
import { hasTestSplit, inputNormFor, loadImageSet, type DataSpec, type LabeledSet } from '../data/sources.js';
import { buildEncoder, type EncoderSpec } from '../encoders/encoder.js';
import { buildMethod } from '../methods/index.js';
import { encoderForData, imageEncoderMeta, scoreEncoder, validationSplit, type EncoderMeta, type Scores } from '../pipeline.js';
import type { SSLMethod } from '../methods/method.js';
import { buildAugment } from '../recipe/augment.js';
import type { Recipe } from '../recipe/schema.js';
import { imageViews, type ViewMaker } from '../train/trainer.js';
import { fingerprint } from '../data/fingerprint.js';
import { extractFeatures, type InputNorm } from '../eval/features.js';
import { rowsTensor, tabularEncoderMeta, tabularEncoderSpec, type TabularEncoderChoice } from '../modalities/tabular/pretrain.js';
import { loadTableData, type TableData, type TableDataSpec } from '../modalities/tabular/source.js';
import { tabularViews } from '../modalities/tabular/views.js';
import {
  EVENTS_FILE,
  historiesTensor,
  sequenceEncoderMeta,
  sequenceEncoderSpec,
  type SequenceEncoderChoice,
} from '../modalities/sequence/pretrain.js';
import { loadEventData, type EventData, type EventDataSpec } from '../modalities/sequence/source.js';
import { sequenceViews } from '../modalities/sequence/views.js';
import { scoreFrozenFeatures } from '../transfer/tabular.js';
import type { FederatedProvenance } from './provenance.js';

export interface FederatedData {
  /** Examples the sites split: images or encoded rows (freed by dispose). */
  examples: Tensor;
  /** Class of each example, or -1 (used for partitions and their counts). */
  labels: Int32Array;
  /** Values of a column, one per example, for `column:NAME` partitions. */
  keys(column: string): string[];
  makeViews: ViewMaker;
  encoderSpec: EncoderSpec;
  /** The score choices between runs are made on: validation data carved from the training examples. */
  validation(method: SSLMethod): Record<string, number>;
  /** Scores on the test split, opened once for `purpose`; per site too when `partition` splits by a column. */
  finalScore(
    method: SSLMethod,
    purpose: string,
    partition?: Partition,
    onlySite?: string,
  ): Promise<Scores & { perSite?: Record<string, number> }>;
  /** The same scores on the raw examples (tables: logistic regression on the preprocessed rows); absent for images. */
  baselineScore?(purpose: string, partition?: Partition): Promise<Scores & { perSite?: Record<string, number> }>;
  meta(method: SSLMethod, run: { trainSteps: number; trainSeconds: number; federated: FederatedProvenance }): EncoderMeta;
  /** Files saved beside the encoder (a table's preprocessing). */
  files: Record<string, unknown>;
  testReads(): string[];
  dispose(): void;
}

/**
 * The federated data of a recipe: its images, its table or its histories. `limit` shortens
 * image pretraining only; `schema` (a table's or histories' preprocessing) and `norm` (images')
 * are given when they are fixed already (a hosted federation's).
 */
export async function federatedData(
  recipe: Recipe,
  o: { quiet?: boolean; schema?: FeatureSchema | EventSchema; norm?: InputNorm } = {},
): Promise<FederatedData> {
  if (recipe.data.dataset === 'table') return tableData(recipe, o.schema as FeatureSchema | undefined);
  if (recipe.data.dataset === 'events') return historyData(recipe, o.schema as EventSchema | undefined);
  if (recipe.data.dataset === 'text')
    throw new TypeError(`federated training reads images, tables and histories; recipe ${recipe.name} trains on text`);
  return imageData(recipe, o);
}

async function imageData(recipe: Recipe, o: { quiet?: boolean; norm?: InputNorm }): Promise<FederatedData> {
  const data = recipe.data as DataSpec;
  const full = await loadImageSet(data, 'train', { quiet: o.quiet });
  if (!full.labels) throw new TypeError(`${full.source} has no labels: a federated benchmark partitions and scores by class`);
  const limit = Math.min(data.limit ?? Infinity, full.images.size(0));
  const examples = torch.keep(full.images.narrow(0, 0, limit));
  const labels = Int32Array.from(full.labels.narrow(0, 0, limit).data() as BigInt64Array, Number);
  const norm = o.norm ?? (await inputNormFor(data, { ...full, images: examples } as LabeledSet));
  // Scoring follows the centralized protocol: the kNN bank and the probe see the whole labeled
  // training split (a `limit` only shortens pretraining), the curve its carved validation part.
  const scoring = full as LabeledSet;
  const curve = validationSplit(scoring);
  const encoderSpec = encoderForData(recipe.encoder as EncoderSpec, data);
  const test = hasTestSplit(data)
    ? new TestSplit(
        `${data.dataset === 'fashion-mnist' ? 'fashion-mnist' : data.path}/test`,
        async () => loadImageSet(data, 'test') as Promise<LabeledSet>,
      )
    : null;
  return {
    examples,
    labels,
    keys: (c) => {
      throw new TypeError(`image data has no column '${c}' to partition by`);
    },
    makeViews: imageViews(buildAugment(recipe.augment), norm),
    encoderSpec,
    validation: (method) =>
      duringSelection('validation kNN of a federated encoder', () => {
        const knn = scoreEncoder(method.backbone, norm, curve.train, curve.validation, { knn: true, linear: false }).knn!;
        method.train();
        return { knn };
      }),
    async finalScore(method, purpose) {
      if (!test) return {};
      const held = await test.forFinalScore(purpose);
      const s = scoreEncoder(method.backbone, norm, scoring, held, recipe.evaluation);
      held.images.dispose();
      held.labels.dispose();
      return s;
    },
    meta: (method, run) =>
      imageEncoderMeta(recipe, encoderSpec, method.backbone.outDim, norm, { dataFingerprint: fingerprint(examples), ...run }),
    files: {},
    testReads: () => test?.openings ?? [],
    dispose() {
      for (const t of [
        examples,
        scoring.images,
        scoring.labels,
        curve.train.images,
        curve.train.labels,
        curve.validation.images,
        curve.validation.labels,
      ] as Tensor[])
        t.dispose();
    },
  };
}

/** Frozen features of labeled examples and their classes. */
interface Features {
  x: Tensor;
  y: Int32Array;
}

/** The final-score protocol's regularized linear head, fitted on `a` and scored on `b` (both freed). */
function headScore(a: Features, b: Features, classes: number): number {
  const s = scoreFrozenFeatures(a, b, classes);
  a.x.dispose();
  b.x.dispose();
  return s.linear;
}

/**
 * The choice score of tables and histories: the same head on a carved fifth of the labeled
 * training examples' features (freed), AUROC for two classes, accuracy otherwise.
 */
function carvedScore(method: SSLMethod, all: Features, classes: number): Record<string, number> {
  const carved = carveValidation(all.y.length, Math.max(1, Math.floor(all.y.length / 5)));
  const pick = (rows: Uint32Array): Features => {
    const ix = torch.tensor(BigInt64Array.from(rows, (r) => BigInt(r)));
    const x = torch.keep(all.x.indexSelect(0, ix));
    ix.dispose();
    return { x, y: Int32Array.from(rows, (r) => all.y[r]!) };
  };
  const v = headScore(pick(carved.train), pick(carved.validation), classes);
  all.x.dispose();
  method.train();
  return { [classes === 2 ? 'auroc' : 'accuracy']: v };
}

/** A column's values as strings ('' when missing), one per row. */
export function columnKeys(t: Table, name: string): string[] {
  const c = t.columns.find((x) => x.name === name);
  if (!c) throw new TypeError(`${t.source} has no column '${name}' (it has ${t.columns.map((x) => x.name).join(', ')})`);
  if (c.type === 'categorical' || c.type === 'boolean') return Array.from(c.values, (v) => (v < 0 ? '' : c.levels[v]!));
  if (c.type === 'text') return c.values.map((v) => v ?? '');
  return Array.from(c.values, (v) => (Number.isNaN(v) ? '' : String(v)));
}

/**
 * A table recipe's training rows and the preprocessing fitted on them (the recipe's options, its
 * label kept out of the inputs): what a simulated federation and a hosted one's owner share.
 */
export async function tablePreprocessing(recipe: Recipe): Promise<{ data: TableData; schema: FeatureSchema }> {
  const data = await loadTableData(recipe.data as TableDataSpec);
  return { data, schema: fitFeatures(data.train, { ...recipe.features, label: data.label }) };
}

/**
 * encoder.json of a table or history encoder trained from `recipe` under `schema`, and the
 * preprocessing file saved beside it; `x` (encoded examples, or a zero tensor of their shape)
 * gives the input shape and, unless `run` names one, the data fingerprint.
 */
export function preprocessedMeta(
  recipe: Recipe,
  schema: FeatureSchema | EventSchema,
  x: Tensor,
  outDim: number,
  run: Pick<EncoderMeta, 'trainSteps' | 'trainSeconds'> & Partial<EncoderMeta>,
): { meta: EncoderMeta; files: Record<string, unknown> } {
  const d = recipe.data as TableDataSpec | EventDataSpec;
  const lineage = { method: recipe.method.name, recipe: recipe.name, ...run };
  if (schema.format === 'pretext-events/1') {
    const spec = recipe.data as EventDataSpec;
    const encoder = sequenceEncoderSpec(recipe.encoder as SequenceEncoderChoice, schema);
    const dataset = d.name ?? `events-file:${d.path}`;
    return {
      meta: sequenceEncoderMeta(encoder, schema, x, outDim, { eventData: spec, dataset, ...lineage }),
      files: { [EVENTS_FILE]: schema },
    };
  }
  const encoder = tabularEncoderSpec(recipe.encoder as TabularEncoderChoice, schema);
  const dataset = d.name ?? `table-file:${d.path}`;
  return {
    meta: tabularEncoderMeta(encoder, schema, x, outDim, { tableData: recipe.data as TableDataSpec, dataset, ...lineage }),
    files: { 'features.json': schema },
  };
}

/** A table file read as a fixed preprocessing expects its columns (so codes like '1', '2' stay categories); benchmarks have fixed types. */
export function withSchemaTypes(spec: TableDataSpec, schema: FeatureSchema): TableDataSpec {
  return spec.path === undefined ? spec : { ...spec, types: { ...expectedTypes(schema), ...spec.types } };
}

async function tableData(recipe: Recipe, given?: FeatureSchema): Promise<FederatedData> {
  const spec = recipe.data as TableDataSpec;
  // The preprocessing is fitted on all training rows here, or given: fitted by a hosted
  // federation's owner, or merged from the sites' summaries (partitionedData).
  const fitted = given ? { data: await loadTableData(withSchemaTypes(spec, given)), schema: given } : await tablePreprocessing(recipe);
  const { data, schema } = fitted;
  if (!data.label || !data.test) throw new TypeError(`a federated table benchmark needs a label and test rows; ${data.name} has none`);
  const examples = rowsTensor(data.train, schema);
  const labels = labelCodes(data.train, schema);
  const classes = schema.label!.classes.length;
  const encoderSpec = tabularEncoderSpec(recipe.encoder as TabularEncoderChoice, schema);
  // No method: the preprocessed rows themselves (the logistic-regression baseline).
  const features = (method: SSLMethod | null, rows: Tensor): Tensor =>
    method ? extractFeatures(method.backbone, rows, { mean: 0, std: 1 }) : torch.keep(rows.clone());
  /** Frozen features of a table's labeled rows (optionally only `only` of them). */
  const labeled = (method: SSLMethod | null, t: Table, only?: Set<number>): { x: Tensor; y: Int32Array } => {
    const l = labeledRows(t, schema);
    const keep = only ? l.idx.map((r, k) => [r, k] as const).filter(([r]) => only.has(r)) : l.idx.map((r, k) => [r, k] as const);
    const rows = rowsTensor(
      takeRows(
        t,
        keep.map(([r]) => r),
      ),
      schema,
    );
    const x = features(method, rows);
    rows.dispose();
    return { x, y: Int32Array.from(keep, ([, k]) => l.y[k]!) };
  };
  const score = (a: Features, b: Features): number => headScore(a, b, classes);
  /** The final-score protocol on frozen features of `method` (none: the raw rows), overall and per site. */
  const finalScore = async (
    method: SSLMethod | null,
    purpose: string,
    partition?: Partition,
    onlySite?: string,
  ): Promise<Scores & { perSite?: Record<string, number> }> => {
    method?.eval();
    const test = await data.test!.forFinalScore(purpose);
    const linear = score(labeled(method, data.train), labeled(method, test));
    const out: Scores & { perSite?: Record<string, number> } = { metric: classes === 2 ? 'auroc' : 'accuracy', linear };
    const column = /^column:(.+)$/.exec(partition?.spec ?? '')?.[1];
    if (partition && column) {
      // Each site's own rows: a head fitted on its labeled training rows, scored on its test rows.
      const testKeys = columnKeys(test, column);
      const named = new Set(partition.sites.map((s) => s.name).filter((s) => s !== 'other'));
      out.perSite = {};
      for (const site of partition.sites.filter((x) => onlySite === undefined || x.name === onlySite)) {
        const mine = new Set(Array.from(site.indices));
        const theirs = new Set(
          testKeys.flatMap((k, r) => ((site.name === 'other' ? !named.has(k || '(empty)') : (k || '(empty)') === site.name) ? [r] : [])),
        );
        const a = labeled(method, data.train, mine);
        const b = labeled(method, test, theirs);
        const both = (y: Int32Array) => new Set(y).size === classes;
        if (!both(a.y) || !both(b.y)) {
          a.x.dispose();
          b.x.dispose();
          continue;
        }
        out.perSite[site.name] = score(a, b);
      }
    }
    return out;
  };
  return {
    examples,
    labels,
    keys: (c) => columnKeys(data.train, c),
    makeViews: tabularViews,
    encoderSpec,
    validation: (method) =>
      duringSelection('validation score of a federated table encoder', () => carvedScore(method, labeled(method, data.train), classes)),
    baselineScore: (purpose, partition) => finalScore(null, purpose, partition),
    finalScore: (method, purpose, partition, onlySite) => finalScore(method, purpose, partition, onlySite),
    meta: (method, run) => preprocessedMeta(recipe, schema, examples, method.backbone.outDim, run).meta,
    files: { 'features.json': schema },
    testReads: () => data.test!.openings,
    dispose: () => examples.dispose(),
  };
}

/**
 * An event recipe's training histories and the event preprocessing fitted on them (kept
 * levels, scales, the length cut): what a simulated federation and a hosted one's owner share.
 */
export async function historyPreprocessing(recipe: Recipe): Promise<{ data: EventData; schema: EventSchema }> {
  const data = await loadEventData(recipe.data as EventDataSpec);
  return { data, schema: fitEvents(data.train, { maxLength: data.maxLength, typeField: data.typeField }) };
}

/** An event file read as a fixed event preprocessing expects its fields (categories stay categories). */
export function withEventTypes(spec: EventDataSpec, schema: EventSchema): EventDataSpec {
  return spec.path === undefined ? spec : { ...spec, types: { ...eventFieldTypes(schema), ...spec.types } };
}

async function historyData(recipe: Recipe, given?: EventSchema): Promise<FederatedData> {
  const spec = recipe.data as EventDataSpec;
  const { data, schema } = given
    ? { data: await loadEventData(withEventTypes(spec, given)), schema: given }
    : await historyPreprocessing(recipe);
  const h = data.train;
  if (!h.labels || !h.classes || !data.test)
    throw new TypeError(`a federated history benchmark needs entity labels and test entities; ${data.name} has none`);
  const examples = historiesTensor(h, schema);
  const labels = Int32Array.from(h.labels);
  const classes = h.classes.length;
  const encoderSpec = sequenceEncoderSpec(recipe.encoder as SequenceEncoderChoice, schema);
  /** Frozen features of a set's labeled entities. */
  const labeled = (method: SSLMethod, set: Histories): Features => {
    const l = labeledEntities(set);
    const x = historiesTensor(takeHistories(set, l.idx), schema);
    const f = extractFeatures(method.backbone, x, { mean: 0, std: 1 }, 512);
    x.dispose();
    return { x: f, y: Int32Array.from(l.y) };
  };
  return {
    examples,
    labels,
    keys: (c) => {
      throw new TypeError(`histories have no column '${c}' to partition by: split entities by label (dirichlet, shards), quantity or iid`);
    },
    makeViews: sequenceViews,
    encoderSpec,
    validation: (method) =>
      duringSelection('validation score of a federated history encoder', () => carvedScore(method, labeled(method, h), classes)),
    async finalScore(method, purpose) {
      method.eval();
      const test = await data.test!.forFinalScore(purpose);
      return { metric: classes === 2 ? 'auroc' : 'accuracy', linear: headScore(labeled(method, h), labeled(method, test), classes) };
    },
    meta: (method, run) => preprocessedMeta(recipe, schema, examples, method.backbone.outDim, run).meta,
    files: { [EVENTS_FILE]: schema },
    testReads: () => data.test!.openings,
    dispose: () => examples.dispose(),
  };
}

/** Splits a recipe's training examples among sites as a simulated federation does. */
export function partitionFor(data: FederatedData, spec: PartitionSpec, sites: number, seed: number): Partition {
  return partitionExamples(spec, {
    sites,
    seed,
    labels: data.labels,
    ...(spec.kind === 'column' ? { keys: data.keys(spec.column) } : {}),
    minPerSite: 2,
  });
}

/**
 * The preprocessing of a federation of tables or histories merged from its sites' summaries
 * (summarizeTable, summarizeHistories), and what it left out (columns or fields some site lacks
 * or that hold no input), for the owner to read.
 */
export function mergeSiteSummaries(
  recipe: Recipe,
  summaries: Record<string, unknown>,
  minCount: number,
): { schema: FeatureSchema | EventSchema; leftOut: string[] } {
  if (summarizedKind(recipe) === 'table') {
    const schema = mergeTableSummaries(summaries as Record<string, TableSummary>, {
      ...recipe.features,
      minCount,
      label: (recipe.data as TableDataSpec).label,
    });
    return { schema, leftOut: Object.entries(schema.ignored).map(([c, why]) => `${c} (${why})`) };
  }
  return mergeHistorySummaries(summaries as Record<string, HistorySummary>, {
    maxLength: (recipe.data as EventDataSpec).maxLength,
    minCount,
  });
}

/** The kind of data a federation with site summaries trains on: tables and histories only (an image federation's normalization is the owner's). */
export function summarizedKind(recipe: Recipe): 'table' | 'events' {
  const kind = recipe.data.dataset;
  if (kind === 'table' || kind === 'events') return kind;
  throw new TypeError(
    `site summaries merge the preprocessing of tables and histories; recipe ${recipe.name} reads ${kind ?? 'images'}, whose preprocessing the owner fits`,
  );
}

/**
 * A recipe's federated data and its partition into sites. With `siteSummaries` (tables, histories) the
 * preprocessing is then merged from each site's summary of its own training rows, and the data
 * encoded again under it; the rows, and so the partition, stay the same.
 */
export async function partitionedData(
  recipe: Recipe,
  spec: PartitionSpec,
  sites: number,
  seed: number,
  o: { quiet?: boolean; siteSummaries?: { minCount: number } } = {},
): Promise<{ data: FederatedData; partition: Partition }> {
  // A recipe whose preprocessing cannot be merged is refused before anything is read.
  const kind = o.siteSummaries ? summarizedKind(recipe) : null;
  const data = await federatedData(recipe, { quiet: o.quiet });
  const partition = partitionFor(data, spec, sites, seed);
  if (!o.siteSummaries) return { data, partition };
  data.dispose();
  const { minCount } = o.siteSummaries;
  let summaries: Record<string, unknown>;
  if (kind === 'events') {
    const events = await loadEventData(recipe.data as EventDataSpec);
    summaries = Object.fromEntries(
      partition.sites.map((s) => [
        s.name,
        summarizeHistories(takeHistories(events.train, s.indices), { typeField: events.typeField, minCount }),
      ]),
    );
  } else {
    const table = await loadTableData(recipe.data as TableDataSpec);
    summaries = Object.fromEntries(
      partition.sites.map((s) => [s.name, summarizeTable(takeRows(table.train, s.indices), { label: table.label, minCount })]),
    );
  }
  const { schema } = mergeSiteSummaries(recipe, summaries, minCount);
  const merged = await federatedData(recipe, { quiet: o.quiet, schema });
  if (merged.labels.length !== data.labels.length || merged.labels.some((y, i) => y !== data.labels[i]))
    throw new Error(`the rows of ${recipe.name} changed under the merged preprocessing`);
  return { data: merged, partition };
}

/**
 * The classical arm of a federated table benchmark: logistic regression (the same regularized
 * linear head) on the preprocessed rows, on the whole test split and on each site's own rows.
 */
export async function rawRowsScores(
  recipe: Recipe,
  o: { sites: number; partition: string; siteSummaries?: { minCount: number } },
): Promise<Scores & { perSite?: Record<string, number> }> {
  const { data, partition } = await partitionedData(recipe, parsePartition(o.partition), o.sites, recipe.seed, {
    quiet: true,
    siteSummaries: o.siteSummaries,
  });
  try {
    if (!data.baselineScore) throw new TypeError(`recipe ${recipe.name} has no raw-feature baseline here (tables only)`);
    return await data.baselineScore('the final score of logistic regression on the raw rows', partition);
  } finally {
    data.dispose();
  }
}

/** The recipe's method on `spec`, initialized from the recipe's seed: every party of a federation starts from the same weights. */
export function seededMethod(recipe: Recipe, spec: EncoderSpec): SSLMethod {
  torch.manualSeed(recipe.seed);
  return buildMethod(recipe.method.name, () => buildEncoder(spec), recipe.method.config);
}

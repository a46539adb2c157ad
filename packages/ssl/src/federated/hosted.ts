// Federations hosted by a hub: the owner puts the recipe's initial weights on the hub and starts
// the federation; each site runs `join`, which dials out to the hub (no inbound port at the
// site), pulls the global weights of the open round, trains on its own examples and puts back
// only its update. A site keeps its state (what stays local, optimizer, generators, where it is
// in its examples) on its own disk after every round, so a site that is killed and restarted
// trains the open round exactly as it would have, and an update it already sent is not counted
// twice (the hub refuses a second one for the round). Images, tables and event histories
// federate alike; the preprocessing of a table (category levels, quantiles) or of histories
// (kept categories, scales, the length cut) is fitted by the owner on its copy of the recipe's
// data and kept on the hub with the plan, so every site encodes its own data the same way.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import * as torch from '@pretext/torch';
import {
  encodedWidth,
  eventLayout,
  labelCodes,
  parsePartition,
  partitionExamples,
  ProgressBar,
  takeHistories,
  takeRows,
  fitFeatures,
  summarizeHistories,
  summarizeTable,
  type EventSchema,
  type FeatureSchema,
  type Histories,
  type HistorySummary,
  type Table,
  type TableSummary,
} from '@pretext/data';
import {
  decodeWeights,
  encodeWeights,
  flattenWeights,
  HubCallError,
  SecAggSite,
  secAggParams,
  type DpPolicy,
  type FederationInput,
  type HubClient,
  type RoundRecord,
  type SecAggSiteState,
  type SecureView,
  type UnmaskResponse,
  type Weights,
} from '@pretext/hub/client';
import { inputNormFor, loadImageSet, type DataSpec, type LabeledSet } from '../data/sources.js';
import type { EncoderSpec } from '../encoders/encoder.js';
import type { SSLMethod } from '../methods/method.js';
import { buildAugment } from '../recipe/augment.js';
import { validateRecipe, type Recipe } from '../recipe/schema.js';
import { imageViews, type ViewMaker } from '../train/trainer.js';
import type { InputNorm } from '../eval/features.js';
import { rowsTensor, tabularEncoderSpec, type TabularEncoderChoice } from '../modalities/tabular/pretrain.js';
import { loadTableData, type TableDataSpec } from '../modalities/tabular/source.js';
import { tabularViews } from '../modalities/tabular/views.js';
import { hasTrainingState, writeJsonAtomic } from '../train/state.js';
import { dpSettings, prepareForDp } from '../train/dpsgd.js';
import { encoderForData, imageEncoderMeta, saveEncoderRun } from '../pipeline.js';
import {
  columnKeys,
  federatedData,
  historyPreprocessing,
  mergeSiteSummaries,
  preprocessedMeta,
  summarizedKind,
  seededMethod,
  tablePreprocessing,
  withEventTypes,
  withSchemaTypes,
} from './data.js';
import { historiesTensor, sequenceEncoderSpec, type SequenceEncoderChoice } from '../modalities/sequence/pretrain.js';
import { loadEventData, type EventDataSpec } from '../modalities/sequence/source.js';
import { sequenceViews } from '../modalities/sequence/views.js';
import { FederatedSite, readWeights, writeWeights } from './site.js';
import type { FederatedProvenance } from './provenance.js';
import { bufferKeys, buildStrategy, sharedKeys, type Strategy } from './strategy.js';

export interface FederationRef {
  team: string;
  name: string;
}

/** What a hub answers about a federation (its members' view). */
export interface HostedFederation {
  team: string;
  name: string;
  status: 'created' | 'running' | 'paused' | 'stopped' | 'finished';
  sites: string[];
  rounds: number;
  localEpochs: number;
  minSites: number;
  roundTimeoutS: number;
  strategy: { name: string; share: string; proxMu?: number; emaTau?: number | null };
  secureAggregation?: { clip: number } | null;
  /** What every party preprocesses its data by (a table's feature schema, an event schema, images' normalization), fixed by the owner. */
  features?: Record<string, unknown> | null;
  /** The preprocessing is merged from the sites' summaries of their rows (tables), naming nothing seen fewer than minCount times. */
  siteSummaries?: { minCount: number } | null;
  /** Sites whose summary is in. */
  summarized?: string[];
  /** Whether the initial weights are on the hub. */
  hasWeights?: boolean;
  /** Record-level DP-SGD every site runs (the owner's policy), or null. */
  dp?: DpPolicy | null;
  /** Under DP-SGD: the epsilon each site reported at the policy's delta, by round (1-based) and site. */
  privacy?: Record<string, Record<string, number>>;
  /** What the owner measured on the global weights after each round (validation kNN, AUROC), by round. */
  metrics?: Record<string, Record<string, number>>;
  /** Each site's mean training loss, by round (1-based) and site (none under DP-SGD). */
  losses?: Record<string, Record<string, number>>;
  recipe: string;
  round: number;
  submitted: string[];
  history: RoundRecord[];
}

/** Each site's latest reported epsilon (null: the federation runs no DP-SGD). */
export function spentPrivacy(info: HostedFederation): Record<string, number> | null {
  if (!info.dp) return null;
  const latest: Record<string, number> = {};
  for (const r of Object.keys(info.privacy ?? {})
    .map(Number)
    .sort((a, b) => a - b))
    Object.assign(latest, info.privacy![String(r)]);
  return latest;
}

const path = (f: FederationRef): string => `/api/federations/${f.team}/${f.name}`;

function imageRecipe(recipe: Recipe): DataSpec {
  const d = recipe.data;
  if (d.dataset === 'table' || d.dataset === 'text' || d.dataset === 'events')
    throw new TypeError(`recipe ${recipe.name} reads ${d.dataset}, not images`);
  return d as DataSpec;
}

/**
 * What every party of a federation preprocesses its data by, fitted by the owner: a table's
 * feature schema, a history set's event schema, or the input normalization of images.
 */
type Preprocessing = FeatureSchema | EventSchema | ImageNorm;

/** The input normalization of an image federation, as the hub keeps it. */
interface ImageNorm extends InputNorm {
  format: 'pretext-input-norm/1';
}

const FORMAT = { table: 'pretext-features/1', events: 'pretext-events/1', images: 'pretext-input-norm/1' } as const;
const kindOf = (recipe: Recipe): keyof typeof FORMAT =>
  recipe.data.dataset === 'table' || recipe.data.dataset === 'events' ? recipe.data.dataset : 'images';

/** The owner's side: the preprocessing fitted on its copy of the recipe's training data. */
async function fitPreprocessing(recipe: Recipe): Promise<Preprocessing> {
  if (recipe.data.dataset === 'table') return (await tablePreprocessing(recipe)).schema;
  if (recipe.data.dataset === 'events') return (await historyPreprocessing(recipe)).schema;
  const data = imageRecipe(recipe);
  const set = await loadImageSet(data, 'train', { quiet: true });
  const limit = Math.min(data.limit ?? Infinity, set.images.size(0));
  const norm = await inputNormFor(data, { ...set, images: set.images.narrow(0, 0, limit) });
  set.images.dispose();
  set.labels?.dispose();
  return { format: FORMAT.images, ...norm };
}

/**
 * A federation's preprocessing as the hub keeps it. An image federation hosted before the hub
 * kept one has none: its sites then normalize by their own images' statistics.
 */
function federationSchema(recipe: Recipe, info: Pick<HostedFederation, 'features'>, ref: FederationRef): Preprocessing | undefined {
  const kind = kindOf(recipe);
  const f = info.features as Preprocessing | null | undefined;
  if (kind === 'images' && !f) return undefined;
  if (f?.format !== FORMAT[kind])
    throw new TypeError(
      `${ref.team}/${ref.name} trains on ${kind === 'table' ? 'a table' : kind} but the hub holds no preprocessing for it (host it again with this version)`,
    );
  return f;
}

/**
 * The method every party builds from the recipe (and, for tables and histories, the
 * federation's preprocessing): the same seed gives the same initial weights everywhere.
 */
function recipeMethod(recipe: Recipe, schema?: Preprocessing): SSLMethod {
  if (recipe.data.dataset === 'table')
    return seededMethod(recipe, tabularEncoderSpec(recipe.encoder as TabularEncoderChoice, schema as FeatureSchema));
  if (recipe.data.dataset === 'events')
    return seededMethod(recipe, sequenceEncoderSpec(recipe.encoder as SequenceEncoderChoice, schema as EventSchema));
  if (recipe.data.dataset === 'text')
    throw new TypeError(`hosted federations train image, table and history encoders; recipe ${recipe.name} reads text`);
  return seededMethod(recipe, encoderForData(recipe.encoder as EncoderSpec, imageRecipe(recipe)));
}

/** The recipe a federation on the hub trains, checked as a recipe file would be. */
function federationRecipe(info: HostedFederation, ref: FederationRef): Recipe {
  return validateRecipe(parseYaml(info.recipe), `the recipe of ${ref.team}/${ref.name}`);
}

function shapesOf(method: SSLMethod, keys: Iterable<string>): Map<string, number[]> {
  const sd = method.stateDict();
  return new Map([...keys].map((k) => [k, sd.get(k)!.shape]));
}

/** The owner's side: creates the federation on the hub with the recipe's initial weights, and starts it unless told not to. */
export async function hostFederation(
  client: HubClient,
  ref: FederationRef,
  recipeText: string,
  plan: Pick<
    FederationInput,
    'sites' | 'rounds' | 'localEpochs' | 'minSites' | 'roundTimeoutS' | 'maxUpdateNorm' | 'secureAggregation' | 'dp'
  >,
  strategy: Strategy,
  o: HostOptions = {},
): Promise<HostedFederation> {
  const recipe = validateRecipe(parseYaml(recipeText), 'the federation recipe');
  if (plan.dp) dpSettings(plan.dp);
  const body = {
    ...plan,
    strategy: {
      name: strategy.name,
      share: strategy.share,
      aggregation: strategy.aggregation,
      optimizer: strategy.optimizer,
      proxMu: strategy.proxMu,
      emaTau: strategy.emaTau,
    },
    recipe: recipeText,
  };
  let schema: Preprocessing;
  if (o.siteSummaries) {
    // Refused before the federation exists: images' normalization is the owner's.
    summarizedKind(recipe);
    schema = await mergedPreprocessing(client, ref, recipe, body, o.siteSummaries, o);
  } else {
    // The preprocessing every site applies is fitted on the owner's copy of the recipe's data.
    schema = await fitPreprocessing(recipe);
  }
  const method = recipeMethod(recipe, schema);
  // A DP policy the recipe cannot meet is refused here, before any site has trained.
  if (plan.dp) prepareForDp(method);
  const keys = sharedKeys(method, strategy.share);
  const weights = readWeights(method, keys);
  const plainKeys = [...bufferKeys(method, keys)];
  if (o.siteSummaries) await client.call('PUT', `${path(ref)}/features`, { features: schema, plainKeys });
  else await client.call('POST', path(ref), { ...body, plainKeys, features: schema as unknown as Record<string, unknown> });
  await client.bytes('PUT', `${path(ref)}/weights`, encodeWeights(weights, { recipe: recipe.name }, shapesOf(method, keys)));
  if (o.start !== false) await client.call('POST', `${path(ref)}/control`, { action: 'start' });
  return client.call<HostedFederation>('GET', path(ref));
}

export interface HostOptions {
  /** Start the federation once its initial weights are on the hub (default true). */
  start?: boolean;
  /** Merge the table preprocessing from the sites' summaries instead of fitting it on the owner's rows. */
  siteSummaries?: { minCount: number };
  /** How often to ask the hub while waiting for summaries (default 2 s). */
  pollMs?: number;
  /** How long to wait for every site's summary before going on with minSites of them (default the round timeout). */
  summaryWaitMs?: number;
  quiet?: boolean;
}

/**
 * The owner's side of a preprocessing merged across sites: creates the federation (or takes up
 * one it created before and has not fixed), waits for every site's summary (or, once the wait is
 * over, for minSites of them), merges them and puts the result on the hub.
 */
async function mergedPreprocessing(
  client: HubClient,
  ref: FederationRef,
  recipe: Recipe,
  body: Record<string, unknown> & { sites: string[]; minSites?: number; roundTimeoutS?: number },
  siteSummaries: { minCount: number },
  o: HostOptions,
): Promise<Preprocessing> {
  const log = (s: string): void => void (o.quiet ? undefined : console.error(s));
  const fed = `${ref.team}/${ref.name}`;
  let info: HostedFederation;
  try {
    info = await client.call<HostedFederation>('POST', path(ref), { ...body, siteSummaries });
  } catch (e) {
    // A host that was stopped while it waited takes its federation up again, the same plan only.
    if (!(e instanceof HubCallError && e.status === 409)) throw e;
    info = await client.call<HostedFederation>('GET', path(ref));
    if (info.status !== 'created' || !info.siteSummaries || info.recipe !== body.recipe || info.hasWeights)
      throw new RangeError(
        `${fed} exists with another recipe, or is past collecting site summaries (${info.status}); host under another name`,
        {
          cause: e,
        },
      );
    if (info.features) return info.features as unknown as Preprocessing;
    log(`${fed} exists and is collecting site summaries: taking it up`);
  }
  const need = info.minSites;
  const waitMs = o.summaryWaitMs ?? (info.roundTimeoutS ?? 600) * 1000;
  const since = Date.now();
  let told = -1;
  while (info.summarized!.length < info.sites.length && !(Date.now() - since >= waitMs && info.summarized!.length >= need)) {
    if (info.status === 'stopped') throw new RangeError(`${fed} was stopped while it collected site summaries`);
    if (info.summarized!.length !== told) {
      told = info.summarized!.length;
      log(`${fed}: summaries from ${told} of ${info.sites.length} sites${told ? ` (${info.summarized!.join(', ')})` : ''}; waiting`);
    }
    await sleep(o.pollMs ?? 2000);
    info = await client.call<HostedFederation>('GET', path(ref));
  }
  const summaries = await client.call<Record<string, unknown>>('GET', `${path(ref)}/summaries`);
  const { schema, leftOut } = mergeSiteSummaries(recipe, summaries, siteSummaries.minCount);
  log(
    `${fed}: preprocessing merged from ${Object.keys(summaries).join(', ')}: ${schema.numeric.length} numeric and ${schema.categorical.length} categorical inputs` +
      (leftOut.length ? `; left out ${leftOut.join(', ')}` : ''),
  );
  return schema;
}

/** The rows a site trains on: its training rows (a labeled file's test fifth held out), the shard if one is asked for. */
async function siteTable(recipe: Recipe, o: JoinOptions, schema?: FeatureSchema): Promise<Table> {
  const spec = (o.data ?? recipe.data) as TableDataSpec;
  if (spec.dataset !== 'table')
    throw new TypeError(`${o.federation.team}/${o.federation.name} trains on a table; --data reads ${spec.dataset}`);
  const rows = (await loadTableData(schema ? withSchemaTypes(spec, schema) : spec)).train;
  if (!o.shard) return rows;
  // A site's file may carry no label column: its rows then split as unlabeled. Before the
  // preprocessing is merged, the classes are the whole file's (every shard reads the same one).
  const labelled =
    schema ??
    (spec.label !== undefined && rows.columns.some((c) => c.name === spec.label) ? fitFeatures(rows, { label: spec.label }) : undefined);
  const labels =
    labelled?.label && rows.columns.some((c) => c.name === labelled.label!.name)
      ? labelCodes(rows, labelled)
      : new Int32Array(rows.rows).fill(-1);
  return takeRows(
    rows,
    shardIndices(o.shard, recipe.seed, labels, (c) => columnKeys(rows, c)),
  );
}

/** The histories a site trains on: its training entities (a labeled set's test entities held out), the shard if one is asked for. */
async function siteHistories(
  recipe: Recipe,
  o: JoinOptions,
  schema?: EventSchema,
): Promise<{ histories: Histories; typeField?: string | null }> {
  const spec = (o.data ?? recipe.data) as EventDataSpec;
  if (spec.dataset !== 'events')
    throw new TypeError(`${o.federation.team}/${o.federation.name} trains on histories; --data reads ${spec.dataset}`);
  const data = await loadEventData(schema ? withEventTypes(spec, schema) : spec);
  const h = data.train;
  if (!o.shard) return { histories: h, typeField: data.typeField };
  const labels = h.labels ? Int32Array.from(h.labels) : new Int32Array(h.entities.length).fill(-1);
  const idx = shardIndices(o.shard, recipe.seed, labels, (c) => {
    throw new TypeError(`histories have no column '${c}' to split by`);
  });
  return { histories: takeHistories(h, idx), typeField: data.typeField };
}

/**
 * A site's part in a preprocessing merged across sites: sends the summary of its rows (again
 * after a restart: the hub takes the same one twice) and waits until the owner has fixed the
 * preprocessing and put the initial weights.
 */
async function sendSummary(
  o: JoinOptions,
  recipe: Recipe,
  info: HostedFederation,
  wait: { pollMs: number; patienceMs: number; log: (s: string) => void },
): Promise<HostedFederation> {
  const fed = `${o.federation.team}/${o.federation.name}`;
  if (!info.summarized?.includes(o.site)) {
    const minCount = info.siteSummaries!.minCount;
    let summary: TableSummary | HistorySummary;
    let what: string;
    if (recipe.data.dataset === 'events') {
      const { histories, typeField } = await siteHistories(recipe, o);
      summary = summarizeHistories(histories, { typeField, minCount });
      what = `${histories.entities.length} entities`;
    } else {
      const rows = await siteTable(recipe, o);
      const spec = (o.data ?? recipe.data) as TableDataSpec;
      const label = spec.label !== undefined && rows.columns.some((c) => c.name === spec.label) ? spec.label : undefined;
      summary = summarizeTable(rows, { label, minCount });
      what = `${rows.rows} rows`;
    }
    try {
      await patiently(() => o.client.call('PUT', `${path(o.federation)}/summaries/${o.site}`, summary), wait);
      wait.log(`${o.site}: summary of ${what} sent to ${fed}; waiting for the merged preprocessing`);
    } catch (e) {
      // The owner merged without this site (its wait was over): the site trains under that preprocessing.
      if (!(e instanceof HubCallError && e.status === 409 && /is fixed/.test(e.message))) throw e;
      wait.log(`${o.site}: ${e.message}; training under the preprocessing merged without this site`);
    }
  }
  for (;;) {
    if (info.features || info.status === 'stopped') return info;
    await sleep(wait.pollMs);
    info = await patiently(() => o.client.call<HostedFederation>('GET', path(o.federation)), wait);
  }
}

export interface JoinOptions {
  client: HubClient;
  federation: FederationRef;
  /** The site team this agent submits for. */
  site: string;
  /** The site's own data (its recipe's `data`, of the federation recipe's kind); default: the federation recipe's. */
  data?: Recipe['data'];
  /** Train on part `index` of `of` of the data, split by `spec` with the recipe's seed (benchmarks and tests). */
  shard?: { spec: string; index: number; of: number };
  /** Where the site keeps its state between rounds and restarts. */
  stateDir: string;
  /** How often to ask the hub while waiting (default 2 s). */
  pollMs?: number;
  /** How long the hub may stay unreachable before the site gives up (default 30 minutes). */
  patienceMs?: number;
  quiet?: boolean;
}

export interface JoinResult {
  status: HostedFederation['status'];
  /** Rounds this site's updates went into (1-based, as the hub numbers them). */
  submitted: number[];
  /** Rounds that closed before this site's update arrived. */
  missed: number[];
}

/** Stable per-site seed offset, so two sites never draw the same batches. */
function siteSeed(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h % 1_000_003;
}

/** Indices of part `index` of `of` of a site's examples, split by `spec` with the recipe's seed. */
function shardIndices(
  shard: NonNullable<JoinOptions['shard']>,
  seed: number,
  labels: Int32Array,
  keys: (column: string) => string[],
): number[] {
  const spec = parsePartition(shard.spec);
  const p = partitionExamples(spec, {
    sites: shard.of,
    seed,
    labels,
    ...(spec.kind === 'column' ? { keys: keys(spec.column) } : {}),
    minPerSite: 2,
  });
  return [...p.sites[shard.index]!.indices];
}

/** What a site trains on: its own examples, and the views the recipe makes of them. */
async function siteExamples(
  recipe: Recipe,
  o: JoinOptions,
  schema?: Preprocessing,
): Promise<{ examples: torch.Tensor; makeViews: ViewMaker }> {
  if (schema?.format === 'pretext-events/1')
    return { examples: historiesTensor((await siteHistories(recipe, o, schema)).histories, schema), makeViews: sequenceViews };
  if (schema?.format === FORMAT.table) return { examples: rowsTensor(await siteTable(recipe, o, schema), schema), makeViews: tabularViews };
  const data = (o.data ?? imageRecipe(recipe)) as DataSpec;
  const set = await loadImageSet(data, 'train', { quiet: o.quiet });
  const limit = Math.min(data.limit ?? Infinity, set.images.size(0));
  let indices = Array.from({ length: limit }, (_, i) => i);
  if (o.shard) {
    if (!set.labels) throw new TypeError(`${set.source} has no labels to split by ${o.shard.spec}`);
    const labels = Int32Array.from((set.labels.narrow(0, 0, limit).data() as BigInt64Array).subarray(0, limit), Number);
    indices = shardIndices(o.shard, recipe.seed, labels, (c) => {
      throw new TypeError(`image data has no column '${c}' to split by`);
    });
  }
  const images = torch.keep(torch.tidy(() => set.images.indexSelect(0, torch.tensor(BigInt64Array.from(indices, (x) => BigInt(x))))));
  // The owner's normalization, so every site feeds the encoder the same inputs.
  const norm = schema?.format === FORMAT.images ? { mean: schema.mean, std: schema.std } : await inputNormFor(data, set as LabeledSet);
  set.images.dispose();
  set.labels?.dispose();
  return { examples: images, makeViews: imageViews(buildAugment(recipe.augment), norm) };
}

/**
 * Calls the hub until it answers: a hub that is down or restarting (no connection, or a 502/503
 * from a proxy in front of it) is waited for, up to `patienceMs` in a row; any other answer,
 * error or not, is returned or thrown.
 */
async function patiently<T>(call: () => Promise<T>, o: { pollMs: number; patienceMs: number; log: (s: string) => void }): Promise<T> {
  const since = Date.now();
  let told = false;
  for (;;) {
    try {
      return await call();
    } catch (e) {
      const down = e instanceof HubCallError && (e.status === 0 || e.status === 502 || e.status === 503);
      if (!down || Date.now() - since > o.patienceMs) throw e;
      if (!told) o.log(`the hub is unreachable (${e.message}); waiting for it`);
      told = true;
      await sleep(o.pollMs);
    }
  }
}

/** A site's side: trains every round of the federation it can, until the federation finishes or is stopped. */
export async function joinFederation(o: JoinOptions): Promise<JoinResult> {
  const { client } = o;
  const pollMs = o.pollMs ?? 2000;
  let info = await client.call<HostedFederation>('GET', path(o.federation));
  if (!info.sites.includes(o.site))
    throw new RangeError(`'${o.site}' is not a site of ${o.federation.team}/${o.federation.name} (sites: ${info.sites.join(', ')})`);
  if (o.shard && !(Number.isInteger(o.shard.index) && o.shard.index >= 0 && o.shard.index < o.shard.of))
    throw new RangeError(`shard ${o.shard.index} of ${o.shard.of} does not exist`);
  const recipe = federationRecipe(info, o.federation);
  const strategy = buildStrategy(info.strategy.name, {
    share: info.strategy.share as Strategy['share'],
    ...(info.strategy.name === 'fedprox' ? { proxMu: info.strategy.proxMu } : {}),
    ...(info.strategy.name === 'fedema' && info.strategy.emaTau != null ? { emaTau: info.strategy.emaTau } : {}),
  });
  const log = (s: string): void => void (o.quiet ? undefined : console.error(s));
  const wait = { pollMs, patienceMs: o.patienceMs ?? 30 * 60_000, log };
  if (info.siteSummaries && !info.features) {
    info = await sendSummary(o, recipe, info, wait);
    if (info.status === 'stopped') return { status: info.status, submitted: [], missed: [] };
  }
  const schema = federationSchema(recipe, info, o.federation);
  const { examples, makeViews } = await siteExamples(recipe, o, schema);
  const method = recipeMethod(recipe, schema);
  const keys = sharedKeys(method, strategy.share);
  const site = new FederatedSite({
    name: o.site,
    examples,
    method,
    makeViews,
    train: { ...recipe.train, seed: recipe.seed },
    rounds: info.rounds,
    localEpochs: info.localEpochs,
    strategy,
    shared: keys,
    seed: recipe.seed + siteSeed(o.site),
    ...(info.dp ? { dp: dpSettings(info.dp) } : {}),
  });
  const shapes = shapesOf(method, keys);
  const stateDir = join(o.stateDir, 'site');
  const progressPath = join(o.stateDir, 'join.json');
  const updatePath = join(o.stateDir, 'update.safetensors');
  mkdirSync(o.stateDir, { recursive: true });
  const fed = `${o.federation.team}/${o.federation.name}`;
  // trained: the last round trained (its update is in update.safetensors until the round is over);
  // done: the last round this site has finished with, its update taken or not.
  // loss: the mean training loss of round `trained` (reported to the hub with the update).
  const progress: {
    federation: string;
    site: string;
    submitted: number[];
    missed: number[];
    trained: number;
    done: number;
    loss?: number;
  } = existsSync(progressPath)
    ? (JSON.parse(readFileSync(progressPath, 'utf8')) as typeof progress)
    : { federation: fed, site: o.site, submitted: [], missed: [], trained: 0, done: 0 };
  if (progress.federation !== fed || progress.site !== o.site)
    throw new RangeError(`${o.stateDir} holds the state of site ${progress.site} in ${progress.federation}; use another --state folder`);
  if (hasTrainingState(stateDir)) site.load(stateDir);
  const secure = info.secureAggregation ?? null;
  /** The round whose update this process has handed to the hub (it then only waits for the round to close). */
  let sent = 0;
  try {
    for (;;) {
      info = await patiently(() => client.call<HostedFederation>('GET', path(o.federation)), wait);
      // A round this site took part in is over: record whether its update went in.
      if (progress.trained > progress.done && info.round >= progress.trained) {
        const r = progress.trained;
        (info.history[r - 1]?.sites.includes(o.site) ? progress.submitted : progress.missed).push(r);
        progress.done = r;
        writeJsonAtomic(progressPath, progress);
      }
      if (info.status === 'finished' || info.status === 'stopped') break;
      const open = info.round + 1;
      if (info.status !== 'running' || progress.done >= open || sent === open) {
        await sleep(pollMs);
        continue;
      }
      if (progress.trained < open) {
        const got = await patiently(() => client.bytes('GET', `${path(o.federation)}/weights`), wait);
        if (Number(got.headers.get('x-pretext-round')) !== info.round) continue;
        const global: Weights = decodeWeights(got.bytes).weights;
        site.receive(global);
        const bar = o.quiet
          ? null
          : new ProgressBar({ total: site.stepsPerRound, label: `${o.site} round ${open}/${info.rounds}`, unit: 'steps' });
        const { update, loss } = await site.train(info.round, global, () => bar?.tick(1));
        bar?.finish(`loss ${loss.toFixed(3)}`);
        // The state after training and the update it produced are kept before anything is sent:
        // a site restarted from here sends the same update, never a second, different one.
        site.save(stateDir);
        writeAtomicBytes(
          updatePath,
          encodeWeights(update!.delta, { examples: String(update!.examples), site: o.site, round: String(open) }, shapes),
        );
        progress.trained = open;
        progress.loss = loss;
        writeJsonAtomic(progressPath, progress);
      }
      // The privacy this site has spent is on the hub before its update is: the hub accounts for
      // every round the site trained, sent or not (a report repeated after a restart is the same).
      const epsilon = site.epsilon();
      if (epsilon !== null)
        await patiently(() => client.call('POST', `${path(o.federation)}/privacy/${o.site}`, { round: open, epsilon }), wait);
      // Its training loss, for the federation's page; never under DP-SGD (it would be outside the account).
      else if (progress.loss !== undefined && Number.isFinite(progress.loss))
        try {
          await patiently(() => client.call('POST', `${path(o.federation)}/losses/${o.site}`, { round: open, loss: progress.loss }), wait);
        } catch (e) {
          // A hub older than the losses route: the site trains on without reporting them.
          if (!(e instanceof HubCallError && e.status === 404)) throw e;
          log(`${o.site}: round ${open}: the hub takes no training losses (${e.message})`);
        }
      const body = readFileSync(updatePath);
      if (secure) await secureSubmit(o, info, open, decodeWeights(body).weights, wait);
      else {
        try {
          await patiently(() => client.bytes('PUT', `${path(o.federation)}/rounds/${open}/updates/${o.site}`, body), wait);
        } catch (e) {
          // Sent before a restart (the hub has it), or the round closed without this site.
          if (!(e instanceof HubCallError && e.status === 409)) throw e;
          log(`${o.site}: round ${open}: ${e.message}`);
        }
      }
      sent = open;
    }
  } finally {
    site.dispose();
  }
  return { status: info.status, submitted: progress.submitted, missed: progress.missed };
}

function writeAtomicBytes(file: string, bytes: Uint8Array): void {
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
}

/** What a site keeps on its own disk of the round it is securely aggregating (secrets included). */
interface SecureProgress {
  round: number;
  attempt: string;
  /** Its shares went to the hub (its masked input must then go with these keys). */
  shared: boolean;
  agent: SecAggSiteState;
  /** The shares it revealed, sent again as they were if the site restarts before the hub has them. */
  unmask?: UnmaskResponse;
}

/**
 * This site's part of the open round's secure aggregation: advertise keys, share them sealed,
 * send the masked update, reveal shares for the unmasking; until the round closes. Its keys,
 * seed and shares are kept in the state folder (readable by the site's user only) before each
 * step is sent, so a site killed mid-round and restarted goes on with the keys the other sites
 * already hold, and never reveals a second, different set of shares. A new attempt (the hub
 * restarted mid-round) starts over with fresh keys and the same update; the file goes when the
 * round closes.
 */
async function secureSubmit(
  o: JoinOptions,
  info: HostedFederation,
  open: number,
  delta: Weights,
  wait: { pollMs: number; patienceMs: number; log: (s: string) => void },
): Promise<void> {
  const at = `${path(o.federation)}/secure/${o.site}`;
  const savedPath = join(o.stateDir, 'secagg.json');
  const saved = existsSync(savedPath) ? (JSON.parse(readFileSync(savedPath, 'utf8')) as SecureProgress) : null;
  let agent: SecAggSite | null = null;
  let attempt = '';
  let shared = false;
  let answer: UnmaskResponse | undefined;
  const keep = (): void => {
    const p: SecureProgress = { round: open, attempt, shared, agent: agent!.state(), ...(answer ? { unmask: answer } : {}) };
    writeFileSync(`${savedPath}.tmp`, JSON.stringify(p), { mode: 0o600 });
    renameSync(`${savedPath}.tmp`, savedPath);
  };
  const finished = (): void => rmSync(savedPath, { force: true });
  for (;;) {
    let v: SecureView;
    try {
      v = await patiently(() => o.client.call<SecureView>('GET', at), wait);
    } catch (e) {
      if (e instanceof HubCallError && e.status === 409) return finished(); // finished or stopped
      throw e;
    }
    if (v.round !== open) return finished();
    if (v.attempt !== attempt) {
      const params = secAggParams(info.sites.length, v.clip, v.context);
      const resumed = saved !== null && saved.round === open && saved.attempt === v.attempt;
      agent = new SecAggSite(o.site, params, resumed ? saved.agent : undefined);
      attempt = v.attempt;
      shared = resumed && saved.shared;
      answer = resumed ? saved.unmask : undefined;
      if (resumed) wait.log(`${o.site}: round ${open}: resuming secure aggregation with the keys it advertised before the restart`);
      keep();
    }
    const a = agent!;
    const step = async (body: Record<string, unknown>): Promise<void> => {
      try {
        await patiently(() => o.client.call('POST', at, { round: open, attempt, ...body }), wait);
      } catch (e) {
        // The phase moved on without this site: it waits for the next round or attempt.
        if (!(e instanceof HubCallError && e.status === 409)) throw e;
        wait.log(`${o.site}: round ${open}: ${e.message}`);
      }
    };
    if (!v.done) {
      if (v.phase === 'keys') await step({ step: 'keys', advertisement: a.advertise() });
      else if (v.phase === 'shares' && v.roster.some((r) => r.site === o.site)) {
        const boxes = await a.shareKeys(v.roster);
        shared = true;
        keep();
        await step({ step: 'shares', boxes });
      } else if (v.phase === 'inputs' && shared) {
        a.receiveShares(v.boxes);
        const { masked } = a.maskedInput(flattenWeights(delta, [...delta.keys()]), 1);
        try {
          await patiently(
            () => o.client.bytes('PUT', `${at}/input?round=${open}&attempt=${attempt}&weight=1`, new Uint8Array(masked.buffer)),
            wait,
          );
        } catch (e) {
          if (!(e instanceof HubCallError && e.status === 409)) throw e;
          wait.log(`${o.site}: round ${open}: ${e.message}`);
        }
      } else if (v.phase === 'unmask' && v.request?.survivors.includes(o.site)) {
        if (!answer) {
          answer = a.unmask(v.request);
          keep();
        }
        await step({ step: 'unmask', response: answer });
      }
    }
    await sleep(wait.pollMs);
  }
}

/**
 * The federation's global encoder as an ordinary run folder (eval, transfer-report, push read
 * it), with its provenance from the hub: sites as team names, rounds and who took part in each,
 * bytes per round. Sites do not disclose their examples, so per-site counts are not known here.
 */
export async function saveHostedEncoder(
  client: HubClient,
  ref: FederationRef,
  outDir: string,
): Promise<{ info: HostedFederation; outDir: string }> {
  const info = await client.call<HostedFederation>('GET', path(ref));
  const recipe = federationRecipe(info, ref);
  const schema = federationSchema(recipe, info, ref);
  const { weights } = decodeWeights((await client.bytes('GET', `${path(ref)}/weights`)).bytes);
  const method = recipeMethod(recipe, schema);
  writeWeights(method, weights);
  method.eval();
  const strategy = buildStrategy(info.strategy.name, { share: info.strategy.share as Strategy['share'] });
  const provenance: FederatedProvenance = {
    mode: 'hub',
    sites: info.sites.map((name) => ({ name, examples: 0, classCounts: [] })),
    partition: { spec: 'each site its own data', seed: recipe.seed },
    rounds: info.round,
    localEpochs: info.localEpochs,
    minSites: info.minSites,
    strategy: { ...strategy, name: info.strategy.name },
    secureAggregation: info.secureAggregation ? { clip: info.secureAggregation.clip, clippedCoordinates: NaN } : false,
    perRound: info.history.map((r) => ({
      round: r.round,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      sites: r.sites.length,
      loss: NaN,
      ...(info.metrics?.[String(r.round)]?.valKnn === undefined ? {} : { valKnn: info.metrics[String(r.round)]!.valKnn }),
    })),
    preprocessing: info.siteSummaries
      ? { from: 'site-summaries', minCount: info.siteSummaries.minCount, sites: info.summarized ?? [] }
      : { from: 'owner' },
    epsilon: spentPrivacy(info),
    ...(info.dp ? { dp: { ...info.dp, sampling: 'poisson' as const } } : {}),
  };
  mkdirSync(outDir, { recursive: true });
  const lineage = {
    dataFingerprint: `federation ${ref.team}/${ref.name} round ${info.round}`,
    trainSteps: 0,
    trainSeconds: 0,
    federated: provenance,
  };
  if (schema && schema.format !== FORMAT.images) {
    // No examples here: a zero tensor of the encoded input's shape stands for them.
    const shape = schema.format === 'pretext-events/1' ? [1, schema.maxLength, eventLayout(schema).channels] : [1, encodedWidth(schema)];
    const x = torch.zeros(shape);
    const { meta, files } = preprocessedMeta(recipe, schema, x, method.backbone.outDim, lineage);
    x.dispose();
    saveEncoderRun(outDir, method.backbone, meta, files);
  } else {
    const data = imageRecipe(recipe);
    const spec = encoderForData(recipe.encoder as EncoderSpec, data);
    // The normalization every site used (that of the owner's copy of the recipe's data).
    const { format: _, ...norm } = (schema ?? (await fitPreprocessing(recipe))) as ImageNorm;
    saveEncoderRun(outDir, method.backbone, imageEncoderMeta(recipe, spec, method.backbone.outDim, norm, lineage));
  }
  writeJsonAtomic(join(outDir, 'federation.json'), { federation: `${ref.team}/${ref.name}`, status: info.status, ...provenance });
  return { info, outDir };
}

/** The name a validation score is recorded under on the hub: valKnn, valAuroc, valAccuracy. */
const metricName = (score: string): string => (score === 'knn' ? 'valKnn' : `val${score[0]!.toUpperCase()}${score.slice(1)}`);

/**
 * The owner's evaluator: after every completed round it pulls the global weights, scores them on
 * the validation split carved from the recipe's labeled training data (images: kNN; tables and
 * histories: the final-score protocol's linear head, AUROC or accuracy; the test split is never
 * read), and
 * records the figure on the hub for the federation page's curve.
 */
export async function watchFederation(
  client: HubClient,
  ref: FederationRef,
  o: { pollMs?: number; quiet?: boolean; onRound?: (round: number, scores: Record<string, number>) => void } = {},
): Promise<HostedFederation> {
  let info = await client.call<HostedFederation>('GET', path(ref));
  const recipe = federationRecipe(info, ref);
  const schema = federationSchema(recipe, info, ref);
  const data = await federatedData(
    recipe,
    schema?.format === FORMAT.images
      ? { quiet: o.quiet, norm: { mean: schema.mean, std: schema.std } }
      : { quiet: o.quiet, ...(schema ? { schema } : {}) },
  );
  const method = recipeMethod(recipe, schema);
  try {
    for (;;) {
      const done = Object.keys(info.metrics ?? {}).map(Number);
      const last = done.length ? Math.max(...done) : 0;
      if (info.round > last) {
        const got = await client.bytes('GET', `${path(ref)}/weights`);
        const round = Number(got.headers.get('x-pretext-round'));
        writeWeights(method, decodeWeights(got.bytes).weights);
        method.eval();
        const scores = data.validation(method);
        const metrics = Object.fromEntries(Object.entries(scores).map(([k, v]) => [metricName(k), v]));
        await client.call('POST', `${path(ref)}/rounds/${round}/metrics`, { metrics });
        o.onRound?.(round, scores);
      } else if (info.status === 'finished' || info.status === 'stopped') break;
      else await sleep(o.pollMs ?? 2000);
      info = await client.call('GET', path(ref));
    }
  } finally {
    data.dispose();
  }
  return info;
}

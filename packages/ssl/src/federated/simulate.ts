// `pretext federate simulate`: a federation's sites in one process, run through the hub's own
// coordinator (the same checks, combination and server optimizer as a hub-hosted federation),
// for research and tests. Every round the sites start from the global weights, train locally,
// and send only the difference in what their strategy shares; the run folder is a normal
// encoder run (eval, transfer-report, push work on it) plus federation.json with its provenance.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import * as torch from '@pretext/torch';
import { parsePartition, ProgressBar, seededPermutation, splitmix32, type Partition, type PartitionSpec } from '@pretext/data';
import {
  Coordinator,
  flattenWeights,
  SecAggServer,
  SecAggSite,
  secAggParams,
  unflattenWeights,
  type RoundRecord,
  type SiteUpdate,
  type Weights,
} from '@pretext/hub/client';
import type { SSLMethod } from '../methods/method.js';
import type { Recipe } from '../recipe/schema.js';
import { lineChart } from '../report/plot.js';
import { saveEncoderRun, type EncoderMeta, type Scores } from '../pipeline.js';
import { partitionedData, seededMethod } from './data.js';
import { FederatedSite, readWeights, writeWeights } from './site.js';
import type { FederatedProvenance } from './provenance.js';
import { bufferKeys, sharedKeys, StrategyError, type Strategy } from './strategy.js';
import { dpSettings, type DpConfig } from '../train/dpsgd.js';

export interface SimulateOptions {
  recipe: Recipe;
  outDir: string;
  sites: number;
  partition: string | PartitionSpec;
  /** The partition's seed (default: the recipe's). */
  partitionSeed?: number;
  strategy: Strategy;
  rounds: number;
  localEpochs: number;
  /** Updates a round needs when a site drops out (default: all sites). */
  minSites?: number;
  /** Chance that a site dies mid-round in a given round (its update never arrives). */
  dropRate?: number;
  /** Exactly this many sites, drawn afresh each round, die mid-round (after sharing keys, before their update). */
  dropPerRound?: number;
  /** Each site trains alone on its own examples (the baseline a federation must beat); no rounds are combined. */
  alone?: boolean;
  /** All sites' examples at one site (centralized training through the same rounds), scored per site like a federation. */
  pooled?: boolean;
  /**
   * Secure aggregation: sites clip each coordinate of their weighted update to [-clip, clip],
   * quantize and mask it; the coordinator sees only the unmasked sum.
   */
  secureAggregation?: { clip: number };
  /**
   * Record-level DP-SGD at every site (per-example clipping and Gaussian noise on Poisson
   * samples); each site's epsilon at the settings' delta goes into the provenance.
   */
  dp?: DpConfig;
  /**
   * Tables: the preprocessing is merged from each site's summary of its own rows (as a hosted
   * federation with site summaries gets it), naming nothing seen fewer than minCount times,
   * instead of fitted on every training row.
   */
  siteSummaries?: { minCount: number };
  quiet?: boolean;
}

export interface FederatedRun {
  outDir: string;
  provenance: FederatedProvenance;
  /** The score on validation data carved from the training examples, for choices between runs (images: knn; tables and histories: auroc or accuracy). */
  validation: Record<string, number>;
  /**
   * The test split's final score (each encoder scored once; `alone`: the mean over sites). With a
   * `column:` partition of a table, `perSite` holds each site's score on its own test rows.
   */
  scores: Scores & { perSite?: Record<string, number> };
  /** `alone`: every site's encoder scored on the whole test split, and (`own`) on its own rows. */
  perSite?: (Scores & { site: string; validation: Record<string, number>; own?: number })[];
  testReads: string[];
}

const ROUND_TIMEOUT_MS = 60_000;

function describePartition(p: Partition): FederatedProvenance['sites'] {
  return p.sites.map((s, i) => ({ name: s.name, examples: s.indices.length, classCounts: p.counts[i]! }));
}

export async function simulateFederation(o: SimulateOptions): Promise<FederatedRun> {
  const { recipe } = o;
  if (!(o.localEpochs > 0)) throw new RangeError(`local epochs must be positive, got ${o.localEpochs}`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new RangeError(`a federation runs at least one round, got ${o.rounds}`);
  if (o.secureAggregation) {
    if (o.strategy.aggregation.kind !== 'mean')
      throw new StrategyError(
        `${o.strategy.name} must see each update, so it cannot run under secure aggregation; use a strategy that takes the mean`,
      );
    secAggParams(o.sites, o.secureAggregation.clip, 'check');
  }
  const dropRate = o.dropRate ?? 0;
  if (!(dropRate >= 0 && dropRate < 1)) throw new RangeError(`a drop rate is in [0, 1), got ${dropRate}`);
  const dropPerRound = o.dropPerRound ?? 0;
  if (!Number.isInteger(dropPerRound) || dropPerRound < 0 || dropPerRound >= o.sites)
    throw new RangeError(`sites dropped per round must be a whole number below ${o.sites}, got ${dropPerRound}`);
  const dp = o.dp ? dpSettings(o.dp) : undefined;
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const spec = typeof o.partition === 'string' ? parsePartition(o.partition) : o.partition;
  const { data, partition } = await partitionedData(recipe, spec, o.sites, o.partitionSeed ?? recipe.seed, o);
  writeFileSync(
    join(o.outDir, 'partition.json'),
    `${JSON.stringify({ spec: partition.spec, seed: partition.seed, sites: describePartition(partition) }, null, 2)}\n`,
  );
  const { encoderSpec, makeViews } = data;
  // Every copy starts from the same initialization: the server's and each site's.
  const makeMethod = (): SSLMethod => seededMethod(recipe, encoderSpec);
  const server = makeMethod();
  const keys = sharedKeys(server, o.strategy.share);
  const plain = bufferKeys(server, keys);
  const trainConfig = { ...recipe.train, seed: recipe.seed };
  if (o.pooled && (o.alone || o.secureAggregation))
    throw new RangeError('pooled training is one site: it cannot also train sites alone or aggregate securely');
  // Pooled: one site holding every site's examples (the centralized arm on the same code path).
  const trainingSites = o.pooled
    ? [{ name: 'pooled', indices: Uint32Array.from(partition.sites.flatMap((p) => Array.from(p.indices))).sort() }]
    : partition.sites;
  const sites = trainingSites.map(
    (s, i) =>
      new FederatedSite({
        name: s.name,
        examples: torch.keep(torch.tidy(() => data.examples.indexSelect(0, torch.tensor(BigInt64Array.from(s.indices, (x) => BigInt(x)))))),
        method: makeMethod(),
        makeViews,
        train: trainConfig,
        rounds: o.rounds,
        localEpochs: o.localEpochs,
        strategy: o.strategy,
        shared: keys,
        seed: recipe.seed + 7919 * (i + 1),
        ...(dp ? { dp } : {}),
      }),
  );
  const coordinator = new Coordinator(
    {
      sites: sites.map((s) => s.name),
      rounds: o.rounds,
      minSites: o.minSites ?? sites.length,
      roundTimeoutMs: ROUND_TIMEOUT_MS,
      aggregation: o.strategy.aggregation,
      optimizer: o.strategy.optimizer,
      secureAggregation: o.secureAggregation,
    },
    readWeights(server, keys),
    plain,
    0,
  );
  const metricsPath = join(o.outDir, 'metrics.jsonl');
  const log = (r: Record<string, unknown>): void => appendFileSync(metricsPath, `${JSON.stringify(r)}\n`);
  const drops = splitmix32(recipe.seed ^ 0xd709);
  const perRound: FederatedProvenance['perRound'] = [];
  const started = performance.now();
  const stepsPerRound = sites.reduce((a, s) => a + s.stepsPerRound, 0);
  let clock = 0;
  let clipped = 0;
  for (let r = 0; r < o.rounds; r++) {
    const bar = o.quiet ? null : new ProgressBar({ total: stepsPerRound, label: `round ${r + 1}/${o.rounds}`, unit: 'steps' });
    const global = coordinator.global;
    const losses: number[] = [];
    const secure =
      o.secureAggregation && !o.alone ? await secureRound(sites, o.secureAggregation.clip, `${recipe.name}#${r + 1}`, keys, global) : null;
    const arrived: SiteUpdate[] = [];
    const doomed = new Set(dropPerRound > 0 && !o.alone ? seededPermutation(sites.length, drops()).subarray(0, dropPerRound) : []);
    for (const [i, site] of sites.entries()) {
      if (!o.alone) site.receive(global);
      const { update, loss } = await site.train(r, o.alone ? null : global, () => bar?.tick(1, site.name));
      losses.push(loss);
      const dead = doomed.has(i) || (!o.alone && dropRate > 0 && drops() / 0x1_0000_0000 < dropRate);
      if (!update || dead) continue;
      if (secure) arrived.push(update);
      else coordinator.submit(update, r);
    }
    const loss = losses.reduce((a, b) => a + b, 0) / losses.length;
    let record: RoundRecord | null = null;
    if (secure) {
      // Weights relative to the largest possible round at one site keep every weighted update in the clip range.
      const cap = Math.max(...sites.map((s) => s.stepsPerRound * s.batchSize));
      const out = await secure.aggregate(arrived, cap);
      clipped += out.clipped;
      if (out.survivors.length < sites.length) clock += ROUND_TIMEOUT_MS;
      record = coordinator.closeWithMean(out.mean, { sites: out.survivors, examples: out.examples, bytesIn: out.bytesIn, now: clock });
    } else if (!o.alone) {
      record = coordinator.closeIfReady(clock) ?? coordinator.closeIfReady((clock += ROUND_TIMEOUT_MS));
      if (!record)
        throw new Error(
          `round ${r + 1}: only ${coordinator.submitted.length} of ${sites.length} sites submitted, below the quorum of ${coordinator.plan.minSites}`,
        );
    }
    // The recipe's per-epoch curve becomes a per-round one: the global encoder's validation score.
    let valKnn: number | undefined;
    if (recipe.evaluation.knnEveryEpoch && !o.alone) {
      writeWeights(server, coordinator.global);
      valKnn = Object.values(data.validation(server))[0]!;
    }
    const entry = {
      round: r + 1,
      bytesIn: record?.bytesIn ?? 0,
      bytesOut: record?.bytesOut ?? 0,
      sites: record?.sites.length ?? sites.length,
      // Under DP-SGD the sites' mean loss is computed from their rows without noise: the console
      // shows it, the run folder (which a push publishes) does not.
      loss: dp ? NaN : loss,
      ...(valKnn === undefined ? {} : { valKnn }),
    };
    perRound.push(entry);
    log({ ...entry, seconds: (performance.now() - started) / 1000 });
    bar?.finish(
      `loss ${loss.toFixed(3)}  ${record ? `${record.sites.length}/${sites.length} sites, ${(record.bytesIn / 1e6).toFixed(1)} MB in` : 'alone'}`,
    );
  }
  const trainSeconds = (performance.now() - started) / 1000;
  const provenance: FederatedProvenance = {
    mode: 'simulated',
    sites: describePartition(partition),
    partition: { spec: partition.spec, seed: partition.seed },
    rounds: o.rounds,
    localEpochs: o.localEpochs,
    minSites: coordinator.plan.minSites,
    strategy: { ...o.strategy, name: o.alone ? 'alone' : o.strategy.name },
    secureAggregation: o.secureAggregation && !o.alone ? { clip: o.secureAggregation.clip, clippedCoordinates: clipped } : false,
    perRound,
    preprocessing: o.siteSummaries
      ? { from: 'site-summaries', minCount: o.siteSummaries.minCount, sites: partition.sites.map((s) => s.name) }
      : { from: 'all-rows' },
    epsilon: dp ? Object.fromEntries(sites.map((s) => [s.name, s.epsilon()!])) : null,
    ...(dp ? { dp: { clip: dp.clip, noise: dp.noise, delta: dp.delta, sampling: 'poisson' as const } } : {}),
  };
  const meta = (method: SSLMethod): EncoderMeta =>
    data.meta(method, { trainSteps: o.rounds * stepsPerRound, trainSeconds, federated: provenance });
  let run: FederatedRun;
  if (o.alone) {
    const perSite: NonNullable<FederatedRun['perSite']> = [];
    for (const site of sites) {
      const validation = data.validation(site.method);
      const dir = join(o.outDir, 'sites', site.name);
      mkdirSync(dir, { recursive: true });
      saveEncoderRun(dir, site.method.backbone, meta(site.method), data.files);
      const { perSite: own, ...scores } = await data.finalScore(
        site.method,
        `the final score of ${site.name} trained alone`,
        partition,
        site.name,
      );
      perSite.push({ site: site.name, validation, ...scores, ...(own?.[site.name] === undefined ? {} : { own: own[site.name] }) });
    }
    const mean = (f: (s: (typeof perSite)[number]) => number | undefined): number =>
      perSite.reduce((a, s) => a + (f(s) ?? NaN), 0) / perSite.length;
    const ownScores = Object.fromEntries(perSite.flatMap((p) => (p.own === undefined ? [] : [[p.site, p.own]])));
    run = {
      outDir: o.outDir,
      provenance,
      validation: Object.fromEntries(Object.keys(perSite[0]!.validation).map((k) => [k, mean((s) => s.validation[k])])),
      scores: {
        ...(perSite.some((p) => p.knn !== undefined) ? { knn: mean((s) => s.knn) } : {}),
        ...(perSite.some((p) => p.linear !== undefined) ? { linear: mean((s) => s.linear) } : {}),
        ...(perSite[0]!.metric ? { metric: perSite[0]!.metric } : {}),
        ...(Object.keys(ownScores).length ? { perSite: ownScores } : {}),
      },
      perSite,
      testReads: data.testReads(),
    };
  } else {
    writeWeights(server, coordinator.global);
    server.eval();
    const validation = data.validation(server);
    saveEncoderRun(o.outDir, server.backbone, meta(server), data.files);
    const scores = await data.finalScore(server, `the final score of the ${o.pooled ? 'pooled' : 'federated'} encoder`, partition);
    run = { outDir: o.outDir, provenance, validation, scores, testReads: data.testReads() };
  }
  writeFileSync(join(o.outDir, 'federation.json'), `${JSON.stringify(provenance, null, 2)}\n`);
  if (!dp)
    writeFileSync(
      join(o.outDir, 'federation.svg'),
      lineChart([{ name: 'mean local loss', points: perRound.map((r) => [r.round, r.loss] as [number, number]) }], {
        title: `${provenance.strategy.name}, ${o.sites} sites, ${partition.spec}: mean local loss by round`,
        xLabel: 'round',
        yLabel: 'loss',
      }),
    );
  if (perRound.some((r) => r.valKnn !== undefined))
    writeFileSync(
      join(o.outDir, 'federation-knn.svg'),
      lineChart([{ name: 'validation kNN', points: perRound.map((r) => [r.round, r.valKnn!] as [number, number]) }], {
        title: `${provenance.strategy.name}, ${o.sites} sites, ${partition.spec}: the global encoder's validation kNN by round`,
        xLabel: 'round',
        yLabel: 'kNN accuracy',
        percent: true,
      }),
    );
  writeFileSync(
    join(o.outDir, 'scores.json'),
    `${JSON.stringify({ dataset: recipe.data.dataset === 'table' || recipe.data.dataset === 'events' ? (recipe.data.name ?? recipe.data.path) : recipe.data.dataset, split: 'test', ...run.scores, validation: run.validation, ...(run.perSite ? { sites: run.perSite } : {}) }, null, 2)}\n`,
  );
  for (const s of sites) s.dispose();
  data.dispose();
  return run;
}

/**
 * One securely aggregated round among simulated sites: keys advertised and shares sealed before
 * training (as a site would at the round's start); after training, each arriving update is
 * masked and summed, and the sites that died are unmasked from the survivors' shares.
 */
async function secureRound(
  sites: FederatedSite[],
  clip: number,
  context: string,
  keys: string[],
  global: Weights,
): Promise<{
  aggregate(
    arrived: SiteUpdate[],
    cap: number,
  ): Promise<{ mean: Weights; survivors: string[]; examples: number; bytesIn: number; clipped: number }>;
}> {
  const params = secAggParams(sites.length, clip, context);
  const length = keys.reduce((a, k) => a + global.get(k)!.length, 0);
  const server = new SecAggServer(
    sites.map((s) => s.name),
    params,
    length,
  );
  const agents = new Map(sites.map((s) => [s.name, new SecAggSite(s.name, params)]));
  for (const a of agents.values()) server.advertise(a.advertise());
  const roster = server.roster();
  for (const a of agents.values()) server.relayShares(a.site, await a.shareKeys(roster));
  for (const a of agents.values()) a.receiveShares(server.deliveries(a.site));
  return {
    async aggregate(arrived, cap) {
      let clipped = 0;
      for (const u of arrived) {
        const weight = Math.min(1, u.examples / cap);
        const m = agents.get(u.site)!.maskedInput(flattenWeights(u.delta, keys), weight);
        clipped += m.clipped;
        server.submitMasked(u.site, m.masked, weight);
      }
      const req = server.unmaskRequest();
      const out = await server.finish(req.survivors.map((s) => agents.get(s)!.unmask(req)));
      const mean = unflattenWeights(
        out.sum.map((v) => v / out.weight),
        new Map(keys.map((k) => [k, global.get(k)!])),
      );
      return { mean, survivors: out.survivors, examples: arrived.reduce((a, u) => a + u.examples, 0), bytesIn: server.bytesIn, clipped };
    },
  };
}

// `pretext federate`: federated pretraining. `simulate` runs a federation's sites in this process
// through the hub's coordinator.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { DpError, loadRecipe, simulateFederation, StrategyError, STRATEGY_NAMES } from '@pretext/ssl';
import { PartitionError } from '@pretext/data';
import { SecureAggregationError } from '@pretext/hub/client';
import { UsageError } from './errors.js';
import { dpOption, FEDERATE_HUB_HELP, federateHubCommand, minCountOption, roundsAndStrategy } from './federateHub.js';

export const FEDERATE_HELP: Record<string, string> = {
  federate: `Usage: pretext federate simulate <recipe.yaml> --sites N --partition SPEC [--strategy NAME]
                 [--rounds R] [--local-epochs E] [--min-sites K] [--drop-rate P | --drop-per-round N] [--alone]
                 [--server-lr X] [--prox-mu X] [--ema-tau X] [--trim-beta X] [--share encoder|all]
                 [--secure-aggregation [--clip X]] [--dp-noise SIGMA --dp-clip C [--dp-delta D]]
                 [--site-summaries [--min-count N]] [--partition-seed S] [--out DIR] [--json]

Federated pretraining of the recipe's encoder (images, a table or event histories) by N
simulated sites in this process, through the same coordinator a hub runs: each round every
site starts from the global weights, trains on its own examples only, and sends the difference
in what the strategy shares; the coordinator checks and combines the updates and moves the
global weights. The run folder is an encoder run
(eval, transfer-report, report, push work on it) with federation.json (sites, partition counts
per class, strategy, bytes per round), partition.json, metrics.jsonl and federation.svg.

  --partition SPEC   iid | dirichlet:ALPHA (label skew; 0.1 strong, 1.0 mild) | shards:K |
                     quantity:ALPHA (site sizes skewed, classes mixed) | column:NAME (tables:
                     the N-1 most frequent values of a column are sites, the rest one more;
                     each site is also scored on its own test rows)
  --strategy NAME    ${STRATEGY_NAMES.join(' | ')} (default fedavg)
                     fedavg: example-weighted mean; fedprox: plus mu*(w - global) on each site's
                     gradients; fedadam/fedyogi: server optimizers (Reddi et al. 2021, --server-lr,
                     default 0.01); median, trimmed-mean: robust to a few bad sites (they see each
                     update, so they cannot run under secure aggregation); fedema: the encoder only
                     is shared and each site blends it in by its divergence (FedEMA)
  --share WHAT       encoder: only the backbone leaves a site (projector/predictor stay local);
                     all: the whole online network (default; fedema: encoder). Momentum targets
                     and MoCo's queue always stay local.
  --rounds R         default: the recipe's epochs / local epochs (the same sample passes as
                     centralized training)
  --local-epochs E   passes over a site's own examples per round (default 1; fractions allowed)
  --min-sites K      updates a round needs once its timeout passed (default: all sites)
  --drop-rate P      each round each site dies mid-round with chance P (its update never comes)
  --drop-per-round N exactly N sites, drawn each round, die mid-round
  --alone            each site trains alone on its own examples (the baseline), scored one by one
  --pooled           every site's examples trained together at one site (the centralized arm),
                     scored like the federation (per site too)
  --secure-aggregation
                     sites clip each coordinate of their weighted update to [-X, X] (--clip,
                     default 4), quantize and mask it (pairwise X25519 masks, Shamir-shared keys);
                     the coordinator sees only the sum, and sites that die after sharing their
                     keys are unmasked by the others. Needs 3 sites or more and the mean.
  --dp-noise SIGMA --dp-clip C
                     record-level DP-SGD at every site: each step takes a Poisson sample of the
                     site's rows (rate batch/rows), clips each row's gradient to L2 norm C, adds
                     Gaussian noise of std SIGMA*C; epsilon per site at delta (--dp-delta, default
                     1e-5) goes into federation.json and the encoder's provenance. Needs a loss
                     that is a mean over rows and no BatchNorm: dae, mfm or vime on ft-transformer
                     or tabular-mlp with norm: layer.
  --site-summaries   tables, histories: the preprocessing is merged from each site's summary
                     of its own rows or histories (as a hosted federation's with --site-summaries)
                     instead of fitted on all training data; --min-count N: the smallest count a
                     summary names
                     (default the recipe's features.minCount or 5)
  --out DIR          run folder (default runs/<recipe name>-federated)

${FEDERATE_HUB_HELP}`,
};

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new UsageError(`--${name} must be a non-negative number, got '${v}'`);
  return x;
};

export async function federateCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') return (void console.log(FEDERATE_HELP.federate), sub === undefined ? 2 : 0);
  if (sub !== 'simulate') {
    let hosted: number | null;
    try {
      hosted = await federateHubCommand(sub, rest);
    } catch (e) {
      if (e instanceof StrategyError || e instanceof PartitionError || e instanceof DpError) throw new UsageError(e.message);
      throw e;
    }
    if (hosted !== null) return hosted;
    throw new UsageError(`unknown federate command '${sub}': simulate, host, join, status, start, pause, resume, stop or save`);
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      sites: { type: 'string' },
      partition: { type: 'string' },
      strategy: { type: 'string', default: 'fedavg' },
      rounds: { type: 'string' },
      'local-epochs': { type: 'string', default: '1' },
      'min-sites': { type: 'string' },
      'drop-rate': { type: 'string' },
      'drop-per-round': { type: 'string' },
      alone: { type: 'boolean', default: false },
      pooled: { type: 'boolean', default: false },
      'secure-aggregation': { type: 'boolean', default: false },
      clip: { type: 'string', default: '4' },
      'dp-noise': { type: 'string' },
      'dp-clip': { type: 'string' },
      'dp-delta': { type: 'string' },
      'server-lr': { type: 'string' },
      'prox-mu': { type: 'string' },
      'ema-tau': { type: 'string' },
      'trim-beta': { type: 'string' },
      share: { type: 'string' },
      'partition-seed': { type: 'string' },
      'site-summaries': { type: 'boolean', default: false },
      'min-count': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(FEDERATE_HELP.federate), 0);
  if (positionals.length !== 1) throw new UsageError('federate simulate takes one recipe file');
  const sites = Number(values.sites);
  if (!Number.isInteger(sites) || sites < 1) throw new UsageError('--sites N (a whole number, at least 1) is required');
  if (!values.partition) throw new UsageError('--partition is required: iid, dirichlet:ALPHA, shards:K or quantity:ALPHA');
  const dp = dpOption(values);
  if (values['min-count'] !== undefined && !values['site-summaries']) throw new UsageError('--min-count belongs to --site-summaries');
  const recipe = loadRecipe(positionals[0]!);
  const minSites = values['min-sites'] === undefined ? undefined : Number(values['min-sites']);
  if (minSites !== undefined && (!Number.isInteger(minSites) || minSites < 1 || minSites > sites))
    throw new UsageError(`--min-sites must be between 1 and ${sites}`);
  try {
    const { localEpochs, rounds, strategy } = roundsAndStrategy(values, recipe);
    const outDir = values.out ?? join('runs', `${recipe.name}-${values.alone ? 'alone' : 'federated'}`);
    const run = await simulateFederation({
      recipe,
      outDir,
      sites,
      partition: values.partition,
      partitionSeed: values['partition-seed'] === undefined ? undefined : Number(values['partition-seed']),
      strategy,
      rounds,
      localEpochs,
      minSites,
      dropRate: num(values['drop-rate'], 'drop-rate'),
      dropPerRound: num(values['drop-per-round'], 'drop-per-round'),
      alone: values.alone,
      pooled: values.pooled,
      secureAggregation: values['secure-aggregation'] ? { clip: num(values.clip, 'clip')! } : undefined,
      dp,
      ...(values['site-summaries'] ? { siteSummaries: { minCount: minCountOption(values['min-count'], recipe) } } : {}),
    });
    const p = run.provenance;
    if (values.json) {
      console.log(
        JSON.stringify({
          outDir,
          strategy: p.strategy.name,
          partition: p.partition,
          rounds: p.rounds,
          validation: run.validation,
          ...run.scores,
          perRound: p.perRound,
          sites: run.perSite,
          ...(p.epsilon ? { epsilon: p.epsilon, dp: p.dp } : {}),
        }),
      );
      return 0;
    }
    console.log(
      `\n${p.sites.length} sites (${p.partition.spec}, seed ${p.partition.seed}): ${p.sites.map((s) => `${s.name} ${s.examples}`).join(', ')}`,
    );
    const mb = p.perRound.reduce((a, r) => a + r.bytesIn + r.bytesOut, 0) / 1e6;
    console.log(
      `${p.rounds} rounds of ${p.localEpochs} local epoch(s), ${p.strategy.name}, sharing ${p.strategy.share}: ${mb.toFixed(1)} MB exchanged in all`,
    );
    const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);
    console.log(
      run.scores.metric
        ? `validation ${Object.entries(run.validation)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(
              ', ',
            )}; test ${run.scores.metric} (linear probe) ${run.scores.linear?.toFixed(3) ?? '-'}${values.alone ? ' (mean over sites)' : ''}`
        : `validation kNN ${pct(run.validation.knn)}; test: kNN ${pct(run.scores.knn)}, linear probe ${pct(run.scores.linear)}${values.alone ? ' (mean over sites)' : ''}`,
    );
    if (run.scores.perSite)
      console.log(
        `on each site's own test rows (${run.scores.metric}): ${Object.entries(run.scores.perSite)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(', ')}`,
      );
    if (p.epsilon && p.dp)
      console.log(
        `DP-SGD (clip ${p.dp.clip}, noise ${p.dp.noise}): epsilon at delta ${p.dp.delta} per site: ${Object.entries(p.epsilon)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(', ')}`,
      );
    console.log(`run folder: ${outDir}`);
    return 0;
  } catch (e) {
    if (e instanceof StrategyError || e instanceof PartitionError || e instanceof SecureAggregationError || e instanceof DpError)
      throw new UsageError(e.message);
    throw e;
  }
}

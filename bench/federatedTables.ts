// Federated pretraining of a table by a natural column: the lending-club case, banks by
// region. The largest states are sites and the rest are pooled into one more; three arms train
// the same recipe with the same sample passes: pooled (every row at one site: centralized
// training), each site alone, and the federation; logistic regression on the preprocessed rows
// is the classical arm. Every encoder is scored by the tabular
// final-score protocol (a regularized linear head on frozen features, AUROC) on the whole test
// split and on each site's own test rows, with the head fitted on that site's own training rows.
// One JSON line per arm and seed, then one per arm and site with the mean and spread over seeds:
//   {"case":"arm","arm","seed","linear","val","per_site":{...},"rounds","seconds"}
//   {"case":"site","site","arm","mean","std","seeds"}
//
//   npm run bench:federated-tables                      scarf on lending-club, 5 sites by addr_state, 3 seeds
//   npm run bench:federated-tables -- --seeds 1 --epochs 10
//   npm run bench:federated-tables -- --site-summaries   adds FedAvg and logistic regression on
//                                      the preprocessing merged from the sites' summaries
//
// Accuracy against epsilon (record-level DP-SGD at every site): the federation without DP and
// with each noise multiplier, the same recipe and encoder on both sides (a loss that is a mean
// over rows, and layer norm in place of BatchNorm, which DP-SGD needs and the plain arm gets
// too, so the curve shows what privacy costs and not what the architecture does). Each DP arm's
// line adds "epsilon" per site and "epsilon_max" at delta 1e-5; dp-curve.svg plots AUROC by epsilon.
//   npm run bench:federated-tables -- --recipe recipes/tabular/dae-lending-club.yaml --dp-noise 0.8,1.5,3 --dp-clip 1
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildStrategy, loadRecipe, rawRowsScores, simulateFederation, type DpConfig, type FederatedRun } from '@pretext/ssl';
import { noiseLevels, worstEpsilon, writeDpCurve, type CurvePoint } from './dpCurve.js';

const { values: args } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'recipes/tabular/scarf-lending-club.yaml' },
    column: { type: 'string', default: 'addr_state' },
    sites: { type: 'string', default: '5' },
    seeds: { type: 'string', default: '3' },
    epochs: { type: 'string' },
    'local-epochs': { type: 'string', default: '1' },
    strategy: { type: 'string', default: 'fedavg' },
    // Noise multipliers for the accuracy-against-epsilon curve (comma-separated), and the per-row clipping norm.
    'dp-noise': { type: 'string' },
    'dp-clip': { type: 'string', default: '1' },
    // Also run FedAvg and logistic regression on the preprocessing merged from the sites' summaries.
    'site-summaries': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/out/federated-tables' },
  },
});
const emit = (o: object): void => console.log(JSON.stringify(o));
const base = loadRecipe(args.recipe);
if (args.epochs) base.train = { ...base.train, epochs: Number(args.epochs) };
const localEpochs = Number(args['local-epochs']);
const rounds = Math.max(1, Math.round(base.train.epochs / localEpochs));
mkdirSync(args.out, { recursive: true });

const noises = noiseLevels(args['dp-noise']);
if (noises.length > 0 && base.encoder.type === 'tabular-mlp')
  base.encoder = { ...base.encoder, config: { ...base.encoder.config, norm: 'layer' } };
const siteSummaries = { minCount: base.features?.minCount ?? 5 };
const arms: { arm: string; o: { pooled?: boolean; alone?: boolean; dp?: DpConfig; siteSummaries?: { minCount: number } } }[] =
  noises.length > 0
    ? [
        { arm: `federated-${args.strategy}`, o: {} },
        ...noises.map((noise) => ({ arm: `federated-${args.strategy}-dp${noise}`, o: { dp: { noise, clip: Number(args['dp-clip']) } } })),
      ]
    : [
        { arm: 'pooled', o: { pooled: true } },
        { arm: 'alone', o: { alone: true } },
        { arm: `federated-${args.strategy}`, o: {} },
        ...(args['site-summaries'] ? [{ arm: `federated-${args.strategy}-summaries`, o: { siteSummaries } }] : []),
      ];
/** AUROC by epsilon (the largest site's), per seed: the DP arms' points and the plain arm's score. */
const curve: CurvePoint[] = [];
const plain: number[] = [];
const perSite = new Map<string, Map<string, number[]>>();
const record = (arm: string, sites: Record<string, number>): void => {
  for (const [site, v] of Object.entries(sites)) {
    if (!perSite.has(site)) perSite.set(site, new Map());
    const m = perSite.get(site)!;
    m.set(arm, [...(m.get(arm) ?? []), v]);
  }
};
// The classical arm: logistic regression on the preprocessed rows (no pretraining, no seed to vary).
for (const merged of args['site-summaries'] ? [false, true] : [false]) {
  const t0 = performance.now();
  const s = await rawRowsScores(base, {
    sites: Number(args.sites),
    partition: `column:${args.column}`,
    ...(merged ? { siteSummaries } : {}),
  });
  const arm = merged ? 'logistic-summaries' : 'logistic';
  emit({
    case: 'arm',
    arm,
    seed: null,
    metric: s.metric,
    linear: s.linear,
    per_site: s.perSite ?? {},
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  });
  record(arm, s.perSite ?? {});
}
for (let seed = 0; seed < Number(args.seeds); seed++) {
  for (const { arm, o } of arms) {
    const outDir = join(args.out, `${arm}-s${seed}`);
    rmSync(outDir, { recursive: true, force: true });
    const t0 = performance.now();
    const run: FederatedRun = await simulateFederation({
      recipe: { ...base, seed },
      outDir,
      sites: Number(args.sites),
      partition: `column:${args.column}`,
      strategy: buildStrategy(args.strategy),
      rounds,
      localEpochs,
      quiet: true,
      ...o,
    });
    const sites = run.scores.perSite ?? {};
    const epsilon = run.provenance.epsilon;
    const epsilonMax = worstEpsilon(epsilon);
    emit({
      case: 'arm',
      arm,
      seed,
      metric: run.scores.metric,
      linear: run.scores.linear,
      val: run.validation,
      per_site: sites,
      rounds,
      ...(epsilon ? { dp: run.provenance.dp, epsilon, epsilon_max: Number(epsilonMax!.toFixed(3)) } : {}),
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    });
    record(arm, sites);
    if (epsilonMax !== null) curve.push({ epsilon: epsilonMax, score: run.scores.linear!, seed });
    else if (noises.length > 0) plain.push(run.scores.linear!);
  }
}
for (const [site, m] of perSite)
  for (const [arm, v] of m) {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
    emit({ case: 'site', site, arm, mean: Number(mean.toFixed(4)), std: Number(std.toFixed(4)), seeds: v.length });
  }

writeDpCurve(join(args.out, 'dp-curve.svg'), {
  title: `${base.name}, ${args.sites} sites by ${args.column}: test AUROC against epsilon`,
  yLabel: 'AUROC',
  points: curve,
  plain,
});

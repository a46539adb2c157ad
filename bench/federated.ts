// Federated pretraining against centralized training and against sites trained alone, one JSON
// line per case:
//   {"case","dataset","sites","alpha","strategy","secagg","linear","knn","val_knn","bytes_per_round","rounds","seconds"}
//     case: centralized | alone | federated
//   {"case":"summary","alpha","best_strategy","linear_gap_points","gap_closure"}
//     the best strategy chosen by validation kNN (never by the test split); gap to centralized in
//     linear-probe points; gap closure = (federated - alone) / (centralized - alone).
// Every arm sees the same sample passes: centralized E epochs = R rounds x local epochs at the sites.
//
//   npm run bench:federated                               the issue's protocol: default SimCLR
//                                                         recipe, 15 epochs, 8 sites, alpha 0.1 and 1.0
//   npm run bench:federated -- --epochs 3 --local-epochs 0.5 --strategies fedavg,fedema
//   npm run bench:federated -- --skip centralized,alone --strategies fedavg --secagg 4 --drop-per-round 1 --min-sites 7
//   npm run bench:federated -- --recipe recipes/rotation-dp.yaml --strategies fedavg --dp-noise 0.8,1.5,3
//                                          record-level DP-SGD at every site: each strategy also runs
//                                          with each noise multiplier (lines add dp_noise, epsilon per
//                                          site and epsilon_max); dp-curve-ALPHA.svg plots linear
//                                          accuracy against epsilon
//   npm run bench:federated -- --recipe recipes/rotation-dp.yaml --strategies fedavg --dp-noise 0.8,1.5,3 \
//       --limit 8000 --epochs 1 --alphas 1.0 --skip centralized,alone
//                                          the same on the first 8,000 training images (DP-SGD's
//                                          per-image loop makes a full epoch take hours on 2 cores);
//                                          the probe and kNN still score on the whole training split
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildStrategy, loadRecipe, runPretrain, simulateFederation } from '@pretext/ssl';
import { noiseLevels, worstEpsilon, writeDpCurve, type CurvePoint } from './dpCurve.js';

const { values: args } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'recipes/simclr.yaml' },
    epochs: { type: 'string' },
    // Pretrain on the first N training images only (scoring still uses the whole split).
    limit: { type: 'string' },
    'local-epochs': { type: 'string', default: '1' },
    sites: { type: 'string', default: '8' },
    alphas: { type: 'string', default: '0.1,1.0' },
    strategies: { type: 'string', default: 'fedavg,fedprox,fedyogi,fedema' },
    skip: { type: 'string', default: '' },
    // Also run each strategy with secure aggregation (clip range), and with sites dying mid-round.
    secagg: { type: 'string' },
    'drop-rate': { type: 'string' },
    'drop-per-round': { type: 'string' },
    'min-sites': { type: 'string' },
    'dp-noise': { type: 'string' },
    'dp-clip': { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/out/federated-runs' },
  },
});
const emit = (o: object): void => console.log(JSON.stringify(o));
const recipe = loadRecipe(args.recipe);
if (args.epochs) recipe.train = { ...recipe.train, epochs: Number(args.epochs) };
if (args.limit) {
  if (recipe.data.dataset === 'table' || recipe.data.dataset === 'text' || recipe.data.dataset === 'events')
    throw new Error(`--limit shortens image pretraining; ${args.recipe} reads ${recipe.data.dataset}`);
  recipe.data = { ...recipe.data, limit: Number(args.limit) };
}
const localEpochs = Number(args['local-epochs']);
const rounds = Math.round(recipe.train.epochs / localEpochs);
const sites = Number(args.sites);
const skip = new Set(args.skip.split(',').filter(Boolean));
const noises = noiseLevels(args['dp-noise']);
mkdirSync(args.out, { recursive: true });
const dataset = recipe.data.dataset;
const folder = (name: string): string => {
  const dir = join(args.out, name);
  rmSync(dir, { recursive: true, force: true });
  return dir;
};

let central: number | null = null;
if (!skip.has('centralized')) {
  const t0 = performance.now();
  const run = await runPretrain(
    { ...recipe, evaluation: { ...recipe.evaluation, knnEveryEpoch: false } },
    { outDir: folder('centralized'), quiet: true },
  );
  central = run.scores.linear!;
  emit({
    case: 'centralized',
    dataset,
    sites: 1,
    alpha: null,
    strategy: null,
    secagg: false,
    linear: run.scores.linear,
    knn: run.scores.knn,
    epochs: recipe.train.epochs,
    bytes_per_round: 0,
    rounds: 0,
    seconds: (performance.now() - t0) / 1000,
  });
}

for (const alpha of args.alphas.split(',').map(Number)) {
  const partition = `dirichlet:${alpha}`;
  let alone: number | null = null;
  if (!skip.has('alone')) {
    const t0 = performance.now();
    const run = await simulateFederation({
      recipe,
      outDir: folder(`alone-${alpha}`),
      sites,
      partition,
      strategy: buildStrategy('fedavg'),
      rounds,
      localEpochs,
      alone: true,
      quiet: true,
    });
    alone = run.scores.linear!;
    emit({
      case: 'alone',
      dataset,
      sites,
      alpha,
      strategy: 'alone',
      secagg: false,
      linear: run.scores.linear,
      knn: run.scores.knn,
      val_knn: run.validation.knn,
      per_site_linear: run.perSite!.map((s) => s.linear),
      bytes_per_round: 0,
      rounds,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  const results: { strategy: string; linear: number; valKnn: number }[] = [];
  const curve: CurvePoint[] = [];
  const plain: number[] = [];
  // Plain, securely aggregated (--secagg), and with DP-SGD at each noise multiplier (--dp-noise).
  const variants: { secure: boolean; noise: number | null }[] = [
    { secure: false, noise: null },
    ...(args.secagg ? [{ secure: true, noise: null }] : []),
    ...noises.map((noise) => ({ secure: false, noise })),
  ];
  for (const name of args.strategies.split(','))
    for (const { secure, noise } of variants) {
      const t0 = performance.now();
      const run = await simulateFederation({
        recipe,
        outDir: folder(`${name}${secure ? '-secagg' : ''}${noise === null ? '' : `-dp${noise}`}-${alpha}`),
        ...(noise === null ? {} : { dp: { noise, clip: Number(args['dp-clip']) } }),
        sites,
        partition,
        strategy: buildStrategy(name),
        rounds,
        localEpochs,
        secureAggregation: secure ? { clip: Number(args.secagg) } : undefined,
        dropRate: args['drop-rate'] ? Number(args['drop-rate']) : undefined,
        dropPerRound: args['drop-per-round'] ? Number(args['drop-per-round']) : undefined,
        minSites: args['min-sites'] ? Number(args['min-sites']) : undefined,
        quiet: true,
      });
      const p = run.provenance.perRound;
      const epsilonMax = worstEpsilon(run.provenance.epsilon);
      if (!secure && noise === null) results.push({ strategy: name, linear: run.scores.linear!, valKnn: run.validation.knn! });
      if (noises.length > 0 && noise === null && !secure) plain.push(run.scores.linear!);
      if (epsilonMax !== null) curve.push({ epsilon: epsilonMax, score: run.scores.linear!, seed: recipe.seed });
      emit({
        case: 'federated',
        dataset,
        sites,
        alpha,
        strategy: name,
        share: run.provenance.strategy.share,
        secagg: secure,
        ...(noise === null
          ? {}
          : { dp_noise: noise, dp_clip: Number(args['dp-clip']), epsilon: run.provenance.epsilon, epsilon_max: epsilonMax }),
        clipped_coordinates: run.provenance.secureAggregation ? run.provenance.secureAggregation.clippedCoordinates : undefined,
        sites_per_round: p.map((r) => r.sites),
        linear: run.scores.linear,
        knn: run.scores.knn,
        val_knn: run.validation.knn,
        bytes_per_round: p.reduce((a, r) => a + r.bytesIn + r.bytesOut, 0) / p.length,
        rounds,
        local_epochs: localEpochs,
        seconds: (performance.now() - t0) / 1000,
      });
    }
  writeDpCurve(join(args.out, `dp-curve-${alpha}.svg`), {
    title: `${recipe.name}, ${sites} sites, dirichlet:${alpha}: linear probe against epsilon`,
    yLabel: 'linear probe accuracy',
    points: curve,
    plain,
    percent: true,
  });
  if (results.length > 0) {
    const best = results.reduce((a, b) => (b.valKnn > a.valKnn ? b : a));
    emit({
      case: 'summary',
      dataset,
      sites,
      alpha,
      best_strategy: best.strategy,
      chosen_by: 'validation kNN',
      linear: best.linear,
      linear_gap_points: central === null ? null : 100 * (central - best.linear),
      gap_closure: central === null || alone === null ? null : (best.linear - alone) / (central - alone),
    });
  }
}

// Tabular benchmark: for each benchmark table, a SCARF encoder pretrained on the training
// split's rows (labels unused), then the label-efficiency protocol against the baselines a
// tabular team trusts (logistic regression, XGBoost on raw columns, XGBoost on raw columns +
// the embeddings). One JSON line per data set x budget x arm:
//   {"dataset","budget","arm","metric","mean","std","seeds","seconds"}
// (seconds: mean per run). Then the speed case: pretraining on all of shuttle's 58,000 rows
// end to end, and an epoch of each method (SCARF, DAE, MFM, VIME; --speed-methods) on that shape
// side by side with PyTorch 1.13 (same model, batch, optimizer, head and loss;
// {"case":"tabular-epoch","method","ratio"} is PyTorch seconds / Pretext seconds).
//
//   npm run bench:tabular
//   npm run bench:tabular -- --datasets credit-g,diabetes --budgets 10% --seeds 3
//   npm run bench:tabular -- --skip-transfer        the speed case only
//   npm run bench:tabular -- --method mfm --encoder ft-transformer   another method or encoder
//   npm run bench:tabular-table bench/out/tabular.jsonl              the README table
//
// The pretraining recipe is fixed before any score is seen and is the same for every table:
// tabular-mlp (tokens of 8, two hidden layers of 256), SCARF (corruption 0.6, temperature 1),
// batch 256, AdamW 1e-3, warm-up cosine, about 2,000 steps (10 to 200 epochs). The test split
// is a fixed stratified fifth of each table, read once per table for the final scores.
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import { holdOutTable, loadTabularSet, ProgressBar } from '@pretext/data';
import {
  buildEncoder,
  buildMethod,
  parseLabelBudget,
  pretrainTabular,
  runTabularTransfer,
  tabularViews,
  trainStep,
  TABULAR_BUDGETS,
  type MethodName,
  type TabularEncoderChoice,
  type TabularRun,
} from '@pretext/ssl';
import { summaryLines } from './summary.js';
import { alternateWithPyTorch } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'credit-g,diabetes,lending-club,flchain,ticdata' },
    budgets: { type: 'string', default: TABULAR_BUDGETS.join(',') },
    seeds: { type: 'string', default: '5' },
    'skip-transfer': { type: 'boolean', default: false },
    'skip-speed': { type: 'boolean', default: false },
    method: { type: 'string', default: 'scarf' },
    'speed-methods': { type: 'string', default: 'scarf,dae,mfm,vime' },
    encoder: { type: 'string', default: 'tabular-mlp' },
    out: { type: 'string', default: join(here, 'out', 'tabular') },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const threads = Number(args.threads);
torch.setNumThreads(threads);

const encoder: TabularEncoderChoice =
  args.encoder === 'ft-transformer'
    ? { type: 'ft-transformer', config: { dModel: 64, layers: 3, heads: 8 } }
    : { type: 'tabular-mlp', config: { tokenDim: 8, hidden: [256, 256] } };
if (args.encoder !== 'tabular-mlp' && args.encoder !== 'ft-transformer') throw new Error(`--encoder must be tabular-mlp or ft-transformer`);
if (!['scarf', 'vime', 'mfm', 'dae'].includes(args.method)) throw new Error(`--method must be scarf, vime, mfm or dae`);
const recipe = {
  encoder,
  // SCARF with the paper's settings; the other methods with their files' defaults.
  method: { name: args.method as MethodName, config: args.method === 'scarf' ? { corruption: 0.6, temperature: 1 } : {} },
  batchSize: 256,
  optimizer: { name: 'adamw' as const, lr: 1e-3, weightDecay: 1e-5 },
  schedule: { name: 'warmup-cosine' as const, warmupEpochs: 1 },
};
const epochsFor = (rows: number): number => Math.min(200, Math.max(10, Math.ceil(2000 / Math.floor(rows / recipe.batchSize))));

/** Pretrains on a table's training split (or, for the speed case, on every row: nothing is scored). */
async function pretrainOn(
  name: string,
  o: { quiet: boolean; everyRow?: boolean },
): Promise<{ dir: string; seconds: number; rows: number; split: ReturnType<typeof holdOutTable>; label: string }> {
  const { set, table } = loadTabularSet(name);
  const split = holdOutTable(table, set.label);
  const rows = o.everyRow ? table : split.train;
  const dir = join(args.out, `${args.method}-${args.encoder}-${name}${o.everyRow ? '-all-rows' : ''}`);
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  await pretrainTabular({
    table: rows,
    dataset: name,
    label: set.label,
    encoder: recipe.encoder,
    method: recipe.method,
    train: { epochs: epochsFor(rows.rows), batchSize: recipe.batchSize, optimizer: recipe.optimizer, schedule: recipe.schedule },
    seed: 0,
    recipe: `bench:tabular ${args.method} ${args.encoder}`,
    outDir: dir,
    quiet: o.quiet,
  });
  return { dir, seconds: (performance.now() - t0) / 1000, rows: rows.rows, split, label: set.label };
}

if (!args['skip-transfer']) {
  const budgets = args.budgets.split(',').map(parseLabelBudget);
  const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
  for (const name of args.datasets.split(',')) {
    const { dir, split } = await pretrainOn(name, { quiet: false });
    const test = await split.test.forFinalScore(`bench:tabular final scores on ${name}`);
    const total = budgets.length * seeds.length * 6;
    const bar = new ProgressBar({ total, label: `${name} transfer`, unit: 'runs' });
    const runs: TabularRun[] = runTabularTransfer(dir, split.train, test, {
      budgets,
      seeds,
      onRun: (r) => bar.tick(1, `${r.labels} ${r.arm}`),
    });
    bar.finish();
    for (const line of summaryLines(
      name,
      runs,
      args.method === 'scarf' && args.encoder === 'tabular-mlp' ? {} : { method: args.method, encoder: args.encoder },
    ))
      console.log(JSON.stringify(line));
  }
}

if (!args['skip-speed']) {
  // End to end on the largest table, all 58,000 rows: preprocessing, pretraining (the same
  // recipe: about 2,000 steps), writing the encoder.
  const shuttle = await pretrainOn('shuttle', { quiet: true, everyRow: true });
  console.log(
    JSON.stringify({
      case: 'tabular-pretrain-shuttle',
      rows: shuttle.rows,
      epochs: epochsFor(shuttle.rows),
      seconds: Number(shuttle.seconds.toFixed(1)),
    }),
  );

  // One epoch of each method on the same shape in both engines, A/B alternated, median of 3.
  for (const method of args['speed-methods'].split(',') as MethodName[]) {
    const shape = { rows: 58000, continuous: 9, cardinalities: [] as number[], tokenDim: 8, hidden: [256, 256], batchSize: 256, threads };
    const { pytorch: a, pretext: b } = await alternateWithPyTorch(
      join(here, 'tabular_torch.py'),
      { ...shape, method },
      'epochSeconds',
      () => epochSeconds(method, shape),
    );
    console.log(
      JSON.stringify({
        case: 'tabular-epoch',
        method,
        ...shape,
        pytorchSeconds: Number(a.toFixed(3)),
        pretextSeconds: Number(b.toFixed(3)),
        ratio: Number((a / b).toFixed(3)),
      }),
    );
  }
}

/** Seconds of one epoch of `name` (SCARF with the paper's settings, the others with their defaults) after a warm-up epoch, through the trainer's own step. */
function epochSeconds(
  name: MethodName,
  s: { rows: number; continuous: number; tokenDim: number; hidden: number[]; batchSize: number },
): number {
  torch.manualSeed(0);
  const x = torch.keep(torch.randn([s.rows, s.continuous]));
  const spec = {
    type: 'tabular-mlp' as const,
    config: { continuous: s.continuous, cardinalities: [], tokenDim: s.tokenDim, hidden: s.hidden },
  };
  const method = buildMethod(name, () => buildEncoder(spec), name === 'scarf' ? { corruption: 0.6, temperature: 1 } : {});
  const optimizer = new torch.optim.AdamW(method.trainableParameters(), { lr: 1e-3, weightDecay: 1e-5 });
  const ctx = { method, optimizer, makeViews: tabularViews, generator: new torch.Generator(1) };
  const steps = Math.floor(s.rows / s.batchSize);
  const epoch = (): number => {
    const t0 = performance.now();
    const order = torch.randperm(s.rows);
    for (let i = 0; i < steps; i++) {
      const idx = order.narrow(0, i * s.batchSize, s.batchSize);
      trainStep(ctx, x.indexSelect(0, idx));
      idx.dispose();
    }
    order.dispose();
    return (performance.now() - t0) / 1000;
  };
  epoch();
  const seconds = epoch();
  method.dispose();
  x.dispose();
  return seconds;
}

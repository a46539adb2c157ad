// Event-history benchmark: for each history set, CoLES (or --method mem) pretrained on the training entities
// (labels unused) by its recipe in recipes/sequence/, then the label-efficiency protocol
// against hand-made aggregates (counts per type, mean/last/min/max per numeric field, recency)
// into logistic regression and into XGBoost, and aggregates plus the encoder's embeddings into
// the same trees. One JSON line per data set x budget x arm:
//   {"dataset","budget","arm","metric","mean","std","seeds","seconds"}
// (seconds: mean per run), one per set for pretraining {"case":"pretrain","dataset","minutes"},
// and the speed case, the CoLES step side by side with PyTorch 1.13 (same model, batch,
// crops, loss, optimizer; {"case":"sequence-step","ratio"} is PyTorch seconds / Pretext seconds).
//
//   npm run bench:sequences
//   npm run bench:sequences -- --datasets nafld --budgets 10%,100% --seeds 5
//   npm run bench:sequences -- --reuse            transfer from runs already in bench/out/sequences
//   npm run bench:sequences -- --skip-transfer    the speed case only
//   npm run bench:sequences -- --datasets nafld --method mem   masked event modeling instead of CoLES
//
// The recipes are fixed before any score is seen. Test entities are read once per set.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import { ProgressBar } from '@pretext/data';
import {
  buildEncoder,
  buildMethod,
  loadEventData,
  loadRecipe,
  parseLabelBudget,
  pretrainFromRecipe,
  runSequenceTransfer,
  sequenceViews,
  trainStep,
  SEQUENCE_ARMS,
  SEQUENCE_BUDGETS,
  type EventDataSpec,
  type SequenceArm,
} from '@pretext/ssl';
import { summaryLines } from './summary.js';
import { alternateWithPyTorch, median } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'nafld,storms,movielens' },
    /** The recipe family: recipes/sequence/METHOD-DATASET.yaml. */
    method: { type: 'string', default: 'coles' },
    budgets: { type: 'string', default: SEQUENCE_BUDGETS.join(',') },
    seeds: { type: 'string', default: '5' },
    arms: { type: 'string', default: SEQUENCE_ARMS.join(',') },
    reuse: { type: 'boolean', default: false },
    'skip-transfer': { type: 'boolean', default: false },
    'skip-speed': { type: 'boolean', default: false },
    out: { type: 'string', default: join(here, 'out', 'sequences') },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const threads = Number(args.threads);
torch.setNumThreads(threads);
const emit = (o: object): void => console.log(JSON.stringify(o));

if (!args['skip-transfer']) {
  const budgets = args.budgets.split(',').map(parseLabelBudget);
  const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
  const arms = args.arms.split(',') as SequenceArm[];
  for (const name of args.datasets.split(',')) {
    const recipe = loadRecipe(join(here, '..', 'recipes', 'sequence', `${args.method}-${name}.yaml`));
    const dir = join(args.out, recipe.name);
    if (!(args.reuse && existsSync(join(dir, 'encoder.json')))) {
      const run = await pretrainFromRecipe(recipe, { outDir: dir });
      emit({ case: 'pretrain', dataset: name, steps: run.result.step, minutes: Number((run.result.trainSeconds / 60).toFixed(2)) });
    } else {
      const meta = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as { trainSteps: number; trainSeconds: number };
      emit({ case: 'pretrain', dataset: name, steps: meta.trainSteps, minutes: Number((meta.trainSeconds / 60).toFixed(2)), reused: true });
    }
    const data = await loadEventData(recipe.data as EventDataSpec);
    const test = await data.test!.forFinalScore(`bench:sequences final scores on ${name}`);
    const bar = new ProgressBar({ total: budgets.length * seeds.length * arms.length, label: `${name} transfer`, unit: 'runs' });
    const runs = runSequenceTransfer(dir, data.train, test, {
      budgets,
      seeds,
      arms,
      onRun: (r) => bar.tick(1, `${r.labels} ${r.arm} ${r.value.toFixed(3)}`),
    });
    bar.finish();
    for (const line of summaryLines(name, runs, args.method === 'coles' ? {} : { method: args.method })) emit(line);
  }
}

if (!args['skip-speed']) {
  // The nafld recipe's model (16 event types, 16-wide embeddings, GRU 256), batch 128,
  // histories of 1 to 48 events (nafld's median is 11, its 90th percentile 45); A/B
  // alternated, median of 3 medians.
  const shape = { batch: 128, length: 128, maxEvents: 48, levels: 16, embedDim: 16, hidden: 256, threads, warmup: 3, steps: 10 };
  const { pytorch: a, pretext: b } = await alternateWithPyTorch(join(here, 'sequence_torch.py'), shape, 'stepSeconds', () =>
    colesStepSeconds(shape),
  );
  emit({
    case: 'sequence-step',
    ...shape,
    pytorchSeconds: Number(a.toFixed(4)),
    pretextSeconds: Number(b.toFixed(4)),
    ratio: Number((a / b).toFixed(3)),
  });
}

/** Median seconds of a CoLES step through the trainer's own step function, after warm-up steps. */
function colesStepSeconds(s: {
  batch: number;
  length: number;
  maxEvents: number;
  levels: number;
  embedDim: number;
  hidden: number;
  warmup: number;
  steps: number;
}): number {
  torch.manualSeed(0);
  const spec = {
    type: 'event-gru' as const,
    config: { cardinalities: [s.levels + 2], numeric: 1, embedDim: s.embedDim, hidden: s.hidden },
  };
  const method = buildMethod('coles', () => buildEncoder(spec), { temperature: 0.1 });
  const optimizer = new torch.optim.Adam(method.trainableParameters(), { lr: 0.002 });
  const ctx = { method, optimizer, makeViews: sequenceViews, generator: new torch.Generator(1) };
  const lengths = torch.tensor(Float32Array.from({ length: s.batch }, (_, i) => Math.min(s.length, 1 + ((i * 37) % s.maxEvents))));
  const valid = torch.arange(0, s.length, 1, { dtype: 'float32' }).unsqueeze(0).lt(lengths.unsqueeze(1)).float();
  const fields = torch.cat(
    [
      torch.randint(2, s.levels + 2, [s.batch, s.length, 1]).float(),
      torch.randn([s.batch, s.length, 1]),
      torch.ones([s.batch, s.length, 1]),
      torch.randn([s.batch, s.length, 2]),
    ],
    2,
  );
  const x = torch.keep(torch.cat([fields.mul(valid.unsqueeze(2)), valid.unsqueeze(2)], 2));
  const times: number[] = [];
  for (let i = 0; i < s.warmup + s.steps; i++) {
    const t0 = performance.now();
    trainStep(ctx, x.clone());
    if (i >= s.warmup) times.push((performance.now() - t0) / 1000);
  }
  x.dispose();
  method.dispose();
  return median(times);
}

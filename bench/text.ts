// Text benchmark: for each classification corpus, masked language modeling pretrained on the
// training split's documents (labels unused) by the corpus's recipe in recipes/text/, then the
// label-efficiency protocol against TF-IDF (word 1-2 and character 2-5 grams) + logistic
// regression, the baseline an NLP team trusts. One JSON line per data set x budget x arm:
//   {"dataset","budget","arm","metric","mean","std","seeds","seconds"}
// (seconds: mean per run), one per corpus for pretraining and for fill-mask on held-out text:
//   {"case":"pretrain","dataset","minutes"}  {"case":"fill-mask","dataset","k","tokens","top5"}
// and the speed case, the MLM step side by side with PyTorch 1.13 (same model, batch, window,
// optimizer; {"case":"mlm-step","ratio"} is PyTorch seconds / Pretext seconds).
//
//   npm run bench:text
//   npm run bench:text -- --datasets food-reviews --budgets 10/class,50/class --seeds 5
//   npm run bench:text -- --reuse            transfer from runs already in bench/out/text
//   npm run bench:text -- --skip-transfer    the speed case only
//   npm run bench:text -- --datasets food-reviews --simcse   also SimCSE on top of the MLM encoder
//                                            (recipes/text/simcse-<corpus>.yaml), arms simcse-*
//
// The recipes are fixed before any score is seen (epochs sized to 20 minutes of pretraining on
// 2 cores). Test documents are read once per corpus, for the final scores and fill-mask.
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
  loadMaskedLanguageModel,
  loadRecipe,
  loadTextData,
  maskedTopK,
  parseLabelBudget,
  pretrainFromRecipe,
  runTextTransfer,
  textViews,
  trainStep,
  TEXT_BUDGETS,
  type Recipe,
  type TextDataSpec,
} from '@pretext/ssl';
import { summaryLines } from './summary.js';
import { alternateWithPyTorch, median } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'spam-assassin,food-reviews,tweets' },
    budgets: { type: 'string', default: TEXT_BUDGETS.join(',') },
    seeds: { type: 'string', default: '5' },
    arms: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    'skip-transfer': { type: 'boolean', default: false },
    'skip-speed': { type: 'boolean', default: false },
    simcse: { type: 'boolean', default: false },
    out: { type: 'string', default: join(here, 'out', 'text') },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const threads = Number(args.threads);
torch.setNumThreads(threads);
const emit = (o: object): void => console.log(JSON.stringify(o));

type TextArm = NonNullable<Parameters<typeof runTextTransfer>[3]['arms']>[number];

/** Pretrains `recipe` into `dir` (or, with --reuse, takes the run already there) and emits its pretrain line. */
async function pretrainOnce(recipe: Recipe, dir: string, line: object): Promise<void> {
  if (!(args.reuse && existsSync(join(dir, 'encoder.json')))) {
    const run = await pretrainFromRecipe(recipe, { outDir: dir });
    emit({ case: 'pretrain', ...line, steps: run.result.step, minutes: Number((run.result.trainSeconds / 60).toFixed(2)) });
  } else {
    const meta = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as { trainSteps: number; trainSeconds: number };
    emit({ case: 'pretrain', ...line, steps: meta.trainSteps, minutes: Number((meta.trainSeconds / 60).toFixed(2)), reused: true });
  }
}

if (!args['skip-transfer']) {
  const budgets = args.budgets.split(',').map(parseLabelBudget);
  const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
  const arms = args.arms?.split(',') as TextArm[] | undefined;
  for (const name of args.datasets.split(',')) {
    const recipe = loadRecipe(join(here, '..', 'recipes', 'text', `mlm-${name}.yaml`));
    const dir = join(args.out, recipe.name);
    await pretrainOnce(recipe, dir, { dataset: name });
    // SimCSE sharpens the MLM encoder it starts from: its recipe's init is pointed at the run above.
    let simcseDir: string | null = null;
    if (args.simcse) {
      const simcse = { ...loadRecipe(join(here, '..', 'recipes', 'text', `simcse-${name}.yaml`)), init: dir };
      simcseDir = join(args.out, simcse.name);
      await pretrainOnce(simcse, simcseDir, { dataset: name, method: 'simcse' });
    }
    const data = await loadTextData(recipe.data as TextDataSpec);
    const test = await data.test!.forFinalScore(`bench:text final scores on ${name}`);
    const m = loadMaskedLanguageModel(dir);
    const fm = maskedTopK(m, test.texts, { tokens: 1000, k: 5, seed: 0 });
    m.dispose();
    emit({ case: 'fill-mask', dataset: name, k: fm.k, tokens: fm.tokens, top5: Number(fm.accuracy.toFixed(4)) });
    /** The transfer arms on one encoder, with a progress bar; `rename` relabels its arms in the lines. */
    const transfer = (encoderDir: string, runArms: TextArm[] | undefined, label: string, rename = (arm: string): string => arm): void => {
      const bar = new ProgressBar({ total: budgets.length * seeds.length * (runArms?.length ?? 4), label, unit: 'runs' });
      const runs = runTextTransfer(encoderDir, data.train, test, {
        budgets,
        seeds,
        arms: runArms,
        onRun: (r) => bar.tick(1, `${r.labels} ${r.arm} ${r.value.toFixed(3)}`),
        onCut: (n) => n > 0 && process.stderr.write(`${name}: ${n} documents longer than 4 windows are cut to 4 in the fine-tuned arms\n`),
      });
      bar.finish();
      for (const line of summaryLines(
        name,
        runs.map((r) => ({ ...r, arm: rename(r.arm) })),
      ))
        emit(line);
    };
    transfer(dir, arms, `${name} transfer`);
    // The encoder arms again on the SimCSE encoder; the classical arms do not depend on it.
    if (simcseDir) {
      const encoderArms = (arms ?? ['pretrained-linear', 'pretrained-finetune']).filter((a) => a.startsWith('pretrained'));
      transfer(simcseDir, encoderArms, `${name} simcse`, (arm) => arm.replace('pretrained', 'simcse'));
    }
  }
}

if (!args['skip-speed']) {
  // The recipes' model (2 layers, 128 wide, 2 heads), an 8,000-piece vocabulary, batch 64,
  // windows of 128 with 111 real tokens (the spam corpus's mean), in both engines; A/B
  // alternated, median of 3 medians.
  const shape = { vocab: 8000, length: 128, batch: 64, dModel: 128, layers: 2, heads: 2, realTokens: 111, threads, warmup: 3, steps: 10 };
  const { pytorch: a, pretext: b } = await alternateWithPyTorch(join(here, 'text_torch.py'), shape, 'stepSeconds', () =>
    mlmStepSeconds(shape),
  );
  emit({
    case: 'mlm-step',
    ...shape,
    pytorchSeconds: Number(a.toFixed(4)),
    pretextSeconds: Number(b.toFixed(4)),
    ratio: Number((a / b).toFixed(3)),
  });
}

/** Median seconds of an MLM step through the trainer's own step function, after warm-up steps. */
function mlmStepSeconds(s: {
  vocab: number;
  length: number;
  batch: number;
  dModel: number;
  layers: number;
  heads: number;
  realTokens: number;
  warmup: number;
  steps: number;
}): number {
  torch.manualSeed(0);
  const spec = {
    type: 'text-transformer' as const,
    config: {
      vocabSize: s.vocab,
      padId: 0,
      clsId: 2,
      sepId: 3,
      maskId: 4,
      maxLength: s.length,
      dModel: s.dModel,
      layers: s.layers,
      heads: s.heads,
    },
  };
  const method = buildMethod('mlm', () => buildEncoder(spec));
  const optimizer = new torch.optim.AdamW(method.trainableParameters(), { lr: 5e-4, weightDecay: 0.01 });
  const ctx = { method, optimizer, makeViews: textViews, generator: new torch.Generator(1), gradClip: 1 };
  const row = new BigInt64Array(s.length);
  row[0] = 2n;
  for (let j = 1; j < s.realTokens - 1; j++) row[j] = BigInt(5 + ((j * 7919) % (s.vocab - 5)));
  row[s.realTokens - 1] = 3n;
  const ids = torch.keep(
    torch
      .tensor(row, { shape: [1, s.length] })
      .expand(s.batch, s.length)
      .contiguous(),
  );
  const times: number[] = [];
  for (let i = 0; i < s.warmup + s.steps; i++) {
    const t0 = performance.now();
    trainStep(ctx, ids.clone());
    if (i >= s.warmup) times.push((performance.now() - t0) / 1000);
  }
  ids.dispose();
  method.dispose();
  return median(times);
}

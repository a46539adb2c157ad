// Transfer benchmark: the label-efficiency protocol on the SimCLR default-recipe encoder, one
// JSON line per label budget and arm (mean and std over seeds, on the 10,000 test images),
// then the collapse check: diagnostics of the SimCLR encoder, a constant encoder and SimSiam
// with its predictor removed.
//
//   npm run bench:transfer                         1% of the labels, 3 seeds, all six arms
//   npm run bench:transfer -- --arms pretrained-semi,scratch-semi --semi-steps 2000
//   npm run bench:transfer -- --budgets 1/class,5/class,10/class,50/class,1%,10%,100%
//   npm run bench:transfer -- --encoder runs/my-run --skip-collapse
//
// Without --encoder it uses runs/simclr-fashion-mnist, pretraining it first with
// recipes/simclr.yaml when missing (about 16 minutes of training here).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import {
  SmallCnn,
  diagnose,
  loadDataset,
  loadEncoder,
  loadRecipe,
  readEncoderMeta,
  parseLabelBudget,
  runPretrain,
  runTransfer,
  summarize,
  SEMI_DEFAULTS,
  TRANSFER_ARMS,
  type TransferArm,
  FASHION_MNIST_NORM,
  type EncoderSpec,
  type Encoder,
} from '@pretext/ssl';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    encoder: { type: 'string' },
    budgets: { type: 'string', default: '1%' },
    seeds: { type: 'string', default: '3' },
    arms: { type: 'string', default: TRANSFER_ARMS.join(',') },
    'semi-steps': { type: 'string', default: String(SEMI_DEFAULTS.steps) },
    'skip-collapse': { type: 'boolean', default: false },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
torch.setNumThreads(Number(args.threads));
const data = { dataset: 'fashion-mnist' } as const;
const train = await loadDataset(data, 'train');
const test = await loadDataset(data, 'test');

async function ensureRun(recipeFile: string, outDir: string, epochs?: number): Promise<string> {
  if (existsSync(join(outDir, 'encoder.json'))) return outDir;
  const recipe = loadRecipe(join(here, '..', 'recipes', recipeFile));
  if (epochs !== undefined) recipe.train.epochs = epochs;
  process.stderr.write(`pretraining ${recipe.name} into ${outDir} (its encoder is missing)\n`);
  await runPretrain(recipe, { outDir });
  return outDir;
}

const encoderDir = args.encoder ?? (await ensureRun('simclr.yaml', join(here, '..', 'runs', 'simclr-fashion-mnist')));
const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
const runs = runTransfer(encoderDir, train, test, {
  budgets: args.budgets.split(',').map(parseLabelBudget),
  seeds,
  arms: args.arms.split(',') as TransferArm[],
  semi: { steps: Number(args['semi-steps']) },
  onRun: (r) =>
    process.stderr.write(`${r.labels} ${r.arm} seed ${r.seed}: ${(100 * r.accuracy).toFixed(2)}% in ${r.seconds.toFixed(1)} s\n`),
});
for (const row of summarize(runs)) {
  const secs = runs.filter((r) => r.labels === row.labels && r.arm === row.arm).map((r) => r.seconds);
  console.log(
    JSON.stringify({
      labels: row.labels,
      arm: row.arm,
      images: row.used,
      mean: Number(row.mean.toFixed(4)),
      std: Number(row.std.toFixed(4)),
      seeds: row.runs,
      seconds: Number((secs.reduce((a, b) => a + b, 0) / secs.length).toFixed(1)),
    }),
  );
}

if (!args['skip-collapse']) {
  const report = (name: string, encoder: Encoder): void => {
    const d = diagnose(encoder, FASHION_MNIST_NORM, test.images);
    console.log(
      JSON.stringify({
        case: 'diagnostics',
        encoder: name,
        collapsed: d.collapsed,
        embedding_std: Number(d.embeddingStd.toFixed(4)),
        effective_rank: Number(d.effectiveRank.toFixed(1)),
        alignment: Number(d.alignment.toFixed(4)),
        uniformity: Number(d.uniformity.toFixed(4)),
      }),
    );
  };
  report('simclr-default', loadEncoder(encoderDir).encoder);
  // A constant encoder: the first convolution's weights zeroed, so every image looks alike.
  const spec = readEncoderMeta(encoderDir).encoder as EncoderSpec & { type: 'small-cnn' };
  const constant = new SmallCnn(spec.config);
  torch.noGrad(() => constant.parameters()[0]!.zero_());
  report('constant', constant);
  const noPredictor = await ensureRun('collapse/simsiam-no-predictor.yaml', join(here, '..', 'runs', 'simsiam-no-predictor'));
  report('simsiam-no-predictor', loadEncoder(noPredictor).encoder);
}

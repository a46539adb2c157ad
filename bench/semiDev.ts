// The semi-supervised recipe's development curves: FixMatch settings compared on a dev set of
// training images outside the labeled subset (their labels are the training split's; the test
// split is never read), one JSON line per setting with the dev accuracy of the weight average
// at the start, at its best and at the end, and the share of the pool passing the threshold.
//
//   npm run bench:semi-dev                                   the default recipe, then encoder rate 1x
//   npm run bench:semi-dev -- --settings lrScale=0.1,lrScale=1 --dev 1500 --seed 0
//   npm run bench:semi-dev -- --settings threshold=0.8 --steps 1000
//
// Each setting is `key=value[;key=value]` with keys lrScale, threshold, ratio, emaDecay,
// weight, steps and scratch (1: from random weights).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import {
  SEMI_DEFAULTS,
  buildEncoder,
  finetune,
  labelSubset,
  loadDataset,
  loadEncoder,
  parseLabelBudget,
  readEncoderMeta,
  seededRandom,
  selectLabeled,
  shuffle,
} from '@pretext/ssl';

const { values: args } = parseArgs({
  options: {
    encoder: { type: 'string', default: 'runs/simclr-fashion-mnist' },
    labels: { type: 'string', default: '1%' },
    settings: { type: 'string', default: 'lrScale=0.1,lrScale=1' },
    steps: { type: 'string', default: String(SEMI_DEFAULTS.steps) },
    dev: { type: 'string', default: '1500' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
torch.setNumThreads(Number(args.threads));
const seed = Number(args.seed);
const train = await loadDataset({ dataset: 'fashion-mnist' }, 'train');
const labels = Array.from(train.labels.data() as BigInt64Array, Number);
const subset = labelSubset(labels, parseLabelBudget(args.labels), seed);
const inBudget = new Set([...subset.train, ...subset.val]);
// The dev images: a seeded shuffle of the training images outside the budget.
const rest = shuffle(
  labels.map((_, i) => i).filter((i) => !inBudget.has(i)),
  seededRandom(1234),
);
const dev = selectLabeled(train, rest.slice(0, Number(args.dev)));
const labeled = selectLabeled(train, subset.train);
const meta = readEncoderMeta(args.encoder);

for (const setting of args.settings.split(',')) {
  const kv = Object.fromEntries(setting.split(';').map((p) => p.split('=') as [string, string]));
  const num = (k: string, d: number): number => (kv[k] === undefined ? d : Number(kv[k]));
  const scratch = kv.scratch === '1';
  torch.manualSeed(seed);
  const encoder = scratch ? buildEncoder(meta.encoder) : loadEncoder(args.encoder).encoder;
  const t0 = performance.now();
  // The dev set stands in for the validation split, so each epoch's record carries its score.
  const r = finetune(
    encoder,
    meta.inputNorm,
    { train: labeled, val: dev, test: dev, unlabeled: train.images.narrow(0, 0, 10000), pool: train.images },
    {
      mode: scratch ? 'scratch' : 'full',
      numClasses: 10,
      seed,
      quiet: false,
      ...(kv.lrScale === undefined ? {} : { encoderLrScale: num('lrScale', 0.1) }),
      semi: {
        steps: num('steps', Number(args.steps)),
        threshold: num('threshold', SEMI_DEFAULTS.threshold),
        ratio: num('ratio', SEMI_DEFAULTS.ratio),
        emaDecay: num('emaDecay', SEMI_DEFAULTS.emaDecay),
        weight: num('weight', SEMI_DEFAULTS.weight),
      },
    },
  );
  const h = r.history;
  const round = (v: number | undefined): number => Number((100 * (v ?? 0)).toFixed(2));
  console.log(
    JSON.stringify({
      case: 'semi-dev',
      setting,
      labels: args.labels,
      seed,
      dev_images: dev.labels.size(0),
      dev_first_epoch: round(h[0]?.valAccuracy),
      dev_best: round(r.valAccuracy ?? undefined),
      best_epoch: r.bestEpoch,
      dev_last: round(h.at(-1)?.valAccuracy),
      mask_rate_first: Number((h[0]?.maskRate ?? 0).toFixed(3)),
      mask_rate_last: Number((h.at(-1)?.maskRate ?? 0).toFixed(3)),
      steps: r.steps,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    }),
  );
  r.classifier.dispose();
}

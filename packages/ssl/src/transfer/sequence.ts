// The label-efficiency protocol on event histories, with the baselines of pytorch-lifestream's
// experiments: per label budget and seed, the same labeled entities (a fifth held out for
// early stopping and choices) train every arm, all scored on the same test entities:
//   pretrained-linear                the encoder frozen, a regularized logistic head on its embeddings
//   pretrained-finetune              the encoder fine-tuned with the head (from that logistic head)
//   scratch                          the same network from random weights
//   aggregates-logistic              hand-made aggregates (counts per type, mean/last/min/max per
//                                    numeric field, recency) into logistic regression
//   aggregates-xgboost               the same aggregates into gradient-boosted trees (XGBoost)
//   aggregates+embeddings-xgboost    aggregates and the encoder's embeddings into the same trees
// Binary labels are scored by AUROC, others by accuracy (macro-F1 beside it).
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { aggregateFeatures, labeledEntities, takeHistories, type FeatureMatrix, type Histories } from '@pretext/data';
import { buildEncoder } from '../encoders/encoder.js';
import { loadEncoder, readEncoderMeta } from '../pipeline.js';
import { historiesTensor } from '../modalities/sequence/pretrain.js';
import { embedHistories } from '../modalities/sequence/run.js';
import { finetune, type FinetuneOptions } from './finetune.js';
import { budgetName, labelSubset, type LabelBudget } from './labels.js';
import {
  besides,
  boosterProbabilities,
  fitRegularizedLinear,
  fitXGBoost,
  longs,
  probabilities,
  rowsOf,
  scoreProbabilities,
  selectRows,
  type TabularRun,
} from './tabular.js';

export const SEQUENCE_ARMS = [
  'pretrained-linear',
  'pretrained-finetune',
  'scratch',
  'aggregates-logistic',
  'aggregates-xgboost',
  'aggregates+embeddings-xgboost',
] as const;
export type SequenceArm = (typeof SEQUENCE_ARMS)[number];
export const SEQUENCE_BUDGETS = ['5%', '10%', '25%', '100%'];
export type SequenceRun = TabularRun<SequenceArm>;

export interface SequenceTransferOptions {
  budgets: LabelBudget[];
  seeds: number[];
  arms?: readonly SequenceArm[];
  finetune?: Partial<FinetuneOptions>;
  xgboostRounds?: number;
  quiet?: boolean;
  onRun?: (run: SequenceRun) => void;
}

/** Fine-tuning defaults for a GRU on 2 CPU cores. */
export const SEQUENCE_FINETUNE: Partial<FinetuneOptions> = {
  epochs: 30,
  minSteps: 60,
  maxSteps: 600,
  batchSize: 64,
  lr: 1e-3,
  patience: 5,
};

const matrixTensor = (m: FeatureMatrix): Tensor => torch.keep(torch.tensor(m.data, { shape: [m.rows, m.cols] }));
const tensorMatrix = (t: Tensor): FeatureMatrix => ({
  rows: t.size(0),
  cols: t.size(1),
  data: (t.contiguous().data() as Float32Array).slice(),
});

/**
 * Aggregates as a linear model wants them: a signed log (counts and spans are heavy-tailed),
 * gaps filled with the training entities' column mean (the trees read the gaps as missing).
 */
function linearAggregates(train: FeatureMatrix, test: FeatureMatrix): { train: FeatureMatrix; test: FeatureMatrix } {
  const slog = (v: number): number => Math.sign(v) * Math.log1p(Math.abs(v));
  const mean = new Float64Array(train.cols);
  const count = new Float64Array(train.cols);
  for (let i = 0; i < train.rows; i++)
    for (let j = 0; j < train.cols; j++) {
      const v = train.data[i * train.cols + j]!;
      if (!Number.isNaN(v)) {
        mean[j]! += slog(v);
        count[j]!++;
      }
    }
  for (let j = 0; j < train.cols; j++) mean[j] = count[j] ? mean[j]! / count[j]! : 0;
  const fill = (m: FeatureMatrix): FeatureMatrix => ({
    ...m,
    data: Float32Array.from(m.data, (v, k) => (Number.isNaN(v) ? mean[k % m.cols]! : slog(v))),
  });
  return { train: fill(train), test: fill(test) };
}

/** Runs every arm for every budget and seed on the labeled training entities; scores on the test entities. */
export function runSequenceTransfer(encoderDir: string, train: Histories, test: Histories, o: SequenceTransferOptions): SequenceRun[] {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'sequence' || !meta.events)
    throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not an event-history encoder`);
  if (!train.labels || !train.classes || !test.labels) throw new TypeError('a transfer report needs labeled training and test entities');
  const schema = meta.events;
  const classes = train.classes.length;
  const arms = o.arms ?? SEQUENCE_ARMS;
  const trL = labeledEntities(train);
  const teL = labeledEntities(test);
  const tr = takeHistories(train, trL.idx);
  const te = takeHistories(test, teL.idx);
  const yTest = Int32Array.from(teL.y);
  const agg = { train: aggregateFeatures(tr, schema).matrix, test: aggregateFeatures(te, schema).matrix };
  const linAgg = linearAggregates(agg.train, agg.test);
  // Shared once per report: the frozen embeddings of every entity and the input tensors.
  const needEmb = arms.some((a) => a === 'pretrained-linear' || a === 'aggregates+embeddings-xgboost');
  const emb = needEmb ? { train: embedHistories(encoderDir, tr), test: embedHistories(encoderDir, te) } : null;
  const embRows = emb ? { train: tensorMatrix(emb.train), test: tensorMatrix(emb.test) } : null;
  const tuned = arms.includes('pretrained-finetune') || arms.includes('scratch');
  const x = tuned ? { train: historiesTensor(tr, schema), test: historiesTensor(te, schema), testLabels: longs(yTest) } : null;
  const runs: SequenceRun[] = [];
  for (const budget of o.budgets) {
    for (const seed of o.seeds) {
      const subset = labelSubset(trL.y, budget, seed, 0.2, { stratified: true });
      const ya = subset.train.map((i) => trL.y[i]!);
      const yv = subset.val.map((i) => trL.y[i]!);
      const hasVal = subset.val.length > 0 && new Set(yv).size === classes;
      const used = subset.train.length + subset.val.length;
      for (const arm of arms) {
        const t0 = performance.now();
        let p: Float32Array;
        if (arm === 'aggregates-xgboost' || arm === 'aggregates+embeddings-xgboost') {
          const m =
            arm === 'aggregates-xgboost' ? agg : { train: besides(agg.train, embRows!.train), test: besides(agg.test, embRows!.test) };
          const b = fitXGBoost(rowsOf(m.train, subset.train), ya, hasVal ? { m: rowsOf(m.train, subset.val), y: yv } : null, classes, {
            seed,
            rounds: o.xgboostRounds,
          });
          p = boosterProbabilities(b, m.test, classes);
        } else if (arm === 'aggregates-logistic' || arm === 'pretrained-linear') {
          const src = arm === 'aggregates-logistic' ? { train: matrixTensor(linAgg.train), test: matrixTensor(linAgg.test) } : emb!;
          const a = selectRows(src.train, subset.train, ya);
          const v = hasVal ? selectRows(src.train, subset.val, yv) : null;
          const head = fitRegularizedLinear(a, v, classes, { unlabeled: src.train });
          p = torch.noGrad(() => probabilities(head.forward(src.test)));
          head.dispose();
          for (const t of [a.x, a.y, ...(v ? [v.x, v.y] : []), ...(arm === 'aggregates-logistic' ? [src.train, src.test] : [])])
            t.dispose();
        } else {
          torch.manualSeed(seed);
          const encoder = arm === 'scratch' ? buildEncoder(meta.encoder) : loadEncoder(encoderDir).encoder;
          const pick = (idx: number[], ys: number[]): { images: Tensor; labels: Tensor } => {
            const s = selectRows(x!.train, idx, ys);
            return { images: s.x, labels: s.y };
          };
          const a = pick(subset.train, ya);
          const v = hasVal ? pick(subset.val, yv) : null;
          const r = finetune(
            encoder,
            meta.inputNorm,
            { train: a, val: v, test: { images: x!.test, labels: x!.testLabels }, unlabeled: x!.train },
            {
              numClasses: classes,
              seed,
              quiet: o.quiet ?? true,
              augment: null,
              selectBy: 'loss',
              startHead: (t, vv, k, unlabeled) => fitRegularizedLinear(t, vv, k, { unlabeled: unlabeled ?? t.x }),
              ...SEQUENCE_FINETUNE,
              ...o.finetune,
              mode: arm === 'scratch' ? 'scratch' : 'full',
            },
          );
          r.classifier.eval();
          p = torch.noGrad(() => probabilities(r.classifier.forward(x!.test)));
          r.classifier.dispose();
          for (const t of [a.images, a.labels, ...(v ? [v.images, v.labels] : [])]) t.dispose();
        }
        const score = scoreProbabilities(p, yTest, classes);
        const run: SequenceRun = { labels: budgetName(budget), arm, seed, used, ...score, seconds: (performance.now() - t0) / 1000 };
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  for (const t of [...(emb ? [emb.train, emb.test] : []), ...(x ? [x.train, x.test, x.testLabels] : [])]) t.dispose();
  return runs;
}

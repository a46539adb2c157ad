// The label-efficiency protocol on tables, with the baselines a tabular team believes. For
// each label budget and seed the same stratified subset (a fifth of it held out for early
// stopping and choices) trains every arm, all scored on the same test rows:
//   pretrained-linear     the encoder frozen, a softmax head on its features
//   pretrained-finetune   the encoder fine-tuned with the head (linear probe first)
//   scratch               the same network from random weights
//   logistic              logistic regression on the preprocessed features (one-hot categories)
//   xgboost               gradient-boosted trees (XGBoost) on the raw columns
//   xgboost+embeddings    the same trees on the raw columns plus the encoder's features
// Binary tasks are scored by AUROC, multi-class ones by accuracy (macro-F1 alongside).
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import {
  carveValidation,
  duringSelection,
  encodeFeatures,
  labeledRows,
  oneHotFeatures,
  rawFeatures,
  type FeatureMatrix,
  type FeatureSchema,
  type Table,
} from '@pretext/data';
import { Booster, type BoostParams } from '@pretext/xgboost';
import { buildEncoder } from '../encoders/encoder.js';
import { extractFeatures } from '../eval/features.js';
import { loadEncoder, readEncoderMeta } from '../pipeline.js';
import { finetune, type FinetuneOptions } from './finetune.js';
import { fitLogistic } from '../eval/logistic.js';
import { negativeLossOf } from './loop.js';
import { budgetName, labelSubset, type LabelBudget } from './labels.js';
import { summarizeRuns } from './protocol.js';

export const TABULAR_ARMS = ['pretrained-linear', 'pretrained-finetune', 'scratch', 'logistic', 'xgboost', 'xgboost+embeddings'] as const;
export type TabularArm = (typeof TABULAR_ARMS)[number];

export const TABULAR_BUDGETS = ['20/class', '5%', '10%', '25%', '100%'];

export type TabularMetric = 'auroc' | 'accuracy';

/** One arm, budget and seed of a table or text transfer report. */
export interface TabularRun<A extends string = TabularArm> {
  labels: string;
  arm: A;
  seed: number;
  /** Labeled rows used (training + validation). */
  used: number;
  metric: TabularMetric;
  value: number;
  /** Multi-class: macro-averaged F1 beside accuracy. */
  macroF1?: number;
  seconds: number;
}

export interface TabularRow<A extends string = TabularArm> {
  labels: string;
  arm: A;
  metric: TabularMetric;
  used: number;
  mean: number;
  std: number;
  runs: number;
}

export interface TabularTransferOptions {
  budgets: LabelBudget[];
  seeds: number[];
  arms?: readonly TabularArm[];
  finetune?: Partial<FinetuneOptions>;
  /** Boosting rounds at most (default 2000; early stopping ends most runs far sooner). */
  xgboostRounds?: number;
  quiet?: boolean;
  onRun?: (run: TabularRun) => void;
}

/** Area under the ROC curve of scores for the positive class (ties count half). */
export function auroc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (positive[idx[k]!]) {
        rankSum += rank;
        pos++;
      }
    i = j + 1;
  }
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Macro-averaged F1 of predicted classes. */
export function macroF1(pred: ArrayLike<number>, truth: ArrayLike<number>, classes: number): number {
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < pred.length; i++) {
      if (pred[i] === c && truth[i] === c) tp++;
      else if (pred[i] === c) fp++;
      else if (truth[i] === c) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / classes;
}

/** The score of class probabilities [n * classes] against the truth. */
export function scoreProbabilities(
  p: Float32Array,
  truth: Int32Array,
  classes: number,
  o: { binary?: TabularMetric } = {},
): { metric: TabularMetric; value: number; macroF1?: number } {
  if (classes === 2 && (o.binary ?? 'auroc') === 'auroc') {
    return {
      metric: 'auroc',
      value: auroc(
        Array.from(truth, (_, i) => p[i * 2 + 1]!),
        Array.from(truth, (y) => y === 1),
      ),
    };
  }
  const pred = Array.from(truth, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (p[i * classes + c]! > p[i * classes + best]!) best = c;
    return best;
  });
  return { metric: 'accuracy', value: pred.filter((c, i) => c === truth[i]).length / truth.length, macroF1: macroF1(pred, truth, classes) };
}

export function summarizeTabular<A extends string>(runs: TabularRun<A>[]): TabularRow<A>[] {
  return summarizeRuns(runs, (r) => r.value).map(({ first, ...g }) => ({
    labels: first.labels,
    arm: first.arm,
    metric: first.metric,
    used: first.used,
    ...g,
  }));
}

/** Rows `idx` of a feature matrix, in that order. */
export const rowsOf = (m: FeatureMatrix, idx: readonly number[]): FeatureMatrix => {
  const data = new Float32Array(idx.length * m.cols);
  idx.forEach((r, i) => data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols));
  return { rows: idx.length, cols: m.cols, data };
};

const toTensor = (m: FeatureMatrix): Tensor => torch.keep(torch.tensor(m.data, { shape: [m.rows, m.cols] }));
/** Class indices as a kept int64 tensor. */
export const longs = (ys: ArrayLike<number>): Tensor => torch.keep(torch.tensor(BigInt64Array.from(Array.from(ys), (v) => BigInt(v))));
const fromTensor = (t: Tensor): FeatureMatrix => ({
  rows: t.size(0),
  cols: t.size(1),
  data: t.contiguous().float().data() as Float32Array,
});

/** Rows `idx` of x with their labels, both kept (the caller frees them). */
export function selectRows(x: Tensor, idx: number[], ys: number[]): { x: Tensor; y: Tensor } {
  const i = longs(idx);
  const out = { x: torch.keep(x.indexSelect(0, i)), y: longs(ys) };
  i.dispose();
  return out;
}

/** Columns side by side: [a | b]. */
export function besides(a: FeatureMatrix, b: FeatureMatrix): FeatureMatrix {
  const cols = a.cols + b.cols;
  const data = new Float32Array(a.rows * cols);
  for (let i = 0; i < a.rows; i++) {
    data.set(a.data.subarray(i * a.cols, (i + 1) * a.cols), i * cols);
    data.set(b.data.subarray(i * b.cols, (i + 1) * b.cols), i * cols + a.cols);
  }
  return { rows: a.rows, cols, data };
}

/** Softmax probabilities [n * classes] of logits. */
export const probabilities = (logits: Tensor): Float32Array =>
  torch.tidy(() => logits.softmax(1).contiguous().data() as Float32Array).slice();

/**
 * XGBoost with early stopping on the validation rows; the tree depth (3 or 6) is chosen on
 * them too. Without validation rows (tiny budgets) a shallow fixed-size model.
 */
export function fitXGBoost(
  train: FeatureMatrix,
  y: ArrayLike<number>,
  val: { m: FeatureMatrix; y: ArrayLike<number> } | null,
  classes: number,
  o: { seed: number; rounds?: number },
): Booster {
  const base: BoostParams = {
    eta: 0.05,
    subsample: 0.8,
    colsample_bytree: 0.8,
    min_child_weight: 1,
    tree_method: 'hist',
    seed: o.seed,
    nthread: 0,
    ...(classes === 2
      ? { objective: 'binary:logistic', eval_metric: 'logloss' }
      : { objective: 'multi:softprob', num_class: classes, eval_metric: 'mlogloss' }),
  };
  const labeled = (m: FeatureMatrix, ys: ArrayLike<number>) => ({ ...m, labels: Float32Array.from(Array.from(ys)) });
  if (!val) return Booster.train(labeled(train, y), { params: { ...base, max_depth: 3 }, rounds: 100 });
  let best: Booster | null = null;
  for (const depth of [3, 6]) {
    const b = Booster.train(labeled(train, y), {
      params: { ...base, max_depth: depth },
      rounds: o.rounds ?? 2000,
      valid: labeled(val.m, val.y),
      earlyStoppingRounds: 50,
    });
    if (!best || b.bestScore! < best.bestScore!) best = b;
  }
  return best!;
}

/** Inverse regularization strengths a logistic regression is chosen among (scikit-learn's C). */
export const LOGISTIC_C = [0.01, 0.1, 1, 10];

/**
 * Logistic regression fitted to convergence, its C chosen by validation cross-entropy among
 * LOGISTIC_C as a user would tune it; without validation rows C = 1 (scikit-learn's default).
 */
export function fitRegularizedLinear(
  train: { x: Tensor; y: Tensor },
  val: { x: Tensor; y: Tensor } | null,
  classes: number,
  o: { unlabeled: Tensor },
): torch.nn.Linear {
  if (!val) return fitLogistic(train.x, train.y, classes, { statsFrom: o.unlabeled });
  let best: { head: torch.nn.Linear; loss: number } | null = null;
  for (const c of LOGISTIC_C) {
    const head = fitLogistic(train.x, train.y, classes, { c, statsFrom: o.unlabeled });
    const loss = -negativeLossOf((x) => head.forward(x), val.x, val.y);
    if (!best || loss < best.loss) {
      best?.head.dispose();
      best = { head, loss };
    } else head.dispose();
  }
  return best!.head;
}

/** Class probabilities [n * classes] from a booster (binary boosters give P(class 1)). */
export function boosterProbabilities(b: Booster, m: FeatureMatrix, classes: number): Float32Array {
  const p = b.predict(m);
  if (classes !== 2) return p;
  const out = new Float32Array(m.rows * 2);
  p.forEach((v, i) => {
    out[2 * i] = 1 - v;
    out[2 * i + 1] = v;
  });
  return out;
}

/**
 * The final score of a pretraining run on a table: a regularized linear head on the frozen
 * features of every labeled training row (its strength chosen on a fixed validation part of
 * them), scored on the test rows.
 */
export function scoreTableEncoder(
  encoderDir: string,
  train: Table,
  test: Table,
): { metric: TabularMetric; linear: number; macroF1?: number } {
  const meta = readEncoderMeta(encoderDir);
  const schema = meta.features!;
  const encoder = loadEncoder(encoderDir).encoder;
  const features = (t: Table): { x: Tensor; y: Int32Array } => {
    const { idx, y } = labeledRows(t, schema);
    const rows = toTensor(rowsOf(encodeFeatures(t, schema), idx));
    const x = extractFeatures(encoder, rows, meta.inputNorm);
    rows.dispose();
    return { x, y };
  };
  const a = features(train);
  const b = features(test);
  encoder.dispose();
  const score = scoreFrozenFeatures(a, b, schema.label!.classes.length);
  for (const t of [a.x, b.x]) t.dispose();
  return score;
}

/**
 * The final-score protocol on frozen features: a regularized linear head fitted on the
 * labeled training features (its strength chosen on a fixed validation fifth of them),
 * scored on the test features. Binary tasks report AUROC unless `binary` says accuracy.
 */
export function scoreFrozenFeatures(
  a: { x: Tensor; y: Int32Array },
  b: { x: Tensor; y: Int32Array },
  classes: number,
  o: { binary?: TabularMetric } = {},
): { metric: TabularMetric; linear: number; macroF1?: number } {
  const { train: fit, validation } = carveValidation(a.y.length, Math.max(1, Math.floor(a.y.length / 5)));
  const p = selectRows(
    a.x,
    Array.from(fit),
    Array.from(fit, (k) => a.y[k]!),
  );
  const v = selectRows(
    a.x,
    Array.from(validation),
    Array.from(validation, (k) => a.y[k]!),
  );
  const head = duringSelection('choosing the linear head of the final score', () =>
    fitRegularizedLinear(p, v, classes, { unlabeled: a.x }),
  );
  const probs = torch.noGrad(() => probabilities(head.forward(b.x)));
  const score = scoreProbabilities(probs, b.y, classes, o);
  for (const t of [p.x, p.y, v.x, v.y]) t.dispose();
  head.dispose();
  return { metric: score.metric, linear: score.value, ...(score.macroF1 === undefined ? {} : { macroF1: score.macroF1 }) };
}

/** Runs every arm for every budget and seed on the labeled training rows; scores on the test rows. */
export function runTabularTransfer(encoderDir: string, train: Table, test: Table, o: TabularTransferOptions): TabularRun[] {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'tabular' || !meta.features)
    throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not a table encoder`);
  const schema: FeatureSchema = meta.features;
  if (!schema.label)
    throw new TypeError(`${encoderDir}: the encoder's features were fitted without a label column; a transfer report needs one`);
  const classes = schema.label.classes.length;
  const arms = o.arms ?? TABULAR_ARMS;
  // Rows whose label is missing cannot be scored or trained on.
  const tr = labeledRows(train, schema);
  const te = labeledRows(test, schema);
  const enc = { train: rowsOf(encodeFeatures(train, schema), tr.idx), test: rowsOf(encodeFeatures(test, schema), te.idx) };
  const onehot = { train: oneHotFeatures(enc.train, schema), test: oneHotFeatures(enc.test, schema) };
  const raw = { train: rowsOf(rawFeatures(train, schema), tr.idx), test: rowsOf(rawFeatures(test, schema), te.idx) };
  const x = { train: toTensor(enc.train), test: toTensor(enc.test) };
  const yTest = longs(te.y);
  // The pretrained encoder's features of every row, computed once: the frozen arms all share them.
  const needEmbeddings = arms.some((a) => a === 'pretrained-linear' || a === 'xgboost+embeddings');
  let emb: { train: Tensor; test: Tensor } | null = null;
  if (needEmbeddings) {
    const encoder = loadEncoder(encoderDir).encoder;
    emb = { train: extractFeatures(encoder, x.train, meta.inputNorm), test: extractFeatures(encoder, x.test, meta.inputNorm) };
    encoder.dispose();
  }
  const embRows = emb ? { train: fromTensor(emb.train), test: fromTensor(emb.test) } : null;
  const runs: TabularRun[] = [];
  for (const budget of o.budgets) {
    for (const seed of o.seeds) {
      const subset = labelSubset(tr.y, budget, seed, 0.2, { stratified: true });
      const yTr = subset.train.map((i) => tr.y[i]!);
      const yVa = subset.val.map((i) => tr.y[i]!);
      const hasVal = subset.val.length > 0 && new Set(yVa).size === classes;
      const used = subset.train.length + subset.val.length;
      for (const arm of arms) {
        const t0 = performance.now();
        let p: Float32Array;
        if (arm === 'xgboost' || arm === 'xgboost+embeddings') {
          const m = arm === 'xgboost' ? raw : { train: besides(raw.train, embRows!.train), test: besides(raw.test, embRows!.test) };
          const b = fitXGBoost(rowsOf(m.train, subset.train), yTr, hasVal ? { m: rowsOf(m.train, subset.val), y: yVa } : null, classes, {
            seed,
            rounds: o.xgboostRounds,
          });
          p = boosterProbabilities(b, m.test, classes);
        } else if (arm === 'logistic' || arm === 'pretrained-linear') {
          const src = arm === 'logistic' ? { train: toTensor(onehot.train), test: toTensor(onehot.test) } : emb!;
          const a = selectRows(src.train, subset.train, yTr);
          const v = hasVal ? selectRows(src.train, subset.val, yVa) : null;
          const head = fitRegularizedLinear(a, v, classes, { unlabeled: src.train });
          p = torch.noGrad(() => probabilities(head.forward(src.test)));
          head.dispose();
          for (const t of [a.x, a.y, ...(v ? [v.x, v.y] : []), ...(arm === 'logistic' ? [src.train, src.test] : [])]) t.dispose();
        } else {
          torch.manualSeed(seed);
          const encoder = arm === 'scratch' ? buildEncoder(meta.encoder) : loadEncoder(encoderDir).encoder;
          const rows = (idx: number[], ys: number[]) => {
            const picked = selectRows(x.train, idx, ys);
            return { images: picked.x, labels: picked.y };
          };
          const a = rows(subset.train, yTr);
          const v = hasVal ? rows(subset.val, yVa) : null;
          const r = finetune(
            encoder,
            meta.inputNorm,
            { train: a, val: v, test: { images: x.test, labels: yTest }, unlabeled: x.train },
            {
              numClasses: classes,
              seed,
              quiet: o.quiet ?? true,
              augment: null,
              // early stopping by validation cross-entropy (accuracy stays flat on a 5% minority)
              selectBy: 'loss',
              // LP-FT from the converged, validation-tuned logistic regression of the linear arm
              startHead: (t, v, k, unlabeled) => fitRegularizedLinear(t, v, k, { unlabeled: unlabeled ?? t.x }),
              ...o.finetune,
              mode: arm === 'scratch' ? 'scratch' : 'full',
            },
          );
          r.classifier.eval();
          p = torch.noGrad(() => probabilities(r.classifier.forward(x.test)));
          r.classifier.dispose();
          for (const t of [a.images, a.labels, ...(v ? [v.images, v.labels] : [])]) t.dispose();
        }
        const score = scoreProbabilities(p, te.y, classes);
        const run: TabularRun = { labels: budgetName(budget), arm, seed, used, ...score, seconds: (performance.now() - t0) / 1000 };
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  for (const t of [x.train, x.test, yTest, ...(emb ? [emb.train, emb.test] : [])]) t.dispose();
  return runs;
}

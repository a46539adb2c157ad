// The label-efficiency protocol on text: per label budget and seed, the pretrained encoder's
// frozen document embeddings with a regularized logistic regression, the encoder fine-tuned,
// the same transformer trained from scratch on the labels alone, and the classical baseline
// an NLP team trusts, TF-IDF (word 1-2 grams and character 2-5 grams) with logistic
// regression. Every arm sees the same labeled documents; choices (regularization, epochs) are
// made on the validation part of them; the test documents give the scores, by accuracy
// (macro-F1 beside it).
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { csrRows, TfidfVectorizer, type Csr, type TextCorpus } from '@pretext/data';
import { buildEncoder } from '../encoders/encoder.js';
import { fitSparseLogistic, sparseLogisticProbabilities } from '../eval/sparseLogistic.js';
import { readEncoderMeta } from '../pipeline.js';
import { DocumentEncoder, documentTensor } from '../modalities/text/document.js';
import { embedTexts, loadTextEncoder } from '../modalities/text/embed.js';
import type { TextEncoder } from '../modalities/text/encoder.js';
import { tokenWindows } from '../modalities/text/tokens.js';
import { finetune, type FinetuneOptions } from './finetune.js';
import { budgetName, labelSubset, type LabelBudget } from './labels.js';
import { fitRegularizedLinear, longs, probabilities, scoreProbabilities, selectRows, type TabularRun } from './tabular.js';

export const TEXT_ARMS = ['pretrained-linear', 'pretrained-finetune', 'scratch', 'tfidf-logistic'] as const;
export type TextArm = (typeof TEXT_ARMS)[number];
export const TEXT_BUDGETS = ['10/class', '50/class', '1%', '10%', '100%'];
export type TextRun = TabularRun<TextArm>;

/** Regularization strengths the TF-IDF baseline chooses among on validation documents. */
export const TFIDF_C = [0.1, 1, 10, 100];

export interface TextTransferOptions {
  budgets: LabelBudget[];
  seeds: number[];
  arms?: readonly TextArm[];
  /** Windows per document the fine-tuned arms read (default 4; frozen embeddings read all). */
  finetuneWindows?: number;
  finetune?: Partial<FinetuneOptions>;
  quiet?: boolean;
  onRun?: (run: TextRun) => void;
  /** Called once with how many documents the fine-tuned arms cut to finetuneWindows. */
  onCut?: (documents: number) => void;
}

/** Fine-tuning defaults sized for a transformer on 2 CPU cores: few epochs, capped steps. */
export const TEXT_FINETUNE: Partial<FinetuneOptions> = { epochs: 20, minSteps: 60, maxSteps: 300, batchSize: 32, lr: 1e-3, patience: 5 };

const labeledIdx = (c: TextCorpus): number[] => Array.from(c.labels!.keys()).filter((i) => c.labels![i]! >= 0);

/** TF-IDF + logistic regression; C by validation cross-entropy (1 without validation documents). */
export function fitTfidfLogistic(
  x: Csr,
  train: { idx: number[]; y: number[] },
  val: { idx: number[]; y: number[] } | null,
  classes: number,
): ReturnType<typeof fitSparseLogistic> {
  const a = csrRows(x, train.idx);
  const ya = Int32Array.from(train.y);
  if (!val) return fitSparseLogistic(a, ya, classes, { c: 1 });
  const v = csrRows(x, val.idx);
  let best: { model: ReturnType<typeof fitSparseLogistic>; loss: number } | null = null;
  for (const c of TFIDF_C) {
    const model = fitSparseLogistic(a, ya, classes, { c });
    const p = sparseLogisticProbabilities(model, v);
    const loss = -val.y.reduce((s, y, i) => s + Math.log(Math.max(p[i * classes + y]!, 1e-12)), 0) / val.y.length;
    if (!best || loss < best.loss) best = { model, loss };
  }
  return best!.model;
}

/** Runs every arm for every budget and seed on the labeled training documents; scores on the test documents. */
export function runTextTransfer(encoderDir: string, train: TextCorpus, test: TextCorpus, o: TextTransferOptions): TextRun[] {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'text') throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not a text encoder`);
  if (!train.labels || !test.labels) throw new TypeError('a transfer report needs labeled training and test documents');
  const classes = train.classes.length;
  const arms = o.arms ?? TEXT_ARMS;
  const tr = labeledIdx(train);
  const te = labeledIdx(test);
  const yTrain = tr.map((i) => train.labels![i]!);
  const yTest = Int32Array.from(te, (i) => test.labels![i]!);
  const trainTexts = tr.map((i) => train.texts[i]!);
  const testTexts = te.map((i) => test.texts[i]!);
  const t = loadTextEncoder(encoderDir);
  const length = t.encoder.layout.maxLength;
  // Shared once per report: frozen embeddings, TF-IDF rows (vocabulary and idf from every
  // training document, labeled or not: unlabeled text is what a team has), document tensors.
  const emb = arms.includes('pretrained-linear')
    ? {
        train: embedTexts({ ...t, length }, trainTexts),
        test: embedTexts({ ...t, length }, testTexts),
        all: embedTexts({ ...t, length }, train.texts),
      }
    : null;
  t.encoder.dispose();
  const tfidf = arms.includes('tfidf-logistic') ? TfidfVectorizer.fit(train.texts) : null;
  const sparse = tfidf ? { train: tfidf.transform(trainTexts), test: tfidf.transform(testTexts) } : null;
  const W = o.finetuneWindows ?? 4;
  const tuned = arms.includes('pretrained-finetune') || arms.includes('scratch');
  const docs = tuned
    ? (() => {
        const a = documentTensor(tokenWindows(t.vocab, trainTexts, { length }), trainTexts.length, W, t.vocab.special.pad);
        const b = documentTensor(tokenWindows(t.vocab, testTexts, { length }), testTexts.length, W, t.vocab.special.pad);
        o.onCut?.(a.cut + b.cut);
        return { train: a.ids, test: b.ids, testLabels: longs(yTest) };
      })()
    : null;
  const runs: TextRun[] = [];
  for (const budget of o.budgets) {
    for (const seed of o.seeds) {
      const subset = labelSubset(yTrain, budget, seed, 0.2, { stratified: true });
      const ya = subset.train.map((i) => yTrain[i]!);
      const yv = subset.val.map((i) => yTrain[i]!);
      const hasVal = subset.val.length > 0 && new Set(yv).size === classes;
      const used = subset.train.length + subset.val.length;
      for (const arm of arms) {
        const t0 = performance.now();
        let p: Float32Array;
        if (arm === 'tfidf-logistic') {
          const model = fitTfidfLogistic(sparse!.train, { idx: subset.train, y: ya }, hasVal ? { idx: subset.val, y: yv } : null, classes);
          p = sparseLogisticProbabilities(model, sparse!.test);
        } else if (arm === 'pretrained-linear') {
          const a = selectRows(emb!.train, subset.train, ya);
          const v = hasVal ? selectRows(emb!.train, subset.val, yv) : null;
          const head = fitRegularizedLinear(a, v, classes, { unlabeled: emb!.all });
          p = torch.noGrad(() => probabilities(head.forward(emb!.test)));
          head.dispose();
          for (const x of [a.x, a.y, ...(v ? [v.x, v.y] : [])]) x.dispose();
        } else {
          torch.manualSeed(seed);
          const text = (arm === 'scratch' ? buildEncoder(meta.encoder) : loadTextEncoder(encoderDir).encoder) as TextEncoder;
          const encoder = new DocumentEncoder(text, W);
          const pick = (idx: number[], ys: number[]): { images: Tensor; labels: Tensor } => {
            const s = selectRows(docs!.train, idx, ys);
            return { images: s.x, labels: s.y };
          };
          const a = pick(subset.train, ya);
          const v = hasVal ? pick(subset.val, yv) : null;
          const r = finetune(
            encoder,
            { mean: 0, std: 1 },
            { train: a, val: v, test: { images: docs!.test, labels: docs!.testLabels } },
            {
              numClasses: classes,
              seed,
              quiet: o.quiet ?? true,
              augment: null,
              selectBy: 'loss',
              startHead: (tt, vv, k, unlabeled) => fitRegularizedLinear(tt, vv, k, { unlabeled: unlabeled ?? tt.x }),
              ...TEXT_FINETUNE,
              ...o.finetune,
              mode: arm === 'scratch' ? 'scratch' : 'full',
            },
          );
          r.classifier.eval();
          p = torch.noGrad(() => {
            const parts: Float32Array[] = [];
            for (let i = 0; i < docs!.test.size(0); i += 256)
              parts.push(
                torch.tidy(() =>
                  probabilities(r.classifier.forward(docs!.test.narrow(0, i, Math.min(256, docs!.test.size(0) - i)).float())),
                ),
              );
            const out = new Float32Array(parts.reduce((n, q) => n + q.length, 0));
            let at = 0;
            for (const q of parts) {
              out.set(q, at);
              at += q.length;
            }
            return out;
          });
          r.classifier.dispose();
          for (const x of [a.images, a.labels, ...(v ? [v.images, v.labels] : [])]) x.dispose();
        }
        const score = scoreProbabilities(p, yTest, classes, { binary: 'accuracy' });
        const run: TextRun = { labels: budgetName(budget), arm, seed, used, ...score, seconds: (performance.now() - t0) / 1000 };
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  for (const x of [...(emb ? [emb.train, emb.test, emb.all] : []), ...(docs ? [docs.train, docs.test, docs.testLabels] : [])]) x.dispose();
  return runs;
}

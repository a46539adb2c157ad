// `pretext finetune` on a text encoder: a team's own labeled documents (a folder with class
// sub-folders, a file's text and label columns, or a benchmark corpus) and a label budget in;
// a classifier folder out, with the vocabulary beside it, scored once on the test documents.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { DataFormatError } from '@pretext/data';
import { finetune, type FinetuneMode } from '../../transfer/finetune.js';
import { budgetName, labelSubset, type LabelBudget } from '../../transfer/labels.js';
import { fitRegularizedLinear, longs, selectRows } from '../../transfer/tabular.js';
import { TEXT_FINETUNE } from '../../transfer/text.js';
import { saveClassifier, type ClassifierMeta } from '../../transfer/finetuneRun.js';
import { DocumentEncoder, documentTensor } from './document.js';
import { loadTextEncoder } from './embed.js';
import { loadTextData, type TextDataSpec } from './source.js';
import { tokenWindows } from './tokens.js';

export interface TextFinetuneOptions {
  encoderDir: string;
  data: TextDataSpec;
  budget: LabelBudget;
  mode: Exclude<FinetuneMode, 'scratch'>;
  seed?: number;
  outDir?: string;
  /** Windows per document read (default 4). */
  windows?: number;
  unfreezeBlocks?: number;
  epochs?: number;
  maxSteps?: number;
  lr?: number;
  quiet?: boolean;
}

export interface TextClassifierMeta extends ClassifierMeta {
  modality: 'text';
  /** Windows per document the classifier reads. */
  windows: number;
  vocabulary: string;
}

export async function runTextFinetune(o: TextFinetuneOptions): Promise<{ outDir: string; meta: TextClassifierMeta }> {
  const seed = o.seed ?? 0;
  const W = o.windows ?? 4;
  const data = await loadTextData(o.data);
  if (!data.train.labels || !data.test) throw new DataFormatError(`${data.name}: fine-tuning needs labeled documents`);
  const test = await data.test.forFinalScore('pretext finetune');
  const labeled = (labels: Int32Array): number[] => Array.from(labels.keys()).filter((i) => labels[i]! >= 0);
  const tr = labeled(data.train.labels);
  const te = labeled(test.labels!);
  const y = tr.map((i) => data.train.labels![i]!);
  const subset = labelSubset(y, o.budget, seed, 0.2, { stratified: true });
  torch.manualSeed(seed);
  const t = loadTextEncoder(o.encoderDir);
  const L = t.encoder.layout.maxLength;
  const docs = (texts: string[]): torch.Tensor =>
    documentTensor(tokenWindows(t.vocab, texts, { length: L }), texts.length, W, t.vocab.special.pad).ids;
  const trainDocs = docs(tr.map((i) => data.train.texts[i]!));
  const testDocs = docs(te.map((i) => test.texts[i]!));
  const pick = (idx: number[]): { images: torch.Tensor; labels: torch.Tensor } => {
    const s = selectRows(
      trainDocs,
      idx,
      idx.map((i) => y[i]!),
    );
    return { images: s.x, labels: s.y };
  };
  const encoder = new DocumentEncoder(t.encoder, W);
  const a = pick(subset.train);
  const v = subset.val.length ? pick(subset.val) : null;
  const testLabels = longs(te.map((i) => test.labels![i]!));
  const r = finetune(
    encoder,
    { mean: 0, std: 1 },
    { train: a, val: v, test: { images: testDocs, labels: testLabels } },
    {
      numClasses: data.train.classes.length,
      seed,
      quiet: o.quiet,
      augment: null,
      selectBy: 'loss',
      startHead: (tt, vv, k, unlabeled) => fitRegularizedLinear(tt, vv, k, { unlabeled: unlabeled ?? tt.x }),
      ...TEXT_FINETUNE,
      ...(o.epochs === undefined ? {} : { epochs: o.epochs }),
      // A step cap below the default minimum lowers the minimum with it.
      ...(o.maxSteps === undefined ? {} : { maxSteps: o.maxSteps, minSteps: Math.min(TEXT_FINETUNE.minSteps!, o.maxSteps) }),
      ...(o.lr === undefined ? {} : { lr: o.lr }),
      ...(o.unfreezeBlocks === undefined ? {} : { unfreezeBlocks: o.unfreezeBlocks }),
      mode: o.mode,
    },
  );
  const label = budgetName(o.budget).replace('/', 'per').replace('%', 'pct');
  const outDir = o.outDir ?? join(o.encoderDir, `finetune-${o.mode}-${label}-s${seed}`);
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(o.encoderDir, t.meta.vocabulary!), join(outDir, t.meta.vocabulary!));
  const meta = saveClassifier<TextClassifierMeta>(outDir, r, {
    format: 'pretext-classifier/1',
    modality: 'text',
    encoder: o.encoderDir,
    dataset: data.name,
    labels: budgetName(o.budget),
    labeledImages: subset.train.length + subset.val.length,
    validationImages: subset.val.length,
    seed,
    classes: data.train.classes,
    numClasses: data.train.classes.length,
    inputNorm: { mean: 0, std: 1 },
    inputShape: [W * L],
    encoderSpec: t.meta.encoder,
    windows: W,
    vocabulary: t.meta.vocabulary!,
  });
  r.classifier.dispose();
  for (const x of [trainDocs, testDocs, testLabels, a.images, a.labels, ...(v ? [v.images, v.labels] : [])]) x.dispose();
  return { outDir, meta };
}

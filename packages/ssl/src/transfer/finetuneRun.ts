// A fine-tuning run, the twin of runPretrain: an encoder folder, a labeled data set and a
// label budget in; a classifier folder out (classifier.safetensors, finetune.json,
// metrics.jsonl, scores.json) that loadClassifier reads back into a working model.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { DataFormatError } from '@pretext/data';
import { buildEncoder, type EncoderSpec } from '../encoders/encoder.js';
import type { InputNorm } from '../eval/features.js';
import { loadEncoder, loadSplits } from '../pipeline.js';
import type { DataSpec } from '../data/sources.js';
import { Classifier, finetune, type FinetuneMode, type FinetuneResult } from './finetune.js';
import { semiSettings, type SemiConfig } from './semi.js';
import { DocumentEncoder } from '../modalities/text/document.js';
import type { TextEncoder } from '../modalities/text/encoder.js';
import { budgetName, labelSubset, type LabelBudget } from './labels.js';
import { numClassesOf, selectLabeled } from './protocol.js';

export interface FinetuneRunOptions {
  /** A pretraining run folder (encoder.json + encoder.safetensors). */
  encoderDir: string;
  dataset: DataSpec;
  budget: LabelBudget;
  mode: Exclude<FinetuneMode, 'scratch'>;
  seed?: number;
  /** Default: <encoderDir>/finetune-<mode>-<budget>-s<seed>. */
  outDir?: string;
  unfreezeBlocks?: number;
  epochs?: number;
  maxSteps?: number;
  lr?: number;
  /** Semi-supervised fine-tuning (FixMatch) on the training split's images besides the labels. */
  semi?: SemiConfig;
  quiet?: boolean;
}

/** What finetune.json records: the result, and what rebuilds the classifier. */
export interface ClassifierMeta extends Omit<FinetuneResult, 'history' | 'classifier'> {
  format: 'pretext-classifier/1';
  encoder: string;
  dataset: string;
  labels: string;
  labeledImages: number;
  validationImages: number;
  seed: number;
  classes: string[];
  numClasses: number;
  inputNorm: InputNorm;
  inputShape: number[];
  encoderSpec: EncoderSpec;
  /** Semi-supervised runs: the FixMatch settings used. */
  semi?: Required<SemiConfig>;
}

export async function runFinetune(o: FinetuneRunOptions): Promise<{ outDir: string; meta: ClassifierMeta }> {
  const seed = o.seed ?? 0;
  const [train, test] = await loadSplits(o.dataset);
  const subset = labelSubset(Array.from(train.labels.data() as BigInt64Array, Number), o.budget, seed);
  torch.manualSeed(seed);
  const { encoder, meta } = loadEncoder(o.encoderDir);
  const numClasses = numClassesOf(train);
  const r = finetune(
    encoder,
    meta.inputNorm,
    {
      train: selectLabeled(train, subset.train),
      val: subset.val.length ? selectLabeled(train, subset.val) : null,
      test,
      unlabeled: train.images.narrow(0, 0, Math.min(10000, train.images.size(0))),
      pool: train.images,
    },
    {
      mode: o.mode,
      ...(o.semi ? { semi: o.semi } : {}),
      numClasses,
      seed,
      quiet: o.quiet,
      unfreezeBlocks: o.unfreezeBlocks,
      epochs: o.epochs,
      maxSteps: o.maxSteps,
      lr: o.lr,
    },
  );
  const label = budgetName(o.budget).replace('/', 'per').replace('%', 'pct');
  const outDir = o.outDir ?? join(o.encoderDir, `finetune-${o.mode}${o.semi ? '-semi' : ''}-${label}-s${seed}`);
  mkdirSync(outDir, { recursive: true });
  const out = saveClassifier<ClassifierMeta>(outDir, r, {
    format: 'pretext-classifier/1',
    encoder: o.encoderDir,
    dataset: o.dataset.dataset === 'fashion-mnist' ? 'fashion-mnist' : o.dataset.path,
    labels: budgetName(o.budget),
    labeledImages: subset.train.length + subset.val.length,
    validationImages: subset.val.length,
    seed,
    classes: train.classes,
    numClasses,
    inputNorm: meta.inputNorm,
    inputShape: meta.inputShape,
    encoderSpec: meta.encoder,
    ...(o.semi ? { semi: semiSettings(o.semi) } : {}),
  });
  r.classifier.dispose();
  return { outDir, meta: out };
}

type ResultFields = 'mode' | 'testAccuracy' | 'trainAccuracy' | 'valAccuracy' | 'bestEpoch' | 'epochs' | 'steps' | 'seconds';

/**
 * Writes a classifier folder: classifier.safetensors, finetune.json (the run's description
 * and its result), metrics.jsonl (per epoch) and scores.json (the test score).
 */
export function saveClassifier<M extends ClassifierMeta>(outDir: string, r: FinetuneResult, describe: Omit<M, ResultFields>): M {
  torch.safetensors.saveFile(join(outDir, 'classifier.safetensors'), r.classifier.stateDict(), { format: 'pt' });
  const { mode, testAccuracy, trainAccuracy, valAccuracy, bestEpoch, epochs, steps, seconds } = r;
  const meta = { ...describe, mode, testAccuracy, trainAccuracy, valAccuracy, bestEpoch, epochs, steps, seconds } as M;
  writeFileSync(join(outDir, 'finetune.json'), `${JSON.stringify(meta, null, 2)}\n`);
  writeFileSync(join(outDir, 'metrics.jsonl'), r.history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  writeFileSync(join(outDir, 'scores.json'), `${JSON.stringify({ split: 'test', accuracy: r.testAccuracy }, null, 2)}\n`);
  return meta;
}

/** A fine-tuned classifier folder as a model in eval mode: normalized images [B, C, H, W] (or documents [B, windows * length]) -> logits [B, classes]. */
export function loadClassifier(dir: string): { classifier: Classifier; meta: ClassifierMeta } {
  let meta: ClassifierMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'finetune.json'), 'utf8')) as ClassifierMeta;
  } catch (err) {
    throw new DataFormatError(`${dir} is not a fine-tuned classifier folder (finetune.json: ${(err as Error).message})`);
  }
  if (meta.format !== 'pretext-classifier/1' || !meta.encoderSpec || !(meta.numClasses > 0))
    throw new DataFormatError(`${join(dir, 'finetune.json')}: not a pretext-classifier/1 description`);
  // Text classifiers read whole documents: up to `windows` token windows side by side.
  const windows = (meta as { windows?: number }).windows;
  const base = buildEncoder(meta.encoderSpec);
  const classifier = new Classifier(windows ? new DocumentEncoder(base as TextEncoder, windows) : base, meta.numClasses);
  const { tensors } = torch.safetensors.loadFile(join(dir, 'classifier.safetensors'));
  classifier.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  classifier.eval();
  return { classifier, meta };
}

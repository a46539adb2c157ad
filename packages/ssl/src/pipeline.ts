// Recipe -> pretrained encoder -> scores: what `pretext pretrain` and `pretext eval` run.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import {
  hasTestSplit,
  inputNormFor,
  inputShapeOf,
  loadImageSet,
  requireLabels,
  streamingSource,
  type DataSpec,
  type ImageSet,
  type LabeledSet,
} from './data/sources.js';
import { buildEncoder, type Encoder, type EncoderSpec } from './encoders/encoder.js';
import { buildMethod } from './methods/index.js';
import { buildAugment } from './recipe/augment.js';
import type { Recipe } from './recipe/schema.js';
import { pretrain, type TrainResult } from './train/trainer.js';
import { fingerprint } from './data/fingerprint.js';
import {
  carveValidation,
  DataFormatError,
  duringSelection,
  TestSplit,
  validationCount,
  type ColumnType,
  type EventSchema,
  type FeatureSchema,
} from '@pretext/data';
import type { EventDataSpec } from './modalities/sequence/source.js';
import type { FederatedProvenance } from './federated/provenance.js';
import type { BatchSource, FileSource } from './data/loader.js';
import { extractFeatures, toFloatImages, type InputNorm } from './eval/features.js';
import { knnAccuracy } from './eval/knn.js';
import { linearProbe } from './eval/linear.js';

/** encoder.json: what rebuilds the encoder and how to feed it. */
export interface EncoderMeta {
  format: 'pretext-encoder/1';
  /** What the encoder reads (absent in image encoders written before tables existed). */
  modality?: 'image' | 'tabular' | 'text' | 'sequence';
  encoder: EncoderSpec;
  /** Tables: the preprocessing learned on the training rows, which turns a team's own rows into inputs. */
  features?: FeatureSchema;
  /** Tables: the recipe's data section the rows were read by (transfer reports reload them). */
  tableData?: {
    dataset: 'table';
    name?: string;
    path?: string;
    label?: string;
    drop: string[];
    types?: Record<string, ColumnType>;
    object?: string;
    testPath?: string;
  };
  /** Text: the SentencePiece model file beside encoder.json that turns text into the encoder's tokens. */
  vocabulary?: string;
  /** Text: the recipe's data section the documents were read by. */
  textData?: { dataset: 'text'; name?: string; path?: string; column?: string; label?: string; testPath?: string };
  /** Histories: the event preprocessing learned on the training entities (also events.json). */
  events?: EventSchema;
  /** Histories: the recipe's data section the events were read by. */
  eventData?: EventDataSpec;
  outDim: number;
  /** Inputs are float images in [0, 1], then (x - mean) / std (per channel when arrays). */
  inputNorm: InputNorm;
  inputShape: number[];
  method: string;
  recipe: string;
  /** The run whose encoder this one started from (text: SimCSE on an MLM encoder). */
  initializedFrom?: string;
  /** Trained by a federation of sites: who took part, the partition, strategy, rounds and bytes. */
  federated?: FederatedProvenance;
  dataset: string;
  dataFingerprint: string;
  trainSteps: number;
  trainSeconds: number;
  createdAt: string;
}

/** What a training run adds to an encoder's metadata (lineage, length), for the builders below. */
export type RunLineage = Pick<EncoderMeta, 'method' | 'recipe' | 'dataset' | 'trainSteps' | 'trainSeconds'> & Partial<EncoderMeta>;

/**
 * encoder.json of an encoder whose inputs are already encoded numbers (tables, histories): no
 * input normalization, the shape of one example of `x` (with the batch first), its fingerprint.
 */
export function encodedInputMeta(
  modality: 'tabular' | 'sequence',
  spec: EncoderSpec,
  x: Tensor,
  outDim: number,
  preprocessing: Pick<EncoderMeta, 'features' | 'events'>,
  run: RunLineage,
): EncoderMeta {
  return {
    format: 'pretext-encoder/1',
    modality,
    encoder: spec,
    ...preprocessing,
    outDim,
    inputNorm: { mean: 0, std: 1 },
    inputShape: x.shape.slice(1),
    dataFingerprint: fingerprint(x),
    createdAt: new Date().toISOString(),
    ...run,
  };
}

export interface Scores {
  /** What `linear` measures: accuracy (images, multi-class tables) or AUROC (binary tables). */
  metric?: 'accuracy' | 'auroc';
  knn?: number;
  linear?: number;
  linearTrain?: number;
}

export { fingerprint };

/** A labeled split of a data set (scoring needs labels). */
export async function loadDataset(spec: DataSpec, split: 'train' | 'test'): Promise<LabeledSet> {
  return requireLabels(await loadImageSet(spec, split));
}

/** The labeled training and test splits, for a run that ends in a final score. */
export function loadSplits(spec: DataSpec): Promise<[LabeledSet, LabeledSet]> {
  return Promise.all([loadDataset(spec, 'train'), loadDataset(spec, 'test')]);
}

/** kNN and linear-probe accuracy of frozen features on the test split. */
export function scoreEncoder(
  encoder: Encoder,
  norm: InputNorm,
  train: LabeledSet,
  test: LabeledSet,
  which: { knn?: boolean; linear?: boolean; trainLimit?: number } = {},
): Scores {
  const limit = Math.min(which.trainLimit ?? Infinity, train.images.size(0));
  const fTrain = extractFeatures(encoder, train.images.narrow(0, 0, limit), norm);
  const trainLabels = train.labels.narrow(0, 0, limit);
  const fTest = extractFeatures(encoder, test.images, norm);
  try {
    const scores: Scores = {};
    if (which.knn ?? true) scores.knn = knnAccuracy(fTrain, trainLabels, fTest, test.labels);
    if (which.linear ?? true) {
      const l = linearProbe(fTrain, trainLabels, fTest, test.labels);
      scores.linear = l.testAccuracy;
      scores.linearTrain = l.trainAccuracy;
    }
    return scores;
  } finally {
    fTrain.dispose();
    fTest.dispose();
    trainLabels.dispose();
  }
}

export interface PretrainRun {
  outDir: string;
  result: TrainResult;
  scores: Scores;
  meta: EncoderMeta;
  /** What read the test split during the run (the final score, at most). */
  testReads: string[];
}

/**
 * The end of a table or text pretraining run: the final score on the test split (read once,
 * here, after every choice is made; none for unlabeled data), written to scores.json.
 */
export async function scoreFinishedRun<T>(
  o: { outDir: string; dataset: string; result: TrainResult; meta: EncoderMeta },
  test: TestSplit<T> | null,
  score: (test: T) => { metric: 'accuracy' | 'auroc'; linear: number },
): Promise<PretrainRun> {
  const held = test ? await test.forFinalScore('the final score of the run') : null;
  const scores = held ? score(held) : null;
  writeFileSync(
    join(o.outDir, 'scores.json'),
    `${JSON.stringify({ dataset: o.dataset, split: 'test', ...(scores ?? { note: 'no labeled test split: not scored' }) }, null, 2)}\n`,
  );
  return {
    outDir: o.outDir,
    result: o.result,
    scores: scores ? { metric: scores.metric, linear: scores.linear } : {},
    meta: o.meta,
    testReads: test?.openings ?? [],
  };
}

/**
 * Writes a finished run's encoder: its weights under PyTorch's key names, encoder.json, and
 * the modality's preprocessing as JSON files beside them (features.json, events.json).
 */
export function saveEncoderRun(
  outDir: string,
  backbone: { stateDict(): Map<string, torch.Tensor> },
  meta: EncoderMeta,
  json: Record<string, unknown> = {},
): void {
  torch.safetensors.saveFile(join(outDir, 'encoder.safetensors'), backbone.stateDict(), { format: 'pt', pretext: meta.format });
  writeFileSync(join(outDir, 'encoder.json'), `${JSON.stringify(meta, null, 2)}\n`);
  for (const [file, value] of Object.entries(json)) writeFileSync(join(outDir, file), `${JSON.stringify(value, null, 2)}\n`);
}

/** The recipe's encoder with its input channels and size taken from the data. */
export function encoderForData(spec: EncoderSpec, data: DataSpec): EncoderSpec {
  const [channels, size] = inputShapeOf(data) as [number, number];
  if (spec.type === 'small-cnn') return { type: spec.type, config: { inChannels: channels, inputSize: size, ...spec.config } };
  if (spec.type === 'resnet18') return { type: spec.type, config: { inChannels: channels, ...spec.config } };
  throw new TypeError(`encoder ${spec.type} reads table rows, not images`);
}

/** The data set's labeled test split behind its accessor (null when it has none). */
function testSplitOf(data: DataSpec): TestSplit<LabeledSet | null> | null {
  if (!hasTestSplit(data)) return null;
  return new TestSplit(`${data.dataset === 'fashion-mnist' ? 'fashion-mnist' : data.path}/test`, async () => {
    const test = await loadImageSet(data, 'test');
    return test.labels ? (test as LabeledSet) : null;
  });
}

/** The fixed validation split carved from a labeled training set: the rest is the kNN bank, the carved part is scored. */
export function validationSplit(train: LabeledSet): { train: LabeledSet; validation: LabeledSet } {
  const n = train.labels.size(0);
  const { train: t, validation: v } = carveValidation(n, validationCount(n));
  const pick = (idx: Uint32Array, what: string): LabeledSet => {
    const part = torch.tidy(() => {
      const i = torch.tensor(BigInt64Array.from(idx, (x) => BigInt(x)));
      return { images: train.images.indexSelect(0, i), labels: train.labels.indexSelect(0, i) };
    });
    torch.keep([part.images, part.labels]);
    return { ...train, source: `${train.source} (${what})`, ...part };
  };
  return { train: pick(t, 'training part'), validation: pick(v, 'validation part') };
}

/** encoder.json of an image encoder trained by `recipe`. */
export function imageEncoderMeta(
  recipe: Recipe,
  spec: EncoderSpec,
  outDim: number,
  norm: InputNorm,
  run: Pick<EncoderMeta, 'dataFingerprint' | 'trainSteps' | 'trainSeconds' | 'federated'>,
): EncoderMeta {
  const data = recipe.data as DataSpec;
  return {
    format: 'pretext-encoder/1',
    encoder: spec,
    outDim,
    inputNorm: norm,
    inputShape: inputShapeOf(data),
    method: recipe.method.name,
    recipe: recipe.name,
    dataset: data.dataset === 'fashion-mnist' ? data.dataset : `image-folder:${data.path}`,
    ...run,
    createdAt: new Date().toISOString(),
  };
}

export async function runPretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  if (recipe.data.dataset === 'table')
    throw new TypeError(`recipe ${recipe.name} trains on a table: run it with pretrainFromRecipe (or runTablePretrain)`);
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const data = recipe.data as DataSpec;
  const stream = streamingSource(data);
  let train: ImageSet | null = null;
  let images: Tensor | BatchSource;
  if (stream) images = stream;
  else {
    train = await loadImageSet(data, 'train', { quiet: o.quiet });
    images = data.limit ? torch.keep(train.images.narrow(0, 0, Math.min(data.limit, train.images.size(0)))) : train.images;
  }
  // Scoring needs labels on both splits; an unlabeled folder trains without it. A streamed
  // folder is decoded whole for scoring only (kNN and the probe see every training image).
  const wantsScores = recipe.evaluation.knn || recipe.evaluation.linear || recipe.evaluation.knnEveryEpoch;
  const testSplit = wantsScores ? testSplitOf(data) : null;
  const scoreTrain = testSplit ? (train ?? (await loadImageSet(data, 'train', { quiet: o.quiet }))) : null;
  const labeledTrain = scoreTrain?.labels ? (scoreTrain as LabeledSet) : null;
  // The per-epoch curve is a choice-making tool (how long to train), so it is measured on the
  // validation split carved from the training data, never on the test split.
  const curve = recipe.evaluation.knnEveryEpoch && labeledTrain ? validationSplit(labeledTrain) : null;
  const norm = await inputNormFor(data, train ?? (images as BatchSource));
  torch.manualSeed(recipe.seed);
  const spec = encoderForData(recipe.encoder as EncoderSpec, data);
  const method = buildMethod(recipe.method.name, () => buildEncoder(spec), recipe.method.config);
  const result = await pretrain({
    method,
    images,
    augment: buildAugment(recipe.augment),
    norm,
    outDir: o.outDir,
    resume: o.resume ?? false,
    quiet: o.quiet ?? false,
    config: { ...recipe.train, seed: recipe.seed },
    onEpochEnd: curve
      ? () =>
          duringSelection('the per-epoch kNN curve', () => ({
            val_knn: scoreEncoder(method.backbone, norm, curve.train, curve.validation, { knn: true, linear: false }).knn!,
          }))
      : undefined,
  });
  const meta = imageEncoderMeta(recipe, spec, method.backbone.outDim, norm, {
    dataFingerprint: images instanceof torch.Tensor ? fingerprint(images) : fileListFingerprint(images as FileSource),
    trainSteps: result.step,
    trainSeconds: result.trainSeconds,
  });
  saveEncoderRun(o.outDir, method.backbone, meta);
  if (curve) for (const set of [curve.train, curve.validation]) for (const t of [set.images, set.labels]) t.dispose();
  // The final score: the only time a run reads its test split.
  const test = testSplit && labeledTrain ? await testSplit.forFinalScore('the final score of the run') : null;
  const scoring = test && labeledTrain ? { train: labeledTrain, test } : null;
  const scores = scoring ? scoreEncoder(method.backbone, norm, scoring.train, scoring.test, recipe.evaluation) : {};
  writeFileSync(
    join(o.outDir, 'scores.json'),
    `${JSON.stringify({ dataset: meta.dataset, split: 'test', ...scores, ...(scoring ? {} : { note: 'no labeled test split: not scored' }) }, null, 2)}\n`,
  );
  return { outDir: o.outDir, result, scores, meta, testReads: testSplit?.openings ?? [] };
}

/** sha256 over the names and sizes of a streamed folder's files (their bytes are not all read). */
function fileListFingerprint(source: FileSource): string {
  const h = createHash('sha256');
  for (const f of source.files) h.update(`${f}\0${statSync(f).size}\n`);
  return `sha256:${h.digest('hex')}`;
}

/** A run folder's encoder.json, checked for its format. */
export function readEncoderMeta(dir: string): EncoderMeta {
  const metaPath = join(dir, 'encoder.json');
  if (!existsSync(metaPath)) throw new DataFormatError(`${dir} has no encoder.json: is it a pretraining run folder?`);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as EncoderMeta;
  if (meta.format !== 'pretext-encoder/1') throw new DataFormatError(`${metaPath}: unknown format '${meta.format}'`);
  return meta;
}

/** Rebuilds an encoder from a run folder (encoder.json + encoder.safetensors). */
export function loadEncoder(dir: string): { encoder: Encoder; meta: EncoderMeta } {
  const meta = readEncoderMeta(dir);
  const encoder = buildEncoder(meta.encoder);
  const { tensors } = torch.safetensors.loadFile(join(dir, 'encoder.safetensors'));
  encoder.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  encoder.eval();
  return { encoder, meta };
}

export async function evaluateEncoder(dir: string, dataset: DataSpec): Promise<Scores> {
  const { encoder, meta } = loadEncoder(dir);
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  return scoreEncoder(encoder, meta.inputNorm, train, test);
}

/** Raw-pixel baselines under the same protocol. */
export async function rawPixelScores(dataset: DataSpec): Promise<Scores> {
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  return torch.tidy(() => {
    const a = toFloatImages(train.images).flatten(1);
    const b = toFloatImages(test.images).flatten(1);
    return { knn: knnAccuracy(a, train.labels, b, test.labels), linear: linearProbe(a, train.labels, b, test.labels).testAccuracy };
  });
}

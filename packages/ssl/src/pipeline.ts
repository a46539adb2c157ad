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
import { DataFormatError } from '@pretext/data';
import type { BatchSource, FileSource } from './data/loader.js';
import { extractFeatures, toFloatImages, type InputNorm } from './eval/features.js';
import { knnAccuracy } from './eval/knn.js';
import { linearProbe } from './eval/linear.js';

/** encoder.json: what rebuilds the encoder and how to feed it. */
export interface EncoderMeta {
  format: 'pretext-encoder/1';
  encoder: EncoderSpec;
  outDim: number;
  /** Inputs are float images in [0, 1], then (x - mean) / std (per channel when arrays). */
  inputNorm: InputNorm;
  inputShape: number[];
  method: string;
  recipe: string;
  dataset: string;
  dataFingerprint: string;
  trainSteps: number;
  trainSeconds: number;
  createdAt: string;
}

export interface Scores {
  knn?: number;
  linear?: number;
  linearTrain?: number;
}

/** sha256 over a tensor's bytes: identifies the exact training data in lineage. */
export function fingerprint(t: Tensor): string {
  return `sha256:${createHash('sha256').update(new Uint8Array(t.data().buffer)).digest('hex')}`;
}

/** A labeled split of a data set (scoring needs labels). */
export async function loadDataset(spec: DataSpec, split: 'train' | 'test'): Promise<LabeledSet> {
  return requireLabels(await loadImageSet(spec, split));
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
}

/** The recipe's encoder with its input channels and size taken from the data. */
export function encoderForData(spec: EncoderSpec, data: DataSpec): EncoderSpec {
  const [channels, size] = inputShapeOf(data) as [number, number];
  if (spec.type === 'small-cnn') return { type: spec.type, config: { inChannels: channels, inputSize: size, ...spec.config } };
  return { type: spec.type, config: { inChannels: channels, ...spec.config } };
}

async function labeledTestSet(data: DataSpec): Promise<LabeledSet | null> {
  if (!hasTestSplit(data)) return null;
  const test = await loadImageSet(data, 'test');
  return test.labels ? (test as LabeledSet) : null;
}

export async function runPretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
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
  const test = wantsScores ? await labeledTestSet(data) : null;
  const scoreTrain = test ? (train ?? (await loadImageSet(data, 'train', { quiet: o.quiet }))) : null;
  const scoring = test && scoreTrain?.labels ? { train: scoreTrain as LabeledSet, test } : null;
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
    onEpochEnd:
      recipe.evaluation.knnEveryEpoch && scoring
        ? () => scoreEncoder(method.backbone, norm, scoring.train, scoring.test, { knn: true, linear: false }) as Record<string, number>
        : undefined,
  });
  const meta: EncoderMeta = {
    format: 'pretext-encoder/1',
    encoder: spec,
    outDim: method.backbone.outDim,
    inputNorm: norm,
    inputShape: inputShapeOf(data),
    method: recipe.method.name,
    recipe: recipe.name,
    dataset: data.dataset === 'fashion-mnist' ? data.dataset : `image-folder:${data.path}`,
    dataFingerprint: images instanceof torch.Tensor ? fingerprint(images) : fileListFingerprint(images as FileSource),
    trainSteps: result.step,
    trainSeconds: result.trainSeconds,
    createdAt: new Date().toISOString(),
  };
  torch.safetensors.saveFile(join(o.outDir, 'encoder.safetensors'), method.backbone.stateDict(), { format: 'pt', pretext: meta.format });
  writeFileSync(join(o.outDir, 'encoder.json'), `${JSON.stringify(meta, null, 2)}\n`);
  const scores = scoring ? scoreEncoder(method.backbone, norm, scoring.train, scoring.test, recipe.evaluation) : {};
  writeFileSync(
    join(o.outDir, 'scores.json'),
    `${JSON.stringify({ dataset: meta.dataset, split: 'test', ...scores, ...(scoring ? {} : { note: 'no labeled test split: not scored' }) }, null, 2)}\n`,
  );
  return { outDir: o.outDir, result, scores, meta };
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

// Recipe -> pretrained encoder -> scores: what `pretext pretrain` and `pretext eval` run.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { loadFashionMnist, type LabeledImages } from './data/fashionMnist.js';
import { buildEncoder, type Encoder, type EncoderSpec } from './encoders/encoder.js';
import { buildMethod } from './methods/index.js';
import { buildAugment } from './recipe/augment.js';
import type { Recipe } from './recipe/schema.js';
import { pretrain, type TrainResult } from './train/trainer.js';
import { extractFeatures, toFloatImages, type InputNorm } from './eval/features.js';
import { knnAccuracy } from './eval/knn.js';
import { linearProbe } from './eval/linear.js';

/** encoder.json: what rebuilds the encoder and how to feed it. */
export interface EncoderMeta {
  format: 'pretext-encoder/1';
  encoder: EncoderSpec;
  outDim: number;
  /** Inputs are float images in [0, 1], then (x - mean) / std. */
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

const FASHION_MNIST_NORM: InputNorm = { mean: 0.286, std: 0.353 };

/** sha256 over a tensor's bytes: identifies the exact training data in lineage. */
export function fingerprint(t: Tensor): string {
  return `sha256:${createHash('sha256').update(new Uint8Array(t.data().buffer)).digest('hex')}`;
}

export async function loadDataset(name: Recipe['data']['dataset'], split: 'train' | 'test'): Promise<LabeledImages> {
  if (name !== 'fashion-mnist') throw new TypeError(`unknown data set '${String(name)}'`);
  const d = await loadFashionMnist(split);
  torch.keep([d.images, d.labels]);
  return d;
}

/** kNN and linear-probe accuracy of frozen features on the test split. */
export function scoreEncoder(
  encoder: Encoder,
  norm: InputNorm,
  train: LabeledImages,
  test: LabeledImages,
  which: { knn?: boolean; linear?: boolean } = {},
): Scores {
  const fTrain = extractFeatures(encoder, train.images, norm);
  const fTest = extractFeatures(encoder, test.images, norm);
  try {
    const scores: Scores = {};
    if (which.knn ?? true) scores.knn = knnAccuracy(fTrain, train.labels, fTest, test.labels);
    if (which.linear ?? true) {
      const l = linearProbe(fTrain, train.labels, fTest, test.labels);
      scores.linear = l.testAccuracy;
      scores.linearTrain = l.trainAccuracy;
    }
    return scores;
  } finally {
    fTrain.dispose();
    fTest.dispose();
  }
}

export interface PretrainRun {
  outDir: string;
  result: TrainResult;
  scores: Scores;
  meta: EncoderMeta;
}

export async function runPretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const train = await loadDataset(recipe.data.dataset, 'train');
  const test = await loadDataset(recipe.data.dataset, 'test');
  const images = recipe.data.limit
    ? torch.keep(train.images.narrow(0, 0, Math.min(recipe.data.limit, train.images.size(0))))
    : train.images;
  const norm = FASHION_MNIST_NORM;
  torch.manualSeed(recipe.seed);
  const spec = recipe.encoder as EncoderSpec;
  const method = buildMethod(recipe.method.name, () => buildEncoder(spec), recipe.method.config);
  const result = pretrain({
    method,
    images,
    augment: buildAugment(recipe.augment),
    norm,
    outDir: o.outDir,
    resume: o.resume ?? false,
    quiet: o.quiet ?? false,
    config: { ...recipe.train, seed: recipe.seed },
    onEpochEnd: recipe.evaluation.knnEveryEpoch
      ? () => scoreEncoder(method.backbone, norm, train, test, { knn: true, linear: false }) as Record<string, number>
      : undefined,
  });
  const meta: EncoderMeta = {
    format: 'pretext-encoder/1',
    encoder: spec,
    outDim: method.backbone.outDim,
    inputNorm: norm,
    inputShape: [1, 28, 28],
    method: recipe.method.name,
    recipe: recipe.name,
    dataset: recipe.data.dataset,
    dataFingerprint: fingerprint(images),
    trainSteps: result.step,
    trainSeconds: result.trainSeconds,
    createdAt: new Date().toISOString(),
  };
  torch.safetensors.saveFile(join(o.outDir, 'encoder.safetensors'), method.backbone.stateDict(), { format: 'pt', pretext: meta.format });
  writeFileSync(join(o.outDir, 'encoder.json'), `${JSON.stringify(meta, null, 2)}\n`);
  const scores = scoreEncoder(method.backbone, norm, train, test, recipe.evaluation);
  writeFileSync(join(o.outDir, 'scores.json'), `${JSON.stringify({ dataset: recipe.data.dataset, split: 'test', ...scores }, null, 2)}\n`);
  return { outDir: o.outDir, result, scores, meta };
}

/** Rebuilds an encoder from a run folder (encoder.json + encoder.safetensors). */
export function loadEncoder(dir: string): { encoder: Encoder; meta: EncoderMeta } {
  const metaPath = join(dir, 'encoder.json');
  if (!existsSync(metaPath)) throw new Error(`${dir} has no encoder.json: is it a pretraining run folder?`);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as EncoderMeta;
  if (meta.format !== 'pretext-encoder/1') throw new Error(`${metaPath}: unknown format '${meta.format}'`);
  const encoder = buildEncoder(meta.encoder);
  const { tensors } = torch.safetensors.loadFile(join(dir, 'encoder.safetensors'));
  encoder.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  encoder.eval();
  return { encoder, meta };
}

export async function evaluateEncoder(dir: string, dataset: Recipe['data']['dataset']): Promise<Scores> {
  const { encoder, meta } = loadEncoder(dir);
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  return scoreEncoder(encoder, meta.inputNorm, train, test);
}

/** Raw-pixel baselines under the same protocol. */
export async function rawPixelScores(dataset: Recipe['data']['dataset']): Promise<Scores> {
  const train = await loadDataset(dataset, 'train');
  const test = await loadDataset(dataset, 'test');
  return torch.tidy(() => {
    const a = toFloatImages(train.images).flatten(1);
    const b = toFloatImages(test.images).flatten(1);
    return { knn: knnAccuracy(a, train.labels, b, test.labels), linear: linearProbe(a, train.labels, b, test.labels).testAccuracy };
  });
}

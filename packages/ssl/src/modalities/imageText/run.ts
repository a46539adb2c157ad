// Training an image-text model on pairs, through the shared trainer: each example is one row
// holding the image (normalized pixels, or the locked tower's cached features) followed by the
// caption's token ids, and the modality's view maker splits the row back into the two inputs.
// A run folder holds model.safetensors (both towers, both projections, the scale and bias),
// vocab.model and image-text.json (what rebuilds it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { Vocabulary } from '@pretext/sentencepiece';
import { DataFormatError, type ImageTextPairs } from '@pretext/data';
import { buildEncoder, type Encoder, type EncoderSpec } from '../../encoders/encoder.js';
import { extractFeatures, imageStats, normalizeInput, type InputNorm } from '../../eval/features.js';
import { pretrain, type TrainResult } from '../../train/trainer.js';
import type { Transform } from '../../augment/transforms.js';
import { tokenWindows, windowsTensor } from '../text/tokens.js';
import type { TextTransformerConfig } from '../text/encoder.js';
import { ImageTextModel, type PairLoss } from './model.js';
import { classEmbeddings } from './evaluate.js';
import { MAX_LOGIT_SCALE } from '../../losses/imageText.js';

export const IMAGE_TEXT_FORMAT = 'pretext-image-text/1';

/** image-text.json: what rebuilds a trained image-text model. */
export interface ImageTextMeta {
  format: typeof IMAGE_TEXT_FORMAT;
  loss: PairLoss;
  embedDim: number;
  /** Side length images are resized to before the image tower (area averaging). */
  imageSize: number;
  /** 3 (RGB) or 1 (grey, for an image tower pretrained on grey images). */
  imageChannels: 1 | 3;
  imageNorm: InputNorm;
  image: EncoderSpec;
  text: EncoderSpec;
  /** Token window of a caption, [CLS] and [SEP] included. */
  length: number;
  vocabulary: string;
  /** Where the image tower came from when it was pretrained elsewhere and locked (LiT). */
  lockedImageFrom?: string;
  trainPairs: number;
  trainSteps: number;
  trainSeconds: number;
  createdAt: string;
}

/** The method a run's card, lineage and exports name: LiT when the image tower was locked, else the loss. */
export const imageTextMethod = (m: ImageTextMeta): string => (m.lockedImageFrom ? `lit-${m.loss}` : m.loss);

export interface ImageTextTrainOptions {
  train: ImageTextPairs;
  loss: PairLoss;
  outDir: string;
  /** Image side the towers read (default 32; pairs are stored larger and area-averaged down). */
  imageSize?: number;
  /**
   * A pretrained image tower to lock (LiT): its spec, weights and input normalization. Absent:
   * a small CNN trained from scratch with the text side.
   */
  image?: { encoder: Encoder; spec: EncoderSpec; norm: InputNorm; source: string };
  /**
   * Image views for a tower trained from scratch (e.g. a random resized crop without flips:
   * icons of arrows change meaning when mirrored); default none. Ignored when locked.
   */
  augment?: Transform;
  /** Text tower width, depth and heads (default 128 wide, 2 layers, 4 heads). */
  text?: Partial<Pick<TextTransformerConfig, 'dModel' | 'layers' | 'heads' | 'dropout'>>;
  embedDim?: number;
  vocabSize?: number;
  /** Caption window (default 32 tokens). */
  length?: number;
  epochs: number;
  batchSize: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  maxSteps?: number;
  /** Called after every epoch with the model in eval mode; its numbers are logged (validation only). */
  validate?: (m: TrainedImageText) => Record<string, number>;
  quiet?: boolean;
}

export interface TrainedImageText {
  model: ImageTextModel;
  vocab: Vocabulary;
  meta: ImageTextMeta;
}

/** uint8 pixels [N, S, S, 3] -> float [N, channels, size, size] in [0, 1] (area-averaged when smaller; grey = channel mean). */
export function pixelsToImages(pixels: Uint8Array, stored: number, size: number, channels: 1 | 3 = 3): Tensor {
  const n = pixels.length / (stored * stored * 3);
  if (!Number.isInteger(n)) throw new RangeError(`${pixels.length} bytes are not whole ${stored}x${stored} RGB images`);
  return torch.tidy(() => {
    const rgb = torch
      .tensor(pixels, { shape: [n, stored, stored, 3] })
      .permute(0, 3, 1, 2)
      .float()
      .div(255);
    const x = channels === 1 ? rgb.mean(1, true) : rgb;
    return size === stored ? x.contiguous() : torch.nn.functional.adaptiveAvgPool2d(x, size);
  });
}

/** Caption token windows [N, length] (one window each: a caption longer than the window is cut, and counted). */
export function captionIds(vocab: Vocabulary, captions: readonly string[], length: number): { ids: Tensor; cut: number } {
  const w = tokenWindows(vocab, captions, { length, maxWindowsPerDoc: 1 });
  const full = tokenWindows(vocab, captions, { length });
  return { ids: windowsTensor(w), cut: full.windows - w.windows };
}

const smallCnn = (size: number): EncoderSpec => ({
  type: 'small-cnn',
  config: { inChannels: 3, width: 32, depth: 3, inputSize: size, readoutNorm: true },
});

/** Trains an image-text model and writes its run folder. */
export async function trainImageText(o: ImageTextTrainOptions): Promise<TrainedImageText & { result: TrainResult; captionsCut: number }> {
  const towerConfig = (o.image?.spec.config ?? {}) as { inChannels?: number; inputSize?: number };
  const channels: 1 | 3 = towerConfig.inChannels === 1 ? 1 : 3;
  const size = o.image && towerConfig.inputSize ? towerConfig.inputSize : (o.imageSize ?? 32);
  const length = o.length ?? 32;
  mkdirSync(o.outDir, { recursive: true });
  const vocab = Vocabulary.train(o.train.captions, { vocabSize: o.vocabSize ?? 2000, seed: o.seed ?? 0 });
  const s = vocab.special;
  const textSpec: EncoderSpec = {
    type: 'text-transformer',
    config: {
      dModel: 128,
      layers: 2,
      heads: 4,
      ...o.text,
      vocabSize: vocab.size,
      padId: s.pad,
      clsId: s.cls,
      sepId: s.sep,
      maskId: s.mask,
      maxLength: length,
    },
  };
  const imageSpec = o.image?.spec ?? smallCnn(size);
  const locked = o.image !== undefined;
  torch.manualSeed(o.seed ?? 0);
  const model = new ImageTextModel(
    () => o.image?.encoder ?? buildEncoder(imageSpec),
    () => buildEncoder(textSpec),
    { loss: o.loss, embedDim: o.embedDim, lockImage: locked },
  );
  const images = pixelsToImages(o.train.images, o.train.size, size, channels);
  const norm = o.image?.norm ?? imageStats(images);
  // The row: image part (cached features when locked, else normalized pixels), then token ids.
  const imagePart = torch.keep(
    locked ? extractFeatures(model.backbone, images, norm) : torch.tidy(() => normalizeInput(images, norm).flatten(1)),
  );
  images.dispose();
  const { ids, cut } = captionIds(vocab, o.train.captions, length);
  const rows = torch.keep(torch.tidy(() => torch.cat([imagePart, ids.float()], 1)));
  const width = imagePart.size(1);
  imagePart.dispose();
  ids.dispose();
  const augment = locked ? undefined : o.augment;
  const makeViews = (batch: Tensor, _count: number, g: torch.Generator): Tensor[] => {
    const x = batch.narrow(1, 0, width);
    const image = locked ? x : x.reshape([batch.size(0), channels, size, size]);
    return [augment ? augment(image, g) : image, batch.narrow(1, width, length).long()];
  };
  const meta = (steps: number, seconds: number): ImageTextMeta => ({
    format: IMAGE_TEXT_FORMAT,
    loss: o.loss,
    embedDim: model.embedDim,
    imageSize: size,
    imageChannels: channels,
    imageNorm: norm,
    image: imageSpec,
    text: textSpec,
    length,
    vocabulary: 'vocab.model',
    ...(o.image ? { lockedImageFrom: o.image.source } : {}),
    trainPairs: o.train.captions.length,
    trainSteps: steps,
    trainSeconds: seconds,
    createdAt: new Date().toISOString(),
  });
  try {
    const result = await pretrain({
      method: model,
      images: rows,
      makeViews,
      config: {
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: { name: 'adamw', lr: o.lr ?? 1e-3, weightDecay: o.weightDecay ?? 0.1 },
        schedule: { name: 'warmup-cosine', warmupEpochs: Math.min(1, o.epochs / 10) },
        seed: o.seed ?? 0,
        maxSteps: o.maxSteps,
      },
      outDir: o.outDir,
      quiet: o.quiet,
      onEpochEnd: o.validate
        ? () => {
            model.eval();
            try {
              return o.validate!({ model, vocab, meta: meta(0, 0) });
            } finally {
              model.train();
            }
          }
        : undefined,
    });
    model.eval();
    const m = meta(result.step, result.trainSeconds);
    saveImageText(o.outDir, { model, vocab, meta: m });
    return { model, vocab, meta: m, result, captionsCut: cut };
  } finally {
    rows.dispose();
  }
}

export function saveImageText(dir: string, t: TrainedImageText): void {
  mkdirSync(dir, { recursive: true });
  torch.safetensors.saveFile(join(dir, 'model.safetensors'), t.model.stateDict(), { format: 'pt', pretext: IMAGE_TEXT_FORMAT });
  t.vocab.save(join(dir, t.meta.vocabulary));
  writeFileSync(join(dir, 'image-text.json'), `${JSON.stringify(t.meta, null, 2)}\n`);
}

/** A run folder's image-text model, in eval mode. */
export function loadImageText(dir: string): TrainedImageText {
  const metaPath = join(dir, 'image-text.json');
  if (!existsSync(metaPath)) throw new DataFormatError(`${dir} holds no image-text model (no image-text.json)`);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as ImageTextMeta;
  if (meta.format !== IMAGE_TEXT_FORMAT)
    throw new DataFormatError(`${metaPath}: format ${String(meta.format)}, expected ${IMAGE_TEXT_FORMAT}`);
  const vocab = Vocabulary.load(join(dir, meta.vocabulary));
  const model = new ImageTextModel(
    () => buildEncoder(meta.image),
    () => buildEncoder(meta.text),
    { loss: meta.loss, embedDim: meta.embedDim, lockImage: meta.lockedImageFrom !== undefined },
  );
  const { tensors } = torch.safetensors.loadFile(join(dir, 'model.safetensors'));
  const { missingKeys, unexpectedKeys } = model.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  if (missingKeys.length || unexpectedKeys.length)
    throw new TypeError(
      `${dir}/model.safetensors does not fit image-text.json: missing ${missingKeys.join(', ')}; unexpected ${unexpectedKeys.join(', ')}`,
    );
  model.eval();
  return { model, vocab, meta };
}

/** Normalized embeddings [N, D] of stored pixels (kept: the caller frees it). */
export function embedPairImages(t: TrainedImageText, pixels: Uint8Array, stored: number, batchSize = 512): Tensor {
  const images = pixelsToImages(pixels, stored, t.meta.imageSize, t.meta.imageChannels);
  try {
    return batched(images.size(0), batchSize, (i, n) =>
      t.model.embedImages(normalizeInput(images.narrow(0, i, n), t.meta.imageNorm), false),
    );
  } finally {
    images.dispose();
  }
}

/** Normalized embeddings [N, D] of captions or prompts (kept: the caller frees it). */
export function embedCaptions(t: TrainedImageText, texts: readonly string[], batchSize = 512): Tensor {
  const { ids } = captionIds(t.vocab, texts, t.meta.length);
  try {
    return batched(ids.size(0), batchSize, (i, n) => t.model.embedTexts(ids.narrow(0, i, n)));
  } finally {
    ids.dispose();
  }
}

/**
 * Zero-shot class probabilities of stored pixels: each class name through the prompt templates,
 * the template embeddings averaged per class, a softmax over the model's scaled similarities.
 */
export function zeroShotProbabilities(
  t: TrainedImageText,
  pixels: Uint8Array,
  stored: number,
  classes: readonly string[],
  templates: readonly string[],
): number[][] {
  const z = embedPairImages(t, pixels, stored);
  try {
    return torch.tidy(() => {
      const c = classEmbeddings(classes, templates, (texts) => embedCaptions(t, texts));
      const logits = z.matmul(c.t()).mul(t.model.logScale.exp().clampMax(MAX_LOGIT_SCALE));
      return Array.from({ length: z.size(0) }, (_, i) => Array.from(logits.select(0, i).softmax(0).data() as Float32Array));
    });
  } finally {
    z.dispose();
  }
}

/** Cosine similarity of each stored image to a sentence in the model's shared space. */
export function sentenceSimilarities(t: TrainedImageText, pixels: Uint8Array, stored: number, sentence: string): number[] {
  const z = embedPairImages(t, pixels, stored);
  try {
    return torch.tidy(() =>
      Array.from(
        z
          .matmul(embedCaptions(t, [sentence]).t())
          .squeeze(1)
          .data() as Float32Array,
      ),
    );
  } finally {
    z.dispose();
  }
}

function batched(n: number, batchSize: number, f: (start: number, count: number) => Tensor): Tensor {
  const parts: Tensor[] = [];
  torch.noGrad(() => {
    for (let i = 0; i < n; i += batchSize) parts.push(torch.keep(torch.tidy(() => f(i, Math.min(batchSize, n - i)))));
  });
  const all = torch.tidy(() => torch.cat(parts));
  for (const p of parts) p.dispose();
  return torch.keep(all);
}

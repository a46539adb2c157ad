// Data sets by name, as recipes and the CLI give them: `fashion-mnist`, or an image folder.
// An image folder with `train/` and `test/` inside uses them as the splits; otherwise the
// folder is the training split and `testPath` (when given) the test split.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { currentSelection, DataFormatError, FASHION_MNIST_CLASSES, scanImageFolder, TestSplitSealed } from '@pretext/data';
import { decodeImages, loadFashionMnist } from './images.js';
import { FileSource, type BatchSource } from './loader.js';
import { imageStats, type InputNorm } from '../eval/features.js';

export type DataSpec =
  | { dataset: 'fashion-mnist'; limit?: number }
  | {
      dataset: 'image-folder';
      path: string;
      testPath?: string;
      /** Side length images are resized (cover + center crop) to. */
      size: number;
      channels: 1 | 3;
      /** Decode training images batch by batch instead of all at load (large folders). */
      stream?: boolean;
      limit?: number;
    };

export interface ImageSet {
  /** uint8 [N, H, W] or [N, C, H, W] */
  images: Tensor;
  /** int64 [N]; absent for unlabeled data. */
  labels?: Tensor;
  classes: string[];
  /** Where it came from, for messages and lineage. */
  source: string;
}

export interface LabeledSet extends ImageSet {
  labels: Tensor;
}

/** Fashion-MNIST's statistics over its training split. */
export const FASHION_MNIST_NORM: InputNorm = { mean: 0.286, std: 0.353 };

/** `fashion-mnist`, or a folder path (optionally `train-dir,test-dir`), as the CLI takes it. */
export function parseDatasetArg(arg: string, o: { size?: number; channels?: 1 | 3 } = {}): DataSpec {
  if (arg === 'fashion-mnist') return { dataset: 'fashion-mnist' };
  const [path, testPath] = arg.split(',');
  if (!path || !existsSync(path) || !statSync(path).isDirectory()) {
    throw new DataFormatError(`unknown data set '${arg}': expected fashion-mnist or an image folder (optionally train-folder,test-folder)`);
  }
  return { dataset: 'image-folder', path, ...(testPath ? { testPath } : {}), size: o.size ?? 28, channels: o.channels ?? 1 };
}

function folderFor(spec: Extract<DataSpec, { dataset: 'image-folder' }>, split: 'train' | 'test'): string | undefined {
  const root = resolve(spec.path);
  const hasSplits = existsSync(join(root, 'train')) && existsSync(join(root, 'test'));
  if (hasSplits) return join(root, split);
  return split === 'train' ? root : spec.testPath && resolve(spec.testPath);
}

/** Whether the data set has a test split (Fashion-MNIST always; a folder when it has one). */
export function hasTestSplit(spec: DataSpec): boolean {
  return spec.dataset === 'fashion-mnist' || folderFor(spec, 'test') !== undefined;
}

/** Loads a split into memory (kept: lives until the process ends or the caller frees it). */
export async function loadImageSet(spec: DataSpec, split: 'train' | 'test', o: { quiet?: boolean } = {}): Promise<ImageSet> {
  // Every way to the test split passes here: none opens during a model-selection step.
  const selecting = split === 'test' ? currentSelection() : undefined;
  if (selecting !== undefined)
    throw new TestSplitSealed(`the test split was asked for during model selection (${selecting}): choices use the validation split`);
  if (spec.dataset === 'fashion-mnist') {
    const d = await loadFashionMnist(split, { quiet: o.quiet });
    torch.keep([d.images, d.labels]);
    return { ...d, classes: [...FASHION_MNIST_CLASSES], source: `fashion-mnist/${split}` };
  }
  const dir = folderFor(spec, split);
  if (dir === undefined)
    throw new DataFormatError(`image folder ${spec.path} has no test split: add train/ and test/ inside it, or give testPath`);
  const index = scanImageFolder(dir);
  const images = torch.keep(await decodeImages(index.files, { size: spec.size, channels: spec.channels, quiet: o.quiet }));
  const labels = index.labels ? torch.keep(torch.tensor(BigInt64Array.from(index.labels, (v) => BigInt(v)))) : undefined;
  return { images, labels, classes: index.classes, source: dir };
}

/** The training split as a batch source that decodes on demand (image folders with stream: true). */
export function streamingSource(spec: DataSpec): BatchSource | null {
  if (spec.dataset !== 'image-folder' || !spec.stream) return null;
  const index = scanImageFolder(folderFor(spec, 'train')!);
  return new FileSource(index.files, { size: spec.size, channels: spec.channels });
}

/** A labeled split, or an error saying the data set has no labels to evaluate with. */
export function requireLabels(set: ImageSet): LabeledSet {
  if (!set.labels) throw new DataFormatError(`${set.source} is unlabeled (no class sub-folders), so it cannot score an encoder`);
  return set as LabeledSet;
}

/**
 * Input statistics: the published ones for Fashion-MNIST, else measured on (up to 10,000 of)
 * the training images; for a streamed folder, on an evenly spaced sample of its files.
 */
export async function inputNormFor(spec: DataSpec, train: ImageSet | BatchSource): Promise<InputNorm> {
  if (spec.dataset === 'fashion-mnist') return FASHION_MNIST_NORM;
  const n = 'images' in train ? train.images.size(0) : train.length;
  const take = Math.min(n, 10000);
  const idx = torch.tidy(() => torch.linspace(0, n - 1, take).long());
  const sample = 'images' in train ? torch.tidy(() => train.images.indexSelect(0, idx)) : await train.fetch(idx);
  idx.dispose();
  try {
    return imageStats(sample);
  } finally {
    sample.dispose();
  }
}

/** [C, H, W] of one input image. */
export function inputShapeOf(spec: DataSpec): number[] {
  return spec.dataset === 'fashion-mnist' ? [1, 28, 28] : [spec.channels, spec.size, spec.size];
}

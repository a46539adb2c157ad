// Images from @pretext/data's sources as tensors: Fashion-MNIST and decoded image folders.
import { decodeImageBytes, readFashionMnist, type DatasetLocation, type DecodeOptions } from '@pretext/data';
import { tensor, tidy, type Tensor } from '@pretext/torch';

export interface LabeledImages {
  /** uint8 [N, 28, 28] */
  images: Tensor;
  /** int64 [N] */
  labels: Tensor;
}

/** The 60,000 training or 10,000 test images of Fashion-MNIST with their labels. */
export async function loadFashionMnist(split: 'train' | 'test', o: DatasetLocation = {}): Promise<LabeledImages> {
  const d = await readFashionMnist(split, o);
  return {
    images: tensor(d.images, { shape: d.shape, dtype: 'uint8' }),
    labels: tensor(BigInt64Array.from(d.labels, (v) => BigInt(v))),
  };
}

/** Decodes `files` into uint8 [N, C, size, size]; a file that fails to decode is named in the error. */
export async function decodeImages(files: readonly string[], o: DecodeOptions): Promise<Tensor> {
  const hwc = await decodeImageBytes(files, o);
  return tidy(() =>
    tensor(hwc, { shape: [files.length, o.size, o.size, o.channels], dtype: 'uint8' })
      .permute([0, 3, 1, 2])
      .contiguous(),
  );
}

// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 70,000 28x28 grayscale product photos in
// 10 classes. Found in the cache, else in Debian's dataset-fashion-mnist package, else
// downloaded from the data set's canonical location and verified.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { download } from './download.js';
import { DataFormatError } from './errors.js';
import { parseIdx } from './formats/idx.js';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const FASHION_MNIST_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com';
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The files, with the MD5 published for the download and the SHA-256 of the decompressed
 * IDX bytes, which holds for any copy however it was compressed (Debian recompresses).
 */
export const FASHION_MNIST_FILES = {
  'train-images': {
    file: 'train-images-idx3-ubyte.gz',
    md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  },
  'train-labels': {
    file: 'train-labels-idx1-ubyte.gz',
    md5: '25c81989df183df01b3e8a0aad5dffbe',
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  },
  'test-images': {
    file: 't10k-images-idx3-ubyte.gz',
    md5: 'bef4ecab320f06d8554ea6380940ec79',
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  },
  'test-labels': {
    file: 't10k-labels-idx1-ubyte.gz',
    md5: 'bb300cfdad3c16e7a12a480ee83cd310',
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
} as const;

export interface DatasetLocation {
  /** Where downloads go: PRETEXT_CACHE, else ~/.cache/pretext. */
  cacheDir?: string;
  /** Read-only folders searched after the cache. */
  systemDirs?: string[];
  /** Download when no copy is found (default true). */
  download?: boolean;
  baseUrl?: string;
  quiet?: boolean;
}

export function defaultCacheDir(): string {
  return process.env.PRETEXT_CACHE ?? join(homedir(), '.cache', 'pretext');
}

export interface FashionMnistSplit {
  /** uint8 images, row-major [N, 28, 28] */
  images: Uint8Array;
  shape: [number, number, number];
  /** Class index of each image, 0-9. */
  labels: Uint8Array;
}

async function locate(key: keyof typeof FASHION_MNIST_FILES, o: DatasetLocation): Promise<Uint8Array> {
  const spec = FASHION_MNIST_FILES[key];
  const cached = join(o.cacheDir ?? defaultCacheDir(), 'fashion-mnist', spec.file);
  const candidates = [cached, ...(o.systemDirs ?? [DEBIAN_FASHION_MNIST_DIR]).map((d) => join(d, spec.file))];
  let path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    if (o.download === false) {
      throw new DataFormatError(`Fashion-MNIST file ${spec.file} not found in ${candidates.join(', ')} and downloading is off`);
    }
    await download(`${o.baseUrl ?? FASHION_MNIST_URL}/${spec.file}`, cached, { md5: spec.md5, quiet: o.quiet ?? false });
    path = cached;
  }
  const raw = readFileSync(path);
  const content = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  const sha = createHash('sha256').update(content).digest('hex');
  if (sha !== spec.sha256) {
    throw new DataFormatError(
      `${path}: content checksum mismatch (sha256 ${sha}, expected ${spec.sha256}); delete it to download a fresh copy`,
    );
  }
  return content;
}

/** The 60,000 training or 10,000 test images with their labels, as bytes. */
export async function readFashionMnist(split: 'train' | 'test', o: DatasetLocation = {}): Promise<FashionMnistSplit> {
  const imagesKey = split === 'train' ? 'train-images' : 'test-images';
  const labelsKey = split === 'train' ? 'train-labels' : 'test-labels';
  const img = parseIdx(await locate(imagesKey, o), FASHION_MNIST_FILES[imagesKey].file);
  const lab = parseIdx(await locate(labelsKey, o), FASHION_MNIST_FILES[labelsKey].file);
  if (img.dtype !== 'uint8' || img.shape.length !== 3 || lab.shape.length !== 1 || img.shape[0] !== lab.shape[0]) {
    throw new DataFormatError(`Fashion-MNIST ${split}: images [${img.shape.join(', ')}] and labels [${lab.shape.join(', ')}] do not match`);
  }
  return { images: img.data as Uint8Array, shape: img.shape as [number, number, number], labels: lab.data as Uint8Array };
}

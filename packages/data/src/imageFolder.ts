// Image folders: PNG, JPEG, WebP, GIF or TIFF files, either sorted into one sub-folder per
// class (labeled, classes in name order as torchvision's ImageFolder does) or all in one
// folder (unlabeled). Decoded and resized with sharp (libvips), many files at a time on
// libuv's thread pool, into bytes (height, width, channels per image).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { DataFormatError } from './errors.js';
import { ProgressBar } from './progress.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff'];

export interface ImageFolderIndex {
  root: string;
  /** Absolute paths, sorted by class then name. */
  files: string[];
  /** Class index of each file; absent for an unlabeled folder. */
  labels?: number[];
  /** Class names (sub-folder names), in index order; empty when unlabeled. */
  classes: string[];
}

export interface DecodeOptions {
  /** Output side length; images are resized to cover it and center-cropped (aspect kept). */
  size: number;
  /** 1: grayscale, 3: RGB (alpha dropped). */
  channels: 1 | 3;
  /** Files decoded at once (default 16). */
  concurrency?: number;
  quiet?: boolean;
}

const isImage = (name: string): boolean => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

/**
 * Lists a folder. Sub-folders with images make it labeled; loose images beside class folders
 * are an error (they would silently lose their label), as is a folder with no image at all.
 */
export function scanImageFolder(root: string): ImageFolderIndex {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new DataFormatError(`image folder ${root} does not exist or is not a folder`);
  const entries = readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const loose = entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => join(root, e.name));
  const classes: string[] = [];
  const files: string[] = [];
  const labels: number[] = [];
  for (const dir of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.'))) {
    const inClass = listImages(join(root, dir.name));
    if (inClass.length === 0) continue;
    for (const f of inClass) {
      files.push(f);
      labels.push(classes.length);
    }
    classes.push(dir.name);
  }
  if (classes.length > 0 && loose.length > 0) {
    throw new DataFormatError(
      `image folder ${root} mixes class sub-folders (${classes.slice(0, 3).join(', ')}) with ${loose.length} loose image(s) such as ${relative(root, loose[0]!)}; move them into a class folder or a separate unlabeled folder`,
    );
  }
  if (classes.length > 0) return { root, files, labels, classes };
  if (loose.length === 0) throw new DataFormatError(`image folder ${root} holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
  return { root, files: loose, classes: [] };
}

/** Images anywhere under `dir` (class folders may be nested), sorted by path. */
function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listImages(p));
    else if (e.isFile() && isImage(e.name)) out.push(p);
  }
  return out.sort();
}

/** One file (a path, or its bytes with a name for messages) -> size*size*channels bytes (HWC). */
export async function decodeImage(
  file: string | Uint8Array,
  o: DecodeOptions,
  name = typeof file === 'string' ? file : 'image',
): Promise<Buffer> {
  let img = sharp(file, { failOn: 'error', limitInputPixels: 1 << 26 })
    .rotate()
    .resize(o.size, o.size, { fit: 'cover', position: 'centre' });
  img = o.channels === 1 ? img.toColourspace('b-w') : img.removeAlpha().toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== o.channels || data.length !== o.size * o.size * o.channels) {
    throw new DataFormatError(
      `${name}: decoded to ${info.width}x${info.height}x${info.channels}, expected ${o.size}x${o.size}x${o.channels}`,
    );
  }
  return data;
}

/** Decodes `files` into bytes laid out [N, size, size, channels]; a file that fails to decode is named in the error. */
export async function decodeImageBytes(files: readonly string[], o: DecodeOptions): Promise<Uint8Array> {
  const per = o.size * o.size * o.channels;
  const hwc = new Uint8Array(files.length * per);
  const bar = o.quiet || files.length < 2000 ? null : new ProgressBar({ total: files.length, label: 'decoding images', unit: 'img' });
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      try {
        hwc.set(await decodeImage(files[i]!, o), i * per);
      } catch (err) {
        failures.push(`${files[i]}: ${(err as Error).message}`);
      }
      bar?.tick(1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, files.length) }, worker));
  bar?.finish();
  if (failures.length > 0) {
    throw new DataFormatError(
      `${failures.length} of ${files.length} image(s) could not be decoded:\n${failures
        .slice(0, 5)
        .map((f) => `  - ${f}`)
        .join('\n')}${failures.length > 5 ? `\n  - ... and ${failures.length - 5} more` : ''}`,
    );
  }
  return hwc;
}

/** One image's bytes laid out [C, H, W] (C = 1 or 3) as a PNG (gallery thumbnails). */
export function pngFromPixels(chw: Uint8Array, shape: number[]): Promise<Buffer> {
  const [C, H, W] = shape as [number, number, number];
  if (chw.length !== C * H * W) throw new DataFormatError(`pngFromPixels: ${chw.length} bytes for a ${C}x${H}x${W} image`);
  const hwc = new Uint8Array(chw.length);
  for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) hwc[p * C + c] = chw[c * H * W + p]!;
  return sharp(hwc, { raw: { width: W, height: H, channels: C as 1 | 3 } })
    .png()
    .toBuffer();
}

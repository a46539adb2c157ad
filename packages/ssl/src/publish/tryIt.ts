// What an image encoder's hub page needs to be tried in the browser: the ONNX export
// (model.onnx, checked against Pretext) and a small gallery of training images (gallery.json:
// thumbnails, labels and their embeddings under this encoder). The page embeds a visitor's
// image with onnxruntime-web and shows the nearest gallery images; nothing leaves the browser.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { pngFromPixels } from '@pretext/data';
import { extractFeatures } from '../eval/features.js';
import { loadEncoder } from '../pipeline.js';
import { loadImageSet, parseDatasetArg } from '../data/sources.js';
import { exportOnnxFolder } from '../export/folder.js';

export interface Gallery {
  format: 'pretext-gallery/1';
  /** [C, H, W] of the images (and of an image encoder's input). */
  inputShape: number[];
  /** label: the class (image encoders) or the caption (image-text models). */
  items: { label: string | null; png: string; embedding: number[] }[];
}

/** The gallery's images: up to `n`, spread over the classes in turn, a fixed seeded choice. */
export function pickGallery(labels: Int32Array | null, total: number, n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const order = Array.from({ length: total }, (_, i) => i);
  for (let i = total - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  if (!labels) return order.slice(0, n);
  const byClass = new Map<number, number[]>();
  for (const i of order) {
    const y = labels[i]!;
    if (!byClass.has(y)) byClass.set(y, []);
    byClass.get(y)!.push(i);
  }
  const queues = [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, q]) => q);
  const out: number[] = [];
  for (let round = 0; out.length < n && queues.some((q) => q.length > round); round++)
    for (const q of queues) if (q.length > round && out.length < n) out.push(q[round]!);
  return out;
}

/**
 * Writes model.onnx and gallery.json into an image encoder's run folder (from `n` of its
 * training images) and returns their names. Tables, text and histories get no gallery yet.
 */
export async function prepareTryIt(dir: string, o: { n?: number; seed?: number } = {}): Promise<string[]> {
  const { encoder, meta } = loadEncoder(dir);
  try {
    if ((meta.modality ?? 'image') !== 'image') return [];
    const exported = await exportOnnxFolder(dir, { checkInputs: 20 });
    copyFileSync(exported.model, join(dir, 'model.onnx'));
    const [C, H] = meta.inputShape as [number, number, number];
    const name = meta.dataset.startsWith('image-folder:') ? meta.dataset.slice('image-folder:'.length) : meta.dataset;
    const set = await loadImageSet(parseDatasetArg(name, { channels: C === 3 ? 3 : 1, size: H }), 'train', { quiet: true });
    const labels = set.labels ? Int32Array.from(set.labels.data() as BigInt64Array, Number) : null;
    const pick = pickGallery(labels, set.images.size(0), o.n ?? 48, o.seed ?? 0);
    const images = torch.tidy(() => set.images.indexSelect(0, torch.tensor(BigInt64Array.from(pick, BigInt))).contiguous());
    torch.keep(images);
    const features = extractFeatures(encoder, images, meta.inputNorm);
    const dim = features.size(1);
    const f = features.data() as Float32Array;
    const pixels = images.data() as Uint8Array;
    const per = pixels.length / pick.length;
    const items = await Promise.all(
      pick.map(async (idx, k) => ({
        label: labels && set.classes ? (set.classes[labels[idx]!] ?? null) : null,
        png: (await pngFromPixels(pixels.subarray(k * per, (k + 1) * per), meta.inputShape)).toString('base64'),
        embedding: Array.from(f.subarray(k * dim, (k + 1) * dim), (v) => Number(v.toPrecision(7))),
      })),
    );
    for (const t of [features, images, set.images, ...(set.labels ? [set.labels] : [])]) t.dispose();
    const gallery: Gallery = { format: 'pretext-gallery/1', inputShape: meta.inputShape, items };
    writeFileSync(join(dir, 'gallery.json'), JSON.stringify(gallery));
    return ['model.onnx', 'gallery.json'];
  } finally {
    encoder.dispose();
  }
}

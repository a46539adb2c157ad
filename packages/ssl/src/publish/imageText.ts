// What an image-text run publishes: both towers, both projections and the scale in
// model.safetensors, the caption vocabulary and image-text.json, as one hub model; its card
// says what each tower is and how to use it (zero-shot, search). With a gallery (training
// images, their captions and image embeddings, written after training) the push adds the text
// tower as ONNX, so the model page can embed a visitor's sentence in the browser and show the
// nearest gallery images.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { pngFromPixels, type ImageTextPairs } from '@pretext/data';
import { embedPairImages, imageTextMethod, loadImageText, type ImageTextMeta, type TrainedImageText } from '../modalities/imageText/run.js';
import { exportImageTextTower } from '../export/imageText.js';
import type { Publication } from './publication.js';
import { pickGallery, type Gallery } from './tryIt.js';

const IMAGE_TEXT_FILES =
  /^(model\.safetensors|image-text\.json|vocab\.model|metrics\.jsonl|scores\.json|gallery\.json|text\.onnx|[a-z-]+\.(png|svg))$/;

export { imageTextMethod };

/**
 * gallery.json for an image-text run: `n` training pairs (spread over classes when the pairs
 * have them, one seeded choice), each a PNG at the stored size, its caption as the label, and
 * its normalized image embedding, so a sentence's text embedding ranks them by a dot product.
 */
export async function writeImageTextGallery(
  dir: string,
  t: TrainedImageText,
  pairs: ImageTextPairs,
  o: { n?: number; seed?: number } = {},
): Promise<Gallery> {
  const total = pairs.captions.length;
  const labels = pairs.labels.some((y) => y >= 0) ? pairs.labels : null;
  const pick = pickGallery(labels, total, Math.min(o.n ?? 64, total), o.seed ?? 0);
  const S = pairs.size;
  const per = S * S * 3;
  const pixels = new Uint8Array(pick.length * per);
  pick.forEach((i, k) => pixels.set(pairs.images.subarray(i * per, (i + 1) * per), k * per));
  const z = embedPairImages(t, pixels, S);
  const e = z.data() as Float32Array;
  const D = z.size(1);
  z.dispose();
  const items = await Promise.all(
    pick.map(async (i, k) => ({
      label: pairs.captions[i]!,
      png: (await pngFromPixels(chw(pixels.subarray(k * per, (k + 1) * per), S), [3, S, S])).toString('base64'),
      embedding: Array.from(e.subarray(k * D, (k + 1) * D), (v) => Number(v.toPrecision(7))),
    })),
  );
  const gallery: Gallery = { format: 'pretext-gallery/1', inputShape: [3, S, S], items };
  writeFileSync(join(dir, 'gallery.json'), JSON.stringify(gallery));
  return gallery;
}

/** An [S, S, 3] image as [3, S, S]. */
function chw(hwc: Uint8Array, S: number): Uint8Array {
  const out = new Uint8Array(hwc.length);
  for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) out[c * S * S + p] = hwc[p * 3 + c]!;
  return out;
}

/**
 * The model page's sentence search: text.onnx (the text tower, its projection and the
 * normalization, checked against Pretext by onnxruntime) beside the run's gallery.json.
 * Returns the files added, none when the run has no gallery.
 */
export async function prepareImageTextSearch(dir: string): Promise<string[]> {
  if (!existsSync(join(dir, 'gallery.json'))) return [];
  const t = loadImageText(dir);
  try {
    const { exported } = await exportImageTextTower(t, 'text', { checkInputs: 50 });
    writeFileSync(join(dir, 'text.onnx.part'), exported.bytes);
    renameSync(join(dir, 'text.onnx.part'), join(dir, 'text.onnx'));
    return ['text.onnx', 'gallery.json'];
  } finally {
    t.model.dispose();
  }
}

export function prepareImageTextPublication(dir: string, ref: string, o: { license?: string; codeVersion: string }): Publication {
  const meta = JSON.parse(readFileSync(join(dir, 'image-text.json'), 'utf8')) as ImageTextMeta;
  const method = imageTextMethod(meta);
  const text = meta.text.config as { vocabSize: number; dModel?: number; layers?: number; heads?: number };
  const front = {
    license: o.license ?? 'other',
    library_name: 'pretext',
    tags: ['self-supervised', 'image-text', method, meta.image.type, meta.text.type],
    pipeline_tag: 'zero-shot-image-classification',
  };
  const tower = meta.lockedImageFrom ? `locked (LiT), from ${meta.lockedImageFrom}` : 'trained from scratch with the text tower';
  const card = `---\n${toYaml(front)}---\n\n# ${ref}\n\nTwo towers in one ${meta.embedDim}-dimensional space, trained by Pretext with the ${meta.loss === 'clip' ? 'CLIP softmax' : 'SigLIP sigmoid'} pair loss on ${meta.trainPairs} image-caption pairs.\n\n| | |\n|---|---|\n| image tower | ${meta.image.type}, ${meta.imageChannels === 1 ? 'grey' : 'RGB'} ${meta.imageSize}x${meta.imageSize} input; ${tower} |\n| text tower | ${meta.text.type}: ${text.layers ?? 4} layers, ${text.dModel ?? 256} wide, ${text.heads ?? 4} heads; captions of up to ${meta.length} tokens |\n| vocabulary | ${text.vocabSize} SentencePiece pieces (${meta.vocabulary}) |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n\nUse it with \`pretext pull ${ref}\`, then \`pretext zero-shot --encoder ${ref} --classes "a,b,c" images/\` or \`pretext search --encoder ${ref} "a sentence" images/\`.\n`;
  writeFileSync(join(dir, 'card.md'), card);
  return {
    card,
    files: readdirSync(dir)
      .filter((f) => IMAGE_TEXT_FILES.test(f) || f === 'card.md')
      .sort(),
    metrics: { trainSeconds: meta.trainSeconds, trainSteps: meta.trainSteps },
    lineage: {
      recipe: `image-text ${method}`,
      method,
      dataset: `${meta.trainPairs} image-caption pairs`,
      codeVersion: o.codeVersion,
      parentRun: basename(dir),
      createdAt: meta.createdAt,
      ...(meta.lockedImageFrom ? { imageTower: meta.lockedImageFrom } : {}),
    },
    model: { method, modality: 'image-text', tags: ['self-supervised', 'image-text', method] },
  };
}

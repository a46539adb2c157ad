// An image-text model as two ONNX graphs, one per tower, each ending in its projection and
// L2 normalization, so a dot product of their outputs is the model's similarity:
//   image.onnx  pixels [batch, C, S, S] in [0, 1] -> embedding [batch, D]
//   text.onnx   token ids [batch, length <= L] ([CLS] ... [SEP], pad id after) -> embedding [batch, D]
// vocab.model and image-text.json travel beside them (the vocabulary makes the ids). Each graph
// is checked against Pretext by onnxruntime before anything is written.
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncoderMeta } from '../pipeline.js';
import { imageTextMethod, loadImageText, type ImageTextMeta, type TrainedImageText } from '../modalities/imageText/run.js';
import { OnnxExportError } from './graph.js';
import { exportEncoderOnnx, type OnnxExport } from './onnx.js';
import { checkOnnxParity, type OnnxParity } from './parity.js';
import { PARITY_TOLERANCE } from './folder.js';

export type ImageTextTower = 'image' | 'text';

/** The description exportEncoderOnnx reads, for one tower of an image-text model. */
function towerMeta(m: ImageTextMeta, tower: ImageTextTower): EncoderMeta {
  return {
    format: 'pretext-encoder/1',
    modality: tower,
    encoder: tower === 'image' ? m.image : m.text,
    outDim: m.embedDim,
    inputNorm: m.imageNorm,
    inputShape: tower === 'image' ? [m.imageChannels, m.imageSize, m.imageSize] : [m.length],
    method: imageTextMethod(m),
    recipe: 'image-text',
    dataset: `${m.trainPairs} image-caption pairs`,
    dataFingerprint: '',
    trainSteps: m.trainSteps,
    trainSeconds: m.trainSeconds,
    createdAt: m.createdAt,
  };
}

/** One tower as ONNX with its onnxruntime parity; refused (nothing returned) beyond the tolerance. */
export async function exportImageTextTower(
  t: TrainedImageText,
  tower: ImageTextTower,
  o: { checkInputs?: number } = {},
): Promise<{ exported: OnnxExport; parity: OnnxParity }> {
  const meta = towerMeta(t.meta, tower);
  const m = t.model;
  const [encoder, linear, keys] =
    tower === 'image'
      ? ([m.backbone, m.imageProjection, ['backbone', 'image_projection']] as const)
      : ([m.text, m.textProjection, ['text', 'text_projection']] as const);
  const exported = exportEncoderOnnx(encoder, meta, {
    projection: { linear, keys: [...keys] },
    metadata: { 'pretext.image_text_tower': tower, 'pretext.image_text_loss': t.meta.loss },
  });
  const parity = await checkOnnxParity(exported, encoder, meta, {
    n: o.checkInputs ?? 100,
    forward: (x) => (tower === 'image' ? m.embedImages(x, false) : m.embedTexts(x)),
  });
  if (!(parity.maxAbsDiff <= PARITY_TOLERANCE))
    throw new OnnxExportError(
      `the ${tower} tower's onnxruntime outputs differ from Pretext's by up to ${parity.maxAbsDiff.toExponential(2)} (allowed ${PARITY_TOLERANCE}); no model was written`,
    );
  return { exported, parity };
}

export interface ImageTextOnnxExport {
  outDir: string;
  towers: Record<ImageTextTower, { model: string; parity: OnnxParity; bytes: number; nodes: number }>;
}

/** Writes image.onnx, text.onnx, the vocabulary, image-text.json and export.json into `outDir` (default <dir>/onnx). */
export async function exportImageTextOnnx(dir: string, o: { outDir?: string; checkInputs?: number } = {}): Promise<ImageTextOnnxExport> {
  const t = loadImageText(dir);
  const outDir = o.outDir ?? join(dir, 'onnx');
  let done: Record<ImageTextTower, Awaited<ReturnType<typeof exportImageTextTower>>>;
  try {
    done = { image: await exportImageTextTower(t, 'image', o), text: await exportImageTextTower(t, 'text', o) };
  } finally {
    t.model.dispose();
  }
  mkdirSync(outDir, { recursive: true });
  for (const f of [t.meta.vocabulary, 'image-text.json']) copyFileSync(join(dir, f), join(outDir, f));
  const towers = {} as ImageTextOnnxExport['towers'];
  for (const tower of ['image', 'text'] as const) {
    const model = join(outDir, `${tower}.onnx`);
    writeFileSync(`${model}.part`, done[tower].exported.bytes);
    renameSync(`${model}.part`, model);
    towers[tower] = {
      model,
      parity: done[tower].parity,
      bytes: done[tower].exported.bytes.length,
      nodes: done[tower].exported.nodes,
    };
  }
  const described = Object.fromEntries(
    Object.entries(towers).map(([k, v]) => [
      k,
      { model: `${k}.onnx`, input: done[k as ImageTextTower].exported.input, parity: v.parity, bytes: v.bytes },
    ]),
  );
  writeFileSync(
    join(outDir, 'export.json'),
    `${JSON.stringify({ format: 'pretext-onnx-export/1', kind: 'image-text', towers: described, sidecars: [t.meta.vocabulary, 'image-text.json'] }, null, 2)}\n`,
  );
  return { outDir, towers };
}

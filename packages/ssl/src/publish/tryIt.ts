// What an encoder's hub page needs to be tried in the browser: the ONNX export (model.onnx,
// checked against Pretext) and a small gallery of training examples with their embeddings
// under this encoder (gallery.json): images as thumbnails, text documents as their opening
// lines (the page tokenizes with the version's own SentencePiece model, as Pretext does),
// table rows as their cells, event histories as their events (the page encodes a row or a
// history with the version's features.json or events.json through the same code Pretext
// uses). The page embeds what the visitor gives with onnxruntime-web and shows the nearest
// gallery items; nothing leaves the browser.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { labelCodes, pngFromPixels, takeHistories, takeRows, type Histories, type Table } from '@pretext/data';
import { extractFeatures } from '../eval/features.js';
import { loadEncoder, type EncoderMeta } from '../pipeline.js';
import { loadImageSet, parseDatasetArg } from '../data/sources.js';
import { exportOnnxFolder } from '../export/folder.js';
import type { Gallery } from '@pretext/hub/client';
import type { Encoder } from '../encoders/encoder.js';
import { Vocabulary } from '@pretext/sentencepiece';
import type { TextEncoder } from '../modalities/text/encoder.js';
import { embedTexts } from '../modalities/text/embed.js';
import { textDataFor } from '../modalities/text/run.js';
import { loadTableData } from '../modalities/tabular/source.js';
import { rowsTensor } from '../modalities/tabular/pretrain.js';
import { eventDataFor } from '../modalities/sequence/run.js';
import { historiesTensor } from '../modalities/sequence/pretrain.js';

export type { Gallery };

/** How much of a gallery document the page shows. */
const SHOWN_CHARS = 240;

/** The encoder's features of inputs `x` (left to the caller to free) as a flat copy, and their width. */
function featuresOf(encoder: Encoder, x: Tensor, meta: EncoderMeta): { f: Float32Array; dim: number } {
  const e = extractFeatures(encoder, x, meta.inputNorm);
  const out = { f: (e.contiguous().data() as Float32Array).slice(), dim: e.size(1) };
  e.dispose();
  return out;
}

const rounded = (f: Float32Array, k: number, dim: number): number[] =>
  Array.from(f.subarray(k * dim, (k + 1) * dim), (v) => Number(v.toPrecision(7)));

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
 * Writes model.onnx and gallery.json into an encoder's run folder (from `n` of its training
 * examples: images, documents, table rows or entities' histories) and returns their names.
 */
export async function prepareTryIt(dir: string, o: { n?: number; seed?: number } = {}): Promise<string[]> {
  const { encoder, meta } = loadEncoder(dir);
  try {
    const modality = meta.modality ?? 'image';
    const exported = await exportOnnxFolder(dir, { checkInputs: 20 });
    copyFileSync(exported.model, join(dir, 'model.onnx'));
    const n = o.n ?? 48;
    const seed = o.seed ?? 0;
    const gallery =
      modality === 'text'
        ? await textGallery(dir, encoder as TextEncoder, meta, n, seed)
        : modality === 'tabular'
          ? await tableGallery(encoder, meta, n, seed)
          : modality === 'sequence'
            ? await historyGallery(dir, encoder, meta, n, seed)
            : await imageGallery(encoder, meta, n, seed);
    writeFileSync(join(dir, 'gallery.json'), JSON.stringify(gallery));
    return ['model.onnx', 'gallery.json'];
  } finally {
    encoder.dispose();
  }
}

async function imageGallery(encoder: Encoder, meta: EncoderMeta, n: number, seed: number): Promise<Gallery> {
  const [C, H] = meta.inputShape as [number, number, number];
  const name = meta.dataset.startsWith('image-folder:') ? meta.dataset.slice('image-folder:'.length) : meta.dataset;
  const set = await loadImageSet(parseDatasetArg(name, { channels: C === 3 ? 3 : 1, size: H }), 'train', { quiet: true });
  const labels = set.labels ? Int32Array.from(set.labels.data() as BigInt64Array, Number) : null;
  const pick = pickGallery(labels, set.images.size(0), n, seed);
  const images = torch.tidy(() => set.images.indexSelect(0, torch.tensor(BigInt64Array.from(pick, BigInt))).contiguous());
  torch.keep(images);
  const { f, dim } = featuresOf(encoder, images, meta);
  const pixels = images.data() as Uint8Array;
  const per = pixels.length / pick.length;
  const items = await Promise.all(
    pick.map(async (idx, k) => ({
      label: labels && set.classes ? (set.classes[labels[idx]!] ?? null) : null,
      png: (await pngFromPixels(pixels.subarray(k * per, (k + 1) * per), meta.inputShape)).toString('base64'),
      embedding: rounded(f, k, dim),
    })),
  );
  for (const t of [images, set.images, ...(set.labels ? [set.labels] : [])]) t.dispose();
  return { format: 'pretext-gallery/1', inputShape: meta.inputShape, items };
}

/** Documents of the encoder's own training corpus, embedded whole (the mean of their windows) as `pretext embed --text` does. */
async function textGallery(dir: string, encoder: TextEncoder, meta: EncoderMeta, n: number, seed: number): Promise<Gallery> {
  const data = await textDataFor(dir);
  const { texts, labels, classes } = data.train;
  const pick = pickGallery(labels && labels.every((y) => y >= 0) ? labels : null, texts.length, n, seed);
  const length = encoder.layout.maxLength;
  const docs = pick.map((i) => texts[i]!);
  const e = embedTexts({ encoder, vocab: Vocabulary.load(join(dir, meta.vocabulary!)), length }, docs);
  const dim = e.size(1);
  const f = (e.contiguous().data() as Float32Array).slice();
  e.dispose();
  const items = pick.map((idx, k) => {
    const shown = docs[k]!.replace(/\s+/g, ' ').trim();
    return {
      label: labels && labels[idx]! >= 0 ? (classes[labels[idx]!] ?? null) : null,
      text: shown.length > SHOWN_CHARS ? `${shown.slice(0, SHOWN_CHARS)}…` : shown,
      embedding: rounded(f, k, dim),
    };
  });
  return { format: 'pretext-gallery/1', inputShape: [length], tokens: { vocabulary: meta.vocabulary!, length }, items };
}

/** A row's cells as text, by column: what a visitor would type (dates as ISO 8601). */
function rowCells(t: Table, i: number, names: readonly string[]): Record<string, string | null> {
  const cells: Record<string, string | null> = {};
  for (const name of names) {
    const c = t.columns.find((col) => col.name === name)!;
    if (c.type === 'numeric') cells[name] = Number.isNaN(c.values[i]!) ? null : String(c.values[i]);
    else if (c.type === 'date') cells[name] = Number.isNaN(c.values[i]!) ? null : new Date(c.values[i]!).toISOString();
    else if (c.type === 'text') cells[name] = c.values[i] ?? null;
    else cells[name] = c.values[i]! < 0 ? null : c.levels[c.values[i]!]!;
  }
  return cells;
}

/** Rows of the encoder's own training table, encoded by its saved preprocessing and embedded. */
async function tableGallery(encoder: Encoder, meta: EncoderMeta, n: number, seed: number): Promise<Gallery> {
  const schema = meta.features!;
  const data = await loadTableData(meta.tableData ?? { dataset: 'table', name: meta.dataset, drop: [] });
  const labels = schema.label ? labelCodes(data.train, schema) : null;
  const pick = pickGallery(labels, data.train.rows, n, seed);
  const rows = takeRows(data.train, pick, 'gallery');
  const x = rowsTensor(rows, schema);
  const { f, dim } = featuresOf(encoder, x, meta);
  const inputs = x.size(1);
  x.dispose();
  const names = [...schema.numeric, ...schema.categorical].map((c) => c.name);
  const items = pick.map((idx, k) => {
    const row = rowCells(rows, k, names);
    return {
      label: labels && labels[idx]! >= 0 ? (schema.label!.classes[labels[idx]!] ?? null) : null,
      text: names.map((c) => `${c} ${row[c] ?? '-'}`).join(', '),
      row,
      embedding: rounded(f, k, dim),
    };
  });
  return { format: 'pretext-gallery/1', inputShape: [inputs], items };
}

/** Entity k's events as objects: the time (the encoder's unit) and each field (null: missing). */
function eventObjects(h: Histories, k: number): Record<string, string | number | null>[] {
  return Array.from({ length: h.offsets[k + 1]! - h.offsets[k]! }, (_, j) => {
    const at = h.offsets[k]! + j;
    const e: Record<string, string | number | null> = { time: h.time[at]! };
    for (const c of h.categorical) e[c.name] = c.codes[at]! < 0 ? null : c.levels[c.codes[at]!]!;
    for (const c of h.numeric) e[c.name] = Number.isNaN(c.values[at]!) ? null : c.values[at]!;
    return e;
  });
}

/** Entities of the encoder's own training histories (at most the encoder's window of events each), embedded. */
async function historyGallery(dir: string, encoder: Encoder, meta: EncoderMeta, n: number, seed: number): Promise<Gallery> {
  const schema = meta.events!;
  const data = await eventDataFor(dir);
  const pick = pickGallery(data.train.labels ?? null, data.train.entities.length, n, seed);
  const h = takeHistories(data.train, pick, 'gallery');
  const x = historiesTensor(h, schema);
  const { f, dim } = featuresOf(encoder, x, meta);
  const shape = x.shape.slice(1);
  x.dispose();
  const items = pick.map((idx, k) => {
    const events = eventObjects(h, k).slice(-schema.maxLength);
    const y = data.train.labels?.[idx] ?? -1;
    return {
      label: y >= 0 ? (data.train.classes?.[y] ?? null) : null,
      text: `${h.entities[k]}: ${events.length} events, time ${events[0]?.time ?? '-'} to ${events.at(-1)?.time ?? '-'}`,
      events,
      embedding: rounded(f, k, dim),
    };
  });
  return { format: 'pretext-gallery/1', inputShape: shape, items };
}

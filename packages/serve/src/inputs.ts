// Request bodies to encoder inputs, per modality, with errors that name the field at fault:
//   images     base64 PNG/JPEG (optionally a data: URL), resized and converted as the
//              encoder's training images were; or raw arrays of C*H*W values in [0, 1]
//   rows       objects by column name, through the encoder's saved preprocessing
//   texts      strings, tokenized with the encoder's vocabulary into windows (a long text
//              becomes several windows and its embedding their mean, as `pretext embed`)
//   histories  lists of events (objects with `time` and the encoder's event fields)
import { join } from 'node:path';
import {
  decodeImage,
  encodeFeatures,
  expectedTypes,
  encodeHistories,
  historiesFromEventLists,
  tableFromRecords,
  DataFormatError,
  type EventSchema,
  type FeatureSchema,
} from '@pretext/data';
import { Vocabulary } from '@pretext/sentencepiece';
import { tokenWindows } from '@pretext/ssl';
import type { Item, ServedModel } from './model.js';

/** A request that cannot be served as sent: answered 400 with the field named. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Items for the encoder and how their embeddings become one per input. */
export interface Prepared {
  items: Item[];
  inputs: number;
  /** Per-input embeddings from per-item ones (the mean over a text's windows). */
  pool(embeddings: Float32Array[]): Float32Array[];
}

export interface InputLimits {
  /** Characters per text (default 100,000). */
  maxTextChars: number;
}

/** The body field a modality reads. */
export const INPUT_FIELD = { image: 'images', tabular: 'rows', text: 'texts', sequence: 'histories' } as const;

const one = (items: Item[], n: number): Prepared => ({ items, inputs: n, pool: (e) => e });

async function imageItems(m: ServedModel, images: unknown[]): Promise<Prepared> {
  const [C, H, W] = m.meta.inputShape as [number, number, number];
  const per = C * H * W;
  const items = await Promise.all(
    images.map(async (img, i): Promise<Item> => {
      const field = `images[${i}]`;
      if (typeof img === 'string') {
        const b64 = img.startsWith('data:') ? img.slice(img.indexOf(',') + 1) : img;
        const bytes = Buffer.from(b64, 'base64');
        if (bytes.length === 0) throw new InputError(field, 'empty or not base64');
        let hwc: Buffer;
        try {
          hwc = await decodeImage(bytes, { size: H, channels: C as 1 | 3 }, field);
        } catch (err) {
          throw new InputError(field, `not a decodable PNG or JPEG image (${(err as Error).message.split('\n')[0]})`);
        }
        const chw = new Float32Array(per);
        for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) chw[c * H * W + p] = hwc[p * C + c]! / 255;
        return { data: chw, dims: [C, H, W] };
      }
      const flat = Array.isArray(img) ? (img as unknown[]).flat(3) : null;
      if (!flat) throw new InputError(field, 'expected a base64 PNG/JPEG string or an array of pixel values');
      if (flat.length !== per)
        throw new InputError(field, `${flat.length} values; this encoder reads ${C}x${H}x${W} = ${per} values in [0, 1]`);
      const data = new Float32Array(per);
      for (let k = 0; k < per; k++) {
        const v = flat[k];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(field, `value ${k} is not a finite number`);
        data[k] = v;
      }
      return { data, dims: [C, H, W] };
    }),
  );
  return one(items, images.length);
}

function rowItems(schema: FeatureSchema, rows: unknown[]): Prepared {
  const records = rows.map((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new InputError(`rows[${i}]`, 'expected an object of column values');
    return r as Record<string, unknown>;
  });
  try {
    const m = encodeFeatures(tableFromRecords(records, expectedTypes(schema), 'rows'), schema);
    return one(
      Array.from({ length: m.rows }, (_, i) => ({ data: m.data.slice(i * m.cols, (i + 1) * m.cols), dims: [m.cols] })),
      m.rows,
    );
  } catch (err) {
    if (err instanceof DataFormatError)
      throw new InputError(/^(rows\[\d+\](\.\w+)?)/.exec(err.message)?.[1] ?? 'rows', err.message.replace(/^rows(\[\d+\](\.\w+)?)?: /, ''));
    throw err;
  }
}

function textItems(m: ServedModel, vocab: Vocabulary, texts: unknown[], limits: InputLimits): Prepared {
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new InputError(`texts[${i}]`, 'expected a string');
    if (t.length > limits.maxTextChars) throw new InputError(`texts[${i}]`, `${t.length} characters; at most ${limits.maxTextChars}`);
  });
  const L = (m.textWindows ? m.meta.inputShape[0]! / m.textWindows : null) ?? 0;
  const length = L || (m.meta.encoder.config as { maxLength: number }).maxLength;
  const w = tokenWindows(vocab, texts as string[], { length, maxWindowsPerDoc: m.textWindows });
  const ids = (r: number): BigInt64Array => BigInt64Array.from(w.ids.subarray(r * length, (r + 1) * length), (v) => BigInt(v));
  if (m.textWindows) {
    // A classifier reads a document as its windows side by side (missing windows all padding).
    const W = m.textWindows;
    const docs = Array.from({ length: texts.length }, () => new BigInt64Array(W * length).fill(BigInt(m.padValue)));
    const seen = new Int32Array(texts.length);
    for (let r = 0; r < w.windows; r++) {
      const d = w.doc[r]!;
      docs[d]!.set(ids(r), seen[d]! * length);
      seen[d] = seen[d]! + 1;
    }
    return one(
      docs.map((d) => ({ data: d, dims: [W * length] })),
      texts.length,
    );
  }
  const items = Array.from({ length: w.windows }, (_, r) => ({ data: ids(r), dims: [length] }));
  return {
    items,
    inputs: texts.length,
    pool: (e) => {
      const out = Array.from({ length: texts.length }, () => new Float32Array(m.outDim));
      const count = new Int32Array(texts.length);
      e.forEach((f, r) => {
        const d = w.doc[r]!;
        count[d] = count[d]! + 1;
        const sum = out[d]!;
        for (let k = 0; k < f.length; k++) sum[k] = sum[k]! + f[k]!;
      });
      out.forEach((o, d) => o.forEach((_, k) => (o[k]! /= Math.max(1, count[d]!))));
      return out;
    },
  };
}

function historyItems(schema: EventSchema, histories: unknown[]): Prepared {
  const lists = histories.map((h, i) => {
    if (!Array.isArray(h)) throw new InputError(`histories[${i}]`, 'expected a list of events');
    return h.map((e: unknown, j) => {
      const field = `histories[${i}][${j}]`;
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new InputError(field, 'expected an event object');
      const time = (e as { time?: unknown }).time;
      if (typeof time !== 'number' || !Number.isFinite(time))
        throw new InputError(`${field}.time`, 'expected a number (the time unit the encoder was trained in)');
      return e as Record<string, unknown>;
    });
  });
  try {
    const h = historiesFromEventLists(
      lists,
      { categorical: schema.categorical.map((c) => c.name), numeric: schema.numeric.map((c) => c.name) },
      { maxLength: schema.maxLength },
    );
    const e = encodeHistories(h, schema);
    const per = e.length * e.channels;
    return one(
      Array.from({ length: e.entities }, (_, i) => ({ data: e.data.slice(i * per, (i + 1) * per), dims: [e.length, e.channels] })),
      histories.length,
    );
  } catch (err) {
    if (err instanceof DataFormatError) throw new InputError('histories', err.message);
    throw err;
  }
}

/** A function from a request's input list to encoder items, for the served model's modality. */
export function inputReader(m: ServedModel, limits: InputLimits): (inputs: unknown[]) => Promise<Prepared> {
  switch (m.modality) {
    case 'image':
      return (xs) => imageItems(m, xs);
    case 'tabular': {
      const schema = m.meta.features;
      if (!schema) throw new Error(`${m.dir}: encoder.json has no feature schema`);
      return (xs) => Promise.resolve(rowItems(schema, xs));
    }
    case 'text': {
      if (!m.meta.vocabulary) throw new Error(`${m.dir}: encoder.json names no vocabulary`);
      const vocab = Vocabulary.load(join(m.dir, m.meta.vocabulary));
      return (xs) => Promise.resolve(textItems(m, vocab, xs, limits));
    }
    case 'sequence': {
      const schema = m.meta.events;
      if (!schema) throw new Error(`${m.dir}: encoder.json has no event schema`);
      return (xs) => Promise.resolve(historyItems(schema, xs));
    }
  }
}

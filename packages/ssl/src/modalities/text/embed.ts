// A text encoder with its vocabulary, as a team uses it after pulling: documents in, one
// embedding per document out (the mean of its windows' features, so long documents are
// read whole).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { Vocabulary } from '@pretext/sentencepiece';
import type { Encoder } from '../../encoders/encoder.js';
import { loadEncoder, readEncoderMeta, type EncoderMeta } from '../../pipeline.js';
import type { TextEncoder } from './encoder.js';
import { poolWindows, tokenWindows, windowsTensor } from './tokens.js';

export interface LoadedTextEncoder {
  encoder: TextEncoder;
  vocab: Vocabulary;
  meta: EncoderMeta;
}

/** A text run folder's encoder (in eval mode) and its vocabulary. */
export function loadTextEncoder(dir: string): LoadedTextEncoder {
  const meta = readEncoderMeta(dir);
  if (meta.modality !== 'text' || !meta.vocabulary)
    throw new TypeError(`${dir} holds an ${meta.modality ?? 'image'} encoder, not a text encoder`);
  const vocabPath = join(dir, meta.vocabulary);
  if (!existsSync(vocabPath)) throw new TypeError(`${dir}: the vocabulary file ${meta.vocabulary} named in encoder.json is missing`);
  const vocab = Vocabulary.load(vocabPath);
  const { encoder } = loadEncoder(dir);
  return { encoder: encoder as TextEncoder, vocab, meta };
}

/** Features [windows, D] of token windows [N, L], in batches, without gradients. */
export function encodeWindows(encoder: Encoder, ids: Tensor, batchSize = 256): Tensor {
  const wasTraining = encoder.training;
  encoder.eval();
  try {
    const parts: Tensor[] = [];
    torch.noGrad(() => {
      for (let i = 0; i < ids.size(0); i += batchSize)
        parts.push(torch.keep(torch.tidy(() => encoder.forward(ids.narrow(0, i, Math.min(batchSize, ids.size(0) - i))))));
    });
    const all = torch.tidy(() => torch.cat(parts));
    for (const p of parts) p.dispose();
    return torch.keep(all);
  } finally {
    encoder.train(wasTraining);
  }
}

/** One embedding per document [docs, D] (kept: the caller frees it). */
export function embedTexts(t: { encoder: Encoder; vocab: Vocabulary; length: number }, texts: readonly string[]): Tensor {
  const w = tokenWindows(t.vocab, texts, { length: t.length });
  const ids = windowsTensor(w);
  try {
    const f = encodeWindows(t.encoder, ids);
    const pooled = poolWindows(f, w.doc, texts.length);
    f.dispose();
    return torch.keep(pooled);
  } finally {
    ids.dispose();
  }
}

/** Embeddings of documents under a text run folder's encoder. */
export function embedDocuments(dir: string, texts: readonly string[]): Tensor {
  const t = loadTextEncoder(dir);
  try {
    return embedTexts({ ...t, length: t.encoder.layout.maxLength }, texts);
  } finally {
    t.encoder.dispose();
  }
}

/** The k documents nearest to a query by cosine similarity of their embeddings, best first. */
export function similarDocuments(dir: string, query: string, texts: readonly string[], k: number): { index: number; similarity: number }[] {
  const e = embedDocuments(dir, [query, ...texts]);
  try {
    return torch.tidy(() => {
      const z = torch.nn.functional.normalize(e);
      const sims = z.narrow(0, 1, texts.length).matmul(z.select(0, 0));
      const { values, indices } = sims.topk(Math.min(k, texts.length));
      const v = values.toArray() as number[];
      return (indices.toArray() as number[]).map((i, j) => ({ index: Number(i), similarity: v[j]! }));
    });
  } finally {
    e.dispose();
  }
}

/** Embeddings of documents as a plain matrix [rows x dim], row-major. */
export function embedDocumentsMatrix(dir: string, texts: readonly string[]): { rows: number; dim: number; data: Float32Array } {
  const e = embedDocuments(dir, texts);
  try {
    return { rows: e.size(0), dim: e.size(1), data: (e.contiguous().data() as Float32Array).slice() };
  } finally {
    e.dispose();
  }
}

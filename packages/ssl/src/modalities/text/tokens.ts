// Documents as token windows. A document longer than one window is chunked into several
// (never silently truncated), each framed by [CLS] ... [SEP] and padded to the window; a
// document's feature is the mean of its windows' features.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Vocabulary } from '@pretext/sentencepiece';

export interface TokenWindows {
  /** Token ids, row-major [windows, length]. */
  ids: Int32Array;
  windows: number;
  length: number;
  /** The document each window came from (ascending). */
  doc: Int32Array;
  /** Tokens that are not padding. */
  realTokens: number;
}

export interface WindowOptions {
  /** Window length, [CLS] and [SEP] included. */
  length: number;
  /** At most this many windows per document (the first ones); default: all. */
  maxWindowsPerDoc?: number;
}

/** Token windows of documents; an empty document still gets one window ([CLS] [SEP]). */
export function tokenWindows(vocab: Vocabulary, texts: readonly string[], o: WindowOptions): TokenWindows {
  const L = o.length;
  const inner = L - 2;
  if (inner < 1) throw new RangeError(`a window of ${L} tokens has no room between [CLS] and [SEP]`);
  const { pad, cls, sep } = vocab.special;
  const rows: number[][] = [];
  const doc: number[] = [];
  let realTokens = 0;
  const encoded = vocab.encode(texts);
  encoded.forEach((ids, d) => {
    const count = Math.min(Math.max(1, Math.ceil(ids.length / inner)), o.maxWindowsPerDoc ?? Infinity);
    for (let w = 0; w < count; w++) {
      const piece = ids.subarray(w * inner, (w + 1) * inner);
      rows.push([cls, ...piece, sep]);
      doc.push(d);
      realTokens += piece.length + 2;
    }
  });
  const out = new Int32Array(rows.length * L).fill(pad);
  rows.forEach((r, i) => out.set(r, i * L));
  return { ids: out, windows: rows.length, length: L, doc: Int32Array.from(doc), realTokens };
}

/** Windows as an int64 tensor [windows, length] (kept: the caller frees it). */
export function windowsTensor(w: TokenWindows): Tensor {
  return torch.keep(
    torch.tensor(
      BigInt64Array.from(w.ids, (v) => BigInt(v)),
      { shape: [w.windows, w.length] },
    ),
  );
}

/** Per-document features [docs, D]: the mean of each document's window features [windows, D]. */
export function poolWindows(features: Tensor, doc: Int32Array, docs: number): Tensor {
  return torch.tidy(() => {
    const index = torch.tensor(BigInt64Array.from(doc, (v) => BigInt(v)));
    const D = features.size(1);
    const sums = torch.zeros([docs, D]).scatterAdd(0, index.unsqueeze(1).expand(doc.length, D), features);
    const counts = torch.zeros([docs]).scatterAdd(0, index, torch.ones([doc.length]));
    return sums.div(counts.clampMin(1).unsqueeze(1));
  });
}

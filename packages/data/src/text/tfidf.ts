// TF-IDF features, the classical text baseline: word 1-2 grams and character 2-5 grams inside
// word boundaries, each block with sublinear term frequency, smoothed idf and unit L2 norm,
// as scikit-learn's TfidfVectorizer(sublinear_tf=True) with analyzer 'word' and 'char_wb'
// computes them. Rows come out as a sparse CSR matrix.

export interface TfidfOptions {
  /** Word n-gram range (default [1, 2]); null leaves words out. */
  word?: [number, number] | null;
  /** Character n-gram range within word boundaries (default [2, 5]); null leaves characters out. */
  char?: [number, number] | null;
  /** Terms in fewer documents are dropped (default 2). */
  minDf?: number;
  /** Most frequent terms kept per block (default 200,000). */
  maxFeatures?: number;
}

/** A sparse row-major matrix. */
export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float32Array;
}

// scikit-learn's default token pattern: runs of two or more word characters.
const TOKEN = /[\p{L}\p{N}_]{2,}/gu;

function words(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

function wordGrams(text: string, [lo, hi]: [number, number], out: Map<string, number>): void {
  const w = words(text);
  for (let n = lo; n <= hi; n++)
    for (let i = 0; i + n <= w.length; i++) {
      const g = n === 1 ? w[i]! : w.slice(i, i + n).join(' ');
      out.set(g, (out.get(g) ?? 0) + 1);
    }
}

function charGrams(text: string, [lo, hi]: [number, number], out: Map<string, number>): void {
  // Like char_wb: each whitespace-separated word padded with one space on each side.
  for (const word of text.toLowerCase().split(/\s+/)) {
    if (!word) continue;
    const p = ` ${word} `;
    for (let n = lo; n <= hi; n++) {
      for (let i = 0; i + n <= p.length; i++) {
        const g = p.slice(i, i + n);
        out.set(g, (out.get(g) ?? 0) + 1);
      }
      if (n >= p.length) break;
    }
  }
}

interface Block {
  terms: Map<string, number>;
  idf: Float64Array;
  count: (text: string, out: Map<string, number>) => void;
}

export class TfidfVectorizer {
  private readonly blocks: Block[];
  readonly features: number;

  private constructor(blocks: Block[]) {
    this.blocks = blocks;
    this.features = blocks.reduce((n, b) => n + b.idf.length, 0);
  }

  /** Learns the terms and their idf from documents (no labels involved). */
  static fit(texts: readonly string[], o: TfidfOptions = {}): TfidfVectorizer {
    if (texts.length === 0) throw new RangeError('cannot fit TF-IDF on no documents');
    const counters: ((t: string, out: Map<string, number>) => void)[] = [];
    const word = o.word === undefined ? ([1, 2] as [number, number]) : o.word;
    const char = o.char === undefined ? ([2, 5] as [number, number]) : o.char;
    if (word) counters.push((t, out) => wordGrams(t, word, out));
    if (char) counters.push((t, out) => charGrams(t, char, out));
    if (counters.length === 0) throw new RangeError('TF-IDF needs word or character n-grams');
    const minDf = o.minDf ?? 2;
    const maxFeatures = o.maxFeatures ?? 200_000;
    const blocks = counters.map((count) => {
      const df = new Map<string, number>();
      const seen = new Map<string, number>();
      for (const t of texts) {
        seen.clear();
        count(t, seen);
        for (const g of seen.keys()) df.set(g, (df.get(g) ?? 0) + 1);
      }
      // The most frequent terms, ties broken alphabetically, then indexed alphabetically (as scikit-learn does).
      const kept = [...df]
        .filter(([, d]) => d >= minDf)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, maxFeatures)
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const terms = new Map(kept.map(([g], i) => [g, i]));
      const n = texts.length;
      const idf = Float64Array.from(kept, ([, d]) => Math.log((1 + n) / (1 + d)) + 1);
      return { terms, idf, count };
    });
    return new TfidfVectorizer(blocks);
  }

  /** Documents as TF-IDF rows: blocks side by side, each L2-normalized. */
  transform(texts: readonly string[]): Csr {
    const indptr = new Int32Array(texts.length + 1);
    const indices: number[] = [];
    const data: number[] = [];
    const counts = new Map<string, number>();
    texts.forEach((t, r) => {
      let offset = 0;
      for (const b of this.blocks) {
        counts.clear();
        b.count(t, counts);
        const row: [number, number][] = [];
        for (const [g, c] of counts) {
          const j = b.terms.get(g);
          if (j !== undefined) row.push([j, (1 + Math.log(c)) * b.idf[j]!]);
        }
        row.sort((a, c) => a[0] - c[0]);
        const norm = Math.sqrt(row.reduce((s, [, v]) => s + v * v, 0)) || 1;
        for (const [j, v] of row) {
          indices.push(offset + j);
          data.push(v / norm);
        }
        offset += b.idf.length;
      }
      indptr[r + 1] = indices.length;
    });
    return { rows: texts.length, cols: this.features, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) };
  }
}

/** The rows of a CSR matrix at `idx`, in that order. */
export function csrRows(m: Csr, idx: readonly number[]): Csr {
  const indptr = new Int32Array(idx.length + 1);
  let nnz = 0;
  idx.forEach((r, i) => {
    nnz += m.indptr[r + 1]! - m.indptr[r]!;
    indptr[i + 1] = nnz;
  });
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  idx.forEach((r, i) => {
    indices.set(m.indices.subarray(m.indptr[r]!, m.indptr[r + 1]!), indptr[i]!);
    data.set(m.data.subarray(m.indptr[r]!, m.indptr[r + 1]!), indptr[i]!);
  });
  return { rows: idx.length, cols: m.cols, indptr, indices, data };
}

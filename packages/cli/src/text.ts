// The text commands: fill-mask (what a masked language model predicts), similar (nearest
// documents by cosine), and the text side of embed.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTextSet, readTextColumn, readTextFolder, TEXT_SETS, type TextCorpus } from '@pretext/data';
import { embedDocumentsMatrix, fillMask, loadMaskedLanguageModel, similarDocuments } from '@pretext/ssl';
import { UsageError } from './errors.js';
import { resolveEncoderArg } from './hub.js';

export const TEXT_HELP: Record<string, string> = {
  'fill-mask': `Usage: pretext fill-mask <run|team/name[@version]> "<sentence with [MASK]>" [--top K] [--json]

Prints the K most likely pieces (default 5) at each [MASK] of the sentence, with their
probabilities, from an encoder pretrained with masked language modeling (method mlm).`,
  similar: `Usage: pretext similar --encoder DIR|team/name --corpus PATH|NAME [--column C] "<query>" [--top K] [--json]

Embeds every document of the corpus and the query with a text encoder and prints the K
nearest documents (default 5) by cosine similarity. The corpus is a folder of .txt files,
a CSV/TSV/JSONL/Parquet file with a text column (--column), or a benchmark corpus by name
(spam-assassin, food-reviews, tweets, brown: its training documents).`,
};

/** Documents from a folder, a file's column, or a benchmark corpus (its training documents). */
export async function readDocuments(source: string, column?: string): Promise<TextCorpus> {
  if (!existsSync(source)) {
    if (!(source in TEXT_SETS))
      throw new UsageError(`${source}: no such folder or file, and not a corpus name (${Object.keys(TEXT_SETS).join(', ')})`);
    return loadTextSet(source).train;
  }
  if (statSync(source).isDirectory()) return readTextFolder(source);
  if (!column) throw new UsageError(`${source} is a file: name its text column with --column`);
  return readTextColumn(source, { text: column });
}

const snippet = (t: string, n = 100): string => {
  const one = t.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

export async function fillMaskCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TEXT_HELP['fill-mask']);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(`pretext fill-mask needs an encoder and a sentence\n\n${TEXT_HELP['fill-mask']}`);
  const k = Number(values.top);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--top must be a positive integer, got '${values.top}'`);
  const m = loadMaskedLanguageModel(await resolveEncoderArg(positionals[0]!));
  try {
    const predictions = fillMask(m, positionals[1]!, k);
    if (values.json) console.log(JSON.stringify({ sentence: positionals[1], predictions }));
    else
      predictions.forEach((p, i) => {
        if (predictions.length > 1) console.log(`[MASK] ${i + 1}:`);
        for (const t of p.top) console.log(`  ${t.text.padEnd(16)} ${(100 * t.probability).toFixed(2)}%`);
      });
  } finally {
    m.dispose();
  }
  return 0;
}

export async function similarCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      encoder: { type: 'string' },
      corpus: { type: 'string' },
      column: { type: 'string' },
      top: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(TEXT_HELP.similar);
    return 0;
  }
  if (!values.encoder || !values.corpus || positionals.length !== 1)
    throw new UsageError(`pretext similar needs --encoder, --corpus and one query\n\n${TEXT_HELP.similar}`);
  const k = Number(values.top);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--top must be a positive integer, got '${values.top}'`);
  const dir = await resolveEncoderArg(values.encoder);
  const corpus = await readDocuments(values.corpus, values.column);
  const ranked = similarDocuments(dir, positionals[0]!, corpus.texts, k).map((r) => ({ ...r, text: corpus.texts[r.index]! }));
  if (values.json) console.log(JSON.stringify({ query: positionals[0], results: ranked }));
  else for (const r of ranked) console.log(`${r.similarity.toFixed(3)}  #${r.index}  ${snippet(r.text)}`);
  return 0;
}

/** Embeddings as CSV: a header e0..eN, then one row per input, in the input's order. */
export function writeEmbeddingsCsv(
  out: string,
  e: { rows: number; dim: number; data: Float32Array; ids?: { name: string; values: string[] } },
): void {
  const quote = (v: string): string => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const header = [...(e.ids ? [quote(e.ids.name)] : []), ...Array.from({ length: e.dim }, (_, j) => `e${j}`)].join(',');
  const lines = Array.from({ length: e.rows }, (_, i) =>
    [...(e.ids ? [quote(e.ids.values[i]!)] : []), ...Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim), (v) => v.toPrecision(6))].join(
      ',',
    ),
  );
  writeFileSync(out, `${header}\n${lines.join('\n')}\n`);
}

/** `pretext embed --text`: one row of embedding values per document, in the corpus's order. */
export async function embedTextCommand(
  encoder: string,
  source: string,
  column: string | undefined,
  out: string,
): Promise<{ rows: number; dim: number }> {
  const corpus = await readDocuments(source, column);
  const e = embedDocumentsMatrix(encoder, corpus.texts);
  writeEmbeddingsCsv(out, e);
  return { rows: e.rows, dim: e.dim };
}

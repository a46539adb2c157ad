// Text as the readers hand it on: documents, and per document a class (or none). A team's own
// text comes from a folder of .txt files (sub-folders as labels, like image folders) or from a
// column of a CSV/TSV, JSONL or Parquet file. A file that is not UTF-8 text is reported by
// name and left out; the rest of the corpus still loads.
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { DataFormatError } from '../errors.js';
import { readDataFile } from '../files.js';
import { readTableFile } from '../tableFile.js';
import { findColumn } from '../features.js';

export interface TextCorpus {
  /** Where the documents came from (a folder, a file, a data set). */
  source: string;
  texts: string[];
  /** Class index per document, -1 where unknown; null for an unlabeled corpus. */
  labels: Int32Array | null;
  /** Class names, indexed by label. */
  classes: string[];
  /** Files left out, each with the reason (encoding, binary data, empty). */
  skipped: { file: string; reason: string }[];
}

/** Why bytes are not a UTF-8 text document, or null when they are one. */
export function textProblem(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return 'binary data (a NUL byte)';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    return `not UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at offset ${bad}); convert it, e.g. iconv -f latin1 -t utf-8`;
  }
  return null;
}

function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >> 5 === 6 ? 1 : c >> 4 === 14 ? 2 : c >> 3 === 30 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || b[i + k]! >> 6 !== 2) return i;
    i += n + 1;
  }
  return 0;
}

/** Labels as indices into sorted class names; null or empty strings become -1. */
export function indexLabels(names: readonly (string | null)[]): { labels: Int32Array; classes: string[] } {
  const classes = [...new Set(names.filter((n): n is string => n !== null && n !== ''))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return { labels: Int32Array.from(names, (n) => (n === null || n === '' ? -1 : index.get(n)!)), classes };
}

function walk(dir: string, found: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, found);
    else if (extname(name).toLowerCase() === '.txt') found.push(p);
  }
}

/**
 * A folder of .txt files, one document each. Files directly inside are unlabeled; files in a
 * sub-folder are labeled by its name (nested folders: by the first level).
 */
export function readTextFolder(dir: string): TextCorpus {
  let files: string[] = [];
  try {
    walk(dir, files);
  } catch (err) {
    throw new DataFormatError(`cannot read the text folder ${dir}: ${(err as Error).message}`);
  }
  files = files.sort();
  if (files.length === 0) throw new DataFormatError(`${dir}: no .txt files (one document per file; sub-folders name the classes)`);
  const texts: string[] = [];
  const names: (string | null)[] = [];
  const skipped: TextCorpus['skipped'] = [];
  for (const f of files) {
    const bytes = readDataFile(f);
    const problem = textProblem(bytes);
    const text = problem ? '' : new TextDecoder().decode(bytes).replace(/^\uFEFF/, '');
    if (problem || !text.trim()) {
      skipped.push({ file: f, reason: problem ?? 'empty' });
      continue;
    }
    const parts = relative(dir, f).split(/[\\/]/);
    texts.push(text);
    names.push(parts.length > 1 ? parts[0]! : null);
  }
  if (texts.length === 0)
    throw new DataFormatError(`${dir}: none of the ${files.length} .txt files is a UTF-8 text document (${skipped[0]!.reason})`);
  const labeled = names.some((n) => n !== null);
  const { labels, classes } = indexLabels(names);
  return { source: dir, texts, labels: labeled ? labels : null, classes, skipped };
}

export interface TextColumnOptions {
  /** The column holding the documents. */
  text: string;
  /** The column holding the class (optional). */
  label?: string;
}

function parseJsonl(path: string, o: TextColumnOptions): { texts: (string | null)[]; names: (string | null)[] } {
  const bytes = readDataFile(path);
  const problem = textProblem(bytes);
  if (problem) throw new DataFormatError(`${path}: ${problem}`);
  const texts: (string | null)[] = [];
  const names: (string | null)[] = [];
  new TextDecoder()
    .decode(bytes)
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (err) {
        throw new DataFormatError(`${path}, line ${i + 1}: not JSON (${(err as Error).message})`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row))
        throw new DataFormatError(`${path}, line ${i + 1}: expected a JSON object per line`);
      const r = row as Record<string, unknown>;
      if (!(o.text in r)) throw new DataFormatError(`${path}, line ${i + 1}: no "${o.text}" field (fields: ${Object.keys(r).join(', ')})`);
      const t = r[o.text];
      texts.push(t === null || t === undefined ? null : String(t));
      const l = o.label === undefined ? null : r[o.label];
      names.push(l === null || l === undefined ? null : String(l));
    });
  return { texts, names };
}

/** Documents from one column of a CSV/TSV, JSONL or Parquet file; rows without text are left out. */
export async function readTextColumn(path: string, o: TextColumnOptions): Promise<TextCorpus> {
  const ext = extname(path).toLowerCase();
  let texts: (string | null)[];
  let names: (string | null)[];
  if (ext === '.jsonl' || ext === '.ndjson') ({ texts, names } = parseJsonl(path, o));
  else {
    const types = { [o.text]: 'text' as const, ...(o.label ? { [o.label]: 'text' as const } : {}) };
    const table = await readTableFile(path, { types });
    const cell = (name: string): (string | null)[] => {
      const c = findColumn(table, name);
      if (c.type === 'text') return c.values;
      if (c.type === 'categorical' || c.type === 'boolean') return Array.from(c.values, (v) => (v < 0 ? null : c.levels[v]!));
      return Array.from(c.values, (v) => (Number.isNaN(v) ? null : String(v)));
    };
    texts = cell(o.text);
    names = o.label ? cell(o.label) : texts.map(() => null);
  }
  const keep = texts.map((t, i) => (t !== null && t.trim() ? i : -1)).filter((i) => i >= 0);
  if (keep.length === 0) throw new DataFormatError(`${path}: the column "${o.text}" holds no text`);
  const { labels, classes } = indexLabels(keep.map((i) => names[i]!));
  return {
    source: path,
    texts: keep.map((i) => texts[i]!),
    labels: o.label ? labels : null,
    classes,
    skipped: [],
  };
}

/** The documents at `indices`, in that order. */
export function takeDocuments(c: TextCorpus, indices: ArrayLike<number>, what: string): TextCorpus {
  const idx = Array.from(indices);
  return {
    source: `${c.source} (${what})`,
    texts: idx.map((i) => c.texts[i]!),
    labels: c.labels ? Int32Array.from(idx, (i) => c.labels![i]!) : null,
    classes: c.classes,
    skipped: [],
  };
}

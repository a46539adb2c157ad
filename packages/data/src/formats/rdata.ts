// R's saved data, the three ways R packages ship it: `.rds` (one object), `.rda`/`.RData`
// (named objects after an `RDX2`/`RDX3` line) and lazy-load bundles (`Rdata.rdb` holding
// each object compressed on its own, `Rdata.rdx` the index: name -> offset and length, and
// the compression scheme). Files are gzip, bzip2 or xz; bundle objects zlib, bzip2, raw
// LZMA2 (R's "xz" scheme, no container) or stored. Data frames become Tables: factors are
// categorical, logicals boolean, Date and POSIXct dates, numbers numeric.
import { existsSync } from 'node:fs';
import { inflateSync, gunzipSync } from 'node:zlib';
import { lzma2, xz } from '@napi-rs/lzma';
import Bunzip from 'seek-bzip';
import { DataFormatError } from '../errors.js';
import { readDataFile } from '../files.js';
import { buildColumn, inferType, type Column, type Table } from '../table.js';
import { R_NA_INTEGER, unserialize, type RValue } from './rserialize.js';

/** Decompressed objects larger than this are refused (a corrupt length, not a data set). */
const MAX_OBJECT_BYTES = 2 ** 31;

function decompressed(what: string, source: string, f: () => Uint8Array): Uint8Array {
  try {
    return f();
  } catch (err) {
    if (err instanceof DataFormatError) throw err;
    throw new DataFormatError(`${source}: the ${what} data is corrupt (${(err as Error).message})`);
  }
}

/** A whole file's bytes without its gzip, bzip2 or xz layer (as R's gzfile() reads them). */
export function decompressFile(bytes: Uint8Array, source: string): Uint8Array {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return decompressed('gzip', source, () => gunzipSync(bytes));
  if (bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68) return decompressed('bzip2', source, () => Bunzip.decode(bytes));
  if (bytes[0] === 0xfd && bytes[1] === 0x37 && bytes[2] === 0x7a && bytes[3] === 0x58 && bytes[4] === 0x5a)
    return decompressed('xz', source, () => xz.decompressSync(bytes));
  return bytes;
}

/** The one object of an `.rds` file. */
export function readRds(path: string): RValue {
  return unserialize(decompressFile(readDataFile(path), path), path);
}

/** The named objects of an `.rda` / `.RData` file. */
export function readRda(path: string): Map<string, RValue> {
  const bytes = decompressFile(readDataFile(path), path);
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 5));
  if (head !== 'RDX2\n' && head !== 'RDX3\n') throw new DataFormatError(`${path}: not R saved data (no RDX2/RDX3 line)`);
  const list = unserialize(bytes.subarray(5), path);
  if (list.kind !== 'pairlist') throw new DataFormatError(`${path}: saved data is not a list of named objects`);
  const out = new Map<string, RValue>();
  for (const { tag, value } of list.items) if (tag !== null) out.set(tag, value);
  return out;
}

interface LazyIndex {
  variables: Map<string, [number, number]>;
  /** 1 zlib, 2 bzip2, 3 xz (each object then carries its own type byte). */
  scheme: number;
}

function lazyIndex(rdxPath: string): LazyIndex {
  const index = readRds(rdxPath);
  if (index.kind !== 'list') throw new DataFormatError(`${rdxPath}: a lazy-load index is a list`);
  const names = index.attributes.get('names');
  const field = (name: string): RValue | undefined => (names?.kind === 'string' ? index.values[names.values.indexOf(name)] : undefined);
  const vars = field('variables');
  const compressed = field('compressed');
  if (!vars || vars.kind !== 'list') throw new DataFormatError(`${rdxPath}: the index has no 'variables' list`);
  const varNames = vars.attributes.get('names');
  if (varNames?.kind !== 'string') throw new DataFormatError(`${rdxPath}: the index's variables have no names`);
  const variables = new Map<string, [number, number]>();
  vars.values.forEach((v, i) => {
    const name = varNames.values[i];
    if ((v.kind === 'integer' || v.kind === 'double') && v.values.length === 2 && name)
      variables.set(name, [Number(v.values[0]), Number(v.values[1])]);
  });
  let scheme = 1;
  if (compressed && (compressed.kind === 'logical' || compressed.kind === 'integer' || compressed.kind === 'double')) {
    const c = Number(compressed.values[0]);
    scheme = compressed.kind === 'logical' ? (c ? 1 : 0) : c;
  }
  return { variables, scheme };
}

/** The names of the objects in a lazy-load bundle (`Rdata.rdb`, its `.rdx` beside it). */
export function lazyLoadNames(rdbPath: string): string[] {
  return [...lazyIndex(rdxOf(rdbPath)).variables.keys()];
}

function rdxOf(rdbPath: string): string {
  const rdx = rdbPath.replace(/\.rdb$/, '.rdx');
  if (rdx === rdbPath || !existsSync(rdx)) throw new DataFormatError(`${rdbPath}: a lazy-load bundle needs its index ${rdx}`);
  return rdx;
}

/** One object of a lazy-load bundle. */
export function readLazyLoad(rdbPath: string, object: string): RValue {
  const { variables, scheme } = lazyIndex(rdxOf(rdbPath));
  const at = variables.get(object);
  if (!at) throw new DataFormatError(`${rdbPath}: no object '${object}'; it holds ${[...variables.keys()].join(', ')}`);
  const [offset, length] = at;
  const rdb = readDataFile(rdbPath);
  const where = `${rdbPath} object '${object}'`;
  if (!(offset >= 0 && length >= 5 && offset + length <= rdb.length))
    throw new DataFormatError(`${where}: the index points past the end of the bundle`);
  const chunk = rdb.subarray(offset, offset + length);
  const size = new DataView(chunk.buffer, chunk.byteOffset).getUint32(0);
  if (size > MAX_OBJECT_BYTES) throw new DataFormatError(`${where}: declares ${size} bytes uncompressed, more than is read`);
  let body: Uint8Array;
  if (scheme === 1 || scheme === 0)
    body = scheme === 0 ? chunk.subarray(4) : decompressed('zlib', where, () => inflateSync(chunk.subarray(4)));
  else {
    const type = String.fromCharCode(chunk[4]!);
    const rest = chunk.subarray(5);
    if (type === 'Z') body = decompressed('LZMA2', where, () => lzma2.decompressSync(rest));
    else if (type === '2') body = decompressed('bzip2', where, () => Bunzip.decode(rest));
    else if (type === '1') body = decompressed('zlib', where, () => inflateSync(rest));
    else if (type === '0') body = rest;
    else throw new DataFormatError(`${where}: unknown compression type '${type}'`);
  }
  if (body.length !== size) throw new DataFormatError(`${where}: ${body.length} bytes after decompression, ${size} declared`);
  return unserialize(body, where);
}

function classOf(v: RValue): string[] {
  const c = 'attributes' in v ? v.attributes.get('class') : undefined;
  return c?.kind === 'string' ? c.values.filter((x): x is string => x !== null) : [];
}

function describe(v: RValue): string {
  const cls = classOf(v);
  return cls.length ? `an R object of class ${cls.join('/')}` : `an R ${v.kind}`;
}

function rColumn(name: string, v: RValue, where: string): Column {
  const cls = classOf(v);
  if (v.kind === 'integer' && v.attributes.get('levels')?.kind === 'string') {
    const levels = (v.attributes.get('levels') as { values: (string | null)[] }).values.map((l) => l ?? 'NA');
    const values = Int32Array.from(v.values, (c) => (c === R_NA_INTEGER || c < 1 || c > levels.length ? -1 : c - 1));
    return { name, type: 'categorical', values, levels };
  }
  if (v.kind === 'logical') {
    return {
      name,
      type: 'boolean',
      values: Int32Array.from(v.values, (c) => (c === R_NA_INTEGER ? -1 : c ? 1 : 0)),
      levels: ['false', 'true'],
    };
  }
  if (v.kind === 'integer' || v.kind === 'double') {
    const nums = v.kind === 'integer' ? Float64Array.from(v.values, (c) => (c === R_NA_INTEGER ? NaN : c)) : Float64Array.from(v.values);
    if (cls.includes('Date')) return { name, type: 'date', values: nums.map((d) => d * 86_400_000) };
    if (cls.includes('POSIXct')) return { name, type: 'date', values: nums.map((s) => s * 1000) };
    return { name, type: 'numeric', values: nums };
  }
  if (v.kind === 'string') return buildColumn(name, inferType(v.values), v.values, where);
  throw new DataFormatError(`${where}: column '${name}' is ${describe(v)}, not a vector a table column can hold (drop it)`);
}

/** An R data frame as a Table; `drop` leaves columns out (each must exist). */
export function rDataFrame(v: RValue, source: string, o: { drop?: readonly string[] } = {}): Table {
  if (v.kind !== 'list' || !classOf(v).includes('data.frame')) throw new DataFormatError(`${source}: ${describe(v)}, not a data frame`);
  const names = v.attributes.get('names');
  if (names?.kind !== 'string' || names.values.length !== v.values.length)
    throw new DataFormatError(`${source}: a data frame without a name for each column`);
  const drop = new Set(o.drop ?? []);
  for (const d of drop) if (!names.values.includes(d)) throw new DataFormatError(`${source}: no column '${d}' to drop`);
  const columns: Column[] = [];
  let rows = -1;
  v.values.forEach((col, i) => {
    const name = names.values[i] ?? `V${i + 1}`;
    if (drop.has(name)) return;
    const c = rColumn(name, col, source);
    if (rows >= 0 && c.values.length !== rows)
      throw new DataFormatError(`${source}: column '${name}' has ${c.values.length} rows, the columns before it ${rows}`);
    rows = c.values.length;
    columns.push(c);
  });
  return { source, rows: Math.max(rows, 0), columns };
}

export interface RDataOptions {
  /** The object to read (required for bundles and for `.rda` files holding several). */
  object?: string;
  drop?: readonly string[];
}

/** A data frame from R data: `.rds`, `.rda`/`.RData`, or a lazy-load bundle's `.rdb`. */
export function readRData(path: string, o: RDataOptions = {}): Table {
  if (path.endsWith('.rdb')) {
    if (!o.object) throw new DataFormatError(`${path}: name the object to read; it holds ${lazyLoadNames(path).join(', ')}`);
    return rDataFrame(readLazyLoad(path, o.object), `${path} object '${o.object}'`, o);
  }
  if (path.endsWith('.rds')) return rDataFrame(readRds(path), path, o);
  const objects = readRda(path);
  const name = o.object ?? (objects.size === 1 ? [...objects.keys()][0]! : undefined);
  if (name === undefined) throw new DataFormatError(`${path}: name the object to read; it holds ${[...objects.keys()].join(', ')}`);
  const v = objects.get(name);
  if (!v) throw new DataFormatError(`${path}: no object '${name}'; it holds ${[...objects.keys()].join(', ')}`);
  return rDataFrame(v, `${path} object '${name}'`, o);
}

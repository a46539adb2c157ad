// CSV and TSV files as tables, parsed by csv-parse (a maintained, RFC 4180 parser: quoted
// fields, embedded delimiters and newlines, a BOM) and typed column by column. csv-parse
// over DuckDB: it is pure JavaScript (no binary to fetch), and tables here are read whole
// into memory anyway; Parquet would come with hyparquet, also pure JavaScript.
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DataFormatError, decodeText } from '../errors.js';
import { readDataFile } from '../files.js';
import { buildColumn, inferType, type ColumnType, type Table } from '../table.js';

export interface CsvOptions {
  /** Field delimiter (default: tab for .tsv files, else comma). */
  delimiter?: string;
  /** Column types to use instead of inferring them. */
  types?: Record<string, ColumnType>;
  /** Columns to leave out (ids, leaks). */
  drop?: string[];
}

/** Reads a CSV/TSV file with a header row; every row must have the header's number of fields. */
export function readCsv(path: string, o: CsvOptions = {}): Table {
  return parseCsv(readDataFile(path), path, o);
}

/** Parses CSV/TSV bytes; `source` names the file in errors. */
export function parseCsv(bytes: Uint8Array, source: string, o: CsvOptions = {}): Table {
  const text = decodeText(bytes, source, 'a text table');
  let records: string[][];
  try {
    records = parse(text, {
      delimiter: o.delimiter ?? (extname(source).toLowerCase() === '.tsv' ? '\t' : ','),
      bom: true,
      relax_column_count: false,
      skip_empty_lines: true,
    }) as string[][];
  } catch (err) {
    throw new DataFormatError(`${source}: ${(err as Error).message}`);
  }
  if (records.length === 0) throw new DataFormatError(`${source}: empty, expected a header row`);
  const header = records[0]!.map((h) => h.trim());
  const seen = new Set<string>();
  for (const [i, h] of header.entries()) {
    if (h === '') throw new DataFormatError(`${source}: header column ${i + 1} has no name`);
    if (seen.has(h)) throw new DataFormatError(`${source}: column '${h}' appears twice in the header`);
    seen.add(h);
  }
  for (const name of [...Object.keys(o.types ?? {}), ...(o.drop ?? [])])
    if (!seen.has(name)) throw new DataFormatError(`${source}: no column '${name}' (it has ${header.join(', ')})`);
  const rows = records.slice(1);
  const drop = new Set(o.drop ?? []);
  const columns = header.flatMap((name, j) => {
    if (drop.has(name)) return [];
    const cells = rows.map((r) => r[j] ?? null);
    return [buildColumn(name, o.types?.[name] ?? inferType(cells), cells, source)];
  });
  return { source, rows: rows.length, columns };
}

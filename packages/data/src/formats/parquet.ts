// Parquet files as tables, read by hyparquet (maintained, pure JavaScript: no binary to
// fetch). Numbers (integers of any width, floats, decimals) become numeric columns,
// booleans boolean, timestamps and dates date, strings categorical or text by cardinality
// (or as `types` says). Snappy-compressed and uncompressed files are read; other codecs are
// refused by name.
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { DataFormatError } from '../errors.js';
import { readDataFile } from '../files.js';
import { buildColumn, inferType, type Column, type ColumnType, type Table } from '../table.js';
import type { CsvOptions } from './csv.js';

type Cell = string | number | bigint | boolean | Date | null | undefined | object;

function columnOf(name: string, cells: Cell[], declared: ColumnType | undefined, source: string): Column {
  const present = cells.filter((c) => c !== null && c !== undefined);
  const isNum = (c: Cell): boolean => typeof c === 'number' || typeof c === 'bigint';
  const want =
    declared ??
    (present.every(isNum) && present.length
      ? 'numeric'
      : present.every((c) => c instanceof Date) && present.length
        ? 'date'
        : present.every((c) => typeof c === 'boolean') && present.length
          ? 'boolean'
          : undefined);
  if (want === 'numeric' && present.every(isNum))
    return { name, type: 'numeric', values: Float64Array.from(cells, (c) => (c === null || c === undefined ? NaN : Number(c))) };
  if (want === 'date' && present.every((c) => c instanceof Date))
    return { name, type: 'date', values: Float64Array.from(cells, (c) => (c instanceof Date ? c.getTime() : NaN)) };
  if (want === 'boolean' && present.every((c) => typeof c === 'boolean'))
    return {
      name,
      type: 'boolean',
      values: Int32Array.from(cells, (c) => (c === true ? 1 : c === false ? 0 : -1)),
      levels: ['false', 'true'],
    };
  const text = cells.map((c) =>
    c === null || c === undefined ? null : c instanceof Date ? c.toISOString() : typeof c === 'object' ? JSON.stringify(c) : String(c),
  );
  return buildColumn(name, want ?? inferType(text), text, source);
}

/** Reads a Parquet file whole. */
export async function readParquet(path: string, o: Omit<CsvOptions, 'delimiter'> = {}): Promise<Table> {
  const bytes = readDataFile(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, Cell>[];
  let names: string[];
  try {
    const metadata = parquetMetadata(file);
    names = parquetSchema(metadata).children.map((c) => c.element.name);
    rows = (await parquetReadObjects({ file, metadata })) as Record<string, Cell>[];
  } catch (err) {
    throw new DataFormatError(`${path}: not a Parquet file hyparquet can read (${(err as Error).message})`);
  }
  const drop = new Set(o.drop ?? []);
  for (const d of drop) if (!names.includes(d)) throw new DataFormatError(`${path}: no column '${d}' to drop`);
  const columns = names
    .filter((n) => !drop.has(n))
    .map((n) =>
      columnOf(
        n,
        rows.map((r) => r[n]),
        o.types?.[n],
        path,
      ),
    );
  return { source: path, rows: rows.length, columns };
}

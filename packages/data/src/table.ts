// Tables as the readers hand them on: named, typed columns in plain arrays, ready for
// preprocessing (which is learned on the training split elsewhere). Types are inferred from
// the values when the file does not declare them, and can be set by the caller.
import { DataFormatError } from './errors.js';

export type ColumnType = 'numeric' | 'categorical' | 'boolean' | 'date' | 'text';
export const COLUMN_TYPES: readonly ColumnType[] = ['numeric', 'categorical', 'boolean', 'date', 'text'];

export type Column =
  /** Numbers; missing values are NaN. */
  | { name: string; type: 'numeric'; values: Float64Array }
  /** Milliseconds since 1970 (UTC); missing values are NaN. */
  | { name: string; type: 'date'; values: Float64Array }
  /** Codes into `levels`; missing values are -1. Booleans have levels ['false', 'true']. */
  | { name: string; type: 'categorical' | 'boolean'; values: Int32Array; levels: string[] }
  /** Free text; missing values are null. */
  | { name: string; type: 'text'; values: (string | null)[] };

export interface Table {
  /** Where it came from, for messages and lineage. */
  source: string;
  rows: number;
  columns: Column[];
}

/** Cells read as missing in text formats. */
export const MISSING = new Set(['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', '?']);

const NUMBER = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Infinity)$/;
const TRUE = new Set(['true', 'TRUE', 'True', 'yes', 'Yes', 'YES', 't', 'T', '1']);
const FALSE = new Set(['false', 'FALSE', 'False', 'no', 'No', 'NO', 'f', 'F', '0']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * The type a column of text cells most likely has: numeric when every present cell is a
 * number, boolean when every one is true/false or yes/no, date when every one is an ISO
 * date, categorical when it has at most `maxLevels` distinct values (default 50, or a
 * twentieth of the rows when that is more), text otherwise.
 */
export function inferType(cells: readonly (string | null)[], maxLevels?: number): ColumnType {
  const present = cells.filter((c): c is string => c !== null && !MISSING.has(c.trim()));
  if (present.length === 0) return 'categorical';
  const trimmed = present.map((c) => c.trim());
  if (trimmed.every((c) => NUMBER.test(c))) return 'numeric';
  if (trimmed.every((c) => TRUE.has(c) || FALSE.has(c))) return 'boolean';
  if (trimmed.every((c) => ISO_DATE.test(c) && !Number.isNaN(Date.parse(c)))) return 'date';
  const distinct = new Set(trimmed).size;
  return distinct <= (maxLevels ?? Math.max(50, Math.floor(cells.length / 20))) ? 'categorical' : 'text';
}

/**
 * A typed column from text cells. `levels` fixes a categorical column's levels (in that
 * order; a cell outside them is an error naming it); otherwise they are the sorted distinct
 * values. `where` names the column's place in errors.
 */
export function buildColumn(
  name: string,
  type: ColumnType,
  cells: readonly (string | null)[],
  where: string,
  levels?: readonly string[],
): Column {
  const isMissing = (c: string | null): boolean => c === null || MISSING.has(c.trim());
  const bad = (row: number, c: string, want: string): never => {
    throw new DataFormatError(`${where}: column '${name}', row ${row + 1}: '${c}' is not ${want}`);
  };
  switch (type) {
    case 'numeric': {
      const v = new Float64Array(cells.length);
      cells.forEach((c, i) => {
        if (isMissing(c)) v[i] = NaN;
        else if (NUMBER.test(c!.trim())) v[i] = Number(c!.trim());
        else bad(i, c!, 'a number');
      });
      return { name, type, values: v };
    }
    case 'date': {
      const v = new Float64Array(cells.length);
      cells.forEach((c, i) => {
        if (isMissing(c)) v[i] = NaN;
        else {
          const t = Date.parse(c!.trim());
          if (Number.isNaN(t)) bad(i, c!, 'a date');
          v[i] = t;
        }
      });
      return { name, type, values: v };
    }
    case 'boolean': {
      const v = new Int32Array(cells.length);
      cells.forEach((c, i) => {
        if (isMissing(c)) v[i] = -1;
        else if (TRUE.has(c!.trim())) v[i] = 1;
        else if (FALSE.has(c!.trim())) v[i] = 0;
        else bad(i, c!, 'true or false');
      });
      return { name, type, values: v, levels: ['false', 'true'] };
    }
    case 'categorical': {
      const lv = levels ? [...levels] : [...new Set(cells.filter((c) => !isMissing(c)).map((c) => c!.trim()))].sort();
      const code = new Map(lv.map((l, i) => [l, i]));
      const v = new Int32Array(cells.length);
      cells.forEach((c, i) => {
        if (isMissing(c)) v[i] = -1;
        else {
          const k = code.get(c!.trim());
          if (k === undefined) bad(i, c!, `one of its declared values (${lv.slice(0, 5).join(', ')}${lv.length > 5 ? ', ...' : ''})`);
          v[i] = k!;
        }
      });
      return { name, type, values: v, levels: lv };
    }
    case 'text':
      return { name, type, values: cells.map((c) => (isMissing(c) ? null : c)) };
    default:
      throw new DataFormatError(`${where}: column '${name}' has unknown type '${String(type)}' (expected ${COLUMN_TYPES.join(', ')})`);
  }
}

/** The column called `name`, or an error naming the table and the columns it has. */
export function column(t: Table, name: string): Column {
  const c = t.columns.find((x) => x.name === name);
  if (!c) throw new DataFormatError(`${t.source} has no column '${name}' (it has ${t.columns.map((x) => x.name).join(', ')})`);
  return c;
}

/**
 * A table from JSON-like records (an API's rows by column name), typed as `types` says: only
 * those columns are read, each cell through the same parsing as a text file's (null or a
 * missing marker is a missing value). A record without one of the columns (unless
 * `absentIsMissing`: events carry only their own fields), or a cell that is not a number,
 * string or boolean, is an error naming the record and the column.
 */
export function tableFromRecords(
  records: readonly Record<string, unknown>[],
  types: Record<string, ColumnType>,
  source: string,
  o: { absentIsMissing?: boolean } = {},
): Table {
  const columns = Object.entries(types).map(([name, type]) => {
    const cells = records.map((r, i) => {
      if (!(name in r)) {
        if (o.absentIsMissing) return null;
        throw new DataFormatError(`${source}[${i}]: no column '${name}'`);
      }
      const v = r[name];
      if (v === null) return null;
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return String(v);
      throw new DataFormatError(`${source}[${i}].${name}: a ${Array.isArray(v) ? 'list' : typeof v} is not a cell value`);
    });
    return buildColumn(name, type, cells, source);
  });
  return { source, rows: records.length, columns };
}

// A user's table file, read by its extension: CSV/TSV, Parquet, ARFF or R data.
import { extname } from 'node:path';
import { DataFormatError } from './errors.js';
import { readArff } from './formats/arff.js';
import { readCsv, type CsvOptions } from './formats/csv.js';
import { readParquet } from './formats/parquet.js';
import { readRData } from './formats/rdata.js';
import type { Table } from './table.js';

export interface TableFileOptions extends CsvOptions {
  /** The object to read from R data holding several. */
  object?: string;
}

export const TABLE_EXTENSIONS = ['.csv', '.tsv', '.txt', '.parquet', '.arff', '.rds', '.rda', '.rdata', '.rdb'];

export async function readTableFile(path: string, o: TableFileOptions = {}): Promise<Table> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.csv':
    case '.tsv':
    case '.txt':
      return readCsv(path, o);
    case '.parquet':
      return readParquet(path, o);
    case '.arff':
      return readArff(path, { drop: o.drop });
    case '.rds':
    case '.rda':
    case '.rdata':
    case '.rdb':
      return readRData(path, { object: o.object, drop: o.drop });
    default:
      throw new DataFormatError(`${path}: cannot tell the table format from '${ext}'; expected one of ${TABLE_EXTENSIONS.join(', ')}`);
  }
}

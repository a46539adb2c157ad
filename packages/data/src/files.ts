// Reading a data file from disk, with the error naming it.
import { readFileSync } from 'node:fs';
import { DataFormatError } from './errors.js';

/** A data file's bytes, or a DataFormatError naming the file and why it cannot be read. */
export function readDataFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DataFormatError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

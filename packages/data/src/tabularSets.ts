// Benchmark tables, real and offline: each a file inside a Debian package, pinned by sha256,
// with its label column and the columns left out (and why).
import { debianFile, type DebianFetchOptions, type DebianFile } from './debian.js';
import { readArff } from './formats/arff.js';
import type { Table } from './table.js';

export interface TabularSet {
  name: string;
  file: DebianFile;
  format: 'arff';
  /** The column to predict. */
  label: string;
  /** Columns left out of the inputs, each with the reason. */
  drop: Record<string, string>;
  field: string;
}

export const TABULAR_SETS: Record<string, TabularSet> = {
  'credit-g': {
    name: 'credit-g',
    file: {
      pkg: 'weka',
      path: 'usr/share/doc/weka/examples/credit-g.arff',
      sha256: 'bd94085134e4eb845c96b34c93ed65a223f89d089bacb273ef96f57509ce0bed',
    },
    format: 'arff',
    label: 'class',
    drop: {},
    field: 'finance: German credit applicants, good or bad risk',
  },
  diabetes: {
    name: 'diabetes',
    file: {
      pkg: 'weka',
      path: 'usr/share/doc/weka/examples/diabetes.arff',
      sha256: '01c38ba089121a39a4ee5bafb3c9bddd71e4337d8f0268c85a999a37c1a027e6',
    },
    format: 'arff',
    label: 'class',
    drop: {},
    field: 'health: Pima women, tested positive for diabetes or not',
  },
};

/** A benchmark table by name, fetched and verified; its label column stays in the table. */
export function loadTabularSet(name: string, o: DebianFetchOptions = {}): { set: TabularSet; table: Table } {
  const set = TABULAR_SETS[name];
  if (!set) throw new RangeError(`unknown table '${name}'; expected one of ${Object.keys(TABULAR_SETS).join(', ')}`);
  const siblings = Object.values(TABULAR_SETS).map((s) => s.file);
  return { set, table: readArff(debianFile(set.file, o, siblings), { drop: Object.keys(set.drop) }) };
}

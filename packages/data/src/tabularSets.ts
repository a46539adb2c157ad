// Benchmark tables, real and offline: each a file inside a Debian package, pinned by sha256,
// with its label column and the columns left out (and why).
import { debianFile, type DebianFetchOptions, type DebianFile } from './debian.js';
import { readArff } from './formats/arff.js';
import { readRData } from './formats/rdata.js';
import type { Table } from './table.js';
import { R_BUNDLES } from './rPackages.js';

export interface TabularSet {
  name: string;
  file: DebianFile;
  /** A file the reader needs beside `file` (a lazy-load bundle's index). */
  companion?: DebianFile;
  format: 'arff' | 'rdata';
  /** The object inside R data holding the table. */
  object?: string;
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
  'lending-club': {
    name: 'lending-club',
    file: R_BUNDLES.modeldata.data,
    companion: R_BUNDLES.modeldata.index,
    format: 'rdata',
    object: 'lending_club',
    label: 'Class',
    drop: {},
    field: 'finance: Lending Club loans, good or bad (5% bad)',
  },
  flchain: {
    name: 'flchain',
    file: R_BUNDLES.survival.data,
    companion: R_BUNDLES.survival.index,
    format: 'rdata',
    object: 'flchain',
    label: 'death',
    drop: {
      futime: 'days from enrolment to death or last contact: short follow-up is death, so it gives the label away',
      chapter: 'cause of death, recorded only for those who died',
    },
    field: 'health: serum free light chain study (Olmsted County), death during follow-up',
  },
  ticdata: {
    name: 'ticdata',
    file: {
      pkg: 'r-cran-kernlab',
      path: 'usr/lib/R/site-library/kernlab/data/ticdata.rda',
      sha256: '7e548579e9f6db507b1146e635b22472d196b83250c3d8c88e3815626015d546',
    },
    format: 'rdata',
    label: 'CARAVAN',
    drop: {},
    field: 'insurance: CoIL 2000 customers, caravan policy holders (6%)',
  },
  shuttle: {
    name: 'shuttle',
    file: {
      pkg: 'r-cran-mlbench',
      path: 'usr/lib/R/site-library/mlbench/data/Shuttle.rda',
      sha256: '5b1db218b76a47c83f575f1ff38d7a7d36e569b0e27d8bf4aa92eae6c0bcb826',
    },
    format: 'rdata',
    label: 'Class',
    drop: {},
    field: 'speed case: Statlog space shuttle sensor readings, 7 classes (80% one class)',
  },
};

/** A benchmark table by name, fetched and verified; its label column stays in the table. */
export function loadTabularSet(name: string, o: DebianFetchOptions = {}): { set: TabularSet; table: Table } {
  const set = TABULAR_SETS[name];
  if (!set) throw new RangeError(`unknown table '${name}'; expected one of ${Object.keys(TABULAR_SETS).join(', ')}`);
  const siblings = Object.values(TABULAR_SETS).flatMap((s) => [s.file, ...(s.companion ? [s.companion] : [])]);
  if (set.companion) debianFile(set.companion, o, siblings);
  const path = debianFile(set.file, o, siblings);
  const drop = Object.keys(set.drop);
  const table = set.format === 'arff' ? readArff(path, { drop }) : readRData(path, { object: set.object, drop });
  return { set, table };
}

// The lazy-load data bundles (Rdata.rdb with its Rdata.rdx index) of the Debian R packages the
// benchmark tables, corpora and histories come from, each file pinned by its sha256, and one
// way to read an object out of them.
import { debianFile, type DebianFetchOptions, type DebianFile } from './debian.js';
import { readRData, type RDataOptions } from './formats/rdata.js';
import type { Table } from './table.js';

export interface RBundle {
  data: DebianFile;
  index: DebianFile;
}

const bundle = (pkg: string, dir: string, data: string, index: string): RBundle => ({
  data: { pkg, path: `${dir}/Rdata.rdb`, sha256: data },
  index: { pkg, path: `${dir}/Rdata.rdx`, sha256: index },
});

export const R_BUNDLES = {
  modeldata: bundle(
    'r-cran-modeldata',
    'usr/lib/R/site-library/modeldata/data',
    '2ecef5e8da0f782ae4e3f65d928fe769702accffd8981cc358a3097f6736f58f',
    'c23e1be60f2730fb526ce158a307e154c91a953169fcb8e73350c4e032e14538',
  ),
  survival: bundle(
    'r-cran-survival',
    'usr/lib/R/library/survival/data',
    '2e74547bf2b9773c47411e26f7f2ad4efea118ba70579174192102f5d5b4e36d',
    '11265b8ae52a2c61c49a12ce9de24c62684cbfeae0a0e689d9a64cd43f1ce799',
  ),
  dslabs: bundle(
    'r-cran-dslabs',
    'usr/lib/R/site-library/dslabs/data',
    '7f740c8802abcf5de56096417560b2d5be317c59f30d50c9d37548695952aa3b',
    '97e59cc21906407fe85a369cd92a765ea050e69346d4043545471972bd02a6b3',
  ),
  dplyr: bundle(
    'r-cran-dplyr',
    'usr/lib/R/site-library/dplyr/data',
    'e78d75c69b5c1899c0f331ead3d3e907f1ee3266ea026ff0fe8835cc581786b3',
    'b6a898a2c7b97cc11f2c95508b1ab43107001993d91e5b06d7cd36a7a494dd51',
  ),
} as const;

/** An object of a bundle as a table, both files fetched and verified first. */
export function rBundleObject(b: RBundle, object: string, o: DebianFetchOptions = {}, read: Omit<RDataOptions, 'object'> = {}): Table {
  debianFile(b.index, o, [b.data, b.index]);
  return readRData(debianFile(b.data, o, [b.data, b.index]), { ...read, object });
}

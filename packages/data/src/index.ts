// @pretext/data: where examples come from, with no engine. Sources and file formats read
// into plain arrays; fetching, verifying and caching; seeded splits. The learning library
// turns these into tensors; a registry or a service can read them without libtorch.
export { DataFormatError } from './errors.js';
export { ProgressBar, formatBytes, type ProgressOptions } from './progress.js';
export { download, DownloadError, type DownloadOptions } from './download.js';
export { parseIdx, readIdx, type IdxArray } from './formats/idx.js';
export * from './fashionMnist.js';
export * from './imageFolder.js';
export * from './splits.js';
export * from './partition.js';
export * from './table.js';
export { readCsv, parseCsv, type CsvOptions } from './formats/csv.js';
export { readArff, parseArff } from './formats/arff.js';
export { debianFile, debianPackageDir, type DebianFile, type DebianFetchOptions, type DebianPackage } from './debian.js';
export { loadTabularSet, TABULAR_SETS, type TabularSet } from './tabularSets.js';
export { readRData, readRds, readRda, readLazyLoad, lazyLoadNames, rDataFrame, type RDataOptions } from './formats/rdata.js';
export { unserialize, type RValue } from './formats/rserialize.js';
export * from './features.js';
export * from './featureSummary.js';
export { readParquet } from './formats/parquet.js';
export { readTableFile, TABLE_EXTENSIONS, type TableFileOptions } from './tableFile.js';
export { npmPackageDir, type NpmTarball, type NpmFetchOptions } from './npmPackage.js';
export { emailText, htmlText, splitMessage, decodeQuotedPrintable } from './text/email.js';
export {
  readTextFolder,
  readTextColumn,
  textProblem,
  indexLabels,
  takeDocuments,
  type TextCorpus,
  type TextColumnOptions,
} from './text/corpus.js';
export { loadTextSet, TEXT_SETS, TEXT_PACKAGES, type TextSet, type TextSetSplits, type TextFetchOptions } from './text/textSets.js';
export { TfidfVectorizer, csrRows, type Csr, type TfidfOptions } from './text/tfidf.js';
export * from './events/histories.js';
export * from './events/encode.js';
export * from './events/summary.js';
export { loadSequenceSet, SEQUENCE_SETS, NAFLD_CUTOFF_DAY, STORM_HOURS, type SequenceSet } from './events/sequenceSets.js';
export { R_BUNDLES, rBundleObject, type RBundle } from './rPackages.js';
export * from './imageText/pairs.js';
export * from './imageText/iconPairs.js';
export * from './imageText/openclipart.js';

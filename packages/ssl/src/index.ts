// @pretext/ssl: data, self-supervised methods, training and evaluation.
export { ProgressBar, type ProgressOptions } from './progress.js';
export { parseIdx, readIdx, DataFormatError, type IdxArray } from './data/idx.js';
export { download, DownloadError, type DownloadOptions } from './data/download.js';
export * from './data/fashionMnist.js';

// What a web page may take from @pretext/data: tables from records, the saved table
// preprocessing (features.json) and event-history encoding (events.json), with no Node module
// behind them, so a hub page turns a row or a history a visitor enters into exactly the
// inputs Pretext gives the encoder.
export { DataFormatError } from './errors.js';
export { tableFromRecords, type ColumnType, type Table } from './table.js';
export { encodeFeatures, expectedTypes, featureLayout, type FeatureSchema, type FeatureMatrix } from './features.js';
export { historiesFromEventLists, type Histories } from './events/histories.js';
export { encodeHistories, type EventSchema } from './events/encode.js';

export { Module, parameter, StateDictError, type TensorModule } from './module.js';
export * from './layers.js';
export { GRU, type GRUOptions } from './recurrent.js';
export { MultiheadAttention, TransformerEncoderLayer, type AttentionOptions, type TransformerEncoderLayerOptions } from './attention.js';
export * as functional from './functional.js';
export * as init from './init.js';

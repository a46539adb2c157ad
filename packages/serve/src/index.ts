// @pretext/serve: the embedding and prediction service behind `pretext serve`.
export { createEmbeddingService, type EmbeddingService, type ServeOptions } from './server.js';
export { loadServedModel, stack, type Item, type Modality, type Runtime, type ServedModel } from './model.js';
export { MicroBatcher, QueueFullError, type BatcherOptions } from './batcher.js';
export { InputError, inputReader, INPUT_FIELD, type Prepared } from './inputs.js';

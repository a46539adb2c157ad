// @pretext/hub: the registry server where teams publish, find and evaluate encoders.
export * from './auth.js';
export * from './blobs.js';
export * from './card.js';
export * from './db.js';
export * from './store/index.js';
export * from './server.js';

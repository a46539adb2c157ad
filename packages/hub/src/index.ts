// @pretext/hub: the registry server where teams publish, find and evaluate encoders.
export * from './auth.js';
export * from './blobs.js';
export * from './db.js';
export * from './store.js';
export * from './server.js';

export { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { LARS, type LARSOptions } from './lars.js';
export { LRScheduler, WarmupCosine, StepLR, OneCycleLR, type OneCycleOptions } from './schedules.js';
export { clipGradNorm, clipGradValue } from './clip.js';

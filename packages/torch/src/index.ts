// @pretext/torch: tensors, autograd, nn, optim and safetensors on libtorch.
import { native, blasLibrary, ompWaitPolicyDefaulted, mallocTuned } from './native.js';

export { Tensor, where, type NestedArray, type Dim } from './tensor.js';
export * from './creation.js';
export { tidy, keep, Scope, scopeDepth } from './scope.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd.js';
export { manualSeed, Generator, getRngState, setRngState } from './random.js';
export { type DType, isFloatingDtype } from './dtype.js';
export { opSchema } from './ops.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as safetensors from './safetensors.js';
export * as linalg from './linalg.js';
export * as distributed from './distributed.js';
export { blasLibrary, ompWaitPolicyDefaulted, mallocTuned };

/** Threads libtorch uses inside one op (intra-op parallelism). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Whether this libtorch build can use CUDA GPUs and how many are visible. */
export const cuda = {
  isAvailable: (): boolean => native.cudaDeviceCount() > 0,
  deviceCount: (): number => native.cudaDeviceCount(),
};

/** Live tensor handles and the native bytes reported to V8 (counted once per storage). */
export function memoryStats(): { liveTensors: number; storages: number; externalBytes: number } {
  return native.memoryStats();
}

/** libtorch's version and build configuration. */
export function buildInfo(): { torchVersion: string; config: string; parallel: string } {
  return native.buildInfo();
}

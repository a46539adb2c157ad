// Loads the compiled addon and checks, once, that libtorch runs on a fast BLAS.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** A tensor as the native layer sees it: a numeric handle into its slot table. */
export type Handle = number;
/** A random generator handle (opaque). */
export type GeneratorHandle = object;

/** c10d's Gloo process group (native/distributed.cc); collectives return a work id to wait on. */
export interface NativeDistributed {
  init(o: {
    store: 'tcp' | 'file';
    host?: string;
    port?: number;
    path?: string;
    rank: number;
    size: number;
    timeoutMs: number;
    interface?: string;
    deviceHost?: string;
  }): void;
  allreduce(tensors: Handle[], op: 'sum' | 'min' | 'max' | 'product'): number;
  broadcast(tensors: Handle[], root: number): number;
  allgather(outputs: Handle[], input: Handle): number;
  barrier(): number;
  wait(work: number): void;
  isCompleted(work: number): boolean;
  storeSet(key: string, value: string): void;
  storeGet(key: string): string;
  storeCheck(keys: string[]): boolean;
  /** Differentiable: every rank's rows in rank order; backward sums the gradient over the ranks. */
  allgatherWithGrad(input: Handle): Handle;
  syncBatchNorm(input: Handle, weight: Handle, bias: Handle, shift: Handle, eps: number): [Handle, Handle, Handle];
  reducerCreate(params: Handle[], firstBucketBytes: number, bucketBytes: number): number;
  reducerPrepare(id: number): void;
  /** Waits for every bucket, writes the averages; returns the milliseconds spent waiting. */
  reducerFinish(id: number): number;
  reducerInfo(id: number): number[];
  reducerDestroy(id: number): void;
  destroy(): void;
  info(): { initialized: boolean; rank?: number; size?: number };
}

export interface NativeBinding {
  fromBuffer(data: ArrayBufferView, dtype: number, shape: number[], requiresGrad?: boolean): Handle;
  toBuffer(h: Handle): ArrayBuffer;
  item(h: Handle): number | boolean;
  shape(h: Handle): number[];
  strides(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  dispose(h: Handle): void;
  isDisposed(h: Handle): boolean;
  requiresGrad(h: Handle): boolean;
  setRequiresGrad(h: Handle, value: boolean): void;
  backward(h: Handle, grad: Handle | null, retainGraph: boolean, createGraph: boolean): void;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: Handle | null): void;
  setData(h: Handle, source: Handle): void;
  isGradEnabled(): boolean;
  setGradEnabled(value: boolean): void;
  manualSeed(seed: number | bigint): void;
  newGenerator(seed: number | bigint): GeneratorHandle;
  getRngState(g: GeneratorHandle | null): Handle;
  setRngState(g: GeneratorHandle | null, state: Handle): void;
  generatorSeed(g: GeneratorHandle | null): bigint;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaDeviceCount(): number;
  memoryStats(): { liveTensors: number; storages: number; externalBytes: number };
  buildInfo(): { torchVersion: string; config: string; parallel: string };
  tuneMalloc(mmapThresholdBytes: number, trimThresholdBytes: number): boolean;
  add(a: Handle, b: Handle): Handle;
  sub(a: Handle, b: Handle): Handle;
  mul(a: Handle, b: Handle): Handle;
  div(a: Handle, b: Handle): Handle;
  matmul(a: Handle, b: Handle): Handle;
  addScalar(a: Handle, b: number | boolean): Handle;
  subScalar(a: Handle, b: number | boolean): Handle;
  mulScalar(a: Handle, b: number | boolean): Handle;
  divScalar(a: Handle, b: number | boolean): Handle;
  opLookup(name: string): number;
  opCall(id: number, ...args: unknown[]): unknown;
  opSchema(id: number): string;
  distributed: NativeDistributed;
}

/**
 * libgomp's default lets idle OpenMP workers spin-wait after every parallel region. Beside
 * OpenBLAS's own thread pool that spinning takes cores from the matrix products: measured
 * on 2 cores, an MLP training step ran 7.2 ms with passive waiting and 11-32 ms without, in
 * PyTorch and Pretext alike. libgomp reads the variable when it loads, so it is set here,
 * before the addon loads libtorch, unless the user chose a policy.
 */
export const ompWaitPolicyDefaulted = process.env.OMP_WAIT_POLICY === undefined;
if (ompWaitPolicyDefaulted) process.env.OMP_WAIT_POLICY = 'PASSIVE';

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, '..', 'build', 'Release', 'pretext_torch.node');

function load(): NativeBinding {
  if (!existsSync(addonPath)) {
    throw new Error(
      `@pretext/torch: the native addon is not built (${addonPath} is missing). ` +
        'Run `npm run build:native` (needs libtorch: `apt-get install libtorch-dev libopenblas0-pthread`, ' +
        'or LIBTORCH=/path/to/libtorch).',
    );
  }
  return createRequire(import.meta.url)(addonPath) as NativeBinding;
}

export const native: NativeBinding = load();

// libtorch starts an embedding process with one intra-op thread; use every core, as
// PyTorch does, unless the user pinned a count.
if (process.env.OMP_NUM_THREADS === undefined) native.setNumThreads(availableParallelism());

/**
 * glibc returns large freed blocks to the OS (munmap, heap trimming), so a training step
 * page-faults its activations back in every time: measured here, a conv2d with a 22 MB
 * output took 15 ms that way and 1.9 ms with the memory kept, in PyTorch and Pretext
 * alike. Like PyTorch's GPU caching allocator, keep freed memory for reuse: blocks up to
 * 32 MiB come from the heap and up to 512 MiB of free heap is kept. Skipped when the user
 * tuned glibc's allocator or set PRETEXT_MALLOC=system.
 */
export const mallocTuned =
  process.env.PRETEXT_MALLOC !== 'system' &&
  process.env.MALLOC_MMAP_THRESHOLD_ === undefined &&
  process.env.MALLOC_TRIM_THRESHOLD_ === undefined &&
  native.tuneMalloc(32 * 2 ** 20, 512 * 2 ** 20);

/**
 * Which BLAS library libtorch's matrix products actually reach. Debian's libtorch links the
 * generic libblas.so.3, which the alternatives system points at OpenBLAS, BLIS, MKL or the
 * slow reference implementation.
 */
export function blasLibrary(): { path: string; fast: boolean } | null {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return null;
  }
  const libs = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.slice(line.indexOf('/'));
    if (line.includes('/') && /lib(open)?blas|libmkl|libblis/.test(path)) libs.add(path.trim());
  }
  if (libs.size === 0) return null;
  const fast = [...libs].find((p) => /openblas|mkl|blis/.test(p));
  return fast ? { path: fast, fast: true } : { path: [...libs][0]!, fast: false };
}

const blas = blasLibrary();
if (blas && !blas.fast && !process.env.PRETEXT_NO_BLAS_WARNING) {
  process.emitWarning(
    `libtorch is using the reference BLAS (${blas.path}), about 10x slower than OpenBLAS. ` +
      'Install libopenblas0-pthread (apt-get install libopenblas0-pthread).',
    { code: 'PRETEXT_SLOW_BLAS' },
  );
}

// Data-parallel communication on PyTorch's own distributed engine (c10d) with the Gloo
// backend: a process group over a TCPStore (rank 0 hosts it) or a FileStore, configured the
// way torchrun configures PyTorch (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), and
// the collectives data-parallel training needs. Every collective has the group's timeout: a
// rank that dies or hangs makes the others fail with an error naming the group, never hang.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { cat, zeros } from './creation.js';

export interface InitOptions {
  /** 'tcp' (default): rank 0 hosts a TCPStore at host:port; 'file': a FileStore at `path` (one machine or a shared disk). */
  store?: 'tcp' | 'file';
  host?: string;
  port?: number;
  path?: string;
  rank?: number;
  worldSize?: number;
  /** Seconds every collective (and the rendezvous) may take (default 60). */
  timeoutSeconds?: number;
  /** Network interface Gloo binds to (e.g. eth1; default GLOO_SOCKET_IFNAME as in PyTorch), or the hostname/address to bind (default: this host's address, else loopback). */
  interface?: string;
  hostname?: string;
}

/** A distributed error: a collective that timed out or a peer that went away. */
export class DistributedError extends Error {
  override name = 'DistributedError';
}

let state: { rank: number; worldSize: number; localRank: number; timeoutSeconds: number } | null = null;

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new DistributedError(`${name}='${v}' is not a non-negative integer`);
  return n;
};

/** Joins the process group: options first, then torchrun's environment variables. */
export function init(o: InitOptions = {}): { rank: number; worldSize: number; localRank: number } {
  if (state) throw new DistributedError('the process group is already initialized');
  const rank = o.rank ?? envInt('RANK') ?? 0;
  const worldSize = o.worldSize ?? envInt('WORLD_SIZE') ?? 1;
  if (rank >= worldSize) throw new DistributedError(`rank ${rank} is outside a world of ${worldSize}`);
  const timeoutSeconds = o.timeoutSeconds ?? 60;
  const store = o.store ?? 'tcp';
  if (store === 'file' && !o.path) throw new DistributedError("a 'file' store needs a path");
  try {
    native.distributed.init({
      store,
      host: o.host ?? process.env.MASTER_ADDR ?? '127.0.0.1',
      port: o.port ?? envInt('MASTER_PORT') ?? 29500,
      path: o.path,
      rank,
      size: worldSize,
      timeoutMs: Math.round(timeoutSeconds * 1000),
      ...((o.interface ?? process.env.GLOO_SOCKET_IFNAME) ? { interface: o.interface ?? process.env.GLOO_SOCKET_IFNAME } : {}),
      ...(o.hostname ? { deviceHost: o.hostname } : {}),
    });
  } catch (err) {
    throw new DistributedError(`rank ${rank} of ${worldSize} could not join the process group: ${(err as Error).message}`);
  }
  state = { rank, worldSize, localRank: envInt('LOCAL_RANK') ?? rank, timeoutSeconds };
  return { rank, worldSize, localRank: state.localRank };
}

export const isInitialized = (): boolean => state !== null;

function group(): NonNullable<typeof state> {
  if (!state) throw new DistributedError('the process group is not initialized (call distributed.init first)');
  return state;
}

export const rank = (): number => group().rank;
export const worldSize = (): number => group().worldSize;

/** How long the ranks left answer the roll call after a collective failed. */
const ROLL_CALL_MS = 1500;

/**
 * The error for a failed collective, naming the ranks that did not answer a roll call: each
 * rank that sees a failure marks itself in the store and waits briefly for the others' marks;
 * a rank that died or hangs never marks. (Gloo itself only says that a connection closed.)
 */
function failure(what: string, err: unknown): DistributedError {
  const g = group();
  const head = `${what} failed on rank ${g.rank} of ${g.worldSize} (timeout ${g.timeoutSeconds} s)`;
  const cause = (err as Error).message;
  if (g.worldSize === 1) return new DistributedError(`${head}: ${cause}`);
  const key = (r: number): string => `pretext/roll-call/${r}`;
  let missing = Array.from({ length: g.worldSize }, (_, r) => r).filter((r) => r !== g.rank);
  try {
    native.distributed.storeSet(key(g.rank), '1');
    const deadline = performance.now() + ROLL_CALL_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      missing = missing.filter((r) => !native.distributed.storeCheck([key(r)]));
      if (missing.length === 0 || performance.now() > deadline) break;
      Atomics.wait(pause, 0, 0, 50);
    }
  } catch {
    return new DistributedError(`${head}: rank 0, which hosts the store, is unreachable (it died, or its machine did): ${cause}`);
  }
  if (missing.length === 0) return new DistributedError(`${head}; every rank is alive, so the collective itself failed: ${cause}`);
  const who = missing.length === 1 ? `rank ${missing[0]} died or hangs` : `ranks ${missing.join(', ')} died or hang`;
  return new DistributedError(`${head}: ${who} (no answer to the roll call): ${cause}`);
}

/** A collective in flight: wait() blocks until it is done and throws its error. */
export class Work {
  private done = false;
  constructor(
    private readonly id: number,
    private readonly what: string,
    private readonly after?: () => void,
  ) {}
  isCompleted(): boolean {
    return this.done || native.distributed.isCompleted(this.id);
  }
  wait(): void {
    if (this.done) return;
    this.done = true;
    try {
      native.distributed.wait(this.id);
    } catch (err) {
      throw failure(this.what, err);
    }
    this.after?.();
  }
}

function start(what: string, run: () => number, after?: () => void): Work {
  group();
  try {
    return new Work(run(), what, after);
  } catch (err) {
    throw new DistributedError(`${what} could not start: ${(err as Error).message}`);
  }
}

export type ReduceOp = 'sum' | 'avg' | 'min' | 'max' | 'product';

/** Reduces `tensors` in place across ranks. 'avg' is a sum divided by the world size (Gloo has no average). */
export function allReduce(tensors: Tensor | Tensor[], op: ReduceOp = 'sum', o: { async?: boolean } = {}): Work {
  const list = Array.isArray(tensors) ? tensors : [tensors];
  const size = group().worldSize;
  const w = start(
    `allReduce(${op})`,
    () =>
      native.distributed.allreduce(
        list.map((t) => t.h),
        op === 'avg' ? 'sum' : op,
      ),
    op === 'avg' ? () => list.forEach((t) => t.div_(size)) : undefined,
  );
  if (!o.async) w.wait();
  return w;
}

/** Copies rank `root`'s `tensors` into every rank's, in place. */
export function broadcast(tensors: Tensor | Tensor[], root = 0, o: { async?: boolean } = {}): Work {
  const list = Array.isArray(tensors) ? tensors : [tensors];
  const w = start(`broadcast(from ${root})`, () =>
    native.distributed.broadcast(
      list.map((t) => t.h),
      root,
    ),
  );
  if (!o.async) w.wait();
  return w;
}

/** Every rank's `input`, in rank order (new tensors the caller frees). */
export function allGather(input: Tensor): Tensor[] {
  const outputs = Array.from({ length: group().worldSize }, () => zeros(input.shape, { dtype: input.dtype }));
  start('allGather', () =>
    native.distributed.allgather(
      outputs.map((t) => t.h),
      input.contiguous().h,
    ),
  ).wait();
  return outputs;
}

/** Runs a collective that autograd differentiates, naming it in the error a failure raises. */
function differentiable<T>(what: string, run: () => T): T {
  group();
  try {
    return run();
  } catch (err) {
    if (err instanceof TypeError) throw err;
    throw failure(what, err);
  }
}

/**
 * Every rank's `input` concatenated along dim 0 in rank order, differentiably: backward sums
 * the gradient of the whole result over the ranks and keeps this rank's rows. A loss computed
 * on the gathered batch on every rank then trains each rank's rows with every rank's terms
 * (global negatives), and the data-parallel average of the gradients gives exactly the
 * gradient of the loss over the global batch. Every rank must pass the same number of rows.
 */
export function allGatherWithGrad(input: Tensor): Tensor {
  return differentiable('allGatherWithGrad', () => new Tensor(native.distributed.allgatherWithGrad(input.h)));
}

/**
 * A BatchNorm training step over every rank's batch (what `nn.BatchNorm*` does when `sync` is
 * set): the normalized input, and the global batch mean and unbiased variance (for running
 * statistics). One all-reduce forward, one in backward; `shift`, a per-channel value every
 * rank shares (the running mean), keeps the combination of the ranks' statistics exact.
 */
export function syncBatchNorm(
  input: Tensor,
  weight: Tensor,
  bias: Tensor,
  shift: Tensor,
  eps: number,
): { output: Tensor; mean: Tensor; variance: Tensor } {
  return differentiable('syncBatchNorm', () => {
    const [y, mean, variance] = native.distributed.syncBatchNorm(input.h, weight.h, bias.h, shift.h, eps);
    return { output: new Tensor(y), mean: new Tensor(mean), variance: new Tensor(variance) };
  });
}

/**
 * Averages gradients across ranks while backward is still running, as DistributedDataParallel
 * does: parameters are bucketed in reverse order (the first bucket small, so communication
 * starts early; then `bucketBytes`, default 25 MB as in PyTorch), and each bucket's all-reduce
 * starts the moment backward has produced its last gradient.
 *
 *   reducer.prepare(); loss.backward(); reducer.finish();   // grads now averaged
 *
 * `finish` returns the milliseconds it still had to wait for communication after backward
 * (what overlap did not hide). One backward per step: accumulating several is not supported.
 */
export class GradientReducer {
  private id: number | null;
  /** What the last `finish` waited, in ms. */
  lastWaitMs = 0;
  constructor(params: readonly Tensor[], o: { bucketBytes?: number; firstBucketBytes?: number } = {}) {
    group();
    const limit = o.bucketBytes ?? 25 * 1024 * 1024;
    this.id = native.distributed.reducerCreate(
      params.map((p) => p.h),
      Math.min(o.firstBucketBytes ?? 1024 * 1024, limit),
      limit,
    );
  }
  private handle(): number {
    if (this.id === null) throw new DistributedError('the gradient reducer was destroyed');
    return this.id;
  }
  /** Bytes of each bucket, in the order their all-reduces start. */
  get bucketBytes(): number[] {
    return native.distributed.reducerInfo(this.handle());
  }
  prepare(): void {
    native.distributed.reducerPrepare(this.handle());
  }
  finish(): number {
    group();
    try {
      this.lastWaitMs = native.distributed.reducerFinish(this.handle());
      return this.lastWaitMs;
    } catch (err) {
      throw failure('the gradient all-reduce', err);
    }
  }
  /** Removes the hooks from the parameters. */
  destroy(): void {
    if (this.id !== null) native.distributed.reducerDestroy(this.id);
    this.id = null;
  }
}

/** Returns when every rank has called it (or throws at the timeout). */
export function barrier(): void {
  start('barrier', () => native.distributed.barrier()).wait();
}

/** Small values through the store (e.g. a run id chosen by rank 0); get waits for the key until the timeout. */
export const store = {
  set: (key: string, value: string): void => (group(), native.distributed.storeSet(key, value)),
  get: (key: string): string => {
    group();
    try {
      return native.distributed.storeGet(key);
    } catch (err) {
      throw new DistributedError(`store key '${key}': ${(err as Error).message}`);
    }
  },
};

/** Leaves the process group. */
export function destroy(): void {
  native.distributed.destroy();
  state = null;
}

/** Rank `root`'s parameters and buffers copied into every rank's (the start of data-parallel training). */
export function broadcastModule(m: { parameters(): Tensor[]; buffers(): Tensor[] }, root = 0): void {
  // Gloo broadcasts one tensor per call on CPU: one call per tensor, all in flight together.
  const works = [...m.parameters(), ...m.buffers()].map((t) => broadcast(t, root, { async: true }));
  for (const w of works) w.wait();
}

/**
 * Averages the gradients of `params` across ranks: gradients are flattened into buckets of at
 * most `bucketBytes` (default 25 MB, PyTorch DDP's), every bucket's all-reduce is started
 * before the first is awaited, and the averages are copied back. Parameters without a
 * gradient are skipped on every rank alike (the same model on every rank has the same ones).
 */
export function allReduceGradients(params: readonly Tensor[], o: { bucketBytes?: number } = {}): void {
  const size = group().worldSize;
  if (size === 1) return;
  const limit = o.bucketBytes ?? 25 * 1024 * 1024;
  const withGrad = params.filter((p) => p.grad !== null);
  const buckets: Tensor[][] = [];
  let bytes = Infinity;
  for (const p of withGrad) {
    const b = p.numel() * 4;
    if (bytes + b > limit) {
      buckets.push([]);
      bytes = 0;
    }
    buckets.at(-1)!.push(p);
    bytes += b;
  }
  const flats = buckets.map((ps) => cat(ps.map((p) => p.grad!.flatten())));
  const works = flats.map((f) => allReduce(f, 'sum', { async: true }));
  buckets.forEach((ps, i) => {
    works[i]!.wait();
    const flat = flats[i]!.div(size);
    let at = 0;
    for (const p of ps) {
      const n = p.numel();
      const part = flat.narrow(0, at, n).view(p.shape);
      p.grad!.copy_(part);
      part.dispose();
      at += n;
    }
    flat.dispose();
    flats[i]!.dispose();
  });
}

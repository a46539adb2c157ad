// Data-parallel communication on PyTorch's own distributed engine (c10d) with the Gloo
// backend: a process group over a TCPStore (rank 0 hosts it) or a FileStore, configured the
// way torchrun configures PyTorch (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), and
// the collectives data-parallel training needs. Every collective has the group's timeout: a
// rank that dies or hangs makes the others fail with an error naming the group, never hang.
import { native } from './native.js';
import type { Tensor } from './tensor.js';
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
      const g = group();
      throw new DistributedError(
        `${this.what} failed on rank ${g.rank} of ${g.worldSize} (timeout ${g.timeoutSeconds} s; a peer may have died or hung): ${(err as Error).message}`,
      );
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

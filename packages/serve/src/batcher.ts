// Dynamic micro-batching: one forward pass at a time over up to `maxBatch` items. When the
// model is idle a pass starts at once (or after `maxWaitMs`, to let a fuller batch gather);
// items that arrive while a pass runs form the next one, so batches grow with the load and
// a lone request never waits for company. The queue is bounded in items;
// a request that would overflow it is refused at once (the service answers 503 with
// Retry-After) instead of waiting without bound. With batching off, each request's items
// run on their own, in arrival order.
import type { Item } from './model.js';

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Items waiting at most. */
  maxQueue: number;
  batching: boolean;
  /** Called with each forward pass's size. */
  onBatch?: (size: number, seconds: number) => void;
}

interface Pending {
  items: Item[];
  next: number;
  out: Float32Array[];
  done: number;
  resolve: (e: Float32Array[]) => void;
  reject: (err: Error) => void;
}

export class MicroBatcher {
  private readonly queue: Pending[] = [];
  private queued = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];

  constructor(
    private readonly run: (items: Item[]) => Promise<Float32Array[]>,
    readonly o: BatcherOptions,
  ) {
    if (!(o.maxBatch >= 1 && o.maxQueue >= o.maxBatch))
      throw new RangeError(`maxBatch ${o.maxBatch} must be at least 1 and at most maxQueue ${o.maxQueue}`);
  }

  /** Items waiting for a forward pass. */
  get depth(): number {
    return this.queued;
  }

  /** Embeddings of `items`, in order; QueueFullError when the queue cannot take them. */
  submit(items: Item[]): Promise<Float32Array[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (this.queued + items.length > this.o.maxQueue)
      return Promise.reject(
        new QueueFullError(`the queue holds ${this.queued} of ${this.o.maxQueue} items; ${items.length} more do not fit`),
      );
    return new Promise((resolve, reject) => {
      this.queue.push({ items, next: 0, out: new Array<Float32Array>(items.length), done: 0, resolve, reject });
      this.queued += items.length;
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or running (graceful shutdown). */
  drained(): Promise<void> {
    if (!this.running && this.queued === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (!this.o.batching || this.queued >= this.o.maxBatch || this.o.maxWaitMs <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.pass();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.pass();
      }, this.o.maxWaitMs);
    }
  }

  /** One forward pass over the items at the head of the queue. */
  private async pass(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const taken: { p: Pending; from: number; count: number }[] = [];
    let size = 0;
    for (const p of this.queue) {
      const count = Math.min(p.items.length - p.next, this.o.maxBatch - size);
      if (count <= 0) break;
      taken.push({ p, from: p.next, count });
      p.next += count;
      size += count;
      // Without batching a pass never mixes requests.
      if (!this.o.batching || size >= this.o.maxBatch) break;
    }
    this.queued -= size;
    while (this.queue.length && this.queue[0]!.next === this.queue[0]!.items.length) this.queue.shift();
    const batch = taken.flatMap((t) => t.p.items.slice(t.from, t.from + t.count));
    const start = performance.now();
    try {
      const out = await this.run(batch);
      this.o.onBatch?.(batch.length, (performance.now() - start) / 1000);
      let k = 0;
      for (const t of taken) {
        for (let i = 0; i < t.count; i++) t.p.out[t.from + i] = out[k++]!;
        t.p.done += t.count;
        if (t.p.done === t.p.items.length) t.p.resolve(t.p.out);
      }
    } catch (err) {
      for (const t of taken) t.p.reject(err as Error);
      // A failed request's other items must not run: drop them from the queue.
      for (const t of taken) {
        const at = this.queue.indexOf(t.p);
        if (at >= 0) {
          this.queued -= t.p.items.length - t.p.next;
          this.queue.splice(at, 1);
        }
      }
    } finally {
      this.running = false;
      if (this.queued === 0) for (const r of this.idle.splice(0)) r();
      this.schedule();
    }
  }
}

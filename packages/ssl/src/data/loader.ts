// Batches for training: the epoch's order comes from a seeded permutation (so the same seed
// gives the same batches, and a resumed run replays its epoch), and the next `prefetch`
// batches are requested before the current one is handed out, so a source that works in
// the background (files decoded on libuv's thread pool) does so while the step computes.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { decodeImage, type DecodeOptions } from '@pretext/data';

export interface BatchSource {
  readonly length: number;
  /** Images for int64 `indices` [B]: uint8 or float [B, (C,) H, W]. The caller frees it. */
  fetch(indices: Tensor): Promise<Tensor>;
}

/** A source already in memory. */
export class TensorSource implements BatchSource {
  constructor(readonly images: Tensor) {}
  get length(): number {
    return this.images.size(0);
  }
  fetch(indices: Tensor): Promise<Tensor> {
    return Promise.resolve(torch.keep(this.images.indexSelect(0, indices)));
  }
}

/** Image files decoded per batch: for folders too large to hold decoded in memory. */
export class FileSource implements BatchSource {
  constructor(
    readonly files: readonly string[],
    readonly decode: DecodeOptions,
  ) {}
  get length(): number {
    return this.files.length;
  }
  async fetch(indices: Tensor): Promise<Tensor> {
    const idx = Array.from(indices.data() as BigInt64Array, Number);
    const { size, channels } = this.decode;
    const per = size * size * channels;
    const hwc = new Uint8Array(idx.length * per);
    await Promise.all(idx.map(async (i, k) => hwc.set(await decodeImage(this.files[i]!, this.decode), k * per)));
    return torch.keep(
      torch.tidy(() =>
        torch
          .tensor(hwc, { shape: [idx.length, size, size, channels], dtype: 'uint8' })
          .permute(0, 3, 1, 2)
          .contiguous(),
      ),
    );
  }
}

export interface LoaderOptions {
  batchSize: number;
  /** Batches requested ahead of the one being used (default 2; 0 turns prefetch off). */
  prefetch?: number;
}

export class BatchLoader {
  readonly batchSize: number;
  readonly prefetch: number;

  constructor(
    readonly source: BatchSource,
    o: LoaderOptions,
  ) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new RangeError(`batch size must be a positive integer, got ${o.batchSize}`);
    this.batchSize = o.batchSize;
    this.prefetch = o.prefetch ?? 2;
  }

  /** Full batches per epoch (the remainder is dropped, as contrastive methods need full batches). */
  get batchesPerEpoch(): number {
    return Math.floor(this.source.length / this.batchSize);
  }

  /** A fresh epoch order drawn from `generator`: int64 [N] (kept: the caller frees it). */
  permutation(generator: torch.Generator): Tensor {
    return torch.keep(torch.randperm(this.source.length, { generator }));
  }

  /**
   * The batches of the epoch given by `order`, from batch `start`. Each yielded tensor
   * belongs to the caller. Leaving the loop early frees the batches fetched ahead.
   */
  async *epoch(order: Tensor, start = 0): AsyncGenerator<Tensor> {
    // A data-parallel rank's order is its shard of the permutation: as many batches as it fills.
    const end = Math.min(this.batchesPerEpoch, Math.floor(order.size(0) / this.batchSize));
    const pending: Promise<Tensor>[] = [];
    let requested = start;
    const request = (): void => {
      const b = requested++;
      const idx = torch.tidy(() => order.narrow(0, b * this.batchSize, this.batchSize).contiguous());
      pending.push(this.source.fetch(idx).finally(() => idx.dispose()));
    };
    try {
      for (let b = start; b < end; b++) {
        while (requested < end && requested <= b + this.prefetch) request();
        yield await pending.shift()!;
      }
    } finally {
      for (const p of pending.splice(0)) {
        try {
          (await p).dispose();
        } catch {
          // The batch failed to load and nobody will use it.
        }
      }
    }
  }
}

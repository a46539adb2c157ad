// Pieces the momentum methods share: an exponential moving average of a network (BYOL's
// target, MoCo's key encoder) and a FIFO queue of embeddings (MoCo's negatives).
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/** A frozen copy of `online` (same architecture from `make`), initialized to its weights. */
export function momentumCopy<M extends torch.nn.Module>(online: M, make: () => M): M {
  const target = make();
  target.loadStateDict(online.stateDict());
  for (const p of target.parameters()) p.requiresGrad = false;
  return target;
}

/** target = tau * target + (1 - tau) * online, on every parameter; buffers are copied. */
export function emaUpdate(target: torch.nn.Module, online: torch.nn.Module, tau: number): void {
  torch.tidy(() =>
    torch.noGrad(() => {
      const t = target.parameters();
      const o = online.parameters();
      for (let i = 0; i < t.length; i++) t[i]!.lerp_(o[i]!, 1 - tau);
      const tb = target.buffers();
      const ob = online.buffers();
      for (let i = 0; i < tb.length; i++) tb[i]!.copy_(ob[i]!);
    }),
  );
}

/** BYOL's schedule: tau rises from `base` to 1 along a cosine over training. */
export function cosineMomentum(base: number, progress: number): number {
  return 1 - (1 - base) * ((Math.cos(Math.PI * Math.min(1, progress)) + 1) / 2);
}

/** A ring buffer of `size` normalized embeddings of dimension `dim`. */
export class MemoryQueue {
  readonly keys: Tensor;
  private ptr = 0;

  constructor(
    readonly size: number,
    dim: number,
  ) {
    this.keys = torch.keep(torch.tidy(() => torch.nn.functional.normalize(torch.randn([size, dim]))));
  }

  /** Adds a batch [B, dim], overwriting the oldest entries. */
  enqueue(batch: Tensor): void {
    torch.tidy(() =>
      torch.noGrad(() => {
        const b = batch.size(0);
        const first = Math.min(b, this.size - this.ptr);
        this.keys.narrow(0, this.ptr, first).copy_(batch.narrow(0, 0, first));
        if (first < b) this.keys.narrow(0, 0, b - first).copy_(batch.narrow(0, first, b - first));
        this.ptr = (this.ptr + b) % this.size;
      }),
    );
  }

  get position(): number {
    return this.ptr;
  }
  set position(p: number) {
    this.ptr = p % this.size;
  }
}

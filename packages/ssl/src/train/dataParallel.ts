// Joining and leaving a data-parallel run. Once joined, the trainer shards every epoch across
// the ranks and averages gradients (train/trainer.ts); nothing else changes for a method.
import * as torch from '@pretext/torch';

/** Joins from torchrun's environment variables; collectives time out after `timeoutSeconds` (default 30 min, PyTorch's). */
export function joinDataParallel(o: { timeoutSeconds?: number } = {}): { rank: number; worldSize: number; localRank: number } {
  return torch.distributed.init({ timeoutSeconds: o.timeoutSeconds ?? 1800 });
}

export function leaveDataParallel(): void {
  torch.distributed.destroy();
}

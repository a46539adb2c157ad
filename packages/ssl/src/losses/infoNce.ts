// InfoNCE with a queue of negatives (MoCo, He et al., 2020): the query must pick its key
// among the key and the queued keys of earlier batches.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/** q, k [B, D] normalized; queue [K, D] normalized. */
export function infoNce(q: Tensor, k: Tensor, queue: Tensor, temperature = 0.2): { loss: Tensor; accuracy: number } {
  const pos = q.mul(k).sum(1, true);
  const neg = q.matmul(queue.t());
  const logits = torch.cat([pos, neg], 1).div(temperature);
  const targets = torch.zeros([q.size(0)], { dtype: 'int64' });
  const accuracy = torch.noGrad(() => logits.argmax(1).eq(targets).float().mean().item());
  return { loss: torch.nn.functional.crossEntropy(logits, targets), accuracy };
}

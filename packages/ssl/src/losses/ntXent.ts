// NT-Xent (Chen et al., 2020): each view must pick its partner among the 2B-1 other views
// of the batch, by cosine similarity over a temperature.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/**
 * z1, z2 [B, D] -> scalar loss; also the fraction of views whose partner ranked first.
 * `decoupled` leaves the positive out of the denominator (DCL, Yeh et al., 2022), which
 * removes the coupling that makes NT-Xent weak at small batch sizes.
 */
export function ntXent(z1: Tensor, z2: Tensor, temperature = 0.2, decoupled = false): { loss: Tensor; accuracy: number } {
  const b = z1.size(0);
  const z = torch.nn.functional.normalize(torch.cat([z1, z2]));
  const self = torch.eye(2 * b, 2 * b, { dtype: 'bool' });
  const logits = z.matmul(z.t()).div(temperature).maskedFill(self, -Infinity);
  const idx = torch.arange(b);
  const targets = torch.cat([idx.add(b), idx]);
  const accuracy = torch.noGrad(() => logits.argmax(1).eq(targets).float().mean().item());
  if (!decoupled) return { loss: torch.nn.functional.crossEntropy(logits, targets), accuracy };
  const positive = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
  const partner = torch.zeros([2 * b, 2 * b], { dtype: 'bool' }).scatter(1, targets.unsqueeze(1), 1);
  const negatives = logits.maskedFill(partner, -Infinity).logsumexp(1);
  return { loss: negatives.sub(positive).mean(), accuracy };
}

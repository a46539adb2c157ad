// NT-Xent (Chen et al., 2020): each view must pick its partner among the 2B-1 other views
// of the batch, by cosine similarity over a temperature.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/** Cosine similarities of every view with every other over a temperature, self-pairs at -inf. */
function viewLogits(zs: Tensor[], temperature: number): { logits: Tensor; self: Tensor } {
  const z = torch.nn.functional.normalize(torch.cat(zs));
  const n = z.size(0);
  const self = torch.eye(n, n, { dtype: 'bool' });
  return { logits: z.matmul(z.t()).div(temperature).maskedFill(self, -Infinity), self };
}

/**
 * z1, z2 [B, D] -> scalar loss; also the fraction of views whose partner ranked first.
 * `decoupled` leaves the positive out of the denominator (DCL, Yeh et al., 2022), which
 * removes the coupling that makes NT-Xent weak at small batch sizes.
 */
export function ntXent(z1: Tensor, z2: Tensor, temperature = 0.2, decoupled = false): { loss: Tensor; accuracy: number } {
  const b = z1.size(0);
  const { logits } = viewLogits([z1, z2], temperature);
  const idx = torch.arange(b);
  const targets = torch.cat([idx.add(b), idx]);
  const accuracy = torch.noGrad(() => logits.argmax(1).eq(targets).float().mean().item());
  if (!decoupled) return { loss: torch.nn.functional.crossEntropy(logits, targets), accuracy };
  const positive = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
  const partner = torch.zeros([2 * b, 2 * b], { dtype: 'bool' }).scatter(1, targets.unsqueeze(1), 1);
  const negatives = logits.maskedFill(partner, -Infinity).logsumexp(1);
  return { loss: negatives.sub(positive).mean(), accuracy };
}

/**
 * NT-Xent over V >= 2 views of each image ([B, D] each): every view must find the other
 * V - 1 views of its image among the V*B - 1 others; the loss averages the log-probability
 * of each positive (the multi-positive form of Khosla et al., 2020, with one class per
 * image). With two views it equals `ntXent`.
 */
export function ntXentViews(zs: Tensor[], temperature = 0.2): { loss: Tensor; accuracy: number } {
  const v = zs.length;
  if (v < 2) throw new RangeError(`NT-Xent needs at least 2 views, got ${v}`);
  const b = zs[0]!.size(0);
  const { logits, self } = viewLogits(zs, temperature);
  const image = torch.arange(b).repeat(v);
  const positive = image.unsqueeze(1).eq(image.unsqueeze(0)).maskedFill(self, 0);
  const logp = logits.logSoftmax(1).maskedFill(self, 0);
  const loss = logp
    .mul(positive.float())
    .sum(1)
    .div(-(v - 1))
    .mean();
  const accuracy = torch.noGrad(() => positive.gather(1, logits.argmax(1).unsqueeze(1)).float().mean().item());
  return { loss, accuracy };
}

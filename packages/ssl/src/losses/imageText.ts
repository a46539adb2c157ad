// Pair losses for image-text models. Both read L2-normalized embeddings of B images and their
// B captions: pair i is the only positive of image i and of caption i.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/** CLIP's largest logit scale (Radford et al., 2021): exp(logScale) is clamped to 100. */
export const MAX_LOGIT_SCALE = 100;

/**
 * CLIP's symmetric InfoNCE (Radford et al., 2021): cross-entropy of each image over the batch's
 * captions and of each caption over the images, averaged. `logScale` is the learnable log of
 * the inverse temperature (log(1 / 0.07) at the start). Returns the loss and the fraction of
 * images whose own caption ranked first.
 */
export function clipLoss(image: Tensor, text: Tensor, logScale: Tensor): { loss: Tensor; accuracy: number } {
  const logits = image.matmul(text.t()).mul(logScale.exp().clampMax(MAX_LOGIT_SCALE));
  const targets = torch.arange(image.size(0));
  const ce = torch.nn.functional.crossEntropy;
  const loss = ce(logits, targets).add(ce(logits.t(), targets)).div(2);
  const accuracy = torch.noGrad(() => logits.argmax(1).eq(targets).float().mean().item());
  return { loss, accuracy };
}

/**
 * SigLIP's pairwise sigmoid loss (Zhai et al., 2023): every (image, caption) pair of the batch
 * is a binary question, positive on the diagonal; logits are exp(logScale) * cosine + bias
 * (log 10 and -10 at the start, so the many negatives do not swamp the first steps). The loss
 * is the summed negative log-sigmoid over pairs divided by the batch size.
 */
export function siglipLoss(image: Tensor, text: Tensor, logScale: Tensor, bias: Tensor): { loss: Tensor; accuracy: number } {
  const b = image.size(0);
  const logits = image.matmul(text.t()).mul(logScale.exp()).add(bias);
  // +1 on the diagonal, -1 elsewhere; -log sigmoid(z) = softplus(-z).
  const signs = torch.eye(b, b).mul(2).sub(1);
  const loss = torch.nn.functional.softplus(logits.mul(signs).neg()).sum().div(b);
  const accuracy = torch.noGrad(() => logits.argmax(1).eq(torch.arange(b)).float().mean().item());
  return { loss, accuracy };
}

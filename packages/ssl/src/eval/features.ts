// Frozen features of a data set, in eval mode and without gradients.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';

export interface InputNorm {
  mean: number;
  std: number;
}

/** uint8 images [N, H, W] or [N, C, H, W] -> float [N, C, H, W] in [0, 1]. */
export function toFloatImages(images: Tensor): Tensor {
  const x = images.dtype === 'uint8' ? images.float().div(255) : images.float();
  return x.ndim === 3 ? x.unsqueeze(1) : x;
}

/** Encodes `images` in batches; returns float [N, encoder.outDim] (kept: the caller frees it). */
export function extractFeatures(encoder: Encoder, images: Tensor, norm: InputNorm, batchSize = 1000): Tensor {
  const wasTraining = encoder.training;
  encoder.eval();
  try {
    const n = images.size(0);
    const parts: Tensor[] = [];
    torch.noGrad(() => {
      for (let i = 0; i < n; i += batchSize) {
        parts.push(
          torch.keep(
            torch.tidy(() =>
              encoder.forward(
                toFloatImages(images.narrow(0, i, Math.min(batchSize, n - i)))
                  .sub(norm.mean)
                  .div(norm.std),
              ),
            ),
          ),
        );
      }
    });
    const all = torch.tidy(() => torch.cat(parts));
    for (const p of parts) p.dispose();
    return torch.keep(all);
  } finally {
    encoder.train(wasTraining);
  }
}

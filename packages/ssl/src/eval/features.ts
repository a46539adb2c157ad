// Frozen features of a data set, in eval mode and without gradients.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';

/** Inputs are float images in [0, 1], then (x - mean) / std, per channel when arrays. */
export interface InputNorm {
  mean: number | number[];
  std: number | number[];
}

/** (x - mean) / std over [B, C, H, W], with scalar or per-channel statistics. */
export function normalizeInput(x: Tensor, norm: InputNorm): Tensor {
  const stat = (v: number | number[]): number | Tensor =>
    typeof v === 'number' ? v : torch.tensor(v, { dtype: x.dtype }).reshape([1, v.length, 1, 1]);
  return x.sub(stat(norm.mean)).div(stat(norm.std));
}

/** Per-channel mean and std of uint8 or float images in [0, 1] (scalar for one channel). */
export function imageStats(images: Tensor): InputNorm {
  return torch.tidy(() => {
    const x = toFloatImages(images).transpose(0, 1).flatten(1).double();
    const mean = Array.from(x.mean(1).data() as Float64Array);
    const std = Array.from(x.std(1).data() as Float64Array, (s) => Math.max(s, 1e-6));
    return mean.length === 1 ? { mean: mean[0]!, std: std[0]! } : { mean, std };
  });
}

/**
 * uint8 images [N, H, W] or [N, C, H, W] -> float [N, C, H, W] in [0, 1]. Float inputs keep
 * their shape (images are [N, C, H, W] by then; histories [N, L, C] must stay three-dimensional).
 */
export function toFloatImages(images: Tensor): Tensor {
  if (images.dtype !== 'uint8') return images.float();
  const x = images.float().div(255);
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
            torch.tidy(() => encoder.forward(normalizeInput(toFloatImages(images.narrow(0, i, Math.min(batchSize, n - i))), norm))),
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

/**
 * Features of one batch handed over as flat values and a shape (what a service collects from
 * its requests): float inputs are normalized as in training, token ids go in as they are.
 * Returns [N * outDim] row-major.
 */
export function encodeBatch(encoder: Encoder, norm: InputNorm, data: Float32Array | BigInt64Array, dims: number[]): Float32Array {
  return torch.tidy(() =>
    torch.noGrad(() => {
      const x = torch.tensor(data).reshape(dims);
      const input = data instanceof BigInt64Array ? x : normalizeInput(x, norm);
      return (encoder.forward(input).contiguous().data() as Float32Array).slice();
    }),
  );
}

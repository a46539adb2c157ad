// Masked image modeling on a CNN, after SimMIM (Xie et al., 2022): a random share of square
// patches of each image is replaced by a learned mask value, and a linear head predicts the
// pixels of the masked patches from the encoder's features, scored by the L1 distance on those
// pixels only. SimMIM's findings carry over: a large patch (32 px on 224 px images; here 4 to 7
// px on 28 px), a moderate mask ratio (0.6) and a light (linear) prediction head.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { SmallCnn } from '../encoders/smallCnn.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, parseConfig } from './options.js';

export const simmimConfig = z.strictObject({
  /** Side of a masked patch in pixels (it must divide the image side; default 4). */
  patch: z.number().int().min(1).optional(),
  /** Share of the patches masked in each image (default 0.6). */
  maskRatio: z.number().gt(0).lt(1).optional(),
  /** [C, H, W] of the images, for encoders that do not say (small-cnn does). */
  inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]).optional(),
});
export type SimMimConfig = z.input<typeof simmimConfig>;

/** A mask [B, 1, H, W] of 0/1 with `ratio` of each image's p x p patches set (at least one, at most all but one). */
export function patchMask(batch: number, side: number, patch: number, ratio: number): Tensor {
  const g = side / patch;
  const count = Math.min(g * g - 1, Math.max(1, Math.round(ratio * g * g)));
  return torch.tidy(() => {
    // The `count` smallest of each row's uniform draws: a uniformly random set of patches.
    const noise = torch.rand([batch, g * g]);
    const kth = noise.sort(1).values.narrow(1, count - 1, 1);
    const m = noise.le(kth).float().view(batch, g, 1, g, 1);
    return m.expand(batch, g, patch, g, patch).reshape(batch, 1, side, side);
  });
}

export class SimMim extends SSLMethod {
  readonly name = 'simmim';
  override readonly numViews = 1;
  readonly config: SimMimConfig;
  readonly inputShape: [number, number, number];
  /** The value a masked pixel is replaced by, per channel (learned). */
  readonly maskToken: Tensor;
  readonly decoder: nn.Linear;
  constructor(makeBackbone: () => Encoder, options: SimMimConfig = {}) {
    const config = parseConfig('simmim', simmimConfig, options);
    super(makeBackbone);
    this.config = config;
    const b = this.backbone;
    const shape =
      config.inputShape ?? (b instanceof SmallCnn ? [b.config.inChannels ?? 1, b.config.inputSize ?? 28, b.config.inputSize ?? 28] : null);
    if (!shape) throw new RangeError(`simmim: give method.config.inputShape [C, H, W] for this encoder (it does not say its input size)`);
    const [c, h, w] = shape as [number, number, number];
    const patch = config.patch ?? 4;
    if (h !== w || h % patch !== 0) throw new RangeError(`simmim: patch ${patch} must divide the square ${h}x${w} images`);
    this.inputShape = [c, h, w];
    this.maskToken = this.registerParameter('mask_token', torch.zeros([1, c, 1, 1]));
    this.decoder = this.registerModule('decoder', new nn.Linear(b.outDim, c * h * w));
  }

  step([x]: Tensor[]): StepResult {
    const [c, h, w] = this.inputShape;
    const b = x!.size(0);
    const mask = patchMask(b, h, this.config.patch ?? 4, this.config.maskRatio ?? 0.6);
    const input = x!.mul(mask.neg().add(1)).add(this.maskToken.mul(mask));
    const features = this.backbone.forward(input);
    const predicted = this.decoder.forward(features).view(b, c, h, w);
    // L1 on the masked pixels only, per masked pixel and channel.
    const masked = mask.expand(b, c, h, w);
    const loss = predicted.sub(x!).abs().mul(masked).sum().div(masked.sum().clampMin(1));
    return { loss, logs: { masked: torch.noGrad(() => mask.mean().item()) }, embedding: features };
  }
}

export const simmim = defineMethod('simmim', simmimConfig, (b, c) => new SimMim(b, c));

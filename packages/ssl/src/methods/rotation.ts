// Rotation prediction (Gidaris et al., 2018), the classic pretext task: each image is shown
// at 0, 90, 180 and 270 degrees and the network names the rotation.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import type { Encoder } from '../encoders/encoder.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig } from './options.js';

/** [B, C, H, W] (square) -> [4B, C, H, W]: the batch turned 0, 1, 2 and 3 quarter turns clockwise, in that order. */
export function allRotations(x: Tensor): Tensor {
  return torch.cat([x, x.transpose(2, 3).flip(3), x.flip([2, 3]), x.transpose(2, 3).flip(2)]);
}

/**
 * One rotation per image, image i turned by (i mod 4) quarter turns: the loader already
 * shuffles the batch, so this is a seeded random assignment that needs no generator.
 * Returns the rotated batch [B, C, H, W] and the labels [B].
 */
export function oneRotationEach(x: Tensor): { images: Tensor; labels: Tensor } {
  const b = x.size(0);
  const i = torch.arange(b);
  const labels = i.remainder(4);
  return { images: allRotations(x).indexSelect(0, labels.mul(b).add(i)), labels };
}

export const rotationConfig = z.strictObject({
  hiddenDim: dim,
  /** The classifier head's normalization (default batch; layer for DP-SGD, with a group-norm encoder). */
  headNorm: z.enum(['batch', 'layer']).optional(),
});
export type RotationConfig = z.input<typeof rotationConfig>;

export class Rotation extends SSLMethod {
  readonly name = 'rotation';
  override readonly numViews = 1;
  override readonly perExampleLoss = true;
  readonly classifier: torch.nn.Sequential;
  constructor(makeBackbone: () => Encoder, options: RotationConfig = {}) {
    const config = parseConfig('rotation', rotationConfig, options);
    super(makeBackbone);
    this.classifier = this.registerModule(
      'classifier',
      mlpHead({ inDim: this.backbone.outDim, hiddenDim: config.hiddenDim ?? 256, outDim: 4, norm: config.headNorm }),
    );
  }
  step([x]: Tensor[]): StepResult {
    const b = x!.size(0);
    const rotated = allRotations(x!);
    const labels = torch.arange(4).repeatInterleave(b);
    const features = this.backbone.forward(rotated);
    const logits = this.classifier.forward(features);
    const accuracy = torch.noGrad(() => logits.argmax(1).eq(labels).float().mean().item());
    return {
      loss: torch.nn.functional.crossEntropy(logits, labels),
      logs: { rotation_accuracy: accuracy },
      embedding: features.narrow(0, 0, b),
    };
  }
}

export const rotation = defineMethod('rotation', rotationConfig, (b, c) => new Rotation(b, c));

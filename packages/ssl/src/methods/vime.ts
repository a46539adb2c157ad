// VIME self-supervised (Yoon et al., NeurIPS 2020): cells are masked and swapped with draws
// from their column's marginal; from the encoding of the corrupted row one head estimates
// which cells were swapped and another reconstructs every original cell, with a loss per
// column type. Defaults are the paper's: mask rate 0.3, reconstruction weight 2.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import { ReconstructionHead } from '../heads/reconstruction.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import type { Encoder } from '../encoders/encoder.js';
import { corruptRows } from '../modalities/tabular/views.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig, weight } from './options.js';
import { corruptionRate, layoutOf } from './tabular.js';

export const vimeConfig = z.strictObject({ hiddenDim: dim, corruption: corruptionRate, alpha: weight });
export type VimeConfig = z.input<typeof vimeConfig>;

export class Vime extends SSLMethod {
  readonly name = 'vime';
  override readonly numViews = 1;
  override readonly perExampleLoss = true;
  readonly config: VimeConfig;
  readonly maskHead: nn.Sequential;
  readonly featureHead: ReconstructionHead;
  constructor(makeBackbone: () => Encoder, options: VimeConfig = {}) {
    const config = parseConfig('vime', vimeConfig, options);
    super(makeBackbone);
    this.config = config;
    const layout = layoutOf('vime', this.backbone);
    const width = layout.continuous + layout.cardinalities.length;
    const h = config.hiddenDim ?? 256;
    this.maskHead = this.registerModule(
      'maskHead',
      new nn.Sequential(new nn.Linear(this.backbone.outDim, h), new nn.ReLU(), new nn.Linear(h, width)),
    );
    this.featureHead = this.registerModule('featureHead', new ReconstructionHead(this.backbone.outDim, layout, h));
  }
  step([x]: Tensor[]): StepResult {
    const prior = this.privateViews ? this.featureHead.layout : undefined;
    const { x: corrupted, mask } = corruptRows(x!, this.config.corruption ?? 0.3, undefined, prior);
    const h = this.backbone.forward(corrupted);
    const maskLogits = this.maskHead.forward(h);
    const maskLoss = torch.nn.functional.binaryCrossEntropyWithLogits(maskLogits, mask);
    const rec = reconstructionLoss(this.featureHead.forward(h), x!, this.featureHead.layout);
    const maskAccuracy = torch.noGrad(() => maskLogits.gt(0).float().eq(mask).float().mean().item());
    return {
      loss: maskLoss.add(rec.loss.mul(this.config.alpha ?? 2)),
      logs: { mask_accuracy: maskAccuracy, recon_continuous: rec.continuous, recon_categorical: rec.categorical },
      embedding: h,
    };
  }
}

export const vime = defineMethod('vime', vimeConfig, (b, c) => new Vime(b, c), 'tabular');

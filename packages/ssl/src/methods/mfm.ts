// Masked feature modeling: a share of the cells is replaced by draws from their column's
// marginal and the network predicts the original value of exactly those cells, the
// self-prediction objective Rubachev et al. (2022) found to match or beat contrastive ones
// on tabular data (BERT's masked-token task, for rows).
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import { ReconstructionHead } from '../heads/reconstruction.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import type { Encoder } from '../encoders/encoder.js';
import { corruptRows } from '../modalities/tabular/views.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig } from './options.js';
import { corruptionRate } from './scarf.js';
import { layoutOf } from './tabular.js';

export const mfmConfig = z.strictObject({ hiddenDim: dim, corruption: corruptionRate });
export type MfmConfig = z.input<typeof mfmConfig>;

export class MaskedFeatureModeling extends SSLMethod {
  readonly name = 'mfm';
  override readonly numViews = 1;
  readonly config: MfmConfig;
  readonly head: ReconstructionHead;
  constructor(makeBackbone: () => Encoder, options: MfmConfig = {}) {
    const config = parseConfig('mfm', mfmConfig, options);
    super(makeBackbone);
    this.config = config;
    this.head = this.registerModule(
      'head',
      new ReconstructionHead(this.backbone.outDim, layoutOf('mfm', this.backbone), config.hiddenDim ?? 256),
    );
  }
  step([x]: Tensor[]): StepResult {
    const { x: corrupted, mask } = corruptRows(x!, this.config.corruption ?? 0.3);
    const h = this.backbone.forward(corrupted);
    const rec = reconstructionLoss(this.head.forward(h), x!, this.head.layout, mask);
    return { loss: rec.loss, logs: { recon_continuous: rec.continuous, recon_categorical: rec.categorical }, embedding: h };
  }
}

export const mfm = defineMethod('mfm', mfmConfig, (b, c) => new MaskedFeatureModeling(b, c), 'tabular');

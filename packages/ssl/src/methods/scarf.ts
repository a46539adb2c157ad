// SCARF (Bahri et al., ICLR 2022): a row and a copy with a random subset of its cells
// replaced by draws from each column's marginal are a positive pair; InfoNCE over the batch
// (the image methods' NT-Xent) with a projector, as SimCLR does with crops.
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { ntXent } from '../losses/ntXent.js';
import type { Encoder } from '../encoders/encoder.js';
import { corruptRows } from '../modalities/tabular/views.js';
import { ProjectorMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig, positive } from './options.js';
import { corruptionRate, layoutOf } from './tabular.js';

export const scarfConfig = z.strictObject({
  hiddenDim: dim,
  projDim: dim,
  temperature: positive,
  /** Fraction of cells replaced in the positive view (default 0.6, the paper's). */
  corruption: corruptionRate,
});
export type ScarfConfig = z.input<typeof scarfConfig>;

export class Scarf extends ProjectorMethod {
  readonly name = 'scarf';
  override readonly numViews = 1;
  readonly config: ScarfConfig;
  constructor(makeBackbone: () => Encoder, options: ScarfConfig = {}) {
    const config = parseConfig('scarf', scarfConfig, options);
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.hiddenDim ?? 256, outDim: config.projDim ?? 128 }));
    layoutOf('scarf', this.backbone);
    this.config = config;
  }
  step([x]: Tensor[]): StepResult {
    const corrupted = corruptRows(x!, this.config.corruption ?? 0.6).x;
    const anchor = this.project(x!);
    const { loss, accuracy } = ntXent(globalBatch(anchor), globalBatch(this.project(corrupted)), this.config.temperature ?? 1);
    return { loss, logs: { pair_accuracy: accuracy }, embedding: anchor };
  }
}

export const scarf = defineMethod('scarf', scarfConfig, (b, c) => new Scarf(b, c), 'tabular');

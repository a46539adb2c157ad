// Masked feature modeling: a share of the cells is replaced by draws from their column's
// marginal and the network predicts the original value of exactly those cells, the
// self-prediction objective Rubachev et al. (2022) found to match or beat contrastive ones
// on tabular data (BERT's masked-token task, for rows).
import { z } from 'zod';
import type { Encoder } from '../encoders/encoder.js';
import { defineMethod, dim, parseConfig } from './options.js';
import { CellReconstruction, corruptionRate } from './tabular.js';

export const mfmConfig = z.strictObject({ hiddenDim: dim, corruption: corruptionRate });
export type MfmConfig = z.input<typeof mfmConfig>;

export class MaskedFeatureModeling extends CellReconstruction {
  readonly name = 'mfm';
  constructor(makeBackbone: () => Encoder, options: MfmConfig = {}) {
    const c = parseConfig('mfm', mfmConfig, options);
    super(makeBackbone, 'mfm', c.hiddenDim ?? 256, c.corruption ?? 0.3, true);
  }
}

export const mfm = defineMethod('mfm', mfmConfig, (b, c) => new MaskedFeatureModeling(b, c), 'tabular');

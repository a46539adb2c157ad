// Denoising autoencoder, the plain baseline of tabular pretraining (as in the Porto Seguro
// winning solution): swap noise on a small share of the cells, then the whole clean row is
// reconstructed from the encoding, a loss per column type.
import { z } from 'zod';
import type { Encoder } from '../encoders/encoder.js';
import { defineMethod, dim, parseConfig } from './options.js';
import { CellReconstruction, corruptionRate } from './tabular.js';

export const daeConfig = z.strictObject({ hiddenDim: dim, corruption: corruptionRate });
export type DaeConfig = z.input<typeof daeConfig>;

export class DenoisingAutoencoder extends CellReconstruction {
  readonly name = 'dae';
  constructor(makeBackbone: () => Encoder, options: DaeConfig = {}) {
    const c = parseConfig('dae', daeConfig, options);
    super(makeBackbone, 'dae', c.hiddenDim ?? 256, c.corruption ?? 0.15, false);
  }
}

export const dae = defineMethod('dae', daeConfig, (b, c) => new DenoisingAutoencoder(b, c), 'tabular');

// Denoising autoencoder, the plain baseline of tabular pretraining (as in the Porto Seguro
// winning solution): swap noise on a small share of the cells, then the whole clean row is
// reconstructed from the encoding, a loss per column type.
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

export const daeConfig = z.strictObject({ hiddenDim: dim, corruption: corruptionRate });
export type DaeConfig = z.input<typeof daeConfig>;

export class DenoisingAutoencoder extends SSLMethod {
  readonly name = 'dae';
  override readonly numViews = 1;
  readonly config: DaeConfig;
  readonly decoder: ReconstructionHead;
  constructor(makeBackbone: () => Encoder, options: DaeConfig = {}) {
    const config = parseConfig('dae', daeConfig, options);
    super(makeBackbone);
    this.config = config;
    this.decoder = this.registerModule(
      'decoder',
      new ReconstructionHead(this.backbone.outDim, layoutOf('dae', this.backbone), config.hiddenDim ?? 256),
    );
  }
  step([x]: Tensor[]): StepResult {
    const h = this.backbone.forward(corruptRows(x!, this.config.corruption ?? 0.15).x);
    const rec = reconstructionLoss(this.decoder.forward(h), x!, this.decoder.layout);
    return { loss: rec.loss, logs: { recon_continuous: rec.continuous, recon_categorical: rec.categorical }, embedding: h };
  }
}

export const dae = defineMethod('dae', daeConfig, (b, c) => new DenoisingAutoencoder(b, c), 'tabular');

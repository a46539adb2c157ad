// SimCLR (Chen et al., 2020): a projector and the NT-Xent loss over both views.
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { ntXent } from '../losses/ntXent.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, type StepResult } from './method.js';

export interface SimCLRConfig {
  hiddenDim?: number;
  projDim?: number;
  temperature?: number;
  /** Decoupled contrastive loss: the positive out of the denominator (default false). */
  decoupled?: boolean;
}

export class SimCLR extends ProjectorMethod {
  readonly name = 'simclr';
  constructor(
    makeBackbone: () => Encoder,
    readonly config: SimCLRConfig = {},
  ) {
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.hiddenDim ?? 512, outDim: config.projDim ?? 128 }));
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    const { loss, accuracy } = ntXent(z1, z2, this.config.temperature ?? 0.2, this.config.decoupled ?? false);
    return { loss, logs: { pair_accuracy: accuracy }, embedding: z1 };
  }
}

// Barlow Twins (Zbontar et al., 2021): a wide projector and the cross-correlation loss.
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { barlowTwinsLoss } from '../losses/barlowTwins.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, type StepResult } from './method.js';

export interface BarlowTwinsConfig {
  projDim?: number;
  lambda?: number;
}

export class BarlowTwins extends ProjectorMethod {
  readonly name = 'barlow-twins';
  constructor(
    makeBackbone: () => Encoder,
    readonly config: BarlowTwinsConfig = {},
  ) {
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.projDim ?? 1024, outDim: config.projDim ?? 1024, layers: 3 }));
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    // lambda ~ 1/D keeps the off-diagonal term on the diagonal's scale (the paper's 5e-3 for D = 8192).
    const loss = barlowTwinsLoss(z1, z2, this.config.lambda ?? 1 / z1.size(1));
    return { loss, logs: {}, embedding: z1 };
  }
}

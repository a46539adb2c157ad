// VICReg (Bardes et al., 2022): a wide projector and variance-invariance-covariance terms.
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { vicregLoss, type VicregWeights } from '../losses/vicreg.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, type StepResult } from './method.js';

export interface VICRegConfig extends VicregWeights {
  projDim?: number;
}

export class VICReg extends ProjectorMethod {
  readonly name = 'vicreg';
  constructor(
    makeBackbone: () => Encoder,
    readonly config: VICRegConfig = {},
  ) {
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.projDim ?? 1024, outDim: config.projDim ?? 1024, layers: 3 }));
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    const r = vicregLoss(z1, z2, this.config);
    return { loss: r.loss, logs: { invariance: r.invariance, variance: r.variance, covariance: r.covariance }, embedding: z1 };
  }
}

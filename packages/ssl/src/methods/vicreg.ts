// VICReg (Bardes et al., 2022): a wide projector and variance-invariance-covariance terms.
import type * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { vicregLoss, type VicregWeights } from '../losses/vicreg.js';
import type { Encoder } from '../encoders/encoder.js';
import { SSLMethod, type StepResult } from './method.js';

export interface VICRegConfig extends VicregWeights {
  projDim?: number;
}

export class VICReg extends SSLMethod {
  readonly name = 'vicreg';
  readonly projector: torch.nn.Sequential;
  constructor(
    makeBackbone: () => Encoder,
    readonly config: VICRegConfig = {},
  ) {
    super(makeBackbone);
    const d = config.projDim ?? 1024;
    this.projector = this.registerModule('projector', mlpHead({ inDim: this.backbone.outDim, hiddenDim: d, outDim: d, layers: 3 }));
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.projector.forward(this.backbone.forward(a!));
    const z2 = this.projector.forward(this.backbone.forward(b!));
    const r = vicregLoss(z1, z2, this.config);
    return { loss: r.loss, logs: { invariance: r.invariance, variance: r.variance, covariance: r.covariance }, embedding: z1 };
  }
}

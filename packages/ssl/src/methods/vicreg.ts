// VICReg (Bardes et al., 2022): a wide projector and variance-invariance-covariance terms.
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { vicregLoss } from '../losses/vicreg.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig, weight } from './options.js';

export const vicregConfig = z.strictObject({
  projDim: dim,
  invariance: weight,
  variance: weight,
  covariance: weight,
});
export type VICRegConfig = z.input<typeof vicregConfig>;

export class VICReg extends ProjectorMethod {
  readonly name = 'vicreg';
  readonly config: VICRegConfig;
  constructor(makeBackbone: () => Encoder, options: VICRegConfig = {}) {
    const config = parseConfig('vicreg', vicregConfig, options);
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.projDim ?? 1024, outDim: config.projDim ?? 1024, layers: 3 }));
    this.config = config;
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    const r = vicregLoss(globalBatch(z1), globalBatch(z2), this.config);
    return { loss: r.loss, logs: { invariance: r.invariance, variance: r.variance, covariance: r.covariance }, embedding: z1 };
  }
}

export const vicreg = defineMethod('vicreg', vicregConfig, (b, c) => new VICReg(b, c));

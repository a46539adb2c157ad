// SimSiam (Chen and He, 2021): BYOL without the momentum network; the stop-gradient and the
// predictor alone prevent collapse. `predictor: false` removes it (and it collapses).
import { z } from 'zod';
import type * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { negativeCosine } from '../losses/cosine.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig } from './options.js';

export const simsiamConfig = z.strictObject({
  projDim: dim,
  predictorHiddenDim: dim,
  /** false removes the predictor (the collapse ablation). */
  predictor: z.boolean().optional(),
});
export type SimSiamConfig = z.input<typeof simsiamConfig>;

export class SimSiam extends ProjectorMethod {
  readonly name = 'simsiam';
  readonly config: SimSiamConfig;
  readonly predictor: torch.nn.Sequential | null;
  constructor(makeBackbone: () => Encoder, options: SimSiamConfig = {}) {
    const config = parseConfig('simsiam', simsiamConfig, options);
    const d = config.projDim ?? 512;
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: d, outDim: d, layers: 3, lastBatchNorm: true }));
    this.config = config;
    this.predictor =
      config.predictor === false
        ? null
        : this.registerModule('predictor', mlpHead({ inDim: d, hiddenDim: config.predictorHiddenDim ?? d / 4, outDim: d }));
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    const p1 = this.predictor ? this.predictor.forward(z1) : z1;
    const p2 = this.predictor ? this.predictor.forward(z2) : z2;
    const loss = negativeCosine(p1, z2).add(negativeCosine(p2, z1)).div(2);
    return { loss, logs: {}, embedding: z1 };
  }
}

export const simsiam = defineMethod('simsiam', simsiamConfig, (b, c) => new SimSiam(b, c));

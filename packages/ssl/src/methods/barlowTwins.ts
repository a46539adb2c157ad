// Barlow Twins (Zbontar et al., 2021): a wide projector and the cross-correlation loss.
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { barlowTwinsLoss } from '../losses/barlowTwins.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig, positive } from './options.js';

export const barlowTwinsConfig = z.strictObject({
  projDim: dim,
  /** Weight of the off-diagonal term (default 1 / projection width). */
  lambda: positive,
});
export type BarlowTwinsConfig = z.input<typeof barlowTwinsConfig>;

export class BarlowTwins extends ProjectorMethod {
  readonly name = 'barlow-twins';
  readonly config: BarlowTwinsConfig;
  constructor(makeBackbone: () => Encoder, options: BarlowTwinsConfig = {}) {
    const config = parseConfig('barlow-twins', barlowTwinsConfig, options);
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.projDim ?? 1024, outDim: config.projDim ?? 1024, layers: 3 }));
    this.config = config;
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.project(a!);
    const z2 = this.project(b!);
    // lambda ~ 1/D keeps the off-diagonal term on the diagonal's scale (the paper's 5e-3 for D = 8192).
    const loss = barlowTwinsLoss(globalBatch(z1), globalBatch(z2), this.config.lambda ?? 1 / z1.size(1));
    return { loss, logs: {}, embedding: z1 };
  }
}

export const barlowTwins = defineMethod('barlow-twins', barlowTwinsConfig, (b, c) => new BarlowTwins(b, c));

// SimSiam (Chen and He, 2021): BYOL without the momentum network; the stop-gradient and the
// predictor alone prevent collapse. `predictor: false` removes it (and it collapses).
import type * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { negativeCosine } from '../losses/cosine.js';
import type { Encoder } from '../encoders/encoder.js';
import { ProjectorMethod, type StepResult } from './method.js';

export interface SimSiamConfig {
  projDim?: number;
  predictorHiddenDim?: number;
  predictor?: boolean;
}

export class SimSiam extends ProjectorMethod {
  readonly name = 'simsiam';
  readonly predictor: torch.nn.Sequential | null;
  constructor(
    makeBackbone: () => Encoder,
    readonly config: SimSiamConfig = {},
  ) {
    const d = config.projDim ?? 512;
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: d, outDim: d, layers: 3, lastBatchNorm: true }));
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

// BYOL (Grill et al., 2020): the online network with a predictor regresses the target
// network's projection of the other view; the target is an EMA whose momentum rises to 1.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { byolLoss } from '../losses/cosine.js';
import type { Encoder } from '../encoders/encoder.js';
import { cosineMomentum, emaUpdate, momentumCopy } from './momentum.js';
import { SSLMethod, Tower, type StepResult } from './method.js';
import { defineMethod, dim, momentum, parseConfig } from './options.js';

export const byolConfig = z.strictObject({
  hiddenDim: dim,
  projDim: dim,
  /** Starting EMA momentum; it follows a cosine to 1. */
  momentum,
});
export type BYOLConfig = z.input<typeof byolConfig>;

export class BYOL extends SSLMethod {
  readonly name = 'byol';
  readonly config: BYOLConfig;
  readonly online: Tower;
  readonly predictor: torch.nn.Sequential;
  readonly target: Tower;
  constructor(makeBackbone: () => Encoder, options: BYOLConfig = {}) {
    const config = parseConfig('byol', byolConfig, options);
    super(makeBackbone);
    this.config = config;
    const proj = config.projDim ?? 128;
    const head = (): torch.nn.Sequential => mlpHead({ inDim: this.backbone.outDim, hiddenDim: config.hiddenDim ?? 512, outDim: proj });
    this.online = this.registerModule('online', new Tower(this.backbone, head()));
    this.predictor = this.registerModule('predictor', mlpHead({ inDim: proj, hiddenDim: config.hiddenDim ?? 512, outDim: proj }));
    this.target = this.registerModule(
      'target',
      momentumCopy(this.online, () => new Tower(makeBackbone(), head())),
    );
  }
  step([a, b]: Tensor[]): StepResult {
    const z1 = this.online.forward(a!);
    const z2 = this.online.forward(b!);
    const p1 = this.predictor.forward(z1);
    const p2 = this.predictor.forward(z2);
    const [t1, t2] = torch.noGrad(() => [this.target.forward(a!), this.target.forward(b!)]);
    const loss = byolLoss(p1, t2!).add(byolLoss(p2, t1!)).div(2);
    return { loss, logs: {}, embedding: z1 };
  }
  override keepsLocal(key: string): boolean {
    return key.startsWith('target.');
  }
  override afterStep(progress: number): void {
    emaUpdate(this.target, this.online, cosineMomentum(this.config.momentum ?? 0.99, progress));
  }
}

export const byol = defineMethod('byol', byolConfig, (b, c) => new BYOL(b, c));

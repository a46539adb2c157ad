// Unsupervised SimCSE (Gao et al., 2021): each window is encoded twice, and dropout is the only
// noise; the two encodings of a window are a positive pair and the other windows in the batch
// negatives (InfoNCE at temperature 0.05 on cosine similarity). An MLP on top is used for
// training only. Meant to start from an MLM encoder, whose sentence features it sharpens.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { SSLMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, parseConfig, positive } from './options.js';
import { textBackbone } from './mlm.js';

export const simcseConfig = z.strictObject({ temperature: positive });
export type SimCseConfig = z.input<typeof simcseConfig>;

export class SimCse extends SSLMethod {
  readonly name = 'simcse';
  override readonly numViews = 2;
  readonly mlp: nn.Sequential;
  private readonly temperature: number;
  constructor(makeBackbone: () => Encoder, options: SimCseConfig = {}) {
    super(makeBackbone);
    this.temperature = parseConfig('simcse', simcseConfig, options).temperature ?? 0.05;
    textBackbone('simcse', this.backbone);
    const d = this.backbone.outDim;
    this.mlp = this.registerModule('mlp', new nn.Sequential(new nn.Linear(d, d), new nn.Tanh()));
  }

  step([a, b]: Tensor[]): StepResult {
    const za = nn.functional.normalize(this.mlp.forward(this.backbone.forward(a!)));
    const zb = nn.functional.normalize(this.mlp.forward(this.backbone.forward(b!)));
    const logits = globalBatch(za).matmul(globalBatch(zb).t()).div(this.temperature);
    const targets = torch.arange(0, logits.size(0), 1, { dtype: 'int64' });
    const loss = nn.functional.crossEntropy(logits, targets);
    const accuracy = torch.noGrad(() => logits.argmax(1).eq(targets).float().mean().item());
    return { loss, logs: { pair_accuracy: accuracy }, embedding: za };
  }
}

export const simcse = defineMethod('simcse', simcseConfig, (b, c) => new SimCse(b, c), 'text');

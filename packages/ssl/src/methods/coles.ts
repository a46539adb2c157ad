// CoLES (Babaev et al., SIGMOD 2022): two random contiguous stretches of one entity's history
// are a positive pair, the other entities' stretches in the batch its negatives. The loss is
// the shared NT-Xent on the encoder's features (CoLES trains its embeddings directly, with no
// projector; `projector: true` adds SimCLR's).
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { mlpHead } from '../heads/mlp.js';
import { ntXent } from '../losses/ntXent.js';
import { isSequenceEncoder } from '../modalities/sequence/encoder.js';
import { cropHistories, type CropOptions } from '../modalities/sequence/views.js';
import { SSLMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, parseConfig, positive } from './options.js';
import type { nn } from '@pretext/torch';

const share = z.number().gt(0, 'a share must be in (0, 1]').max(1, 'a share must be in (0, 1]').optional();

export const colesConfig = z
  .strictObject({
    temperature: positive,
    /** Shortest and longest stretch as a share of the history (defaults 0.3 and 0.8). */
    minShare: share,
    maxShare: share,
    /** Fewest events in a stretch when the history has them (default 4). */
    minEvents: z.number().int().min(1).optional(),
    projector: z.boolean().optional(),
  })
  .refine((c) => (c.minShare ?? 0.3) <= (c.maxShare ?? 0.8), { message: 'minShare must not exceed maxShare' });
export type ColesConfig = z.input<typeof colesConfig>;

/** The backbone as an event encoder, or a TypeError naming the method when it is not one. */
export function sequenceBackbone(method: string, backbone: Encoder): void {
  if (!isSequenceEncoder(backbone)) throw new TypeError(`${method} learns from event histories; its encoder must be event-gru`);
}

export class Coles extends SSLMethod {
  readonly name = 'coles';
  override readonly numViews = 1;
  readonly projector: nn.Sequential | null;
  private readonly crop: CropOptions;
  private readonly temperature: number;
  constructor(makeBackbone: () => Encoder, options: ColesConfig = {}) {
    super(makeBackbone);
    const c = parseConfig('coles', colesConfig, options);
    sequenceBackbone('coles', this.backbone);
    this.crop = { minShare: c.minShare ?? 0.3, maxShare: c.maxShare ?? 0.8, minEvents: c.minEvents ?? 4 };
    this.temperature = c.temperature ?? 0.1;
    const d = this.backbone.outDim;
    this.projector = c.projector ? this.registerModule('projector', mlpHead({ inDim: d, hiddenDim: d, outDim: 128 })) : null;
  }

  private embed(x: Tensor): Tensor {
    const h = this.backbone.forward(x);
    return this.projector ? this.projector.forward(h) : h;
  }

  step([x]: Tensor[]): StepResult {
    const a = this.embed(cropHistories(x!, this.crop));
    const b = this.embed(cropHistories(x!, this.crop));
    const { loss, accuracy } = ntXent(globalBatch(a), globalBatch(b), this.temperature);
    return { loss, logs: { pair_accuracy: accuracy }, embedding: a };
  }
}

export const coles = defineMethod('coles', colesConfig, (b, c) => new Coles(b, c), 'sequence');

// Masked event modeling: a share of each history's events is blanked (fields, values and time
// gap zeroed, the event's place kept) and the encoder's state at each blanked event predicts
// what was there: every categorical field (cross-entropy), every numeric value the event had
// (squared error on its scaled value) and the time gap (squared error). With the GRU encoder
// the state at an event has read only the events before it, so this is predicting an event
// from its past with the event's own slot known to exist.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import type { SequenceEncoder } from '../modalities/sequence/encoder.js';
import { maskEvents } from '../modalities/sequence/views.js';
import { sequenceBackbone } from './coles.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, parseConfig, weight } from './options.js';

export const memConfig = z.strictObject({
  /** Share of real events blanked (default 0.15). */
  maskRate: z.number().gt(0, 'maskRate must be in (0, 1)').lt(1, 'maskRate must be in (0, 1)').optional(),
  /** Weight of the numeric and time-gap errors against the field cross-entropies (default 1). */
  valueWeight: weight,
});
export type MemConfig = z.input<typeof memConfig>;

export class MaskedEventModel extends SSLMethod {
  readonly name = 'mem';
  override readonly numViews = 1;
  readonly head: nn.Linear;
  private readonly events: SequenceEncoder;
  private readonly rate: number;
  private readonly valueWeight: number;
  constructor(makeBackbone: () => Encoder, options: MemConfig = {}) {
    super(makeBackbone);
    const c = parseConfig('mem', memConfig, options);
    sequenceBackbone('mem', this.backbone);
    this.events = this.backbone as SequenceEncoder;
    this.rate = c.maskRate ?? 0.15;
    this.valueWeight = c.valueWeight ?? 1;
    const l = this.events.layout;
    const outputs = l.cardinalities.reduce((a, b) => a + b, 0) + l.numeric + 1;
    this.head = this.registerModule('head', new nn.Linear(this.backbone.outDim, outputs));
  }

  step([x]: Tensor[]): StepResult {
    const { x: blanked, chosen } = maskEvents(x!, this.rate);
    const { hidden, valid } = this.events.events(blanked);
    const l = this.events.layout;
    const k = l.cardinalities.length;
    const target = x!.index([chosen]);
    const out = this.head.forward(hidden.index([chosen]));
    const n = target.size(0);
    let loss: Tensor = hidden.sum().mul(0);
    let fieldAccuracy = 0;
    if (n > 0) {
      let at = 0;
      l.cardinalities.forEach((card, f) => {
        const logits = out.narrow(1, at, card);
        const y = target.select(1, f).long();
        loss = loss.add(nn.functional.crossEntropy(logits, y));
        if (f === 0) fieldAccuracy = torch.noGrad(() => logits.argmax(1).eq(y).float().mean().item());
        at += card;
      });
      for (let j = 0; j < l.numeric; j++) {
        const present = target.select(1, k + 2 * j + 1);
        const err = out
          .select(1, at + j)
          .sub(target.select(1, k + 2 * j))
          .square()
          .mul(present);
        loss = loss.add(err.sum().div(present.sum().clampMin(1)).mul(this.valueWeight));
      }
      const gap = out.select(1, at + l.numeric).sub(target.select(1, k + 2 * l.numeric));
      loss = loss.add(gap.square().mean().mul(this.valueWeight));
    }
    const keep = valid.float().unsqueeze(2);
    const embedding = hidden.mul(keep).sum(1).div(keep.sum(1).clampMin(1));
    return { loss, logs: { field_accuracy: fieldAccuracy }, embedding };
  }
}

export const mem = defineMethod('mem', memConfig, (b, c) => new MaskedEventModel(b, c), 'sequence');

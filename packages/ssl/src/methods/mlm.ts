// Masked language modeling: the encoder reads token windows with a share of the tokens
// corrupted ([MASK], random, kept) and predicts the original token at each corrupted place
// through an output layer tied to its own token embeddings.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { MlmHead } from '../heads/mlm.js';
import { isTextEncoder, type TextEncoder } from '../modalities/text/encoder.js';
import { maskTokens } from '../modalities/text/views.js';
import { SSLMethod, type StepResult } from './method.js';
import { defineMethod, parseConfig } from './options.js';

export const mlmConfig = z.strictObject({
  /** Share of real tokens to predict (default 0.15). */
  maskRate: z.number().gt(0, 'maskRate must be in (0, 1)').lt(1, 'maskRate must be in (0, 1)').optional(),
});
export type MlmConfig = z.input<typeof mlmConfig>;

/** The backbone as a text encoder, or a TypeError naming the method when it is not one. */
export function textBackbone(method: string, backbone: Encoder): TextEncoder {
  if (!isTextEncoder(backbone)) throw new TypeError(`${method} learns from text; its encoder must be text-transformer`);
  return backbone;
}

const ACCURACY_SAMPLE = 256;

export class MaskedLanguageModel extends SSLMethod {
  readonly name = 'mlm';
  override readonly numViews = 1;
  readonly head: MlmHead;
  private readonly text: TextEncoder;
  private readonly rate: number;
  constructor(makeBackbone: () => Encoder, options: MlmConfig = {}) {
    super(makeBackbone);
    this.rate = parseConfig('mlm', mlmConfig, options).maskRate ?? 0.15;
    this.text = textBackbone('mlm', this.backbone);
    this.head = this.registerModule('head', new MlmHead(this.backbone.outDim, this.text.wordEmbeddings));
  }

  step([ids]: Tensor[]): StepResult {
    const { input, chosen } = maskTokens(ids!, this.text.layout, this.rate);
    const { hidden, padding } = this.text.tokens(input);
    const targets = ids!.index([chosen]);
    const logits = this.head.forward(hidden.index([chosen]));
    // A batch where no token was drawn has nothing to predict: a zero loss keeps the graph.
    const loss = targets.size(0) > 0 ? torch.nn.functional.crossEntropy(logits, targets) : hidden.sum().mul(0);
    // The logged accuracy reads at most 256 predicted tokens: corrupted places are drawn at random,
    // so the first ones are a fair sample, and an argmax over every row of the vocabulary-wide
    // logits cost about 1.5% of the step.
    const seen = Math.min(targets.size(0), ACCURACY_SAMPLE);
    const accuracy =
      seen > 0
        ? torch.noGrad(() =>
            logits
              .narrow(0, 0, seen)
              .argmax(1)
              .eq(targets.narrow(0, 0, seen))
              .float()
              .mean()
              .item(),
          )
        : 0;
    const keep = padding.logicalNot().float().unsqueeze(2);
    const embedding = hidden.mul(keep).sum(1).div(keep.sum(1).clampMin(1));
    return { loss, logs: { mlm_accuracy: accuracy }, embedding };
  }
}

export const mlm = defineMethod('mlm', mlmConfig, (b, c) => new MaskedLanguageModel(b, c), 'text');

// What every encoder provides, and how an encoder is rebuilt from its JSON description.
import type { nn, Tensor } from '@pretext/torch';
import { SmallCnn, type SmallCnnConfig } from './smallCnn.js';
import { ResNet18, type ResNetConfig } from './resnet.js';
import { FtTransformer, TabularMlp, type FtTransformerConfig, type TabularMlpConfig } from '../modalities/tabular/encoders.js';
import { TextTransformer, type TextTransformerConfig } from '../modalities/text/encoder.js';
import { EventGru, type EventGruConfig } from '../modalities/sequence/encoder.js';

/** A backbone mapping a batch of examples (images [B, C, H, W], encoded rows [B, F], token windows [B, L], event histories [B, L, C]) to features [B, outDim]. */
export interface Encoder extends nn.Module {
  readonly outDim: number;
  forward(x: Tensor): Tensor;
  /** The encoder's stages from input to output (what partial fine-tuning unfreezes from the end). */
  blocks(): nn.Module[][];
}

/** The JSON that rebuilds an encoder (encoder.json). */
export type EncoderSpec =
  | { type: 'small-cnn'; config: SmallCnnConfig }
  | { type: 'resnet18'; config: ResNetConfig }
  | { type: 'tabular-mlp'; config: TabularMlpConfig }
  | { type: 'ft-transformer'; config: FtTransformerConfig }
  | { type: 'text-transformer'; config: TextTransformerConfig }
  | { type: 'event-gru'; config: EventGruConfig };

export const ENCODER_TYPES = ['small-cnn', 'resnet18', 'tabular-mlp', 'ft-transformer', 'text-transformer', 'event-gru'] as const;

export function buildEncoder(spec: EncoderSpec): Encoder {
  switch (spec.type) {
    case 'small-cnn':
      return new SmallCnn(spec.config);
    case 'resnet18':
      return new ResNet18(spec.config);
    case 'tabular-mlp':
      return new TabularMlp(spec.config);
    case 'ft-transformer':
      return new FtTransformer(spec.config);
    case 'text-transformer':
      return new TextTransformer(spec.config);
    case 'event-gru':
      return new EventGru(spec.config);
    default:
      throw new TypeError(`unknown encoder type '${(spec as { type: string }).type}'; expected ${ENCODER_TYPES.join(', ')}`);
  }
}

// One small encoder of every exportable family, with the input shape and modality its
// encoder.json would carry: what the export tests and bench:serve's parity case run.
import * as torch from '@pretext/torch';
import type { EncoderMeta } from '../pipeline.js';
import { buildEncoder, type Encoder, type EncoderSpec } from '../encoders/encoder.js';

export interface ExampleEncoder {
  name: string;
  spec: EncoderSpec;
  inputShape: number[];
  modality: NonNullable<EncoderMeta['modality']>;
}

export const EXAMPLE_ENCODERS: readonly ExampleEncoder[] = [
  {
    name: 'small CNN, standardized readout',
    spec: { type: 'small-cnn', config: { width: 8, depth: 2, readoutNorm: true } },
    inputShape: [1, 28, 28],
    modality: 'image',
  },
  {
    name: 'small CNN, flattened, 3 channels',
    spec: { type: 'small-cnn', config: { inChannels: 3, inputSize: 16, width: 4, depth: 2, pool: 'flatten' } },
    inputShape: [3, 16, 16],
    modality: 'image',
  },
  { name: 'ResNet-18', spec: { type: 'resnet18', config: { widthMultiplier: 0.125 } }, inputShape: [1, 28, 28], modality: 'image' },
  {
    name: 'tabular MLP',
    spec: { type: 'tabular-mlp', config: { continuous: 5, cardinalities: [3, 7], hidden: [32, 16] } },
    inputShape: [7],
    modality: 'tabular',
  },
  {
    name: 'FT-Transformer',
    spec: { type: 'ft-transformer', config: { continuous: 4, cardinalities: [5], dModel: 16, heads: 4, layers: 2 } },
    inputShape: [5],
    modality: 'tabular',
  },
  {
    name: 'text transformer, mean pooling',
    spec: {
      type: 'text-transformer',
      config: { vocabSize: 300, padId: 0, clsId: 1, sepId: 2, maskId: 3, maxLength: 40, dModel: 32, layers: 2, heads: 4 },
    },
    inputShape: [40],
    modality: 'text',
  },
  {
    name: 'text transformer, [CLS] pooling',
    spec: {
      type: 'text-transformer',
      config: { vocabSize: 200, padId: 3, clsId: 1, sepId: 2, maskId: 0, maxLength: 20, dModel: 16, layers: 1, heads: 2, pooling: 'cls' },
    },
    inputShape: [20],
    modality: 'text',
  },
  {
    name: 'event GRU, 2 layers',
    spec: { type: 'event-gru', config: { cardinalities: [6, 9], numeric: 2, embedDim: 4, hidden: 24, layers: 2 } },
    inputShape: [24, 9],
    modality: 'sequence',
  },
  // The layers record-level DP-SGD needs in place of BatchNorm.
  {
    name: 'small CNN, group norm (DP-SGD)',
    spec: { type: 'small-cnn', config: { width: 8, depth: 2, norm: 'group', pool: 'flatten' } },
    inputShape: [1, 28, 28],
    modality: 'image',
  },
  {
    name: 'tabular MLP, layer norm (DP-SGD)',
    spec: { type: 'tabular-mlp', config: { continuous: 3, cardinalities: [4], hidden: [16, 8], norm: 'layer' } },
    inputShape: [4],
    modality: 'tabular',
  },
];

/**
 * The example built with a seed, in eval mode; image encoders get BatchNorm statistics away
 * from their initial 0 and 1, and GroupNorm scales and shifts away from their initial 1 and 0.
 */
export function buildExampleEncoder(e: Pick<ExampleEncoder, 'spec' | 'inputShape'>, seed = 7): Encoder {
  torch.manualSeed(seed);
  const encoder = buildEncoder(e.spec);
  torch.noGrad(() => {
    for (const m of encoder.modules())
      if (m instanceof torch.nn.GroupNorm) {
        m.weight?.uniform_(0.5, 1.5);
        m.bias?.uniform_(-0.5, 0.5);
      }
  });
  if (e.spec.type === 'small-cnn' || e.spec.type === 'resnet18') {
    encoder.train();
    torch.noGrad(() => {
      for (let i = 0; i < 3; i++)
        torch.tidy(() =>
          encoder.forward(
            torch
              .rand([8, ...e.inputShape])
              .mul(2)
              .add(0.5),
          ),
        );
    });
  }
  return encoder.eval();
}

/** The encoder.json an example would have. */
export function exampleMeta(e: ExampleEncoder, outDim: number): EncoderMeta {
  return {
    format: 'pretext-encoder/1',
    modality: e.modality,
    encoder: e.spec,
    outDim,
    inputNorm: { mean: 0.286, std: 0.353 },
    inputShape: e.inputShape,
    method: 'simclr',
    recipe: 'example',
    dataset: 'example',
    dataFingerprint: `sha256:${'0'.repeat(64)}`,
    trainSteps: 0,
    trainSeconds: 0,
    createdAt: '2026-12-05T00:00:00.000Z',
  };
}

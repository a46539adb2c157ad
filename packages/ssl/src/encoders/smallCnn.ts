// A configurable small convolutional encoder for small images (Fashion-MNIST and the like):
// `depth` stages of conv3x3-BN-ReLU (x convsPerStage) then 2x2 max-pool, channels doubling
// from `width`, then global average pooling to a feature vector.
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from './encoder.js';

export interface SmallCnnConfig {
  inChannels?: number;
  width?: number;
  depth?: number;
  convsPerStage?: number;
  batchNorm?: boolean;
}

export class SmallCnn extends nn.Module implements Encoder {
  readonly features: nn.Sequential;
  readonly outDim: number;

  constructor(readonly config: SmallCnnConfig = {}) {
    super();
    const width = config.width ?? 32;
    const depth = config.depth ?? 3;
    const convs = config.convsPerStage ?? 1;
    const bn = config.batchNorm ?? true;
    const layers: nn.TensorModule[] = [];
    let channels = config.inChannels ?? 1;
    for (let stage = 0; stage < depth; stage++) {
      const out = width * 2 ** stage;
      for (let c = 0; c < convs; c++) {
        layers.push(new nn.Conv2d(channels, out, 3, { padding: 1, bias: !bn }));
        if (bn) layers.push(new nn.BatchNorm2d(out));
        layers.push(new nn.ReLU());
        channels = out;
      }
      layers.push(new nn.MaxPool2d(2));
    }
    layers.push(new nn.AdaptiveAvgPool2d(1), new nn.Flatten());
    this.features = this.registerModule('features', new nn.Sequential(...layers));
    this.outDim = channels;
  }

  /** [B, C, H, W] -> [B, outDim] */
  forward(x: Tensor): Tensor {
    return this.features.forward(x);
  }
}

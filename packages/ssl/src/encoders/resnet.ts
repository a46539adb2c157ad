// ResNet-18 for small images (He et al., 2016, CIFAR variant): a 3x3 stem without max-pool,
// four stages of two basic blocks, a width multiplier. Parameter names follow torchvision's
// resnet18 (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0 ...), without the fc layer.
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from './encoder.js';

export class BasicBlock extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly downsample: nn.Sequential | null = null;

  constructor(inC: number, outC: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inC, outC, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(outC));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(outC, outC, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(outC));
    if (stride !== 1 || inC !== outC) {
      this.downsample = this.registerModule(
        'downsample',
        new nn.Sequential(new nn.Conv2d(inC, outC, 1, { stride, bias: false }), new nn.BatchNorm2d(outC)),
      );
    }
  }

  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu()));
    return y.add(this.downsample ? this.downsample.forward(x) : x).relu();
  }
}

export interface ResNetConfig {
  inChannels?: number;
  /** Multiplies the channel counts 64, 128, 256, 512. */
  widthMultiplier?: number;
}

export class ResNet18 extends nn.Module implements Encoder {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly stages: nn.Sequential[];
  readonly outDim: number;

  constructor(readonly config: ResNetConfig = {}) {
    super();
    const m = config.widthMultiplier ?? 1;
    const widths = [64, 128, 256, 512].map((c) => Math.max(8, Math.round(c * m)));
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(config.inChannels ?? 1, widths[0]!, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(widths[0]!));
    let inC = widths[0]!;
    this.stages = widths.map((w, i) => {
      const stage = new nn.Sequential(new BasicBlock(inC, w, i === 0 ? 1 : 2), new BasicBlock(w, w, 1));
      inC = w;
      return this.registerModule(`layer${i + 1}`, stage);
    });
    this.outDim = inC;
  }

  /** The stem, then layer1..layer4. */
  blocks(): nn.Module[][] {
    return [[this.conv1, this.bn1], ...this.stages.map((s) => [s])];
  }

  /** [B, C, H, W] -> [B, outDim] */
  forward(x: Tensor): Tensor {
    let y = this.bn1.forward(this.conv1.forward(x)).relu();
    for (const s of this.stages) y = s.forward(y);
    return y.mean([2, 3]);
  }
}

// The one interface every self-supervised method implements: given views of a batch, return
// the loss and what to log. The trainer knows nothing else about methods.
import { distributed, nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';

export interface StepResult {
  loss: Tensor;
  /** Scalars to log (the loss is logged by the trainer). */
  logs: Record<string, number>;
  /** Embeddings [B, D] of the first view, for the collapse monitor. */
  embedding: Tensor;
}

/**
 * The whole step's batch for a loss that compares examples with each other (negatives, batch
 * statistics): in data-parallel training, every rank's rows in rank order, with gradients
 * flowing back to this rank's rows; otherwise `z` itself. Each rank then computes the loss
 * of the global batch, and the averaged gradients are exactly that loss's gradient, so two
 * ranks at 128 train like one at 256 instead of like two independent runs at 128.
 */
export function globalBatch(z: Tensor): Tensor {
  return distributed.isInitialized() && distributed.worldSize() > 1 ? distributed.allGatherWithGrad(z) : z;
}

export abstract class SSLMethod extends nn.Module {
  abstract readonly name: string;
  /** Augmented views of each image the method consumes (rotation makes its own). */
  readonly numViews: number = 2;
  readonly backbone: Encoder;

  constructor(protected readonly makeBackbone: () => Encoder) {
    super();
    this.backbone = this.registerModule('backbone', makeBackbone());
  }

  abstract step(views: Tensor[]): StepResult;

  /**
   * Whether the loss is a mean of terms that each depend on one example alone (with BatchNorm
   * aside), so one example's gradient can be taken by itself: what record-level DP-SGD clips.
   * Contrastive and batch-statistics losses compare examples with each other and are not.
   */
  readonly perExampleLoss: boolean = false;

  /**
   * DP-SGD: each example's view is made from that example and data-independent noise alone (a
   * method that corrupts rows with cells of other rows draws from a prior instead).
   */
  protected privateViews = false;

  usePrivateViews(): void {
    this.privateViews = true;
  }

  /** Called after each optimizer step with the fraction of training done (EMA updates). */
  afterStep(_progress: number): void {}

  /**
   * State a federated site never shares, whatever the strategy: momentum targets (an EMA of the
   * site's own online network) and memory queues (the site's own negatives).
   */
  keepsLocal(_key: string): boolean {
    return false;
  }

  /** What the optimizer updates (momentum networks are excluded). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }
}

/** Methods whose views go through the backbone and one projector head. */
export abstract class ProjectorMethod extends SSLMethod {
  readonly projector: nn.Sequential;
  constructor(makeBackbone: () => Encoder, makeProjector: (inDim: number) => nn.Sequential) {
    super(makeBackbone);
    this.projector = this.registerModule('projector', makeProjector(this.backbone.outDim));
  }
  /** Backbone then projector: [B, C, H, W] -> [B, D]. */
  protected project(x: Tensor): Tensor {
    return this.projector.forward(this.backbone.forward(x));
  }
}

/** A backbone followed by a projector, the unit momentum methods copy. */
export class Tower extends nn.Module {
  readonly backbone: Encoder;
  readonly projector: nn.Sequential;
  constructor(backbone: Encoder, projector: nn.Sequential) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.projector = this.registerModule('projector', projector);
  }
  forward(x: Tensor): Tensor {
    return this.projector.forward(this.backbone.forward(x));
  }
}

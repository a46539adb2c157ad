// Two towers, one space: an image encoder (the backbone, any Pretext image encoder) and a text
// encoder, each followed by a linear projection to a shared embedding, trained by a pair loss
// (CLIP's softmax or SigLIP's sigmoid). Locked (LiT, Zhai et al., 2022): the image tower is
// frozen and its features are computed once; the step then reads those features in place of
// pixels and only the text side (and the image projection) learns.
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../../encoders/encoder.js';
import { SSLMethod, globalBatch, type StepResult } from '../../methods/method.js';
import { clipLoss, siglipLoss } from '../../losses/imageText.js';

export type PairLoss = 'clip' | 'siglip';

export interface ImageTextConfig {
  loss: PairLoss;
  /** Width of the shared space (default 128). */
  embedDim?: number;
  /** Freeze the image tower; steps then receive its cached features (default false). */
  lockImage?: boolean;
}

export class ImageTextModel extends SSLMethod {
  readonly name = 'image-text';
  readonly text: Encoder;
  readonly imageProjection: nn.Linear;
  readonly textProjection: nn.Linear;
  /** log of the logit scale: log(1 / 0.07) for CLIP, log 10 for SigLIP. */
  readonly logScale: Tensor;
  /** SigLIP's logit bias (-10 at the start); unused by CLIP. */
  readonly logitBias: Tensor;
  readonly embedDim: number;

  constructor(
    makeImage: () => Encoder,
    makeText: () => Encoder,
    readonly config: ImageTextConfig,
  ) {
    super(makeImage);
    this.text = this.registerModule('text', makeText());
    this.embedDim = config.embedDim ?? 128;
    this.imageProjection = this.registerModule('image_projection', new nn.Linear(this.backbone.outDim, this.embedDim, false));
    this.textProjection = this.registerModule('text_projection', new nn.Linear(this.text.outDim, this.embedDim, false));
    const scale = config.loss === 'clip' ? Math.log(1 / 0.07) : Math.log(10);
    this.logScale = this.registerParameter('logit_scale', torch.tensor([scale]));
    this.logitBias = this.registerParameter('logit_bias', torch.tensor([config.loss === 'siglip' ? -10 : 0]));
    if (config.lockImage) for (const p of this.backbone.parameters()) p.requiresGrad = false;
  }

  get locked(): boolean {
    return this.config.lockImage ?? false;
  }

  /** The locked tower stays in eval mode (its BatchNorm statistics are part of what is locked). */
  override train(mode = true): this {
    super.train(mode);
    if (this.locked) this.backbone.eval();
    return this;
  }

  /** Normalized image embeddings [B, D] of normalized pixels, or of cached tower features when locked. */
  embedImages(x: Tensor, features = this.locked): Tensor {
    const h = features ? x : this.backbone.forward(x);
    return torch.nn.functional.normalize(this.imageProjection.forward(h));
  }

  /** Normalized caption embeddings [B, D] of token windows [B, L]. */
  embedTexts(ids: Tensor): Tensor {
    return torch.nn.functional.normalize(this.textProjection.forward(this.text.forward(ids)));
  }

  /** views: [images or cached image features, token ids]. */
  step(views: Tensor[]): StepResult {
    const [x, ids] = views as [Tensor, Tensor];
    const zi = this.embedImages(x);
    const zt = this.embedTexts(ids);
    // Data-parallel: every rank's pairs are negatives, as in CLIP's own training.
    const [gi, gt] = [globalBatch(zi), globalBatch(zt)];
    const { loss, accuracy } =
      this.config.loss === 'clip' ? clipLoss(gi, gt, this.logScale) : siglipLoss(gi, gt, this.logScale, this.logitBias);
    return {
      loss,
      logs: { pair_accuracy: accuracy, logit_scale: torch.noGrad(() => this.logScale.exp().item()) },
      embedding: zt,
    };
  }
}

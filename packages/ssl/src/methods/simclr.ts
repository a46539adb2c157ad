// SimCLR (Chen et al., 2020): a projector and the NT-Xent loss over both views.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { nn, Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { ntXent, ntXentViews } from '../losses/ntXent.js';
import type { Encoder } from '../encoders/encoder.js';
import { oneRotationEach } from './rotation.js';
import { ProjectorMethod, globalBatch, type StepResult } from './method.js';
import { defineMethod, dim, parseConfig, positive } from './options.js';

export const simclrConfig = z
  .strictObject({
    hiddenDim: dim,
    projDim: dim,
    temperature: positive,
    /** Decoupled contrastive loss: the positive out of the denominator (default false). */
    decoupled: z.boolean().optional(),
    /**
     * Weight of an auxiliary rotation-prediction loss, after E-SSL (Dangovski et al., 2022):
     * the views are turned by quarter turns (all views of an image alike) and a small head
     * on the backbone names the turn, which keeps orientation in the features that crop and
     * flip invariance would wash out. E-SSL turns a separate copy; turning the views costs
     * no extra forward pass and scored the same here. 0 = off (default).
     */
    rotationWeight: z.number({ error: 'rotationWeight must be a number >= 0' }).min(0, 'rotationWeight must be a number >= 0').optional(),
    /** Augmented views per image (default 2); more than 2 uses the multi-positive NT-Xent. */
    views: z.number().int('views must be an integer >= 2').min(2, 'views must be an integer >= 2').optional(),
  })
  .refine((c) => !(c.decoupled && (c.views ?? 2) > 2), {
    message: 'decoupled applies to two views only; drop it or use views: 2',
    path: ['decoupled'],
  });
export type SimCLRConfig = z.input<typeof simclrConfig>;

export class SimCLR extends ProjectorMethod {
  readonly name = 'simclr';
  readonly config: SimCLRConfig;
  readonly rotationHead?: nn.Sequential;
  override readonly numViews: number;
  constructor(makeBackbone: () => Encoder, options: SimCLRConfig = {}) {
    const config = parseConfig('simclr', simclrConfig, options);
    super(makeBackbone, (inDim) => mlpHead({ inDim, hiddenDim: config.hiddenDim ?? 512, outDim: config.projDim ?? 128 }));
    this.config = config;
    this.numViews = config.views ?? 2;
    if ((config.rotationWeight ?? 0) > 0) {
      this.rotationHead = this.registerModule(
        'rotationHead',
        mlpHead({ inDim: this.backbone.outDim, hiddenDim: config.hiddenDim ?? 512, outDim: 4 }),
      );
    }
  }
  step(views: Tensor[]): StepResult {
    const t = this.config.temperature ?? 0.2;
    // With the rotation term every view of image i is turned by the same i mod 4 quarter
    // turns, so the positives still match and the backbone also has to name the turn.
    const turned = this.rotationHead ? views.map(oneRotationEach) : null;
    const hs = (turned ? turned.map((r) => r.images) : views).map((v) => this.backbone.forward(v));
    const zs = hs.map((h) => this.projector.forward(h));
    const all = zs.map(globalBatch);
    const { loss, accuracy } = all.length === 2 ? ntXent(all[0]!, all[1]!, t, this.config.decoupled ?? false) : ntXentViews(all, t);
    if (!turned || !this.rotationHead) return { loss, logs: { pair_accuracy: accuracy }, embedding: zs[0]! };
    const logits = this.rotationHead.forward(torch.cat(hs));
    const labels = torch.cat(turned.map((r) => r.labels));
    const rotation = torch.nn.functional.crossEntropy(logits, labels);
    const rotationAccuracy = torch.noGrad(() => logits.argmax(1).eq(labels).float().mean().item());
    return {
      loss: loss.add(rotation.mul(this.config.rotationWeight!)),
      logs: { pair_accuracy: accuracy, rotation_accuracy: rotationAccuracy },
      embedding: zs[0]!,
    };
  }
}

export const simclr = defineMethod('simclr', simclrConfig, (b, c) => new SimCLR(b, c));

// What the tabular methods share: the backbone must be a table encoder (for its column
// layout), and a row batch is corrupted at the method's rate before it is encoded.
import { z } from 'zod';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { ReconstructionHead } from '../heads/reconstruction.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import { isTabularEncoder, type TabularEncoder, type TabularLayout } from '../modalities/tabular/encoders.js';
import { corruptRows } from '../modalities/tabular/views.js';
import { SSLMethod, type StepResult } from './method.js';

/** The share of a row's cells a method corrupts. */
export const corruptionRate = z.number().gt(0, 'corruption must be in (0, 1)').lt(1, 'corruption must be in (0, 1)').optional();

/** The backbone's column layout, or a TypeError naming the method when it is not a table encoder. */
export function layoutOf(method: string, backbone: Encoder): TabularLayout {
  if (!isTabularEncoder(backbone))
    throw new TypeError(`${method} learns from table rows; its encoder must be tabular-mlp or ft-transformer`);
  return (backbone as TabularEncoder).layout;
}

/**
 * Reconstruction from a corrupted row: the encoding of the row with a share of its cells
 * swapped predicts the clean cells, every cell (a denoising autoencoder) or only the swapped
 * ones (masked feature modeling).
 */
export abstract class CellReconstruction extends SSLMethod {
  override readonly numViews = 1;
  override readonly perExampleLoss = true;
  readonly head: ReconstructionHead;
  constructor(
    makeBackbone: () => Encoder,
    method: string,
    hiddenDim: number,
    private readonly corruption: number,
    private readonly onlyCorrupted: boolean,
  ) {
    super(makeBackbone);
    this.head = this.registerModule('head', new ReconstructionHead(this.backbone.outDim, layoutOf(method, this.backbone), hiddenDim));
  }
  step([x]: Tensor[]): StepResult {
    const { x: corrupted, mask } = corruptRows(x!, this.corruption, undefined, this.privateViews ? this.head.layout : undefined);
    const h = this.backbone.forward(corrupted);
    const rec = reconstructionLoss(this.head.forward(h), x!, this.head.layout, this.onlyCorrupted ? mask : null);
    return { loss: rec.loss, logs: { recon_continuous: rec.continuous, recon_categorical: rec.categorical }, embedding: h };
  }
}

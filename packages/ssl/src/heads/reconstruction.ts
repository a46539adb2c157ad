// Per-column prediction heads for table rows: from a feature vector, a value for each
// continuous column and logits over each categorical column's codes (what VIME, masked
// feature modeling and the denoising autoencoder reconstruct).
import { nn, type Tensor } from '@pretext/torch';
import type { TabularLayout } from '../modalities/tabular/encoders.js';

export interface ColumnPredictions {
  /** [B, continuous] */
  continuous: Tensor;
  /** One [B, cardinality] per categorical column. */
  categorical: Tensor[];
}

export class ReconstructionHead extends nn.Module {
  readonly hidden: nn.Sequential;
  readonly out: nn.Linear;
  constructor(
    inDim: number,
    readonly layout: TabularLayout,
    hiddenDim = 256,
  ) {
    super();
    this.hidden = this.registerModule('hidden', new nn.Sequential(new nn.Linear(inDim, hiddenDim), new nn.ReLU()));
    const width = layout.continuous + layout.cardinalities.reduce((a, b) => a + b, 0);
    this.out = this.registerModule('out', new nn.Linear(hiddenDim, width));
  }
  forward(h: Tensor): ColumnPredictions {
    const y = this.out.forward(this.hidden.forward(h));
    const parts = y.split([this.layout.continuous, ...this.layout.cardinalities], 1);
    return { continuous: parts[0]!, categorical: parts.slice(1) };
  }
}

/** [B, F] rows -> continuous [B, c] and codes [B, k] (int64). */
export function splitColumns(x: Tensor, layout: TabularLayout): { continuous: Tensor; codes: Tensor } {
  return {
    continuous: x.narrow(1, 0, layout.continuous),
    codes: x.narrow(1, layout.continuous, layout.cardinalities.length).long(),
  };
}

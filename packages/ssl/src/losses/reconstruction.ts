// Reconstruction of table rows with a loss per column type (VIME's advice): squared error
// for continuous columns, cross-entropy over codes for categorical ones, each averaged over
// the cells that count (all cells, or only the corrupted ones), so neither kind of column
// drowns the other.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { splitColumns, type ColumnPredictions } from '../heads/reconstruction.js';
import type { TabularLayout } from '../modalities/tabular/encoders.js';

/** Mean over the weighted cells (weights [B, n] in {0, 1}), 0 when none count. */
function weightedMean(perCell: Tensor, weight: Tensor | null): Tensor {
  if (!weight) return perCell.mean();
  return perCell.mul(weight).sum().div(weight.sum().clampMin(1));
}

/**
 * Loss of predicting rows `x` [B, F]; `weight` [B, F] (1 = counts) restricts it to some
 * cells (masked feature modeling scores only what was corrupted).
 */
export function reconstructionLoss(
  pred: ColumnPredictions,
  x: Tensor,
  layout: TabularLayout,
  weight: Tensor | null = null,
): { loss: Tensor; continuous: number; categorical: number } {
  const { continuous, codes } = splitColumns(x, layout);
  const c = layout.continuous;
  const k = layout.cardinalities.length;
  const terms: Tensor[] = [];
  let cont = 0;
  let cat = 0;
  if (c > 0) {
    const l = weightedMean(pred.continuous.sub(continuous).square(), weight ? weight.narrow(1, 0, c) : null);
    cont = torch.noGrad(() => l.item());
    terms.push(l);
  }
  if (k > 0) {
    const perCell = torch.stack(
      pred.categorical.map((logits, j) => torch.nn.functional.crossEntropy(logits, codes.select(1, j), { reduction: 'none' })),
      1,
    );
    const l = weightedMean(perCell, weight ? weight.narrow(1, c, k) : null);
    cat = torch.noGrad(() => l.item());
    terms.push(l);
  }
  const loss =
    terms.length === 2
      ? terms[0]!
          .mul(c)
          .add(terms[1]!.mul(k))
          .div(c + k)
      : terms[0]!;
  return { loss, continuous: cont, categorical: cat };
}

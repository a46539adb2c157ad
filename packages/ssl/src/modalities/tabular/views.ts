// Views of table rows. The corruption SCARF, VIME, masked feature modeling and the denoising
// autoencoder share: a random subset of cells is replaced by the same column's value in
// another row of the batch, a draw from the column's empirical marginal (SCARF; VIME's
// "mask and swap"), so a corrupted row stays in the data's range and type per column.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { ViewMaker } from '../../train/trainer.js';
import type { TabularLayout } from './encoders.js';

/**
 * x [B, F] -> the corrupted rows and the mask [B, F] (1 where a cell was replaced). Replacement
 * cells come from other rows of the batch (the column's empirical marginal), or, given the
 * layout as `prior`, from a distribution that no row shaped: a standard normal for continuous
 * cells (what quantile scaling makes of a column) and a uniform draw over each categorical
 * column's codes. DP-SGD needs the prior: a cell copied from another row is that row's data in
 * this row's gradient, which clipping this row's gradient does not bound.
 */
export function corruptRows(x: Tensor, rate: number, g?: torch.Generator, prior?: TabularLayout): { x: Tensor; mask: Tensor } {
  const [b, f] = x.size() as [number, number];
  const mask = torch.rand([b, f], { generator: g }).lt(rate);
  const replacement = prior ? priorRows(b, prior, g) : x.gather(0, torch.randint(0, b, [b, f], { generator: g }));
  return { x: torch.where(mask, replacement, x), mask: mask.float() };
}

/** b rows drawn from the layout's data-independent prior, [b, continuous + categorical]. */
function priorRows(b: number, layout: TabularLayout, g?: torch.Generator): Tensor {
  const parts: Tensor[] = [];
  if (layout.continuous > 0) parts.push(torch.randn([b, layout.continuous], { generator: g }));
  for (const k of layout.cardinalities) parts.push(torch.randint(0, k, [b, 1], { generator: g }).float());
  return torch.cat(parts, 1);
}

/**
 * Encoded rows are their own view: the tabular methods corrupt inside their step, each at
 * its own rate, because their losses need the mask.
 */
export const tabularViews: ViewMaker = (batch, count) => Array.from({ length: count }, () => batch.float());

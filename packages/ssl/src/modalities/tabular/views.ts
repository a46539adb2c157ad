// Views of table rows. The corruption SCARF, VIME, masked feature modeling and the denoising
// autoencoder share: a random subset of cells is replaced by the same column's value in
// another row of the batch, a draw from the column's empirical marginal (SCARF; VIME's
// "mask and swap"), so a corrupted row stays in the data's range and type per column.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { ViewMaker } from '../../train/trainer.js';

/** x [B, F] -> the corrupted rows and the mask [B, F] (1 where a cell was replaced). */
export function corruptRows(x: Tensor, rate: number, g?: torch.Generator): { x: Tensor; mask: Tensor } {
  const [b, f] = x.size() as [number, number];
  const mask = torch.rand([b, f], { generator: g }).lt(rate);
  const donors = torch.randint(0, b, [b, f], { generator: g });
  return { x: torch.where(mask, x.gather(0, donors), x), mask: mask.float() };
}

/**
 * Encoded rows are their own view: the tabular methods corrupt inside their step, each at
 * its own rate, because their losses need the mask.
 */
export const tabularViews: ViewMaker = (batch, count) => Array.from({ length: count }, () => batch.float());

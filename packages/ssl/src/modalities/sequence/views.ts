// Views of event histories. CoLES's positive pair: two random contiguous stretches of one
// entity's history (each a share of its events between minShare and maxShare, at least
// minEvents), the other entities' stretches in the batch its negatives. Masked event
// modeling's corruption: a share of the real events is blanked (fields, values and gap set to
// zero, the valid flag kept) and the model predicts what was there.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { ViewMaker } from '../../train/trainer.js';
import { historyLengths } from './encoder.js';

export interface CropOptions {
  minShare: number;
  maxShare: number;
  minEvents: number;
}

/** x [B, L, C] -> one random contiguous stretch of each history, left-aligned, [B, L', C]. */
export function cropHistories(x: Tensor, o: CropOptions, g?: torch.Generator): Tensor {
  const [b, l, c] = x.size() as [number, number, number];
  const len = historyLengths(x).float();
  const share = torch
    .rand([b], { generator: g })
    .mul(o.maxShare - o.minShare)
    .add(o.minShare);
  const crop = len.mul(share).floor().maximum(len.clampMax(o.minEvents)).clampMin(1);
  const start = torch.rand([b], { generator: g }).mul(len.sub(crop).add(1)).floor().minimum(len.sub(crop));
  const width = Math.max(1, Math.min(l, crop.max().item()));
  const j = torch.arange(0, width, 1, { dtype: 'float32' }).unsqueeze(0);
  const idx = start
    .unsqueeze(1)
    .add(j)
    .clampMax(l - 1);
  const inside = j.lt(crop.unsqueeze(1)).float().unsqueeze(2);
  const picked = x.gather(1, idx.long().unsqueeze(2).expand([b, width, c]));
  return picked.mul(inside);
}

/** x [B, L, C] -> the corrupted histories and the blanked places [B, L] (bool). */
export function maskEvents(x: Tensor, rate: number, g?: torch.Generator): { x: Tensor; chosen: Tensor } {
  const c = x.size(2);
  const valid = x.select(2, c - 1).gt(0);
  const chosen = torch
    .rand([x.size(0), x.size(1)], { generator: g })
    .lt(rate)
    .logicalAnd(valid);
  const keepValid = torch.tensor(Float32Array.from({ length: c }, (_, k) => (k === c - 1 ? 1 : 0)));
  const blank = torch.where(chosen.unsqueeze(2), x.mul(keepValid), x);
  return { x: blank, chosen };
}

/** Encoded histories are their own view: sequence methods crop or mask inside their step. */
export const sequenceViews: ViewMaker = (batch, count) => Array.from({ length: count }, () => batch.float());

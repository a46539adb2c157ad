// The corruption masked language modeling learns from (Devlin et al., 2019): a share of the
// real tokens is chosen (never [CLS], [SEP] or padding); of those, 80% become [MASK], 10% a
// random token and 10% stay, and the model predicts the original token at every chosen place.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { ViewMaker } from '../../train/trainer.js';
import type { TextVocabLayout } from './encoder.js';

export interface MaskedTokens {
  /** The corrupted ids [B, L]. */
  input: Tensor;
  /** Bool [B, L]: the chosen places (the loss is taken there). */
  chosen: Tensor;
}

/** ids [B, L] int64 -> corrupted ids and the places to predict. */
export function maskTokens(ids: Tensor, layout: TextVocabLayout, rate = 0.15, g?: torch.Generator): MaskedTokens {
  const shape = ids.size();
  const special = ids.eq(layout.padId).logicalOr(ids.eq(layout.clsId)).logicalOr(ids.eq(layout.sepId));
  const chosen = torch.rand(shape, { generator: g }).lt(rate).logicalAnd(special.logicalNot());
  const r = torch.rand(shape, { generator: g });
  const toMask = chosen.logicalAnd(r.lt(0.8));
  const toRandom = chosen.logicalAnd(r.ge(0.8)).logicalAnd(r.lt(0.9));
  const random = torch.randint(0, layout.vocabSize, shape, { generator: g });
  // A random draw that lands on a special piece keeps the original token instead.
  const randomOk = random
    .eq(layout.padId)
    .logicalOr(random.eq(layout.clsId))
    .logicalOr(random.eq(layout.sepId))
    .logicalOr(random.eq(layout.maskId))
    .logicalNot();
  let input = torch.where(toRandom.logicalAnd(randomOk), random, ids);
  input = input.maskedFill(toMask, layout.maskId);
  return { input, chosen };
}

/** Token windows are their own view: text methods corrupt inside their step. */
export const textViews: ViewMaker = (batch, count) => Array.from({ length: count }, () => batch.long().clone());

// The recipe's augment section as a batch transform, in the order SimCLR uses them.
import * as A from '../augment/transforms.js';
import type { Recipe } from './schema.js';

export function buildAugment(a: Recipe['augment']): A.Transform {
  const ts: A.Transform[] = [];
  if (a.crop) ts.push(A.randomResizedCrop(a.crop));
  if (a.jitter) ts.push(A.colorJitter(a.jitter));
  if (a.blur) ts.push(A.gaussianBlur(a.blur));
  if (a.noise) ts.push(A.gaussianNoise(a.noise));
  if (a.erasing) ts.push(A.randomErasing(a.erasing));
  return A.compose(...ts);
}

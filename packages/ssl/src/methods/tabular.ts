// What the tabular methods share: the backbone must be a table encoder (for its column
// layout), and a row batch is corrupted at the method's rate before it is encoded.
import type { Encoder } from '../encoders/encoder.js';
import { isTabularEncoder, type TabularEncoder, type TabularLayout } from '../modalities/tabular/encoders.js';

/** The backbone's column layout, or a TypeError naming the method when it is not a table encoder. */
export function layoutOf(method: string, backbone: Encoder): TabularLayout {
  if (!isTabularEncoder(backbone))
    throw new TypeError(`${method} learns from table rows; its encoder must be tabular-mlp or ft-transformer`);
  return (backbone as TabularEncoder).layout;
}

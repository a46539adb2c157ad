// What the measurements written for images (diagnostics, the embedding map) need from a table,
// text or history encoder: its labeled training and test examples as tensors, the encoder that
// reads them, and the positive pair of alignment each modality's methods learn from (a row with
// a third of its cells swapped; a document with 15% of its tokens corrupted as MLM does; two
// stretches of one history). Image encoders return null: their data and crops are the default.
import type { Generator, Tensor } from '@pretext/torch';
import type { LabeledSet } from '../data/sources.js';
import type { Encoder } from '../encoders/encoder.js';
import { loadEncoder, readEncoderMeta } from '../pipeline.js';
import { historiesAsLabeledSets } from './sequence/run.js';
import { tableAsLabeledSets } from './tabular/run.js';
import { corruptRows } from './tabular/views.js';
import { textAsLabeledSets } from './text/run.js';

export interface MeasurementInputs {
  sets: [LabeledSet, LabeledSet];
  encoder: Encoder;
  corrupt: (x: Tensor, g: Generator) => Tensor;
}

/** Reads the test split: for final measurements only. */
export async function measurementInputs(dir: string, purpose: string, dataset?: string): Promise<MeasurementInputs | null> {
  const modality = readEncoderMeta(dir).modality;
  if (modality === 'text') return textAsLabeledSets(dir, purpose, dataset);
  if (modality === 'sequence') return { ...(await historiesAsLabeledSets(dir, purpose, dataset)), encoder: loadEncoder(dir).encoder };
  if (modality === 'tabular')
    return {
      sets: await tableAsLabeledSets(dir, purpose, dataset),
      encoder: loadEncoder(dir).encoder,
      corrupt: (x, g) => corruptRows(x, 0.3, g).x,
    };
  return null;
}

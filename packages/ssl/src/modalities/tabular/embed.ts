// A pulled table encoder on a team's own rows: the saved preprocessing turns them into
// inputs (a missing column or a wrong type is an error naming the column; unseen categories
// and missing cells have their slots), the encoder turns them into embeddings.

import { expectedTypes, readTableFile, type Table, type TableFileOptions } from '@pretext/data';
import { extractFeatures } from '../../eval/features.js';
import { loadEncoder, readEncoderMeta } from '../../pipeline.js';
import { rowsTensor } from './pretrain.js';

/** Embeddings [rows x dim], row-major, of a table under a table encoder. */
export function embedTable(encoderDir: string, table: Table): { rows: number; dim: number; data: Float32Array } {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'tabular' || !meta.features)
    throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not a table encoder`);
  const x = rowsTensor(table, meta.features);
  const { encoder } = loadEncoder(encoderDir);
  try {
    const e = extractFeatures(encoder, x, meta.inputNorm);
    const data = (e.contiguous().data() as Float32Array).slice();
    const out = { rows: e.size(0), dim: e.size(1), data };
    e.dispose();
    return out;
  } finally {
    x.dispose();
    encoder.dispose();
  }
}

/** Reads a table file with the types the encoder expects, then embeds it. */
export async function embedTableFile(
  encoderDir: string,
  path: string,
  o: Omit<TableFileOptions, 'types'> = {},
): Promise<{ rows: number; dim: number; data: Float32Array }> {
  const meta = readEncoderMeta(encoderDir);
  if (!meta.features) throw new TypeError(`${encoderDir} holds an image encoder, not a table encoder`);
  const table = await readTableFile(path, { ...o, types: expectedTypes(meta.features) });
  return embedTable(encoderDir, table);
}

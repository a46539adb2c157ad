// Pretraining on a table: the preprocessing is learned on the training rows (never the test
// split), rows become one float tensor, and the shared trainer runs the method with the
// table's views. The run folder holds what the image runs hold plus features.json, so
// evaluation, transfer reports, push and pull work on it unchanged.
import { mkdirSync } from 'node:fs';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { encodeFeatures, featureLayout, fitFeatures, type FeatureSchema, type FitOptions, type Table } from '@pretext/data';
import { buildEncoder, type EncoderSpec } from '../../encoders/encoder.js';
import { buildMethod, type MethodName } from '../../methods/index.js';
import { pretrain, type TrainConfig, type TrainResult } from '../../train/trainer.js';
import { encodedInputMeta, saveEncoderRun, type EncoderMeta, type RunLineage } from '../../pipeline.js';
import { tabularViews } from './views.js';
import type { FtTransformerConfig, TabularMlpConfig } from './encoders.js';

/** A tabular encoder as a recipe names it: its layout comes from the data. */
export type TabularEncoderChoice =
  { type: 'tabular-mlp'; config?: Partial<TabularMlpConfig> } | { type: 'ft-transformer'; config?: Partial<FtTransformerConfig> };

export interface TabularPretrainOptions {
  /** The training rows (the label column, when present, is never an input). */
  table: Table;
  /** Data set name for lineage. */
  dataset: string;
  label?: string;
  preprocessing?: Omit<FitOptions, 'label'>;
  encoder: TabularEncoderChoice;
  method: { name: MethodName; config?: Record<string, unknown> };
  train: Omit<TrainConfig, 'seed'>;
  seed: number;
  recipe: string;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  /** Where the rows came from (a recipe's data section), kept so transfer reports can reload them. */
  source?: EncoderMeta['tableData'];
}

/** Encoded rows of a table under a schema, as a float tensor [N, F] (kept: the caller frees it). */
export function rowsTensor(table: Table, schema: FeatureSchema): Tensor {
  const m = encodeFeatures(table, schema);
  return torch.keep(torch.tensor(m.data, { shape: [m.rows, m.cols] }));
}

/** The encoder spec with the column layout of a schema filled in. */
export function tabularEncoderSpec(choice: TabularEncoderChoice, schema: FeatureSchema): EncoderSpec {
  const l = featureLayout(schema);
  const layout = { continuous: l.numeric + l.indicators, cardinalities: l.cardinalities };
  return choice.type === 'tabular-mlp'
    ? { type: 'tabular-mlp', config: { ...choice.config, ...layout } }
    : { type: 'ft-transformer', config: { ...choice.config, ...layout } };
}

/** The encoder.json of a table encoder trained on the encoded rows `x`. */
export function tabularEncoderMeta(spec: EncoderSpec, schema: FeatureSchema, x: Tensor, outDim: number, run: RunLineage): EncoderMeta {
  return encodedInputMeta('tabular', spec, x, outDim, { features: schema }, run);
}

export async function pretrainTabular(
  o: TabularPretrainOptions,
): Promise<{ meta: EncoderMeta; result: TrainResult; schema: FeatureSchema }> {
  mkdirSync(o.outDir, { recursive: true });
  const schema = fitFeatures(o.table, { ...o.preprocessing, label: o.label });
  const x = rowsTensor(o.table, schema);
  try {
    torch.manualSeed(o.seed);
    const spec = tabularEncoderSpec(o.encoder, schema);
    const method = buildMethod(o.method.name, () => buildEncoder(spec), o.method.config ?? {});
    const result = await pretrain({
      method,
      images: x,
      makeViews: tabularViews,
      config: { ...o.train, seed: o.seed },
      outDir: o.outDir,
      resume: o.resume ?? false,
      quiet: o.quiet ?? false,
    });
    const meta = tabularEncoderMeta(spec, schema, x, method.backbone.outDim, {
      ...(o.source ? { tableData: o.source } : {}),
      method: o.method.name,
      recipe: o.recipe,
      dataset: o.dataset,
      trainSteps: result.step,
      trainSeconds: result.trainSeconds,
    });
    saveEncoderRun(o.outDir, method.backbone, meta, { 'features.json': schema });
    method.dispose();
    return { meta, result, schema };
  } finally {
    x.dispose();
  }
}

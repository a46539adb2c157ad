// Pretraining on event histories: the event preprocessing is learned on the training entities
// (never the test split), histories become one padded tensor [N, L, C], and the shared trainer
// runs the method with the histories as their own view. The run folder holds what the other
// runs hold plus events.json, the schema another team's histories are encoded by.
import { mkdirSync } from 'node:fs';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { encodeHistories, eventLayout, fitEvents, type EventSchema, type Histories } from '@pretext/data';
import { buildEncoder, type EncoderSpec } from '../../encoders/encoder.js';
import { buildMethod, type MethodName } from '../../methods/index.js';
import { pretrain, type TrainConfig, type TrainResult } from '../../train/trainer.js';
import { encodedInputMeta, saveEncoderRun, type EncoderMeta, type RunLineage } from '../../pipeline.js';
import type { EventGruConfig } from './encoder.js';
import { sequenceViews } from './views.js';
import type { EventDataSpec } from './source.js';

export const EVENTS_FILE = 'events.json';

/** A history encoder as a recipe names it: its field layout comes from the data. */
export interface SequenceEncoderChoice {
  type: 'event-gru';
  config?: Partial<Omit<EventGruConfig, 'cardinalities' | 'numeric'>>;
}

export interface SequencePretrainOptions {
  histories: Histories;
  dataset: string;
  maxLength: number;
  typeField?: string | null;
  encoder: SequenceEncoderChoice;
  method: { name: MethodName; config?: Record<string, unknown> };
  train: Omit<TrainConfig, 'seed'>;
  seed: number;
  recipe: string;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  source?: EventDataSpec;
}

/** Histories as the encoder's input tensor [N, L, C] (kept: the caller frees it). */
export function historiesTensor(h: Histories, schema: EventSchema): Tensor {
  const e = encodeHistories(h, schema);
  return torch.keep(torch.tensor(e.data, { shape: [e.entities, e.length, e.channels] }));
}

export function sequenceEncoderSpec(choice: SequenceEncoderChoice, schema: EventSchema): EncoderSpec {
  const l = eventLayout(schema);
  return { type: 'event-gru', config: { ...choice.config, cardinalities: l.cardinalities, numeric: l.numeric } };
}

/** The encoder.json of a history encoder trained on the encoded histories `x` [N, L, C]. */
export function sequenceEncoderMeta(spec: EncoderSpec, schema: EventSchema, x: Tensor, outDim: number, run: RunLineage): EncoderMeta {
  return encodedInputMeta('sequence', spec, x, outDim, { events: schema }, run);
}

export async function pretrainSequence(
  o: SequencePretrainOptions,
): Promise<{ meta: EncoderMeta; result: TrainResult; schema: EventSchema }> {
  mkdirSync(o.outDir, { recursive: true });
  const schema = fitEvents(o.histories, { maxLength: o.maxLength, typeField: o.typeField });
  const x = historiesTensor(o.histories, schema);
  try {
    torch.manualSeed(o.seed);
    const spec = sequenceEncoderSpec(o.encoder, schema);
    const method = buildMethod(o.method.name, () => buildEncoder(spec), o.method.config ?? {});
    const events = o.histories.offsets[o.histories.entities.length]!;
    const result = await pretrain({
      method,
      images: x,
      makeViews: sequenceViews,
      config: { ...o.train, seed: o.seed },
      outDir: o.outDir,
      resume: o.resume ?? false,
      quiet: o.quiet ?? false,
      throughput: { unit: 'events', perExample: events / Math.max(1, o.histories.entities.length) },
    });
    const meta = sequenceEncoderMeta(spec, schema, x, method.backbone.outDim, {
      ...(o.source ? { eventData: o.source } : {}),
      method: o.method.name,
      recipe: o.recipe,
      dataset: o.dataset,
      trainSteps: result.step,
      trainSeconds: result.trainSeconds,
    });
    saveEncoderRun(o.outDir, method.backbone, meta, { [EVENTS_FILE]: schema });
    method.dispose();
    return { meta, result, schema };
  } finally {
    x.dispose();
  }
}

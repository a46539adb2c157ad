// `pretext pretrain` on an event recipe: group the events (what grouping fixed is printed),
// pretrain, then the final score on the test entities, read once, after every choice is made.
// Also what the other commands need from a history encoder: embeddings of a team's own
// histories under the saved event schema, and its data reloaded for eval and transfer reports.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  describeHistories,
  eventFieldTypes,
  groupEvents,
  labeledEntities,
  readTableFile,
  takeHistories,
  type Histories,
  type TableFileOptions,
} from '@pretext/data';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Recipe } from '../../recipe/schema.js';
import type { LabeledSet } from '../../data/sources.js';
import { extractFeatures } from '../../eval/features.js';
import { loadEncoder, readEncoderMeta, scoreFinishedRun, type PretrainRun, type Scores } from '../../pipeline.js';
import { scoreFrozenFeatures } from '../../transfer/tabular.js';
import { historiesTensor, pretrainSequence, type SequenceEncoderChoice } from './pretrain.js';
import { loadEventData, type EventData, type EventDataSpec } from './source.js';
import { cropHistories } from './views.js';

export async function runSequencePretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const spec = recipe.data as EventDataSpec;
  const data = await loadEventData(spec);
  if (!o.quiet) process.stderr.write(`${describeHistories(data.train)}\n`);
  const { meta, result } = await pretrainSequence({
    histories: data.train,
    dataset: data.name,
    maxLength: data.maxLength,
    typeField: data.typeField,
    encoder: recipe.encoder as SequenceEncoderChoice,
    method: { name: recipe.method.name, config: recipe.method.config },
    train: recipe.train,
    seed: recipe.seed,
    recipe: recipe.name,
    outDir: o.outDir,
    resume: o.resume,
    quiet: o.quiet,
    source: spec,
  });
  return scoreFinishedRun({ outDir: o.outDir, dataset: data.name, result, meta }, data.train.labels ? data.test : null, (test) =>
    scoreSequenceEncoder(o.outDir, data.train, test),
  );
}

/** Embeddings [entities, dim] of histories under a history encoder and its saved event schema (kept). */
export function embedHistories(encoderDir: string, h: Histories): Tensor {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'sequence' || !meta.events)
    throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not an event-history encoder`);
  const x = historiesTensor(h, meta.events);
  const { encoder } = loadEncoder(encoderDir);
  try {
    return extractFeatures(encoder, x, meta.inputNorm, 512);
  } finally {
    x.dispose();
    encoder.dispose();
  }
}

/**
 * A team's own event table embedded under a pulled history encoder: the file is read with the
 * encoder's categorical fields as categories, grouped by `entity` and sorted by `time`, cut to
 * the encoder's length; one embedding per entity, in the order entities first appear.
 */
export async function embedEventFile(
  encoderDir: string,
  path: string,
  o: { entity: string; time: string; cutoff?: number } & Omit<TableFileOptions, 'types'>,
): Promise<{ rows: number; dim: number; data: Float32Array; entities: string[]; histories: Histories }> {
  const meta = readEncoderMeta(encoderDir);
  if (meta.modality !== 'sequence' || !meta.events)
    throw new TypeError(`${encoderDir} holds an ${meta.modality ?? 'image'} encoder, not an event-history encoder`);
  const s = meta.events;
  const table = await readTableFile(path, { ...o, types: eventFieldTypes(s) });
  const h = groupEvents(
    table,
    { entity: o.entity, time: o.time, categorical: s.categorical.map((c) => c.name), numeric: s.numeric.map((c) => c.name) },
    { maxLength: s.maxLength, cutoff: o.cutoff },
  );
  const e = embedHistories(encoderDir, h);
  const out = {
    rows: e.size(0),
    dim: e.size(1),
    data: (e.contiguous().data() as Float32Array).slice(),
    entities: h.entities,
    histories: h,
  };
  e.dispose();
  return out;
}

/**
 * The final score of a history encoder: a regularized linear head on the frozen embeddings of
 * the labeled training entities (its strength chosen on a fixed validation fifth), scored on the
 * test entities: AUROC for a binary label, accuracy otherwise.
 */
export function scoreSequenceEncoder(dir: string, train: Histories, test: Histories): { metric: 'accuracy' | 'auroc'; linear: number } {
  const embed = (h: Histories): { x: Tensor; y: Int32Array } => {
    const { idx, y } = labeledEntities(h);
    return { x: embedHistories(dir, takeHistories(h, idx)), y: Int32Array.from(y) };
  };
  const a = embed(train);
  const b = embed(test);
  const s = scoreFrozenFeatures(a, b, train.classes!.length);
  a.x.dispose();
  b.x.dispose();
  return s;
}

/** A history encoder's data (the recipe's data section it was pretrained with), or a named benchmark set. */
export function eventDataFor(dir: string, dataset?: string): Promise<EventData> {
  const meta = readEncoderMeta(dir);
  const spec: EventDataSpec | undefined =
    dataset !== undefined ? { dataset: 'events', name: dataset, drop: [], maxLength: meta.events?.maxLength ?? 128 } : meta.eventData;
  if (!spec) throw new TypeError(`${dir} does not record where its histories came from; name a history set`);
  return loadEventData(spec);
}

/** `pretext eval` on a history encoder: the final-score protocol on its own histories or a named set. */
export async function evaluateSequenceEncoder(dir: string, dataset?: string): Promise<Scores & { dataset: string }> {
  const data = await eventDataFor(dir, dataset);
  if (!data.test || !data.train.labels) throw new TypeError(`${data.name} has no labeled test entities to score on`);
  const s = scoreSequenceEncoder(dir, data.train, await data.test.forFinalScore('pretext eval'));
  return { dataset: data.name, metric: s.metric, linear: s.linear };
}

/**
 * A history encoder's labeled training and test entities as tensors, for the measurements
 * written for images (diagnostics, the embedding map); the alignment pair is two stretches
 * of one history, as CoLES draws them. Reads the test split: for final measurements only.
 */
export async function historiesAsLabeledSets(
  dir: string,
  purpose: string,
  dataset?: string,
): Promise<{ sets: [LabeledSet, LabeledSet]; corrupt: (x: Tensor, g: torch.Generator) => Tensor }> {
  const meta = readEncoderMeta(dir);
  const data = await eventDataFor(dir, dataset);
  if (!data.test || !data.train.labels) throw new TypeError(`${data.name} has no labeled test entities`);
  const test = await data.test.forFinalScore(purpose);
  const asSet = (h: Histories): LabeledSet => {
    const { idx, y } = labeledEntities(h);
    return {
      images: historiesTensor(takeHistories(h, idx), meta.events!),
      labels: torch.keep(torch.tensor(BigInt64Array.from(y, (c) => BigInt(c)))),
      classes: data.train.classes!,
      source: h.source,
    };
  };
  return {
    sets: [asSet(data.train), asSet(test)],
    corrupt: (x, g) => cropHistories(x, { minShare: 0.5, maxShare: 0.9, minEvents: 4 }, g),
  };
}

// `pretext pretrain` on a table recipe: load the rows (types printed), pretrain, then the
// final score on the test rows, read once, after every choice is made.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { Recipe } from '../../recipe/schema.js';
import { existsSync } from 'node:fs';
import * as torch from '@pretext/torch';
import { labeledRows, takeRows, type Table } from '@pretext/data';
import type { LabeledSet } from '../../data/sources.js';
import { readEncoderMeta, scoreFinishedRun, type PretrainRun, type Scores } from '../../pipeline.js';
import { scoreTableEncoder } from '../../transfer/tabular.js';
import { pretrainTabular, rowsTensor, type TabularEncoderChoice } from './pretrain.js';
import { describeColumns, loadTableData, type TableData, type TableDataSpec } from './source.js';

export async function runTablePretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const spec = recipe.data as TableDataSpec;
  const data = await loadTableData(spec);
  if (!o.quiet)
    process.stderr.write(
      `${data.train.source}: ${data.train.rows} training rows; column types (set data.types to change):\n${describeColumns(data.train, data.label)}\n`,
    );
  const { meta, result } = await pretrainTabular({
    table: data.train,
    dataset: data.name,
    label: data.label,
    preprocessing: recipe.features,
    encoder: recipe.encoder as TabularEncoderChoice,
    method: { name: recipe.method.name, config: recipe.method.config },
    train: recipe.train,
    seed: recipe.seed,
    recipe: recipe.name,
    outDir: o.outDir,
    resume: o.resume,
    quiet: o.quiet,
    source: spec,
  });
  return scoreFinishedRun({ outDir: o.outDir, dataset: data.name, result, meta }, data.label ? data.test : null, (test) =>
    scoreTableEncoder(o.outDir, data.train, test),
  );
}

/** A table encoder's rows, or `dataset`'s (a benchmark table's name, or a file with the same columns and label). */
export function tableDataFor(dir: string, dataset?: string): Promise<TableData> {
  return loadTableData(tableSpecFor(dir, dataset));
}

function tableSpecFor(dir: string, dataset?: string): TableDataSpec {
  const meta = readEncoderMeta(dir);
  const label = meta.features?.label?.name;
  if (!label) throw new TypeError(`${dir} was pretrained without a label column: scoring it needs labeled rows`);
  return dataset === undefined
    ? (meta.tableData ?? { dataset: 'table', name: meta.dataset, drop: [] })
    : existsSync(dataset)
      ? { dataset: 'table', path: dataset, label, drop: [] }
      : { dataset: 'table', name: dataset, drop: [] };
}

/**
 * A table encoder's labeled training and test rows as tensors (encoded by its saved
 * preprocessing; rows without a label left out), for the measurements written for images
 * (diagnostics, the embedding map). Reads the test split: for final measurements only.
 */
export async function tableAsLabeledSets(dir: string, purpose: string, dataset?: string): Promise<[LabeledSet, LabeledSet]> {
  const schema = readEncoderMeta(dir).features!;
  const data = await tableDataFor(dir, dataset);
  if (!data.test) throw new TypeError(`${data.name} has no labeled test rows`);
  const test = await data.test.forFinalScore(purpose);
  const asSet = (t: Table): LabeledSet => {
    const { idx, y } = labeledRows(t, schema);
    return {
      images: rowsTensor(takeRows(t, idx), schema),
      labels: torch.keep(torch.tensor(BigInt64Array.from(y, (c) => BigInt(c)))),
      classes: schema.label!.classes,
      source: t.source,
    };
  };
  return [asSet(data.train), asSet(test)];
}

/**
 * `pretext eval` on a table encoder: the final-score protocol on the rows it was pretrained
 * on, or on `dataset` (a benchmark table's name, or a file with the same columns and label).
 */
export async function evaluateTableEncoder(dir: string, dataset?: string): Promise<Scores & { dataset: string }> {
  const data = await tableDataFor(dir, dataset);
  if (!data.test) throw new TypeError(`${data.name} has no labeled test rows to score on`);
  const s = scoreTableEncoder(dir, data.train, await data.test.forFinalScore('pretext eval'));
  return { dataset: data.name, metric: s.metric, linear: s.linear };
}

// Where a table recipe's rows come from: a benchmark table (fetched, verified, with its fixed
// stratified test fifth) or a team's own file (CSV, TSV, Parquet, ARFF, R data), whose test
// rows are a separate file or a fixed stratified fifth when it has a label. Unlabeled tables
// pretrain and have no test split.
import { holdOutTable, loadTabularSet, readTableFile, TestSplit, type Table } from '@pretext/data';
import type { Recipe } from '../../recipe/schema.js';

export type TableDataSpec = Extract<Recipe['data'], { dataset: 'table' }>;

export interface TableData {
  /** Lineage name: the benchmark's name or `table-file:PATH`. */
  name: string;
  label?: string;
  train: Table;
  test: TestSplit<Table> | null;
}

export async function loadTableData(spec: TableDataSpec): Promise<TableData> {
  if (spec.name !== undefined) {
    const { set, table } = loadTabularSet(spec.name);
    const drop = new Set(spec.drop);
    const kept = { ...table, columns: table.columns.filter((c) => !drop.has(c.name)) };
    const label = spec.label ?? set.label;
    return { name: spec.name, label, ...holdOutTable(kept, label) };
  }
  const options = { drop: spec.drop, types: spec.types, object: spec.object };
  const table = await readTableFile(spec.path!, options);
  const name = `table-file:${spec.path}`;
  if (!spec.label) return { name, train: table, test: null };
  if (spec.testPath) {
    const testPath = spec.testPath;
    return { name, label: spec.label, train: table, test: new TestSplit(testPath, () => readTableFile(testPath, options)) };
  }
  return { name, label: spec.label, ...holdOutTable(table, spec.label) };
}

/** One line per column: its name, type and what it holds (what a user checks the inference by). */
export function describeColumns(t: Table, label?: string): string {
  return t.columns
    .map((c) => {
      if (c.name === label) return `  ${c.name.padEnd(28)} ${c.type.padEnd(12)} the label`;
      const missing =
        c.type === 'text'
          ? c.values.filter((v) => v === null).length
          : c.type === 'numeric' || c.type === 'date'
            ? c.values.filter((v) => Number.isNaN(v)).length
            : c.values.filter((v) => v < 0).length;
      const what = 'levels' in c ? `${c.levels.length} levels` : c.type === 'text' ? 'free text (not an input)' : 'numbers';
      return `  ${c.name.padEnd(28)} ${c.type.padEnd(12)} ${what}${missing ? `, ${missing} missing` : ''}`;
    })
    .join('\n');
}

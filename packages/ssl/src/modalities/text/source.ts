// Where a text recipe's documents come from: a benchmark corpus by name, a folder of .txt
// files, or a column of a CSV/TSV/JSONL/Parquet file. A labeled corpus without a separate
// test set has a fixed, seeded, stratified fifth held out behind the TestSplit accessor.
import { statSync } from 'node:fs';
import {
  DataFormatError,
  loadTextSet,
  readTextColumn,
  readTextFolder,
  stratifiedHoldOut,
  takeDocuments,
  TestSplit,
  type TextCorpus,
} from '@pretext/data';

export interface TextDataSpec {
  dataset: 'text';
  name?: string;
  path?: string;
  column?: string;
  label?: string;
  testPath?: string;
}

export interface TextData {
  name: string;
  train: TextCorpus;
  /** Labeled test documents, or null for an unlabeled corpus. */
  test: TestSplit<TextCorpus> | null;
}

async function readCorpus(path: string, spec: TextDataSpec): Promise<TextCorpus> {
  let dir: boolean;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    throw new DataFormatError(`${path}: no such folder or file`);
  }
  if (dir) return readTextFolder(path);
  if (!spec.column) throw new DataFormatError(`${path} is a file: name its text column with data.column`);
  return readTextColumn(path, { text: spec.column, label: spec.label });
}

export async function loadTextData(spec: TextDataSpec): Promise<TextData> {
  if (spec.name) {
    const s = loadTextSet(spec.name);
    return { name: spec.name, train: s.train, test: s.test };
  }
  const path = spec.path!;
  const all = await readCorpus(path, spec);
  const name = path.replace(/\/+$/, '').split('/').pop()!;
  if (spec.testPath) {
    const test = await readCorpus(spec.testPath, spec);
    if (test.labels === null) throw new DataFormatError(`${spec.testPath}: the test documents have no labels to score against`);
    // The test set's classes are mapped onto the training set's by name.
    const index = new Map(all.classes.map((c, i) => [c, i]));
    const unknown = test.classes.filter((c) => !index.has(c));
    if (unknown.length) throw new DataFormatError(`${spec.testPath}: classes ${unknown.join(', ')} are not in the training documents`);
    const mapped = {
      ...test,
      labels: Int32Array.from(test.labels, (l) => (l < 0 ? -1 : index.get(test.classes[l]!)!)),
      classes: all.classes,
    };
    return { name, train: all, test: new TestSplit(`${spec.testPath}`, () => Promise.resolve(mapped)) };
  }
  if (!all.labels) return { name, train: all, test: null };
  // Unlabeled documents (-1) all stay in training: they pretrain but are never scored.
  const { train, test } = stratifiedHoldOut(all.labels, 0.2);
  const held = takeDocuments(all, test, 'test split');
  return { name, train: takeDocuments(all, train, 'training split'), test: new TestSplit(`${path}/test`, () => Promise.resolve(held)) };
}

/** One line per fact a user should see before training starts. */
export function describeCorpus(c: TextCorpus): string {
  const lines = [`${c.source}: ${c.texts.length} documents`];
  if (c.labels) {
    const counts = c.classes.map((name, k) => `${name} ${c.labels!.filter((l) => l === k).length}`);
    const unlabeled = c.labels.filter((l) => l < 0).length;
    lines.push(`  classes: ${counts.join(', ')}${unlabeled ? `, unlabeled ${unlabeled}` : ''}`);
  } else lines.push('  unlabeled: pretraining only, no score');
  for (const s of c.skipped.slice(0, 20)) lines.push(`  skipped ${s.file}: ${s.reason}`);
  if (c.skipped.length > 20) lines.push(`  ... and ${c.skipped.length - 20} more files skipped`);
  return lines.join('\n');
}

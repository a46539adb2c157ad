// Splits that keep choices honest. A validation split is carved from the training data by a
// fixed, seeded rule, for every choice a run makes (recipes, epochs, early stopping, curves);
// the test split is handed out by one accessor that refuses while a model-selection step is
// running, so the test split can only produce the final score.
import { AsyncLocalStorage } from 'node:async_hooks';
import { findColumn, takeRows } from './features.js';
import type { Table } from './table.js';
import { takeHistories, type Histories } from './events/histories.js';

/** splitmix32: a small, well-mixed 32-bit generator, the same on every machine. */
export function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A permutation of 0..n-1 drawn by `seed` (Fisher-Yates). */
export function seededPermutation(n: number, seed: number): Uint32Array {
  const next = splitmix32(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    // Rejection sampling keeps every index equally likely.
    const bound = i + 1;
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound);
    let r = next();
    while (r >= limit) r = next();
    const j = r % bound;
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The seed every data set's validation split is carved with, so the split is fixed and documented. */
export const VALIDATION_SEED = 20_261_204;

/**
 * Splits `n` training examples into training and validation indices (each ascending): a
 * fixed, seeded choice of `count` examples for validation, the rest for training.
 */
export function carveValidation(n: number, count: number, seed = VALIDATION_SEED): { train: Uint32Array; validation: Uint32Array } {
  if (!Number.isInteger(count) || count < 1 || count >= n)
    throw new RangeError(`a validation split of ${count} from ${n} training examples leaves no training or no validation data`);
  const p = seededPermutation(n, seed);
  return { validation: p.slice(0, count).sort(), train: p.slice(count).sort() };
}

/** How many training examples a data set gives to validation: 5,000, or a tenth of a smaller set. */
export function validationCount(n: number): number {
  return Math.min(5000, Math.max(1, Math.floor(n / 10)));
}

export class TestSplitSealed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestSplitSealed';
  }
}

const selection = new AsyncLocalStorage<string>();

/**
 * Runs a model-selection step (a per-epoch curve, early stopping, a choice between
 * settings): while it runs, any test split asked for is refused.
 */
export function duringSelection<T>(what: string, fn: () => T): T {
  return selection.run(what, fn);
}

/** The selection step running now, if any. */
export function currentSelection(): string | undefined {
  return selection.getStore();
}

/** A data set's test split behind its one accessor. */
export class TestSplit<T> {
  /** What each opening was for, in order. */
  readonly openings: string[] = [];
  constructor(
    readonly source: string,
    private readonly load: () => Promise<T>,
  ) {}

  /** The test split, for a final score (`purpose` is recorded); refused during model selection. */
  async forFinalScore(purpose: string): Promise<T> {
    const selecting = currentSelection();
    if (selecting !== undefined)
      throw new TestSplitSealed(
        `the test split of ${this.source} was asked for during model selection (${selecting}): choices use the validation split, and the test split gives only the final score`,
      );
    this.openings.push(purpose);
    return this.load();
  }
}

/** The seed benchmark tables without a published test split are split with. */
export const TABLE_TEST_SEED = 20_261_205;

/**
 * Indices of a fixed, seeded, stratified hold-out: `fraction` of each class (by `classes`,
 * one code per row, -1 for unlabeled rows, which stay in training) goes to the test split.
 * Both index lists ascend.
 */
export function stratifiedHoldOut(
  classes: ArrayLike<number>,
  fraction: number,
  seed = TABLE_TEST_SEED,
): { train: Uint32Array; test: Uint32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`a test fraction must be in (0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  const order = seededPermutation(classes.length, seed);
  for (const i of order) {
    const c = classes[i]!;
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push(i);
  }
  const test: number[] = [];
  for (const [c, rows] of byClass) if (c >= 0) test.push(...rows.slice(0, Math.round(rows.length * fraction)));
  const inTest = new Uint8Array(classes.length);
  for (const i of test) inTest[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < classes.length; i++) if (!inTest[i]) train.push(i);
  return { train: Uint32Array.from(train), test: Uint32Array.from(test).sort() };
}

/**
 * A benchmark table's fixed split: a stratified fifth (by the label column) as the test
 * split, behind its accessor, and the rest for training, pretraining and every choice.
 */
export function holdOutTable(table: Table, label: string, fraction = 0.2): { train: Table; test: TestSplit<Table> } {
  const c = findColumn(table, label);
  const classes =
    c.type === 'categorical' || c.type === 'boolean'
      ? c.values
      : c.type === 'numeric'
        ? Int32Array.from(c.values, (v) => (Number.isNaN(v) ? -1 : Math.round(v)))
        : new Int32Array(table.rows);
  const { train, test } = stratifiedHoldOut(classes, fraction);
  const held = takeRows(table, test, 'test split');
  return { train: takeRows(table, train, 'training split'), test: new TestSplit(`${table.source}/test`, () => Promise.resolve(held)) };
}

/** A fixed stratified fifth of the entities (by label) as the test split, behind its accessor. */
export function holdOutHistories(h: Histories, fraction = 0.2): { train: Histories; test: TestSplit<Histories> } {
  if (!h.labels) throw new TypeError(`${h.source} has no labels to stratify a test split by`);
  const { train, test } = stratifiedHoldOut(h.labels, fraction);
  const held = takeHistories(h, test, 'test split');
  return { train: takeHistories(h, train, 'training split'), test: new TestSplit(`${h.source}/test`, () => Promise.resolve(held)) };
}

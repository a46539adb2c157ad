// Tabular preprocessing is learned on training rows only and replays on anyone's rows:
// unseen categories and missing cells map to their slots, a missing or mistyped column is an
// error naming it, and the benchmark hold-out is stratified, fixed and sealed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DataFormatError,
  duringSelection,
  encodeFeatures,
  featureLayout,
  fitFeatures,
  holdOutTable,
  labelCodes,
  MISSING_CODE,
  normalQuantile,
  oneHotFeatures,
  rawFeatures,
  scaleNumeric,
  TestSplitSealed,
  UNKNOWN_CODE,
  type Table,
} from '../src/index.js';

function table(ages: number[], cities: (number | -1)[], levels: string[], labels: number[]): Table {
  return {
    source: 't.csv',
    rows: ages.length,
    columns: [
      { name: 'age', type: 'numeric', values: Float64Array.from(ages) },
      { name: 'city', type: 'categorical', values: Int32Array.from(cities), levels },
      { name: 'y', type: 'categorical', values: Int32Array.from(labels), levels: ['no', 'yes'] },
    ],
  };
}

describe('tabular preprocessing', () => {
  const ages = Array.from({ length: 100 }, (_, i) => (i === 7 ? NaN : 20 + i));
  const cities = Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 98 ? 1 : 2));
  const train = table(
    ages,
    cities,
    ['oslo', 'rome', 'lima'],
    Array.from({ length: 100 }, (_, i) => i % 2),
  );

  it('learns quantiles, indicators, kept levels and the label from the training rows', () => {
    const s = fitFeatures(train, { label: 'y' });
    assert.deepEqual(s.label, { name: 'y', classes: ['no', 'yes'] });
    assert.equal(s.numeric.length, 1);
    assert.equal(s.numeric[0]!.indicator, true, 'age had a gap in training');
    // 'lima' was seen twice: folded into the unknown slot (minCount 5)
    assert.deepEqual(s.categorical[0]!.levels, ['oslo', 'rome']);
    assert.deepEqual(featureLayout(s), { numeric: 1, indicators: 1, cardinalities: [4] });
    // the quantile map: the median goes to 0, the extremes to the tails, monotone in between
    const f = s.numeric[0]!;
    assert.ok(Math.abs(scaleNumeric(f, f.median)) < 0.02);
    const xs = [0, 30, 60, 90, 200].map((v) => scaleNumeric(f, v));
    for (let i = 1; i < xs.length; i++) assert.ok(xs[i]! > xs[i - 1]!, `${xs}`);
    assert.ok(xs[0]! < -3.5 && xs[4]! > 3.5);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  });

  it("encodes someone else's rows: unseen levels, missing cells, one-hot and raw views", () => {
    const s = fitFeatures(train, { label: 'y' });
    const theirs = table([NaN, 50], [3, -1], ['oslo', 'rome', 'lima', 'kyiv'], [0, 1]);
    const m = encodeFeatures(theirs, s);
    assert.deepEqual([m.rows, m.cols], [2, 3]);
    assert.equal(m.data[1], 1, 'missing age flagged');
    assert.equal(m.data[0], scaleNumeric(s.numeric[0]!, NaN), 'filled with the median');
    assert.equal(m.data[2], UNKNOWN_CODE, 'kyiv was never seen');
    assert.equal(m.data[5], MISSING_CODE);
    const oh = oneHotFeatures(m, s);
    assert.deepEqual(Array.from(oh.data.subarray(2, 6)), [0, 1, 0, 0]);
    const raw = rawFeatures(theirs, s);
    assert.ok(Number.isNaN(raw.data[0]!) && raw.data[2] === 50 && Number.isNaN(raw.data[3]!));
    assert.deepEqual(Array.from(labelCodes(theirs, s)), [0, 1]);
  });

  it('names the column when a table does not fit the schema', () => {
    const s = fitFeatures(train, { label: 'y' });
    const missing: Table = { ...train, columns: train.columns.filter((c) => c.name !== 'city') };
    assert.throws(
      () => encodeFeatures(missing, s),
      (e: Error) => e instanceof DataFormatError && /column 'city' is missing/.test(e.message),
    );
    const wrong: Table = {
      ...train,
      columns: train.columns.map((c) =>
        c.name === 'age' ? { name: 'age', type: 'text' as const, values: new Array<string>(100).fill('x') } : c,
      ),
    };
    assert.throws(() => encodeFeatures(wrong, s), /column 'age' is text; the encoder expects numeric/);
    assert.throws(() => fitFeatures(train, { label: 'target' }), /no label column 'target'/);
  });

  it('holds out a fixed, stratified fifth as the test split, sealed during selection', async () => {
    const labels = Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const t = table(
      Array.from({ length: 200 }, (_, i) => i),
      new Array(200).fill(0),
      ['a'],
      labels,
    );
    const a = holdOutTable(t, 'y');
    const b = holdOutTable(t, 'y');
    assert.equal(a.train.rows, 160);
    const test = await a.test.forFinalScore('the test');
    assert.equal(test.rows, 40);
    const values = (t: Table, j: number): number[] => Array.from(t.columns[j]!.values as Float64Array | Int32Array);
    assert.equal(values(test, 2).filter((v) => v === 1).length, 4, 'the minority keeps its share');
    assert.deepEqual(values(await b.test.forFinalScore('again'), 0), values(test, 0));
    const trainAges = new Set(values(a.train, 0));
    assert.ok(
      values(test, 0).every((v) => !trainAges.has(v)),
      'disjoint',
    );
    await assert.rejects(
      duringSelection('picking epochs', () => a.test.forFinalScore('peek')),
      TestSplitSealed,
    );
  });
});

// Preprocessing merged from site summaries: one site's summary gives what fitting on its rows
// gives, several sites' summaries give the pooled rows' quantiles to within the summaries'
// resolution, and a summary names no rare level and no single row's extreme.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataFormatError, fitFeatures, mergeTableSummaries, summarizeTable, type Table, type TableSummary } from '../src/index.js';

/** A seeded uniform generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Rows whose income, city and label depend on the site, so the sites' distributions differ. */
function siteTable(site: number, rows: number, seed: number): Table {
  const r = rng(seed);
  const income = Float64Array.from({ length: rows }, (_, i) => (i % 17 === 3 ? NaN : Math.exp(site + 0.8 * (r() + r() + r() - 1.5))));
  const city = Int32Array.from({ length: rows }, () => Math.min(3, Math.floor(r() * (site + 2))));
  const y = Int32Array.from({ length: rows }, () => (r() < 0.2 + 0.2 * site ? 1 : 0));
  return {
    source: `site${site}.csv`,
    rows,
    columns: [
      { name: 'income', type: 'numeric', values: income },
      { name: 'city', type: 'categorical', values: city, levels: ['ash', 'birch', 'cedar', 'elm'] },
      { name: 'y', type: 'categorical', values: y, levels: ['0', '1'] },
    ],
  };
}

function pooled(tables: Table[]): Table {
  const rows = tables.reduce((a, t) => a + t.rows, 0);
  /** Column j of every table, end to end, in an array of the first one's kind. */
  const concat = <T extends Float64Array | Int32Array>(j: number, into: T): T => {
    let o = 0;
    for (const t of tables) {
      const values = t.columns[j]!.values as T;
      into.set(values, o);
      o += values.length;
    }
    return into;
  };
  return {
    source: 'pooled',
    rows,
    columns: tables[0]!.columns.map(
      (c, j) => ({ ...c, values: concat(j, c.type === 'numeric' ? new Float64Array(rows) : new Int32Array(rows)) }) as typeof c,
    ),
  };
}

/** The share of the pooled values at or below x. */
const rankIn = (sorted: Float64Array, x: number): number => {
  let n = 0;
  for (const v of sorted) if (v <= x) n++;
  return n / sorted.length;
};

describe('preprocessing merged from site summaries', () => {
  it("one site's summary with nothing suppressed gives the schema fitted on its rows", () => {
    const t = siteTable(1, 400, 7);
    const fitted = fitFeatures(t, { label: 'y', minCount: 1 });
    const merged = mergeTableSummaries({ a: summarizeTable(t, { label: 'y', minCount: 1 }) }, { label: 'y', minCount: 1 });
    assert.deepEqual(merged.label, fitted.label);
    assert.deepEqual(merged.categorical, fitted.categorical);
    const [m, f] = [merged.numeric[0]!, fitted.numeric[0]!];
    assert.equal(m.quantiles!.length, f.quantiles!.length);
    m.quantiles!.forEach((q, i) => assert.ok(Math.abs(q - f.quantiles![i]!) < 1e-9, `quantile ${i}: ${q} vs ${f.quantiles![i]}`));
    assert.equal(m.indicator, true);
    assert.ok(Math.abs(m.median - f.median) / f.scale < 0.01, `median ${m.median} vs ${f.median}`);
  });

  it("three sites' summaries give the pooled rows' quantiles to within a point of rank", () => {
    const tables = [siteTable(0, 900, 1), siteTable(1, 2500, 2), siteTable(2, 600, 3)];
    const summaries = Object.fromEntries(tables.map((t, i) => [`site${i}`, summarizeTable(t, { label: 'y' })]));
    const merged = mergeTableSummaries(summaries, { label: 'y' });
    const fitted = fitFeatures(pooled(tables), { label: 'y' });
    const all = (pooled(tables).columns[0]!.values as Float64Array).filter((v) => !Number.isNaN(v)).sort();
    const q = merged.numeric[0]!.quantiles!;
    assert.equal(q.length, 256);
    let worst = 0;
    q.forEach((x, i) => {
      if (i > 0 && i < q.length - 1) worst = Math.max(worst, Math.abs(rankIn(all, x) - i / (q.length - 1)));
    });
    assert.ok(worst < 0.01, `worst rank error ${worst}`);
    assert.ok(Math.abs(rankIn(all, merged.numeric[0]!.median) - 0.5) < 0.005);
    assert.ok(Math.abs(merged.numeric[0]!.scale - fitted.numeric[0]!.scale) / fitted.numeric[0]!.scale < 0.03);
    assert.deepEqual(merged.categorical, fitted.categorical);
    assert.deepEqual(merged.label, { name: 'y', classes: ['0', '1'] });
  });

  it('names no level seen fewer than minCount times at a site and shows no single extreme value', () => {
    const t = siteTable(2, 300, 11);
    // One outlier income and one row of a city nobody else lives in.
    (t.columns[0]!.values as Float64Array)[0] = 1e9;
    (t.columns[1] as { levels: string[] }).levels.push('oak');
    (t.columns[1]!.values as Int32Array)[1] = 4;
    const s = summarizeTable(t, { minCount: 5 });
    const income = s.columns.find((c) => c.name === 'income') as Extract<TableSummary['columns'][number], { points: number[] }>;
    const sorted = (t.columns[0]!.values as Float64Array).filter((v) => !Number.isNaN(v)).sort();
    assert.equal(Math.max(...income.points), sorted[sorted.length - 5]);
    assert.equal(Math.min(...income.points), sorted[4]);
    const city = s.columns.find((c) => c.name === 'city') as Extract<TableSummary['columns'][number], { counts: unknown }>;
    assert.equal(city.counts.oak, undefined);
    assert.equal(city.suppressed, 1);
    assert.equal(Object.values(city.counts).reduce((a, b) => a + b, 0) + city.suppressed, 300);
    // A level seen 3 times at each of two sites is named by neither, so the merge folds it.
    const few = (site: number): Table => {
      const u = siteTable(site, 100, 20 + site);
      (u.columns[1]!.values as Int32Array).set([3, 3, 3], 0);
      (u.columns[1]!.values as Int32Array).forEach((v, i, a) => {
        if (i >= 3 && v === 3) a[i] = 0;
      });
      return u;
    };
    const merged = mergeTableSummaries({ a: summarizeTable(few(0)), b: summarizeTable(few(1)) });
    assert.equal(merged.categorical[0]!.levels.includes('elm'), false);
    assert.equal(fitFeatures(pooled([few(0), few(1)])).categorical[0]!.levels.includes('elm'), true);
  });

  it('refuses a column typed differently at two sites, and leaves out a column one site lacks', () => {
    const a = siteTable(0, 50, 1);
    const b = siteTable(1, 50, 2);
    b.columns[1] = { name: 'city', type: 'numeric', values: new Float64Array(50).fill(1) };
    assert.throws(
      () => mergeTableSummaries({ a: summarizeTable(a), b: summarizeTable(b) }),
      (e: Error) => e instanceof DataFormatError && /column 'city'.*a: categorical, b: numeric.*data\.types/.test(e.message),
    );
    const c = siteTable(1, 50, 2);
    c.columns.splice(0, 1);
    const merged = mergeTableSummaries({ a: summarizeTable(a), c: summarizeTable(c) });
    assert.deepEqual(merged.ignored, { income: 'not in the table of site c' });
    assert.deepEqual(
      merged.categorical.map((f) => f.name),
      ['city', 'y'],
    );
  });

  it('names the site whose summary is malformed', () => {
    const good = summarizeTable(siteTable(0, 60, 1));
    const tampered = structuredClone(good);
    const city = tampered.columns.find((c) => c.name === 'city') as { counts: Record<string, number> };
    city.counts.ash! += 1000;
    assert.throws(
      () => mergeTableSummaries({ north: good, south: tampered }),
      /the summary from site 'south' gives column 'city' counts that do not add up/,
    );
    const unordered = structuredClone(good);
    const income = unordered.columns.find((c) => c.name === 'income') as { points: number[] };
    income.points.reverse();
    assert.throws(() => mergeTableSummaries({ north: unordered }), /site 'north' gives column 'income' points out of order/);
    assert.throws(() => mergeTableSummaries({ east: { format: 'x' } as never }), /site 'east' is not a table summary/);
  });
});

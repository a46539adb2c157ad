// Benchmark tables come from Debian packages without installing them, verified by sha256,
// and a cached copy that does not match is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { column, debianFile, loadTabularSet, TABULAR_SETS, type Column } from '../src/index.js';

describe('benchmark tables from Debian packages', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'deb-cache-'));
  const noInstall = mkdtempSync(join(tmpdir(), 'deb-root-'));

  it('fetches weka with apt-get download, unpacks it with dpkg-deb, and reads credit-g and diabetes', () => {
    const credit = loadTabularSet('credit-g', { cacheDir, installRoot: noInstall });
    assert.equal(credit.table.rows, 1000);
    assert.equal(credit.table.columns.length, 21);
    const cls = column(credit.table, 'class') as Extract<Column, { levels: string[] }>;
    assert.deepEqual(cls.levels, ['good', 'bad']);
    assert.deepEqual(
      [0, 1].map((k) => cls.values.filter((v) => v === k).length),
      [700, 300],
    );
    // The second table comes from the cache the first fetch filled.
    const diabetes = loadTabularSet('diabetes', { cacheDir, installRoot: noInstall, download: false });
    assert.equal(diabetes.table.rows, 768);
    const positive = (column(diabetes.table, 'class') as Extract<Column, { levels: string[] }>).values.filter((v) => v === 1).length;
    assert.equal(positive, 268);
  });

  it('reads the R sets: lazy-load bundles (raw LZMA2) and xz-compressed .rda files, leaks dropped', () => {
    const o = { cacheDir, installRoot: noInstall };
    const levelCounts = (t: { columns: Column[] }, name: string): Record<string, number> => {
      const c = t.columns.find((x) => x.name === name) as Extract<Column, { levels: string[] }>;
      return Object.fromEntries(c.levels.map((l, k) => [l, c.values.filter((v) => v === k).length]));
    };
    const lending = loadTabularSet('lending-club', o).table;
    assert.deepEqual([lending.rows, lending.columns.length], [9857, 23]);
    assert.deepEqual(levelCounts(lending, 'Class'), { bad: 517, good: 9340 });
    const fl = loadTabularSet('flchain', o).table;
    assert.deepEqual([fl.rows, fl.columns.length], [7874, 9]);
    assert.ok(!fl.columns.some((c) => c.name === 'futime' || c.name === 'chapter'));
    const death = column(fl, 'death');
    assert.equal(death.type, 'numeric');
    assert.equal(
      (death.values as Float64Array).reduce((a, b) => a + b, 0),
      2169,
    );
    const tic = loadTabularSet('ticdata', o).table;
    assert.deepEqual([tic.rows, tic.columns.length], [9822, 86]);
    assert.equal(levelCounts(tic, 'CARAVAN').insurance, 586);
    const shuttle = loadTabularSet('shuttle', o).table;
    assert.deepEqual([shuttle.rows, shuttle.columns.length], [58000, 10]);
    assert.equal(Object.keys(levelCounts(shuttle, 'Class')).length, 7);
  });

  it('refuses a cached copy whose content does not match, and says where it looked when fetching is off', () => {
    const bad = mkdtempSync(join(tmpdir(), 'deb-bad-'));
    mkdirSync(join(bad, 'debian', 'weka'), { recursive: true });
    writeFileSync(join(bad, 'debian', 'weka', 'credit-g.arff'), '@relation x\n');
    assert.throws(
      () => debianFile(TABULAR_SETS['credit-g']!.file, { cacheDir: bad, installRoot: noInstall }),
      /checksum mismatch.*delete it/,
    );
    assert.throws(
      () =>
        debianFile(TABULAR_SETS.diabetes!.file, {
          cacheDir: mkdtempSync(join(tmpdir(), 'deb-none-')),
          installRoot: noInstall,
          download: false,
        }),
      /diabetes\.arff \(Debian package weka\) not found in .* and fetching is off/,
    );
    assert.throws(() => loadTabularSet('adult'), /unknown table 'adult'/);
  });
});

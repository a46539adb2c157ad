// Partitions of a data set among federated sites: each one disjoint and covering, fixed by its
// seed, and skewed the way its name says.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePartition, partitionExamples, PartitionError, type Partition } from '../src/index.js';

// 10 classes, 2,000 examples each, in a scrambled order.
const labels = Int32Array.from({ length: 20_000 }, (_, i) => (i * 7) % 10);

function checkCover(p: Partition, n: number): void {
  const seen = new Uint8Array(n);
  for (const s of p.sites) for (const i of s.indices) seen[i]!++;
  assert.ok(
    seen.every((v) => v === 1),
    'every example at exactly one site',
  );
  for (const [s, site] of p.sites.entries()) {
    assert.equal(
      p.counts[s]!.reduce((a, b) => a + b, 0),
      site.indices.length,
    );
    assert.ok(
      site.indices.every((v, i) => i === 0 || v > site.indices[i - 1]!),
      'indices ascend',
    );
  }
}

/** Mean over sites of the number of classes holding at least 5% of a site's examples. */
const classesPerSite = (p: Partition): number =>
  p.counts.reduce((a, row) => a + row.filter((c) => c >= 0.05 * row.reduce((x, y) => x + y, 0)).length, 0) / p.counts.length;

describe('partitions', () => {
  it('parses what the CLI accepts and refuses the rest by name', () => {
    assert.deepEqual(parsePartition('dirichlet:0.1'), { kind: 'dirichlet', alpha: 0.1 });
    assert.deepEqual(parsePartition('shards:2'), { kind: 'shards', perSite: 2 });
    assert.deepEqual(parsePartition('column:addr_state'), { kind: 'column', column: 'addr_state' });
    assert.deepEqual(parsePartition('iid'), { kind: 'iid' });
    assert.throws(() => parsePartition('dirichlet'), /alpha must be a positive number/);
    assert.throws(() => parsePartition('dirichlet:-1'), PartitionError);
    assert.throws(() => parsePartition('shards:1.5'), /whole number/);
    assert.throws(() => parsePartition('random'), /unknown partition 'random'/);
  });

  it('Dirichlet label skew: covering, seeded, and the smaller alpha the fewer classes per site', () => {
    const a = partitionExamples({ kind: 'dirichlet', alpha: 0.1 }, { sites: 8, seed: 1, labels });
    checkCover(a, labels.length);
    assert.deepEqual(partitionExamples({ kind: 'dirichlet', alpha: 0.1 }, { sites: 8, seed: 1, labels }).counts, a.counts);
    assert.notDeepEqual(partitionExamples({ kind: 'dirichlet', alpha: 0.1 }, { sites: 8, seed: 2, labels }).counts, a.counts);
    const skewed = classesPerSite(a);
    const mild = classesPerSite(partitionExamples({ kind: 'dirichlet', alpha: 1 }, { sites: 8, seed: 1, labels }));
    const flat = classesPerSite(partitionExamples({ kind: 'dirichlet', alpha: 1000 }, { sites: 8, seed: 1, labels }));
    assert.ok(skewed < 4, `alpha 0.1: ${skewed} classes per site`);
    assert.ok(skewed < mild && mild < flat, `${skewed} < ${mild} < ${flat}`);
    assert.equal(flat, 10);
    assert.deepEqual(
      a.sites.map((s) => s.name),
      ['site-1', 'site-2', 'site-3', 'site-4', 'site-5', 'site-6', 'site-7', 'site-8'],
    );
  });

  it('redraws until every site has its minimum, and says so when it cannot', () => {
    const p = partitionExamples({ kind: 'dirichlet', alpha: 0.05 }, { sites: 8, seed: 3, labels, minPerSite: 500 });
    assert.ok(p.sites.every((s) => s.indices.length >= 500));
    assert.throws(
      () => partitionExamples({ kind: 'dirichlet', alpha: 0.1 }, { sites: 8, seed: 3, labels, minPerSite: 2400 }),
      /1,000 draws left a site/,
    );
    assert.throws(() => partitionExamples({ kind: 'iid' }, { sites: 30_000, seed: 3, labels }), /cannot be split among 30000 sites/);
  });

  it('shards give each site its K runs of the class-sorted examples; IID and quantity skew keep classes mixed', () => {
    const shards = partitionExamples({ kind: 'shards', perSite: 2 }, { sites: 10, seed: 0, labels });
    checkCover(shards, labels.length);
    for (const row of shards.counts) assert.ok(row.filter((c) => c > 0).length <= 2, `a site with 2 shards of one class each: ${row}`);
    const iid = partitionExamples({ kind: 'iid' }, { sites: 8, seed: 0, labels });
    checkCover(iid, labels.length);
    assert.ok(iid.sites.every((s) => s.indices.length === 2500));
    const quantity = partitionExamples({ kind: 'quantity', alpha: 0.5 }, { sites: 8, seed: 0, labels });
    checkCover(quantity, labels.length);
    const sizes = quantity.sites.map((s) => s.indices.length);
    assert.ok(Math.max(...sizes) > 3 * Math.min(...sizes), `quantity skew: ${sizes}`);
    // Classes stay mixed wherever a site is large enough to tell.
    for (const [s, row] of quantity.counts.entries())
      if (sizes[s]! >= 1000)
        assert.ok(
          row.every((c) => c >= 0.05 * sizes[s]!),
          `site ${s + 1}: ${row}`,
        );
    assert.throws(
      () => partitionExamples({ kind: 'shards', perSite: 2 }, { sites: 4, seed: 0, count: 100 }),
      /splits by class and needs labels/,
    );
  });

  it('a natural column makes its most frequent values sites and pools the rest', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => (i < 500 ? 'CA' : i < 800 ? 'TX' : i < 900 ? 'NY' : i < 960 ? 'FL' : 'WA'));
    const p = partitionExamples({ kind: 'column', column: 'state' }, { sites: 3, seed: 0, keys });
    checkCover(p, 1000);
    assert.deepEqual(
      p.sites.map((s) => [s.name, s.indices.length]),
      [
        ['CA', 500],
        ['TX', 300],
        ['other', 200],
      ],
    );
    const all = partitionExamples({ kind: 'column', column: 'state' }, { sites: 8, seed: 0, keys });
    assert.deepEqual(
      all.sites.map((s) => s.name),
      ['CA', 'TX', 'NY', 'FL', 'WA'],
    );
  });
});

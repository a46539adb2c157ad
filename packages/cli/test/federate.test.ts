// `pretext federate simulate` as a user runs it: a small federation on Fashion-MNIST whose run
// folder the other commands read, and the mistakes a user makes refused with their reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPretext, tinyImageRecipe } from './fixtures/cli.js';

describe('pretext federate simulate', () => {
  let dir: string;
  let recipe: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pretext-federate-'));
    recipe = join(dir, 'recipe.yaml');
    writeFileSync(recipe, tinyImageRecipe('fed', '{ width: 8, depth: 2, readoutNorm: true }').replace('linear: false', 'linear: true'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains 3 sites under label skew with FedEMA and leaves an encoder run the other commands read', () => {
    const out = join(dir, 'run');
    const r = runPretext(
      {},
      'federate',
      'simulate',
      recipe,
      '--sites',
      '3',
      '--partition',
      'dirichlet:0.5',
      '--strategy',
      'fedema',
      '--rounds',
      '2',
      '--out',
      out,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      strategy: string;
      rounds: number;
      linear: number;
      knn: number;
      perRound: { sites: number; bytesIn: number }[];
    };
    assert.equal(res.strategy, 'fedema');
    assert.equal(res.perRound.length, 2);
    assert.ok(res.perRound.every((p) => p.sites === 3 && p.bytesIn > 0));
    assert.ok(res.linear > 0.4 && res.knn > 0.4, r.stdout);
    const fed = JSON.parse(readFileSync(join(out, 'federation.json'), 'utf8')) as {
      strategy: { share: string };
      sites: { classCounts: number[] }[];
    };
    assert.equal(fed.strategy.share, 'encoder');
    assert.equal(
      fed.sites.reduce((a, s) => a + s.classCounts.reduce((x, y) => x + y, 0), 0),
      512,
    );
    assert.match(readFileSync(join(out, 'federation.svg'), 'utf8'), /^<svg/);
    const d = runPretext({}, 'diagnose', '--encoder', out, '--json');
    assert.equal(d.code, 0, d.stderr);
  });

  it('refuses what cannot run, naming it', () => {
    const cases: [string[], RegExp][] = [
      [['--sites', '3', '--partition', 'dirichlet'], /alpha must be a positive number/],
      [['--sites', '3', '--partition', 'iid', '--strategy', 'fedsgd'], /unknown strategy 'fedsgd'/],
      [['--sites', '3', '--partition', 'iid', '--min-sites', '4'], /--min-sites must be between 1 and 3/],
      [['--partition', 'iid'], /--sites N/],
      [['--sites', '3', '--partition', 'iid', '--prox-mu', '0.1'], /proximal term belongs to fedprox/],
      [['--sites', '3', '--partition', 'iid', '--strategy', 'median', '--secure-aggregation'], /cannot run under secure aggregation/],
      [['--sites', '2', '--partition', 'iid', '--secure-aggregation'], /at least 3 sites/],
    ];
    for (const [args, message] of cases) {
      const r = runPretext({}, 'federate', 'simulate', recipe, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

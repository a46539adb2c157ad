// A finance team's table through the CLI as the README tells it: pretrain from a recipe that
// names a CSV, its label and an id to drop; a transfer report against logistic regression
// and XGBoost; push to a hub; a second team pulls the encoder and embeds its own rows (with a
// merchant category the first team never saw), and a file missing a column is refused by name;
// the hub page embeds a typed row in the browser.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { expectedTypes, tableFromRecords, type FeatureSchema } from '@pretext/data';
import { dpSgdEpsilon, embedTable, preparePublication, type Gallery } from '@pretext/ssl';
import { checkOnnxExport, checkTryItPanel, launchChromium, runPretext, serveHub, transactions } from './fixtures/cli.js';

let browser: Browser | undefined;

describe('tables through the CLI', () => {
  after(async () => browser?.close());
  it('pretrains on a CSV, reports against logistic regression and XGBoost, publishes, and a second team embeds its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-table-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    const pretext = (...args: string[]) => runPretext(env, ...args);
    writeFileSync(join(dir, 'tx.csv'), transactions(600, 1));
    writeFileSync(
      join(dir, 'r.yaml'),
      `name: scarf-tx
data: { dataset: table, path: ${join(dir, 'tx.csv')}, label: fraud, drop: [id] }
encoder: { type: tabular-mlp, config: { hidden: [32, 32] } }
method: { name: scarf }
train: { epochs: 2, batchSize: 64, optimizer: { name: adamw, lr: 0.001 } }
`,
    );
    const run = join(dir, 'run');
    const pre = pretext('pretrain', join(dir, 'r.yaml'), '--out', run);
    assert.equal(pre.code, 0, pre.stderr);
    assert.match(pre.stderr, /amount\s+numeric\s+numbers, \d+ missing/, 'inferred types are printed');
    assert.match(pre.stderr, /fraud\s+boolean\s+the label/);
    assert.match(pre.stdout, /linear AUROC 0\.\d{3}/);
    const scores = JSON.parse(readFileSync(join(run, 'scores.json'), 'utf8')) as { metric: string; linear: number };
    assert.equal(scores.metric, 'auroc');
    assert.ok(scores.linear > 0.6, `linear AUROC ${scores.linear}`);

    const report = pretext(
      'transfer-report',
      '--encoder',
      run,
      '--budgets',
      '20/class',
      '--seeds',
      '2',
      '--arms',
      'pretrained-linear,logistic,xgboost',
      '--json',
    );
    assert.equal(report.code, 0, report.stderr);
    const rows = report.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { arm: string; metric: string; mean: number; used: number });
    assert.deepEqual(
      rows.map((r) => r.arm),
      ['pretrained-linear', 'logistic', 'xgboost'],
    );
    for (const r of rows) {
      assert.equal(r.metric, 'auroc');
      assert.equal(r.used, 40);
      assert.ok(r.mean > 0.6 && r.mean <= 1, `${r.arm} ${r.mean}`);
    }

    checkOnnxExport(env, run, 'tabular-mlp', ['features.json']);

    const rp = pretext('report', run);
    assert.equal(rp.code, 0, rp.stderr);
    const md = readFileSync(join(run, 'report.md'), 'utf8');
    assert.match(md, /\| linear probe AUROC \| 0\.\d{3} \|/);
    assert.match(md, /Test AUROC, mean ± std over seeds 0, 1\./);
    assert.match(md, /\| 20\/class \| 40 \| 0\.\d{3} ± 0\.\d{3} \| 0\.\d{3} ± 0\.\d{3} \| 0\.\d{3} ± 0\.\d{3} \|/);
    assert.match(md, /!\[Label efficiency\]\(label-efficiency\.png\)/);

    const hub = await serveHub(join(dir, 'hub'), env);
    try {
      assert.equal(pretext('login', '--hub', hub.url, '--token', hub.token).code, 0);
      assert.equal(pretext('hub', 'team', 'create', 'risk').code, 0);
      const pushed = pretext('push', run, 'risk/tx-scarf', '--visibility', 'public', '--json');
      assert.equal(pushed.code, 0, pushed.stderr);
      await tryRowInBrowser(hub.url, run);
      const card = readFileSync(join(run, 'card.md'), 'utf8');
      assert.match(card, /pipeline_tag: tabular-classification/);
      assert.match(card, /\| merchant \| categorical \| 4 levels/);

      // A result reported back: the table protocol's score lands on the version as AUROC.
      const ev = pretext('eval', '--encoder', 'risk/tx-scarf@v1', '--push', '--json');
      assert.equal(ev.code, 0, ev.stderr);
      const evr = JSON.parse(ev.stdout) as { metric: string; linear: number; added: number };
      assert.deepEqual([evr.metric, evr.added], ['auroc', 1]);
      assert.equal(evr.linear, scores.linear, 'the same protocol on the same rows gives the run its own score');
      const evals = (await (
        await fetch(`${hub.url}/api/models/risk/tx-scarf/evals`, { headers: { authorization: `Bearer ${hub.token}` } })
      ).json()) as {
        metric: string;
        task: string;
      }[];
      assert.deepEqual(
        evals.map((e) => `${e.task}:${e.metric}`),
        [`table-file:${join(dir, 'tx.csv')}:linear-auroc`],
      );

      // The second team's rows: a merchant category never seen, its own ids.
      writeFileSync(join(dir, 'theirs.csv'), transactions(50, 2, ['grocery', 'pharmacy']));
      const out = join(dir, 'emb.csv');
      const emb = pretext('embed', '--encoder', 'risk/tx-scarf', '--table', join(dir, 'theirs.csv'), '--out', out, '--json');
      assert.equal(emb.code, 0, emb.stderr);
      assert.deepEqual(JSON.parse(emb.stdout), { out, rows: 50, dim: 32 });
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.equal(lines.length, 51);
      assert.ok(lines.slice(1).every((l) => l.split(',').length === 32 && l.split(',').every((v) => Number.isFinite(Number(v)))));

      writeFileSync(join(dir, 'short.csv'), 'amount,hour,merchant\n10,3,fuel\n');
      const bad = pretext('embed', '--encoder', 'risk/tx-scarf', '--table', join(dir, 'short.csv'), '--out', join(dir, 'x.csv'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /no column 'card_present'/);
    } finally {
      hub.server.kill('SIGTERM');
    }
  });

  it("federates a table by a region column: per-site scores on each region's own rows, alone and pooled arms", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-table-fed-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    // Four regions of unequal size: the two largest become sites, the other two are pooled.
    const lines = transactions(1200, 3).trimEnd().split('\n');
    const regions = ['north', 'north', 'north', 'south', 'south', 'east', 'west'];
    const csv = [`${lines[0]},region`, ...lines.slice(1).map((l, i) => `${l},${regions[i % regions.length]}`)].join('\n');
    writeFileSync(join(dir, 'tx.csv'), `${csv}\n`);
    writeFileSync(
      join(dir, 'r.yaml'),
      `name: scarf-tx-fed
data: { dataset: table, path: ${join(dir, 'tx.csv')}, label: fraud, drop: [id] }
encoder: { type: tabular-mlp, config: { hidden: [32, 32] } }
method: { name: scarf }
train: { epochs: 2, batchSize: 64, optimizer: { name: adamw, lr: 0.001 } }
`,
    );
    const arm = (name: string, ...extra: string[]) => {
      const out = join(dir, name);
      const r = runPretext(
        env,
        'federate',
        'simulate',
        join(dir, 'r.yaml'),
        '--sites',
        '3',
        '--partition',
        'column:region',
        '--rounds',
        '2',
        '--out',
        out,
        '--json',
        ...extra,
      );
      assert.equal(r.code, 0, r.stderr);
      return {
        out,
        res: JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
          metric: string;
          linear: number;
          perSite: Record<string, number>;
          validation: Record<string, number>;
        },
      };
    };
    const fed = arm('fed');
    assert.equal(fed.res.metric, 'auroc');
    assert.deepEqual(Object.keys(fed.res.perSite).sort(), ['north', 'other', 'south']);
    assert.ok(fed.res.linear > 0.6, JSON.stringify(fed.res));
    assert.ok(
      Object.values(fed.res.perSite).every((v) => v > 0.5 && v <= 1),
      JSON.stringify(fed.res.perSite),
    );
    assert.ok(fed.res.validation.auroc! > 0.5);
    const partition = JSON.parse(readFileSync(join(fed.out, 'partition.json'), 'utf8')) as { sites: { name: string; examples: number }[] };
    assert.deepEqual(
      partition.sites.map((s) => s.name),
      ['north', 'south', 'other'],
    );
    // The run folder is an ordinary table encoder: eval gives the same test score.
    const ev = runPretext(env, 'eval', '--encoder', fed.out, '--json');
    assert.equal(ev.code, 0, ev.stderr);
    assert.ok(Math.abs((JSON.parse(ev.stdout) as { linear: number }).linear - fed.res.linear) < 1e-9);
    const alone = arm('alone', '--alone');
    assert.deepEqual(Object.keys(alone.res.perSite).sort(), ['north', 'other', 'south']);
    const pooled = arm('pooled', '--pooled');
    assert.deepEqual(Object.keys(pooled.res.perSite).sort(), ['north', 'other', 'south']);
    const fedJson = JSON.parse(readFileSync(join(pooled.out, 'federation.json'), 'utf8')) as { sites: { name: string }[] };
    assert.deepEqual(
      fedJson.sites.map((s) => s.name),
      ['north', 'south', 'other'],
    );
    // Preprocessing merged from the sites' summaries: each merchant has about 100 rows at north
    // and 70 at the others, so with 150 as the smallest count a summary names, no site names one
    // and the merged inputs have no merchant level, where fitting on all rows (240 each) keeps four.
    const merged = arm('merged', '--site-summaries', '--min-count', '150');
    assert.ok(merged.res.linear > 0.5 && merged.res.linear <= 1, JSON.stringify(merged.res));
    const features = (run: string) => JSON.parse(readFileSync(join(run, 'features.json'), 'utf8')) as FeatureSchema;
    const merchant = (s: FeatureSchema) => s.categorical.find((c) => c.name === 'merchant')!.levels;
    assert.deepEqual(merchant(features(merged.out)), []);
    assert.deepEqual(merchant(features(fed.out)), ['fuel', 'grocery', 'online', 'travel']);
    const provenance = (run: string) =>
      (JSON.parse(readFileSync(join(run, 'federation.json'), 'utf8')) as { preprocessing: Record<string, unknown> }).preprocessing;
    assert.deepEqual(provenance(merged.out), { from: 'site-summaries', minCount: 150, sites: ['north', 'south', 'other'] });
    assert.deepEqual(provenance(fed.out), { from: 'all-rows' });
  });

  it('federates with record-level DP-SGD: each site reports the epsilon its steps spent; losses and layers DP cannot bound are refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-table-dp-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    writeFileSync(join(dir, 'tx.csv'), transactions(900, 4));
    const recipe = (name: string, method: string, encoder: string): string => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(
        path,
        `name: ${name}
data: { dataset: table, path: ${join(dir, 'tx.csv')}, label: fraud, drop: [id] }
encoder: ${encoder}
method: { name: ${method} }
train: { epochs: 2, batchSize: 64, optimizer: { name: adamw, lr: 0.001 } }
`,
      );
      return path;
    };
    const simulate = (path: string, ...extra: string[]) =>
      runPretext(
        env,
        'federate',
        'simulate',
        path,
        '--sites',
        '2',
        '--partition',
        'iid',
        '--rounds',
        '2',
        '--out',
        join(dir, 'out'),
        ...extra,
      );
    const dp = ['--dp-noise', '1.1', '--dp-clip', '1'];
    const ok = simulate(recipe('dae-dp', 'dae', '{ type: tabular-mlp, config: { hidden: [32, 32], norm: layer } }'), ...dp, '--json');
    assert.equal(ok.code, 0, ok.stderr);
    const res = JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as {
      linear: number;
      epsilon: Record<string, number>;
      dp: { clip: number; noise: number; delta: number; sampling: string };
    };
    assert.deepEqual(res.dp, { clip: 1, noise: 1.1, delta: 1e-5, sampling: 'poisson' });
    assert.ok(res.linear > 0.5 && res.linear <= 1, `a scored encoder: ${res.linear}`);
    const fed = JSON.parse(readFileSync(join(dir, 'out', 'federation.json'), 'utf8')) as {
      sites: { name: string; examples: number }[];
      epsilon: Record<string, number>;
      perRound: { loss: number | null }[];
    };
    assert.deepEqual(fed.epsilon, res.epsilon);
    // The sites' raw mean loss is not private: it stays out of what a push publishes.
    assert.deepEqual(
      fed.perRound.map((r) => r.loss),
      [null, null],
    );
    const logged = readFileSync(join(dir, 'out', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number | null }).loss);
    assert.deepEqual(logged, [null, null]);
    for (const site of fed.sites) {
      // 2 rounds of one local epoch: floor(rows / 64) steps each, sampling at 64 / rows.
      const steps = 2 * Math.floor(site.examples / 64);
      const want = dpSgdEpsilon({ q: 64 / site.examples, sigma: 1.1, steps, delta: 1e-5 }).epsilon;
      assert.ok(Math.abs(fed.epsilon[site.name]! - want) < 1e-9, `${site.name}: ${fed.epsilon[site.name]} vs ${want}`);
      assert.ok(want > 0 && Number.isFinite(want));
    }
    const meta = JSON.parse(readFileSync(join(dir, 'out', 'encoder.json'), 'utf8')) as { federated: { epsilon: Record<string, number> } };
    assert.deepEqual(meta.federated.epsilon, fed.epsilon, 'the encoder carries its epsilon');
    // The model card the hub shows says how it was trained and what each site spent.
    const card = preparePublication(join(dir, 'out'), 'bank/tx-dp', { codeVersion: 'test' }).card;
    assert.match(card, /record-level DP-SGD \| on: per-row gradients clipped to 1, noise multiplier 1\.1, Poisson sampling/);
    for (const site of fed.sites)
      assert.ok(card.includes(`| ${site.name} | ${site.examples} | ${fed.epsilon[site.name]!.toFixed(2)} |`), `${site.name} in the card`);

    const bn = simulate(recipe('dae-bn', 'dae', '{ type: tabular-mlp, config: { hidden: [32, 32] } }'), ...dp);
    assert.equal(bn.code, 2, bn.stderr);
    assert.match(bn.stderr, /BatchNorm layer 'backbone\.layers\.0\.1'.*norm: layer/);
    const scarf = simulate(recipe('scarf-dp', 'scarf', '{ type: ft-transformer, config: { dModel: 16, layers: 1, heads: 2 } }'), ...dp);
    assert.equal(scarf.code, 2, scarf.stderr);
    assert.match(scarf.stderr, /scarf's loss compares examples with each other/);
    const half = simulate(recipe('dae-half', 'dae', '{ type: ft-transformer }'), '--dp-noise', '1');
    assert.equal(half.code, 2);
    assert.match(half.stderr, /needs both --dp-noise SIGMA and --dp-clip C/);
  });
});

/**
 * The model page's try-it panel on a table encoder, in headless Chromium: a row typed into the
 * form (a missing amount, a category picked) is encoded by the version's features.json and
 * embedded in the page, and the gallery row it names nearest, with its similarity, is the one
 * Pretext computes for the same row. Nothing is sent.
 */
async function tryRowInBrowser(hubUrl: string, run: string): Promise<void> {
  const gallery = JSON.parse(readFileSync(join(run, 'gallery.json'), 'utf8')) as Gallery;
  assert.equal(gallery.items.length, 48);
  assert.deepEqual(new Set(gallery.items.map((i) => i.label)), new Set(['false', 'true']), 'the gallery spans the classes');
  const schema = JSON.parse(readFileSync(join(run, 'features.json'), 'utf8')) as FeatureSchema;
  const row = { amount: '', hour: '3', merchant: 'online', card_present: 'false' };
  const record = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === '' ? null : v]));
  const e = embedTable(run, tableFromRecords([record], expectedTypes(schema), 'probe')).data;
  browser ??= await launchChromium();
  await checkTryItPanel(browser, `${hubUrl}/#/m/risk/tx-scarf`, gallery, e, async (page) => {
    await page.getByRole('textbox', { name: 'amount' }).fill(row.amount);
    await page.getByRole('textbox', { name: 'hour' }).fill(row.hour);
    await page.getByRole('combobox', { name: 'merchant' }).selectOption(row.merchant);
    await page.getByRole('combobox', { name: 'card_present' }).selectOption(row.card_present);
    await page.getByRole('button', { name: 'embed' }).click();
  });
}

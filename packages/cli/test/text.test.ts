// A support team's tickets through the CLI as the README tells it: pretrain a masked language
// model on a folder of tickets, fill a mask, find similar tickets, compare against TF-IDF,
// push to a hub; a second team (its own config and cache) pulls the encoder and its
// vocabulary, fine-tunes on its own labeled tickets and embeds them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { embedDocumentsMatrix, type Gallery } from '@pretext/ssl';
import {
  checkOnnxExport,
  checkServedEmbeddings,
  embeddingsCsv,
  checkTryItPanel,
  launchChromium,
  runPretext,
  serveHub,
} from './fixtures/cli.js';

const TOPICS: Record<string, { who: string[]; what: string[]; how: string[] }> = {
  billing: {
    who: ['my invoice', 'the refund', 'this charge'],
    what: ['was doubled', 'is missing', 'looks wrong'],
    how: ['please credit my card', 'send a receipt'],
  },
  outage: {
    who: ['the dashboard', 'the login page', 'our server'],
    what: ['is down', 'times out', 'keeps crashing'],
    how: ['please restart it', 'check the logs'],
  },
};

/** Writes n tickets per topic into class sub-folders of dir. */
function tickets(dir: string, n: number, seed: number): void {
  let s = seed;
  const pick = <T>(xs: T[]): T => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return xs[Math.floor((s / 2 ** 32) * xs.length)]!;
  };
  for (const [topic, t] of Object.entries(TOPICS)) {
    mkdirSync(join(dir, topic), { recursive: true });
    for (let i = 0; i < n; i++)
      writeFileSync(join(dir, topic, `${i}.txt`), `hello, ${pick(t.who)} ${pick(t.what)} today. ${pick(t.how)}, thanks.`);
  }
}

let browser: Browser | undefined;

describe('text through the CLI', () => {
  after(async () => browser?.close());
  it('pretrains on a folder of tickets, fills masks, finds similar ones, publishes, and a second team fine-tunes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-text-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    const pretext = (...args: string[]) => runPretext(env, ...args);
    tickets(join(dir, 'tickets'), 120, 1);
    writeFileSync(
      join(dir, 'r.yaml'),
      `name: mlm-tickets
data: { dataset: text, path: ${join(dir, 'tickets')} }
vocabulary: { size: 80 }
sequence: { length: 64 }
encoder: { type: text-transformer, config: { dModel: 32, layers: 1, heads: 2 } }
method: { name: mlm }
train: { epochs: 4, batchSize: 32, optimizer: { name: adamw, lr: 0.002 } }
`,
    );
    const run = join(dir, 'run');
    const pre = pretext('pretrain', join(dir, 'r.yaml'), '--out', run);
    assert.equal(pre.code, 0, pre.stderr);
    assert.match(pre.stderr, /tickets \(training split\): 192 documents/);
    assert.match(pre.stderr, /classes: billing 96, outage 96/, 'a fifth of each class is held out for the test');
    assert.match(pre.stderr, /vocabulary: \d+ pieces .* windows of 64 tokens/);
    assert.match(pre.stdout, /linear (\d+\.\d+)%/);

    const fill = pretext('fill-mask', run, 'hello, the dashboard [MASK] down today.', '--top', '3', '--json');
    assert.equal(fill.code, 0, fill.stderr);
    const preds = (JSON.parse(fill.stdout) as { predictions: { top: { text: string; probability: number }[] }[] }).predictions;
    assert.equal(preds.length, 1);
    assert.equal(preds[0]!.top.length, 3);
    assert.ok(preds[0]!.top.every((t) => t.probability > 0 && t.probability <= 1));

    const sim = pretext(
      'similar',
      '--encoder',
      run,
      '--corpus',
      join(dir, 'tickets'),
      'the login page keeps crashing',
      '--top',
      '5',
      '--json',
    );
    assert.equal(sim.code, 0, sim.stderr);
    const hits = (JSON.parse(sim.stdout) as { results: { similarity: number; text: string }[] }).results;
    assert.equal(hits.length, 5);
    assert.ok(hits[0]!.similarity >= hits[4]!.similarity);

    const report = pretext(
      'transfer-report',
      '--encoder',
      run,
      '--budgets',
      '10/class',
      '--seeds',
      '2',
      '--arms',
      'pretrained-linear,tfidf-logistic',
      '--json',
    );
    assert.equal(report.code, 0, report.stderr);
    const rows = report.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { arm: string; metric: string; mean: number; used: number });
    assert.deepEqual(
      rows.map((r) => [r.arm, r.metric, r.used]),
      [
        ['pretrained-linear', 'accuracy', 20],
        ['tfidf-logistic', 'accuracy', 20],
      ],
    );
    // The two topics share no content words: TF-IDF separates them; the frozen features of a
    // one-layer encoder trained for seconds do well above chance (one half).
    assert.ok(rows[0]!.mean > 0.75, `pretrained-linear ${rows[0]!.mean}`);
    assert.ok(rows[1]!.mean > 0.9, `tfidf-logistic ${rows[1]!.mean}`);

    // Exit code 3 flags a collapsed-looking encoder: mean-pooled MLM features of a barely
    // trained model often point one way (anisotropy), which the check must say, not hide.
    const diag = pretext('diagnose', '--encoder', run, '--json');
    const d = JSON.parse(diag.stdout) as { alignment: number; effectiveRank: number; collapsed: boolean; linear: number };
    assert.equal(diag.code, d.collapsed ? 3 : 0, diag.stderr);
    assert.ok(d.linear > 0.6, `linear accuracy ${d.linear}`);
    assert.ok(Number.isFinite(d.alignment) && d.alignment >= 0, `alignment ${d.alignment}`);
    assert.ok(d.effectiveRank > 1 && d.effectiveRank <= 32, `rank ${d.effectiveRank}`);
    assert.ok(existsSync(join(run, 'embedding-map.png')));
    checkOnnxExport(env, run, 'text-transformer', ['vocab.model']);

    // The service embeds texts as `pretext embed --text` does, a long one as the mean of its windows.
    const texts = [
      'hello, the printer is jammed today. please help, thanks.',
      Array(40).fill('my invoice was charged twice').join(' and '),
    ];
    writeFileSync(join(dir, 'texts.csv'), `text\n${texts.map((t) => `"${t}"`).join('\n')}\n`);
    const embedded = pretext(
      'embed',
      '--encoder',
      run,
      '--text',
      join(dir, 'texts.csv'),
      '--column',
      'text',
      '--out',
      join(dir, 'texts.emb'),
    );
    assert.equal(embedded.code, 0, embedded.stderr);
    await checkServedEmbeddings(env, [run, '--runtime', 'onnxruntime'], {
      body: { texts },
      want: embeddingsCsv(join(dir, 'texts.emb'), false),
      bad: { texts: ['fine', 42] },
      badField: 'texts[1]',
    });

    const rp = pretext('report', run);
    assert.equal(rp.code, 0, rp.stderr);
    const md = readFileSync(join(run, 'report.md'), 'utf8');
    assert.match(md, /\| 10\/class \| 20 \| \d+\.\d ± \d+\.\d \| \d+\.\d ± \d+\.\d \|/);
    assert.match(md, /documents/);

    const hub = await serveHub(join(dir, 'hub'), env);
    try {
      assert.equal(pretext('login', '--hub', hub.url, '--token', hub.token).code, 0);
      assert.equal(pretext('hub', 'team', 'create', 'support').code, 0);
      const pushed = pretext('push', run, 'support/tickets-mlm', '--visibility', 'public', '--json');
      assert.equal(pushed.code, 0, pushed.stderr);
      await tryTextInBrowser(hub.url, run);
      const card = readFileSync(join(run, 'card.md'), 'utf8');
      assert.match(card, /pipeline_tag: feature-extraction/);
      assert.match(card, /\| vocabulary \| \d+ SentencePiece pieces \(vocab\.model/);

      // The second team: its own config and cache, its own labeled tickets.
      const other = { XDG_CONFIG_HOME: join(dir, 'config2'), PRETEXT_CACHE: join(dir, 'cache2') };
      const theirs = (...args: string[]) => runPretext(other, ...args);
      assert.equal(theirs('login', '--hub', hub.url, '--token', hub.token).code, 0);
      tickets(join(dir, 'their-tickets'), 40, 7);
      const ft = theirs(
        'finetune',
        '--encoder',
        'support/tickets-mlm',
        '--dataset',
        join(dir, 'their-tickets'),
        '--labels',
        '10/class',
        '--max-steps',
        '30',
        '--out',
        join(dir, 'clf'),
        '--json',
      );
      assert.equal(ft.code, 0, ft.stderr);
      const result = JSON.parse(ft.stdout) as { testAccuracy: number; documents: number; labels: string };
      assert.deepEqual([result.labels, result.documents], ['10/class', 20]);
      assert.ok(result.testAccuracy > 0.8, `fine-tuned test accuracy ${result.testAccuracy}`);
      for (const f of ['classifier.safetensors', 'finetune.json', 'vocab.model']) assert.ok(existsSync(join(dir, 'clf', f)), f);
      // The classifier reads whole documents (windows side by side) and exports with its vocabulary.
      checkOnnxExport(env, join(dir, 'clf'), 'text-transformer', ['vocab.model']);

      const out = join(dir, 'emb.csv');
      const emb = theirs('embed', '--encoder', 'support/tickets-mlm', '--text', join(dir, 'their-tickets'), '--out', out, '--json');
      assert.equal(emb.code, 0, emb.stderr);
      assert.deepEqual(JSON.parse(emb.stdout), { out, rows: 80, dim: 32 });
      const bad = theirs('embed', '--encoder', 'support/tickets-mlm', '--text', join(dir, 'missing-folder'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /^pretext: .*missing-folder: no such folder or file, and not a corpus name/);
    } finally {
      hub.server.kill('SIGTERM');
    }
  });
});

/**
 * The model page's try-it panel on a text encoder, in headless Chromium: a text three windows
 * long is tokenized and embedded in the page (the mean of its windows), and the gallery
 * document it names nearest, with its similarity, is the one Pretext computes. Nothing is sent.
 */
async function tryTextInBrowser(hubUrl: string, run: string): Promise<void> {
  const gallery = JSON.parse(readFileSync(join(run, 'gallery.json'), 'utf8')) as Gallery;
  assert.equal(gallery.items.length, 48);
  assert.deepEqual(new Set(gallery.items.map((i) => i.label)), new Set(['billing', 'outage']), 'the gallery spans the classes');
  assert.ok(gallery.items.every((i) => typeof i.text === 'string' && i.text.length > 0 && i.png === undefined));
  const query = Array(3).fill('hello, the login page keeps crashing today. please restart it, thanks.').join(' ');
  browser ??= await launchChromium();
  await checkTryItPanel(browser, `${hubUrl}/#/m/support/tickets-mlm`, gallery, embedDocumentsMatrix(run, [query]).data, async (page) => {
    await page.getByLabel('try a text').fill(query);
    await page.getByRole('button', { name: 'embed' }).click();
  });
}

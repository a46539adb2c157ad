/// <reference lib="dom" />
// The web UI end to end in headless Chromium: publish (through the API, as the CLI does),
// browse and search, compare versions, read a leaderboard, manage teams and tokens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createHub, type Hub } from '../src/index.js';
import { HOSTILE_CARDS } from './fixtures/hostileCards.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('hub web UI', () => {
  let hub: Hub;
  let url: string;
  let admin: string;
  let bob: string;
  let mallory: string;
  let browser: Browser;
  let page: Page;
  const shots = mkdtempSync(join(tmpdir(), 'hub-ui-'));

  async function call(method: string, path: string, token: string, body?: unknown, raw?: Buffer): Promise<Record<string, unknown>> {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': raw ? 'application/octet-stream' : 'application/json' },
      body: raw ? new Uint8Array(raw) : body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  async function publish(version: number, knn: number): Promise<void> {
    const metrics = Array.from({ length: 20 }, (_, i) => JSON.stringify({ step: (i + 1) * 10, loss: 4 - i * 0.1 * version })).join('\n');
    const files: Record<string, Buffer> = {
      'encoder.json': Buffer.from(JSON.stringify({ format: 'pretext-encoder/1', v: version })),
      'encoder.safetensors': Buffer.from(`weights ${version}`),
      'metrics.jsonl': Buffer.from(metrics),
      'embedding-map.svg': Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120"><rect width="200" height="120" fill="#eef"/><circle cx="60" cy="60" r="20" fill="#1f77b4"/><circle cx="140" cy="60" r="20" fill="#ff7f0e"/></svg>',
      ),
    };
    for (const [, b] of Object.entries(files)) await call('PUT', `/api/blobs/${sha(b)}`, admin, undefined, b);
    await call('POST', '/api/models/vision/simclr-small/versions', admin, {
      files: Object.entries(files).map(([path, b]) => ({ path, sha256: sha(b), size: b.length })),
      metrics: { knn, linear: knn + 0.04 },
      lineage: {
        recipe: 'simclr-fashion-mnist',
        method: 'simclr',
        dataset: 'fashion-mnist',
        dataFingerprint: 'sha256:0123456789abcdef',
        parentRun: `run-${version}`,
        codeVersion: 'pretext 0.1.0',
      },
      card: '---\nlicense: mit\nlibrary_name: pretext\n---\n\n# SimCLR small\n\nPretrained on **Fashion-MNIST**. <script>window.pwned = 1</script> [docs](javascript:alert(1))\n',
    });
  }

  before(async () => {
    if (!existsSync(join(here, '..', 'web', 'dist', 'index.html')))
      execFileSync(process.execPath, [join(here, '..', 'scripts', 'build-web.mjs')]);
    hub = await createHub({ dataDir: mkdtempSync(join(tmpdir(), 'hub-web-')), logLevel: false });
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(hub.app.server.address() as { port: number }).port}`;
    admin = hub.adminToken!;
    await call('POST', '/api/users', admin, { name: 'bob' });
    bob = (await call('POST', '/api/tokens', admin, { name: 'bob', scope: 'write', user: 'bob' })).token as string;
    await call('POST', '/api/users', admin, { name: 'mallory' });
    mallory = (await call('POST', '/api/tokens', admin, { name: 'mallory', scope: 'admin', user: 'mallory' })).token as string;
    await call('POST', '/api/teams', admin, { name: 'vision' });
    await publish(1, 0.84);
    await publish(2, 0.857);
    await call('PATCH', '/api/models/vision/simclr-small', admin, {
      visibility: 'internal',
      method: 'simclr',
      modality: 'image',
      tags: ['fashion'],
    });
    await call('PUT', '/api/models/vision/simclr-small/aliases/production', admin, { version: 'v1' });
    await call('POST', '/api/models/vision/byol-small', admin, { visibility: 'public', method: 'byol', modality: 'image' });
    for (const [ref, value] of [
      ['v1', 0.8],
      ['v2', 0.83],
    ] as const) {
      await call('POST', `/api/models/vision/simclr-small/versions/${ref}/evals`, bob, {
        task: 'fashion-mnist',
        dataset: 'fashion-mnist/test',
        metric: 'linear-accuracy',
        value,
        protocol: 'linear-probe',
        labelBudget: '1%',
      });
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await hub?.app.close();
  });

  it('shows public models to anyone and everything readable after signing in with a token', async () => {
    await page.goto(url);
    await page.locator('table.models tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('table.models tbody tr td:first-child').allTextContents(), ['vision/byol-small']);
    await page.getByLabel('API token').fill(admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor();
    assert.equal(await page.getByTestId('whoami').textContent(), 'admin');
    // The token went into an HttpOnly session cookie: nothing a page script can read holds it.
    assert.equal(await page.evaluate(() => JSON.stringify(localStorage)), '{}');
    assert.equal(await page.evaluate(() => document.cookie), '');
    const cookies = await page.context().cookies();
    assert.deepEqual(
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite]),
      [['pretext_session', true, 'Strict']],
    );
    assert.ok(!cookies[0]!.value.includes(admin.slice(4)), 'the cookie is a session secret, not the token');
    await page.locator('table.models tbody tr').nth(1).waitFor();
    assert.deepEqual((await page.locator('table.models tbody tr td:first-child').allTextContents()).sort(), [
      'vision/byol-small',
      'vision/simclr-small',
    ]);
  });

  it('searches and filters the model list', async () => {
    await page.getByLabel('search').fill('fashion');
    await page.waitForFunction(() => document.querySelectorAll('table.models tbody tr').length === 1);
    assert.deepEqual(await page.locator('table.models tbody tr td:first-child').allTextContents(), ['vision/simclr-small']);
    await page.getByLabel('search').fill('');
    await page.getByLabel('filter by method').selectOption('byol');
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('table.models tbody tr');
      return rows.length === 1 && rows[0]!.querySelector('td')?.textContent === 'vision/byol-small';
    });
    await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });
  });

  it('opens a model: card, versions compared, aliases, curve, embedding map, lineage', async () => {
    await page.goto(`${url}/#/m/vision/simclr-small`);
    const rows = page.getByTestId('versions').locator('tbody tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    const latest = await rows.first().textContent();
    assert.match(latest!, /^v2/);
    assert.match(latest!, /85\.70%\s*\(\+1\.70\)/, 'the newer version shows its gain over the previous one');
    assert.match((await page.getByTestId('aliases').textContent())!, /latest → v2.*production → v1/);
    await page.locator('svg.chart path').first().waitFor();
    assert.ok((await page.locator('svg.chart path').first().getAttribute('d'))!.startsWith('M'));
    await page.waitForFunction(() => (document.querySelector('img.map') as HTMLImageElement | null)?.naturalWidth === 200);
    assert.match((await page.locator('svg.lineage').textContent())!, /data: fashion-mnist.*run: run-2.*vision\/simclr-small v2/);
    assert.equal(await page.locator('article.card h1').textContent(), 'SimCLR small');
    assert.match(
      (await page.locator('article.card').textContent())!,
      /<script>window\.pwned = 1<\/script>/,
      'HTML in a card is shown as text',
    );
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.equal(await page.locator('article.card a').count(), 0, 'javascript: links are dropped');
    // Selecting v1 shows its own curve and lineage.
    await rows.nth(1).click();
    await page.waitForFunction(() => document.querySelector('svg.lineage')?.textContent?.includes('run-1'));
    await page.screenshot({ path: join(shots, 'model.png'), fullPage: true });
  });

  it('ranks versions on the task leaderboard', async () => {
    await page.goto(`${url}/#/leaderboards`);
    await page.getByRole('link', { name: 'fashion-mnist (2)' }).click();
    const board = page.getByTestId('board-linear-accuracy');
    await board.locator('tbody tr').nth(1).waitFor();
    const cells = await board.locator('tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(cells, ['vision/simclr-small v2', 'vision/simclr-small v1']);
    assert.match((await board.locator('tbody tr').first().textContent())!, /83\.00%.*1%.*linear-probe.*bob/);
    await page.screenshot({ path: join(shots, 'leaderboard.png'), fullPage: true });
  });

  it("shows a federation's plan, rounds, bytes, the owner's kNN curve, the privacy spent or the sites' losses; its recipe stays text", async () => {
    const f = '/api/federations/vision/fed';
    await call('POST', f, admin, {
      sites: ['vision'],
      dp: { noise: 1.1, clip: 1, delta: 1e-5 },
      rounds: 3,
      localEpochs: 1,
      strategy: { name: 'fedavg', share: 'all', aggregation: { kind: 'mean' }, optimizer: { name: 'sgd', lr: 1 } },
      recipe: 'name: fed\n# <img src=x onerror="window.pwnedFed = 1">\n',
    });
    const w = (vals: number[], meta: Record<string, string> = {}): Buffer => {
      const header = JSON.stringify({
        ...(Object.keys(meta).length ? { __metadata__: meta } : {}),
        w: { dtype: 'F32', shape: [vals.length], data_offsets: [0, 4 * vals.length] },
      });
      const head = Buffer.from(header + ' '.repeat((8 - (header.length % 8)) % 8));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(head.length));
      return Buffer.concat([len, head, Buffer.from(Float32Array.from(vals).buffer)]);
    };
    await call('PUT', `${f}/weights`, admin, undefined, w([1, 2]));
    await call('POST', `${f}/control`, admin, { action: 'start' });
    for (const [round, knn] of [
      [1, 0.61],
      [2, 0.66],
    ] as const) {
      await call('POST', `${f}/privacy/vision`, admin, { round, epsilon: 0.7 * round });
      await call('PUT', `${f}/rounds/${round}/updates/vision`, admin, undefined, w([0.5, 0.5], { examples: '10' }));
      await call('POST', `${f}/rounds/${round}/metrics`, admin, { metrics: { valKnn: knn } });
    }
    await page.goto(`${url}/#/f`);
    await page.getByRole('link', { name: 'vision/fed' }).click();
    const rounds = page.getByTestId('federation-rounds');
    await rounds.locator('tbody tr').nth(1).waitFor();
    assert.match((await page.getByTestId('federation-status').textContent())!, /running: 2 of 3 rounds done; fedavg, sharing all/);
    const rows = await rounds.locator('tbody tr').allTextContents();
    assert.equal(rows.length, 2);
    assert.match(rows[1]!, /^2vision(all|timeout)0\.00\.066\.00%$/);
    assert.equal(await page.locator('svg[aria-label="validation kNN % by round"] path').count(), 1);
    assert.equal(await page.locator('svg[aria-label="MB by round"] path').count(), 2);
    assert.match(
      (await page.getByTestId('federation-status').textContent())!,
      /record-level DP-SGD at every site \(clip 1, noise multiplier 1\.1\)/,
    );
    assert.deepEqual(await page.getByTestId('federation-privacy').locator('tbody tr').allTextContents(), ['vision1.40']);
    assert.match((await page.getByTestId('federation-preprocessing').textContent())!, /fitted by the owner on its copy/);
    assert.equal(await page.locator('svg[aria-label="epsilon by round"] path').count(), 1);
    assert.match((await page.locator('pre.recipe').textContent())!, /<img src=x onerror/);
    assert.equal(await page.evaluate(() => (window as unknown as { pwnedFed?: number }).pwnedFed), undefined);
    await page.screenshot({ path: join(shots, 'federation.png'), fullPage: true });

    // A table federation's owner records validation AUROC: the page plots and tabulates that instead.
    const t = '/api/federations/vision/ledger';
    await call('POST', t, admin, {
      sites: ['vision'],
      rounds: 2,
      localEpochs: 1,
      strategy: { name: 'fedavg', share: 'all', aggregation: { kind: 'mean' }, optimizer: { name: 'sgd', lr: 1 } },
      recipe: 'name: ledger\n',
      siteSummaries: { minCount: 5 },
    });
    await call('PUT', `${t}/summaries/vision`, admin, { format: 'pretext-table-summary/1', rows: 10, minCount: 5, columns: [] });
    await call('PUT', `${t}/features`, admin, { features: { format: 'pretext-features/1', numeric: [], categorical: [], ignored: {} } });
    await call('PUT', `${t}/weights`, admin, undefined, w([1, 2]));
    await call('POST', `${t}/control`, admin, { action: 'start' });
    await call('POST', `${t}/losses/vision`, admin, { round: 1, loss: 0.41234 });
    await call('PUT', `${t}/rounds/1/updates/vision`, admin, undefined, w([0.5, 0.5], { examples: '10' }));
    await call('POST', `${t}/rounds/1/metrics`, admin, { metrics: { valAuroc: 0.7125 } });
    await page.goto(`${url}/#/f/vision/ledger`);
    await page.getByRole('heading', { name: 'vision/ledger' }).waitFor();
    const ledger = page.getByTestId('federation-rounds');
    assert.match((await ledger.locator('thead').textContent())!, /validation AUROC/);
    assert.match((await ledger.locator('tbody tr').first().textContent())!, /0\.713$/);
    assert.equal(await page.locator('svg[aria-label="validation AUROC by round"] path').count(), 1);
    // Without DP-SGD each site's training loss is shown instead of the privacy spent.
    assert.deepEqual(await page.getByTestId('federation-losses').locator('tbody tr').allTextContents(), ['vision0.412']);
    assert.equal(await page.locator('svg[aria-label="mean training loss by round"] path').count(), 1);
    assert.equal(await page.getByTestId('federation-privacy').count(), 0);
    assert.match(
      (await page.getByTestId('federation-preprocessing').textContent())!,
      /merged from the sites' summaries .* fewer than 5 times is named\); fixed, summaries in from vision\./,
    );
  });

  it('manages teams, members and tokens', async () => {
    await page.goto(`${url}/#/admin`);
    await page.getByLabel('new team').fill('nlp');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByText('team nlp created').waitFor();
    await page.getByLabel('member team').fill('nlp');
    await page.getByLabel('member user').fill('bob');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText('bob added to nlp').waitFor();
    // The table reloads after the message: wait for the new row rather than racing it.
    await page.getByTestId('teams').getByText('admin (admin), bob (member)').waitFor();
    assert.match((await page.getByTestId('teams').textContent())!, /nlp.*bob \(member\)/);
    await page.getByLabel('token name').fill('ci-reader');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = (await page.getByTestId('new-token').locator('code').textContent())!;
    assert.match(shown, /^ptx_/);
    assert.equal(
      ((await (await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${shown}` } })).json()) as { scope: string }).scope,
      'read',
    );
    const row = page.getByTestId('tokens').locator('tr', { hasText: 'ci-reader' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('token ci-reader revoked').waitFor();
    assert.equal((await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${shown}` } })).status, 401);
    await page.screenshot({ path: join(shots, 'admin.png'), fullPage: true });
  });

  it("a hostile card runs nothing and never reaches the admin's credentials", async () => {
    // A member of another team writes every payload of the corpus into a public model's card,
    // as the reported exploit did; a hub admin, signed in, opens the page.
    await call('POST', '/api/teams', mallory, { name: 'fraud' });
    const marker = `document.title='pwned';window.pwned=1`;
    const card = [
      '# Totally normal encoder',
      `[click me](https://example.com/"onfocus="${marker}"autofocus="")`,
      `[hover me](https://example.com/" onmouseover="${marker})`,
      ...HOSTILE_CARDS,
    ].join('\n\n');
    await call('POST', '/api/models/fraud/steal', mallory, { visibility: 'public', card });
    const violations: string[] = [];
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
      ),
    );
    const response = await page.goto(`${url}/`);
    await page.goto(`${url}/#/m/fraud/steal`);
    const csp = response!.headers()['content-security-policy']!;
    const scriptSrc = /script-src ([^;]*)/.exec(csp)![1]!;
    // Scripts from the hub only; WebAssembly may compile (the try-it panel), eval and inline script may not.
    assert.equal(scriptSrc.trim(), "'self' 'wasm-unsafe-eval'");
    assert.match(csp, /frame-ancestors 'none'/);
    await page.locator('article.card h1').waitFor();
    assert.equal(await page.getByTestId('whoami').textContent(), 'admin', 'the admin is signed in while reading the card');
    // Give every link and element the chance to fire what it carries.
    for (const a of await page.locator('article.card a').all()) {
      await a.focus();
      await a.hover();
    }
    await page.locator('article.card').click({ position: { x: 5, y: 5 } });
    const seen = await page.evaluate(() => {
      const attrs = [...document.querySelectorAll('article.card *')].flatMap((el) =>
        [...el.attributes].map((a) => `${el.tagName.toLowerCase()}[${a.name}]`),
      );
      return {
        title: document.title,
        pwned: (window as unknown as { pwned?: number }).pwned ?? null,
        attrs: [...new Set(attrs)].sort(),
        storage: JSON.stringify(localStorage) + JSON.stringify(sessionStorage),
        cookie: document.cookie,
        html: document.documentElement.outerHTML,
        links: [...document.querySelectorAll('article.card a')].map((a) => a.getAttribute('href')),
      };
    });
    assert.equal(seen.title, 'Pretext hub');
    assert.equal(seen.pwned, null);
    assert.deepEqual(
      seen.attrs.filter((a) => !['a[href]', 'a[rel]', 'a[title]'].includes(a)),
      [],
      'no attribute but href/rel/title, no event handler',
    );
    assert.ok(seen.links.length >= 3 && seen.links.every((h) => /^https?:\/\//.test(h!)), JSON.stringify(seen.links));
    assert.equal(seen.storage, '{}{}');
    assert.equal(seen.cookie, '');
    assert.ok(!seen.html.includes(admin) && !seen.html.includes(admin.slice(4)), 'the token is nowhere in the page');
    assert.deepEqual(violations, [], 'nothing even tried to run inline');
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(shots, 'hostile-card.png'), fullPage: true });
  });
});

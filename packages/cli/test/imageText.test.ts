// `pretext image-text train`, `zero-shot` and `search` as a user runs them: a pairs file of
// coloured squares with a bad line in it, a model that learns the colour words, and the
// classes and sentence given on the command line.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import * as torch from '@pretext/torch';
import { embedCaptions, loadImageText, type Gallery } from '@pretext/ssl';
import { launchChromium, nearestGalleryItem, runPretext, serveHub } from './fixtures/cli.js';

const COLOURS: Record<string, [number, number, number]> = { red: [230, 30, 30], green: [30, 200, 40], blue: [40, 40, 230] };

describe('pretext image-text / zero-shot / search', () => {
  let dir: string;
  let browser: Browser | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pretext-it-cli-'));
    mkdirSync(join(dir, 'img'));
    mkdirSync(join(dir, 'query'));
    const lines = ['image,text'];
    let k = 0;
    for (const [name, rgb] of Object.entries(COLOURS)) {
      for (let i = 0; i < 40; i++) {
        // Shades vary a little from image to image.
        const shade = (v: number): number => Math.max(0, Math.min(255, v + ((i * 37) % 41) - 20));
        const file = `img/${name}${i}.png`;
        await sharp({
          create: { width: 16, height: 16, channels: 3, background: { r: shade(rgb[0]), g: shade(rgb[1]), b: shade(rgb[2]) } },
        })
          .png()
          .toFile(join(dir, file));
        lines.push(`${file},a ${name} square`);
        k++;
      }
      await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
        .png()
        .toFile(join(dir, 'query', `${name}.png`));
    }
    lines.push('img/nowhere.png,a lost square');
    writeFileSync(join(dir, 'pairs.csv'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'query', 'broken.png'), 'not an image');
    assert.equal(k, 120);
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains on the good lines, names the bad one, and the model names colours it was never asked about by class', () => {
    const model = join(dir, 'model');
    const r = runPretext(
      {},
      'image-text',
      'train',
      '--pairs',
      join(dir, 'pairs.csv'),
      '--out',
      model,
      '--epochs',
      '25',
      '--batch',
      '24',
      '--lr',
      '0.003',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 line\(s\) skipped:\n {2}- line 122: img\/nowhere\.png: image not found/);
    assert.match(r.stdout, /trained on 120 pairs/);
    for (const f of ['model.safetensors', 'vocab.model', 'image-text.json', 'gallery.json']) assert.ok(existsSync(join(model, f)), f);
    assert.match(r.stdout, /a gallery of 64 training images/);

    const z = runPretext({}, 'zero-shot', '--encoder', model, '--classes', 'red,green,blue', join(dir, 'query'), '--json');
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stderr, /broken\.png: skipped, the image does not decode/);
    const preds = JSON.parse(z.stdout) as { image: string; prediction: string; probabilities: Record<string, number> }[];
    assert.equal(preds.length, 3);
    for (const p of preds) {
      assert.equal(p.prediction, p.image.match(/(red|green|blue)\.png$/)![1]);
      const total = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-3);
    }

    const s = runPretext({}, 'search', '--encoder', model, 'a blue square', join(dir, 'query'), '--top', '2', '--json');
    assert.equal(s.code, 0, s.stderr);
    const found = JSON.parse(s.stdout) as { results: { image: string; similarity: number }[] };
    assert.equal(found.results.length, 2);
    assert.match(found.results[0]!.image, /blue\.png$/);
    assert.ok(found.results[0]!.similarity > found.results[1]!.similarity);
  });

  it('pushes both towers and the vocabulary as one hub model, which another team pulls by name for zero-shot', async () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    const hub = await serveHub(join(dir, 'hub'), env);
    try {
      assert.equal(runPretext(env, 'login', '--hub', hub.url, '--token', hub.token).code, 0);
      assert.equal(runPretext(env, 'hub', 'team', 'create', 'design').code, 0);
      const pushed = runPretext(env, 'push', join(dir, 'model'), 'design/colours', '--json');
      assert.equal(pushed.code, 0, pushed.stderr);
      const card = readFileSync(join(dir, 'model', 'card.md'), 'utf8');
      assert.match(card, /pipeline_tag: zero-shot-image-classification/);
      assert.match(card, /\| image tower \| small-cnn, RGB 32x32 input; trained from scratch with the text tower \|/);
      const other = { XDG_CONFIG_HOME: join(dir, 'config2'), PRETEXT_CACHE: join(dir, 'cache2') };
      assert.equal(runPretext(other, 'login', '--hub', hub.url, '--token', hub.token).code, 0);
      const z = runPretext(
        other,
        'zero-shot',
        '--encoder',
        'design/colours',
        '--classes',
        'blue,red,green',
        join(dir, 'query', 'red.png'),
        '--json',
      );
      assert.equal(z.code, 0, z.stderr);
      assert.equal((JSON.parse(z.stdout) as { prediction: string }[])[0]!.prediction, 'red');
      for (const f of ['model.safetensors', 'vocab.model', 'image-text.json', 'card.md', 'text.onnx', 'gallery.json'])
        assert.ok(existsSync(join(dir, 'cache2', 'hub', 'design', 'colours', f)), f);
      assert.ok(existsSync(join(dir, 'model', 'text.onnx')), 'the push wrote the text tower for the page');

      // The model page runs the text tower in the browser on a typed sentence and names the
      // gallery image Pretext finds nearest; the sentence is not sent anywhere.
      const gallery = JSON.parse(readFileSync(join(dir, 'model', 'gallery.json'), 'utf8')) as Gallery;
      const t = loadImageText(join(dir, 'model'));
      const q = torch.tidy(() => embedCaptions(t, ['a red square']).data() as Float32Array);
      const { best, sims } = nearestGalleryItem(q, gallery.items);
      browser = await launchChromium();
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(hub.url);
      await page.getByLabel('API token').fill(hub.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('whoami').waitFor();
      await page.goto(`${hub.url}/#/m/design/colours`);
      await page
        .getByTestId('searchit-status')
        .filter({ hasText: `ready: ${gallery.items.length} gallery images` })
        .waitFor({ timeout: 60_000 })
        .catch(async (e: Error) => {
          throw new Error(`${e.message}\nstatus: ${await page.getByTestId('searchit-status').textContent()}\n${problems.join('\n')}`);
        });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
      await page.getByLabel('a sentence').fill('a red square');
      await page.getByRole('button', { name: 'search' }).click();
      await page.getByTestId('searchit-neighbours').waitFor({ timeout: 30_000 });
      const shown = await page
        .locator('[data-testid=searchit-neighbours] li')
        .evaluateAll((lis) => lis.map((li) => [Number(li.getAttribute('data-index')), li.textContent ?? '']));
      assert.equal(shown.length, 5);
      assert.equal(shown[0]![0], best, `page ${JSON.stringify(shown[0])}, Pretext ${best} (${sims[best]})`);
      assert.match(String(shown[0]![1]), new RegExp(`red.*${sims[best]!.toFixed(3)}`));
      assert.deepEqual(requests, [], 'the sentence is embedded in the page: nothing is sent');
      assert.deepEqual(
        problems.filter((v) => /Content Security Policy|Refused/.test(v)),
        [],
      );
    } finally {
      hub.server.kill();
    }
  });

  it('refuses what it cannot do, with the reason', () => {
    const noClasses = runPretext({}, 'zero-shot', '--encoder', join(dir, 'model'), '--classes', 'red', join(dir, 'query'));
    assert.equal(noClasses.code, 2);
    assert.match(noClasses.stderr, /at least two names/);
    const notModel = runPretext({}, 'search', '--encoder', join(dir, 'img'), 'red', join(dir, 'query'));
    assert.equal(notModel.code, 1);
    assert.match(notModel.stderr, /holds no image-text model/);
    const badLoss = runPretext({}, 'image-text', 'train', '--pairs', join(dir, 'pairs.csv'), '--out', join(dir, 'x'), '--loss', 'triplet');
    assert.equal(badLoss.code, 2);
    assert.match(badLoss.stderr, /--loss must be clip or siglip/);
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, 'image,text\nimg/red0.png,\n');
    const none = runPretext({}, 'image-text', 'train', '--pairs', empty, '--out', join(dir, 'y'));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no usable image-text pair[\s\S]*line 2: img\/red0\.png: empty caption/);
  });
});

// The hub page's try-it panel, end to end: an image encoder pushed with its ONNX export and
// gallery, opened in headless Chromium; the page runs the encoder with onnxruntime-web on an
// image it was never shown, and the nearest gallery image it names is the one Pretext
// computes. No request leaves the page once the image is chosen.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import * as torch from '@pretext/torch';
import { readFashionMnist } from '@pretext/data';
import { extractFeatures, loadEncoder, type Gallery } from '@pretext/ssl';
import { checkTryItPanel, launchChromium, runPretext, serveHub, tinyImageRecipe } from './fixtures/cli.js';

const recipe = tinyImageRecipe('tiny-tryit', '{ width: 4, depth: 2, pool: flatten, readoutNorm: true }');

describe('try an encoder in the browser', () => {
  let browser: Browser | undefined;
  after(async () => browser?.close());

  it('embeds a chosen image in the page and shows the nearest gallery image Pretext computes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-tryit-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    const pretext = (...args: string[]): ReturnType<typeof runPretext> => runPretext(env, ...args);
    writeFileSync(join(dir, 'r.yaml'), recipe);
    const run = join(dir, 'run');
    assert.equal(pretext('pretrain', join(dir, 'r.yaml'), '--out', run, '--json').code, 0);

    // A test image the gallery (training images) cannot hold, as a PNG, and Pretext's answer.
    const test = await readFashionMnist('test');
    const pixels = test.images.slice(7 * 784, 8 * 784);
    await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(join(dir, 'probe.png'));
    const hub = await serveHub(join(dir, 'hub'), env);
    try {
      assert.equal(pretext('login', '--hub', hub.url, '--token', hub.token).code, 0);
      assert.equal(pretext('hub', 'team', 'create', 'vision').code, 0);
      const pushed = pretext('push', run, 'vision/tiny', '--visibility', 'public');
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.match(pushed.stderr, /try-it panel: model\.onnx, gallery\.json/);
      const gallery = JSON.parse(readFileSync(join(run, 'gallery.json'), 'utf8')) as Gallery;
      assert.equal(gallery.items.length, 48);
      assert.equal(new Set(gallery.items.map((i) => i.label)).size, 10, 'the gallery spans the classes');

      const { encoder, meta } = loadEncoder(run);
      const e = torch.tidy(
        () => extractFeatures(encoder, torch.tensor(pixels, { shape: [1, 28, 28] }), meta.inputNorm).data() as Float32Array,
      );
      browser = await launchChromium();
      await checkTryItPanel(browser, `${hub.url}/#/m/vision/tiny`, gallery, e, (page) =>
        page.getByLabel('try an image').setInputFiles(join(dir, 'probe.png')),
      );
    } finally {
      hub.server.kill('SIGTERM');
    }
  });
});

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { lineChart, logTicks, scatterPlot, ticks, writeReport, type TransferRun } from '../src/index.js';
import { summarize } from '../src/index.js';
import { encoderMeta } from './fixtures/runFolder.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('plots', () => {
  it('picks round ticks', () => {
    assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(ticks(0.71, 0.86), [0.75, 0.8, 0.85]);
    assert.deepEqual(logTicks(1, 3), [10, 20, 50, 100, 200, 500, 1000]);
  });

  it('draws one path per series, a band per error series, and escapes names', () => {
    const svg = lineChart(
      [
        {
          name: 'a<b',
          points: [
            [1, 0.5],
            [2, 0.6],
          ],
          err: [0.01, 0.02],
        },
        {
          name: 'c',
          points: [
            [1, 0.4],
            [2, 0.45],
          ],
        },
      ],
      { title: 'T', percent: true },
    );
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.equal((svg.match(/<polygon /g) ?? []).length, 1);
    assert.match(svg, /a&lt;b/);
    assert.match(svg, />50%</);
    const scatter = scatterPlot(
      [
        [0, 0, 0],
        [1, 1, 1],
        [2, 0, 1],
      ],
      ['x', 'y'],
    );
    assert.equal((scatter.match(/<circle /g) ?? []).length, 3);
  });
});

describe('pretext report', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'report-'));
    const meta = encoderMeta({ recipe: 'report-test' });
    writeFileSync(join(dir, 'encoder.json'), JSON.stringify(meta));
    writeFileSync(join(dir, 'scores.json'), JSON.stringify({ knn: 0.8512, linear: 0.9001 }));
    const lines = [];
    for (let s = 10; s <= 200; s += 10) lines.push({ step: s, epoch: s / 100, loss: 4 - Math.log(s) / 3, lr: 0.001 });
    lines.push(
      { epoch: 1, step: 100, loss: 2.8, knn: 0.83, samples_per_s: 900 },
      { epoch: 2, step: 200, loss: 2.5, knn: 0.85, samples_per_s: 900 },
    );
    writeFileSync(join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    writeFileSync(
      join(dir, 'diagnostics.json'),
      JSON.stringify({
        samples: 5000,
        dim: 392,
        alignment: 0.46,
        uniformity: -2.1,
        effectiveRank: 210,
        rankRatio: 0.54,
        embeddingStd: 0.68,
        collapsed: false,
        findings: [],
        knn: 0.85,
        linear: 0.9,
      }),
    );
    const runs: TransferRun[] = [];
    for (const [labels, used, base] of [
      ['1/class', 10, 0.5],
      ['10/class', 100, 0.65],
      ['1%', 600, 0.8],
    ] as const) {
      for (const [k, arm] of (['pretrained-linear', 'pretrained-finetune', 'scratch', 'raw-logistic'] as const).entries()) {
        for (const seed of [0, 1, 2]) runs.push({ labels, arm, seed, used, accuracy: base - 0.03 * k + 0.005 * seed, seconds: 1 });
      }
    }
    writeFileSync(
      join(dir, 'transfer.json'),
      JSON.stringify({ format: 'pretext-transfer/1', encoder: dir, dataset: 'fashion-mnist', seeds: [0, 1, 2], rows: summarize(runs) }),
    );
    const pts: [number, number, number][] = Array.from({ length: 200 }, (_, i) => [Math.cos(i) * (i % 10), Math.sin(i) * (i % 10), i % 10]);
    writeFileSync(
      join(dir, 'embedding-map.svg'),
      scatterPlot(
        pts,
        Array.from({ length: 10 }, (_, i) => `class ${i}`),
        { title: 'Embedding map' },
      ),
    );
  });

  it('writes a self-contained HTML page, a Markdown summary and PNG plots', async () => {
    const files = await writeReport(dir);
    const html = readFileSync(files.html, 'utf8');
    assert.ok(!/<script|<link |src="http|href="http/.test(html), 'no scripts and no external resources');
    assert.equal((html.match(/<svg /g) ?? []).length, 4, 'loss, kNN, label efficiency, embedding map');
    assert.match(html, /85\.12%/);
    assert.match(html, /<td>1%<\/td><td>600<\/td><td>80\.5 ± 0\.5<\/td>/);
    const md = readFileSync(files.markdown, 'utf8');
    assert.match(md, /\| 1\/class \| 10 \| 50\.5 ± 0\.5 \| 47\.5 ± 0\.5 \| 44\.5 ± 0\.5 \| 41\.5 ± 0\.5 \|/);
    assert.match(md, /!\[Label efficiency\]\(label-efficiency\.png\)/);
    for (const png of files.pngs) {
      assert.ok(existsSync(png));
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      assert.ok((meta.width ?? 0) >= 640, `${png} is ${meta.width} wide`);
    }
  });

  it('renders in headless Chromium', async () => {
    const { html } = await writeReport(dir);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${html}`);
      assert.equal(await page.title(), 'report-test: simclr encoder');
      assert.deepEqual(await page.locator('h2').allTextContents(), [
        'Encoder',
        'Scores on the test split',
        'Training curves',
        'Representation diagnostics',
        'Label efficiency',
        'Embedding map',
      ]);
      // Every plot is laid out with a real size.
      const boxes = await page.locator('svg').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      assert.equal(boxes.length, 4);
      for (const w of boxes) assert.ok(w >= 600, `plot width ${w}`);
      const shot = join(dir, 'screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      const stats = await sharp(shot).stats();
      const meta = await sharp(shot).metadata();
      assert.ok((meta.height ?? 0) > 1500, `full page height ${meta.height}`);
      assert.ok(stats.channels[0]!.stdev > 20, 'the screenshot is not blank');
      assert.deepEqual(
        requests.filter((u) => !u.startsWith('file://')),
        [],
        'the page fetches nothing',
      );
    } finally {
      await browser.close();
    }
  });
});

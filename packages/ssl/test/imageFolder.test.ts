import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '@pretext/torch';
import {
  BatchLoader,
  DataFormatError,
  FileSource,
  TensorSource,
  decodeImages,
  inputNormFor,
  loadImageSet,
  duringSelection,
  loadClassifier,
  normalizeInput,
  parseDatasetArg,
  parseLabelBudget,
  runFinetune,
  runPretrain,
  toFloatImages,
  validateRecipe,
  scanImageFolder,
  type BatchSource,
} from '../src/index.js';

/** A w x h RGB image whose every pixel is (r, g, b). */
async function solid(path: string, w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg'): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  writeFileSync(path, await (format === 'png' ? img.png() : img.jpeg({ quality: 100 })).toBuffer());
}

describe('image folders', () => {
  let root: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'imgfolder-'));
    for (const split of ['train', 'test']) {
      for (const [cls, rgb] of [
        ['dark', [20, 20, 20]],
        ['light', [230, 230, 230]],
      ] as const) {
        mkdirSync(join(root, split, cls), { recursive: true });
        for (let i = 0; i < 6; i++)
          await solid(join(root, split, cls, `${i}.${i % 2 ? 'png' : 'jpg'}`), 40 + i, 30, [...rgb], i % 2 ? 'png' : 'jpeg');
      }
    }
  });

  it('labels files by sub-folder, classes in name order', () => {
    const idx = scanImageFolder(join(root, 'train'));
    assert.deepEqual(idx.classes, ['dark', 'light']);
    assert.equal(idx.files.length, 12);
    assert.deepEqual(idx.labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it('decodes PNG and JPEG, resized to the requested size and channels', async () => {
    const idx = scanImageFolder(join(root, 'train'));
    const gray = await decodeImages(idx.files, { size: 16, channels: 1, quiet: true });
    assert.deepEqual(gray.shape, [12, 1, 16, 16]);
    assert.equal(gray.dtype, 'uint8');
    const px = gray.data() as Uint8Array;
    assert.ok(Math.abs(px[0]! - 20) <= 2, `dark pixel ${px[0]}`);
    assert.ok(Math.abs(px[px.length - 1]! - 230) <= 2, `light pixel ${px[px.length - 1]}`);
    const rgb = await decodeImages(idx.files.slice(0, 2), { size: 8, channels: 3, quiet: true });
    assert.deepEqual(rgb.shape, [2, 3, 8, 8]);
  });

  it('uses train/ and test/ as splits when a folder has them', async () => {
    const spec = parseDatasetArg(root, { size: 12 });
    const test = await loadImageSet(spec, 'test', { quiet: true });
    assert.deepEqual(test.images.shape, [12, 1, 12, 12]);
    assert.deepEqual(Array.from(test.labels!.data() as BigInt64Array, Number), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(test.classes, ['dark', 'light']);
    const norm = await inputNormFor(spec, test);
    assert.ok(Math.abs((norm.mean as number) - 125 / 255) < 0.02, `mean ${String(norm.mean)}`);
  });

  it('reads a folder of loose images as unlabeled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlabeled-'));
    for (let i = 0; i < 3; i++) await solid(join(dir, `${i}.png`), 10, 10, [i * 50, 0, 0], 'png');
    const set = await loadImageSet({ dataset: 'image-folder', path: dir, size: 10, channels: 3 }, 'train', { quiet: true });
    assert.equal(set.labels, undefined);
    assert.deepEqual(set.images.shape, [3, 3, 10, 10]);
    assert.deepEqual(Array.from((set.images.data() as Uint8Array).filter((_, i) => i % 300 === 0)), [0, 50, 100]);
  });

  it('refuses loose images beside class folders, empty folders and missing folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixed-'));
    mkdirSync(join(dir, 'cat'));
    await solid(join(dir, 'cat', 'a.png'), 4, 4, [0, 0, 0], 'png');
    await solid(join(dir, 'stray.png'), 4, 4, [0, 0, 0], 'png');
    assert.throws(() => scanImageFolder(dir), /mixes class sub-folders \(cat\) with 1 loose image\(s\) such as stray\.png/);
    assert.throws(() => scanImageFolder(mkdtempSync(join(tmpdir(), 'empty-'))), /holds no images/);
    assert.throws(() => scanImageFolder(join(dir, 'nope')), /does not exist/);
    assert.throws(() => parseDatasetArg('no-such-set'), /expected fashion-mnist or an image folder/);
  });

  it('names every file that fails to decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corrupt-'));
    await solid(join(dir, 'good.png'), 4, 4, [0, 0, 0], 'png');
    writeFileSync(join(dir, 'bad.png'), Buffer.from('not a png at all'));
    const truncated = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'cut.png'), truncated.subarray(0, truncated.length >> 1));
    const idx = scanImageFolder(dir);
    await assert.rejects(
      () => decodeImages(idx.files, { size: 4, channels: 1, quiet: true }),
      (e: unknown) =>
        e instanceof DataFormatError &&
        /2 of 3 image\(s\) could not be decoded/.test(e.message) &&
        /bad\.png/.test(e.message) &&
        /cut\.png/.test(e.message),
    );
  });

  it('streams the same pixels it would load whole', async () => {
    const idx = scanImageFolder(join(root, 'train'));
    const whole = await decodeImages(idx.files, { size: 8, channels: 1, quiet: true });
    const stream = new FileSource(idx.files, { size: 8, channels: 1 });
    const pick = torch.tensor(BigInt64Array.from([11n, 0n, 5n]));
    const got = await stream.fetch(pick);
    assert.deepEqual(Array.from(got.data() as Uint8Array), Array.from(whole.indexSelect(0, pick).data() as Uint8Array));
  });

  it('draws the per-epoch kNN curve on the validation split and reads the test split once, for the final score', async () => {
    const out = mkdtempSync(join(tmpdir(), 'curve-'));
    const recipe = validateRecipe({
      name: 'curve',
      data: { dataset: 'image-folder', path: root, size: 12, channels: 1 },
      encoder: { type: 'small-cnn', config: { width: 4, depth: 1 } },
      method: { name: 'simclr', config: { hiddenDim: 16, projDim: 8 } },
      train: { epochs: 2, batchSize: 4, optimizer: { name: 'adamw', lr: 0.001 } },
      evaluation: { knnEveryEpoch: true },
    });
    const run = await runPretrain(recipe, { outDir: out, quiet: true });
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>)
      .filter((m) => m.epoch !== undefined && m.samples_per_s !== undefined);
    assert.equal(epochs.length, 2);
    for (const m of epochs) {
      assert.ok(m.val_knn! >= 0 && m.val_knn! <= 1, JSON.stringify(m));
      assert.equal(m.knn, undefined, 'no test-split figure in the curve');
    }
    assert.deepEqual(run.testReads, ['the final score of the run']);
    // Fine-tuned from that encoder, the classifier folder reads back into the same model.
    for (const mode of ['linear', 'full'] as const) {
      const ft = await runFinetune({
        encoderDir: out,
        dataset: parseDatasetArg(root, { size: 12, channels: 1 }),
        budget: parseLabelBudget('100%'),
        mode,
        epochs: 3,
        quiet: true,
      });
      const { classifier, meta } = loadClassifier(ft.outDir);
      assert.deepEqual([meta.format, meta.numClasses, meta.classes], ['pretext-classifier/1', 2, ['dark', 'light']]);
      const test = await loadImageSet(parseDatasetArg(root, { size: 12, channels: 1 }), 'test', { quiet: true });
      const accuracy = torch.tidy(() =>
        torch.noGrad(() =>
          classifier
            .forward(normalizeInput(toFloatImages(test.images), meta.inputNorm))
            .argmax(1)
            .eq(test.labels!)
            .float()
            .mean()
            .item(),
        ),
      );
      assert.equal(accuracy, ft.meta.testAccuracy, `${mode}: the loaded classifier scores what the run reported`);
      classifier.dispose();
    }
    // Any other way to the test split is closed during a selection step too.
    await assert.rejects(
      duringSelection('choosing epochs', () => loadImageSet(parseDatasetArg(root), 'test', { quiet: true })),
      /during model selection \(choosing epochs\)/,
    );
    assert.ok(run.scores.knn! >= 0 && run.scores.knn! <= 1);
  });
});

describe('batch loader', () => {
  const images = torch.arange(100).reshape([100, 1, 1, 1]).to({ dtype: 'uint8' });
  const firstPixels = (t: torch.Tensor): number[] => Array.from(t.flatten().data() as Uint8Array);

  it('gives the same batches for the same seed and other batches for another', async () => {
    const loader = new BatchLoader(new TensorSource(images), { batchSize: 32 });
    const epoch = async (seed: number): Promise<number[][]> => {
      const order = loader.permutation(new torch.Generator(seed));
      const out: number[][] = [];
      for await (const b of loader.epoch(order)) out.push(firstPixels(b));
      return out;
    };
    const a = await epoch(7);
    assert.equal(a.length, 3, 'three full batches of 32; the last 4 images are dropped');
    assert.deepEqual(await epoch(7), a);
    assert.notDeepEqual(await epoch(8), a);
    assert.equal(new Set(a.flat()).size, 96);
  });

  it('requests batches ahead of the one in use, resumes mid-epoch, and frees what it fetched early', async () => {
    const events: string[] = [];
    let live = 0;
    const inner = new TensorSource(images);
    const source: BatchSource = {
      length: 100,
      async fetch(idx) {
        const first = Number((idx.data() as BigInt64Array)[0]);
        events.push(`fetch ${first}`);
        await new Promise((r) => setTimeout(r, 5));
        live++;
        const t = await inner.fetch(idx);
        const dispose = t.dispose.bind(t);
        t.dispose = () => {
          live--;
          dispose();
        };
        return t;
      },
    };
    const loader = new BatchLoader(source, { batchSize: 10, prefetch: 2 });
    const order = torch.arange(100);
    const seen: number[] = [];
    for await (const b of loader.epoch(order, 4)) {
      events.push(`use ${firstPixels(b)[0]}`);
      seen.push(firstPixels(b)[0]!);
      b.dispose();
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [40, 50, 60]);
    assert.deepEqual(events.slice(0, 4), ['fetch 40', 'fetch 50', 'fetch 60', 'use 40']);
    assert.equal(live, 0, 'batches fetched ahead are freed when the loop stops early');
  });
});

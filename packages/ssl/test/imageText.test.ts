// Image-text models: the two pair losses against their formulas written out, zero-shot and
// retrieval on embeddings whose answers are known, and a small model that learns colour words
// from coloured squares, with LiT's locked tower left untouched and a saved run that reloads
// to the same embeddings.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as torch from '@pretext/torch';
import {
  buildEncoder,
  captionIds,
  exportImageTextOnnx,
  onnxSession,
  pixelsToImages,
  prepareImageTextSearch,
  readOnnxSummary,
  writeImageTextGallery,
  clipLoss,
  embedCaptions,
  embedPairImages,
  loadImageText,
  retrieval,
  siglipLoss,
  trainImageText,
  zeroShot,
  MAX_LOGIT_SCALE,
  type EncoderSpec,
  type ImageTextPairs,
  type Gallery,
} from '../src/index.js';
import { onnxChecker } from './fixtures/onnxChecker.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'pretext-it-'));
  dirs.push(d);
  return d;
};
const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const rowsOf = (rows: number[][]): torch.Tensor =>
  torch.nn.functional.normalize(torch.tensor(rows.flat(), { shape: [rows.length, rows[0]!.length] }));

describe('pair losses', () => {
  const img = [
    [1, 0.2, 0],
    [0.1, 1, 0.3],
    [0, 0.4, 1],
  ];
  const txt = [
    [0.9, 0, 0.1],
    [0.3, 1, 0],
    [0.2, 0.1, 1],
  ];

  it('CLIP is the mean of the image->text and text->image cross-entropies at the clamped scale', () => {
    torch.tidy(() => {
      const zi = rowsOf(img);
      const zt = rowsOf(txt);
      const s = zi.matmul(zt.t()).data() as Float32Array;
      for (const logScale of [Math.log(1 / 0.07), Math.log(500)]) {
        const scale = Math.min(Math.exp(logScale), MAX_LOGIT_SCALE);
        const ce = (row: (j: number) => number, own: number): number => {
          const l = [0, 1, 2].map((j) => row(j) * scale);
          const m = Math.max(...l);
          return m + Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0)) - l[own]!;
        };
        let want = 0;
        for (let i = 0; i < 3; i++) want += ce((j) => s[i * 3 + j]!, i) + ce((j) => s[j * 3 + i]!, i);
        want /= 6;
        const { loss, accuracy } = clipLoss(zi, zt, torch.tensor([logScale]));
        close(loss.item(), want, 1e-4);
        assert.equal(accuracy, 1);
      }
    });
  });

  it('SigLIP sums -log sigmoid(sign * (scale * cos + bias)) over all pairs, divided by the batch', () => {
    torch.tidy(() => {
      const zi = rowsOf(img);
      const zt = rowsOf(txt);
      const s = zi.matmul(zt.t()).data() as Float32Array;
      const scale = 10;
      const bias = -10;
      let want = 0;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          const z = (i === j ? 1 : -1) * (scale * s[i * 3 + j]! + bias);
          want += Math.log1p(Math.exp(-z));
        }
      want /= 3;
      const { loss } = siglipLoss(zi, zt, torch.tensor([Math.log(scale)]), torch.tensor([bias]));
      close(loss.item(), want, 1e-4);
    });
  });

  it('both losses send gradients to the scale (and SigLIP to its bias)', () => {
    torch.tidy(() => {
      const zi = rowsOf(img);
      const zt = rowsOf(txt);
      const ls = torch.tensor([Math.log(10)]).requiresGrad_();
      const b = torch.tensor([-10]).requiresGrad_();
      siglipLoss(zi, zt, ls, b).loss.backward();
      assert.ok(Math.abs(ls.grad!.item()) > 0);
      // At bias -10 every pair looks negative: raising the bias lowers the loss of the 3 positives more than it costs the 6 negatives.
      assert.ok(b.grad!.item() < 0);
      const ls2 = torch.tensor([Math.log(1 / 0.07)]).requiresGrad_();
      clipLoss(zi, zt, ls2).loss.backward();
      assert.ok(ls2.grad!.item() < 0, 'a sharper softmax lowers CLIP loss when every pair ranks first');
    });
  });
});

describe('zero-shot and retrieval', () => {
  it('zero-shot averages normalized templates per class and scores top-1', () => {
    torch.tidy(() => {
      // Class texts: "a x" points along e0 for cat and e1 for dog; the bare name flips them.
      const embed = (texts: string[]): torch.Tensor =>
        rowsOf(
          texts.map((t) => {
            const cat = t.includes('cat');
            const bare = !t.startsWith('a ');
            return (cat !== bare ? [1, 0.1, 0] : [0.1, 1, 0]).map((v, k) => (k === 2 && bare ? 3 : v));
          }),
        );
      const images = rowsOf([
        [1, 0, 0],
        [0, 1, 0],
        [0.9, 0.2, 0],
      ]);
      const labels = Int32Array.from([0, 1, 0]);
      const r = zeroShot(images, labels, ['cat', 'dog'], ['a {}', '{}'], embed);
      assert.equal(r.perTemplate['a {}'], 1);
      assert.equal(r.perTemplate['{}'], 0);
      // The ensemble: the bare template's large third component cancels out between classes.
      assert.equal(r.top1, 1);
      assert.equal(r.chance, 0.5);
    });
  });

  it('retrieval ranks each partner among the gallery, both ways', () => {
    torch.tidy(() => {
      const images = rowsOf([
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]);
      // Caption 1 sits nearer image 0 than its own image; caption 3 is nearest image 2, then image 3.
      const texts = rowsOf([
        [1, 0, 0, 0],
        [0.9, 0.5, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0.9, 0.6],
      ]);
      const r = retrieval(images, texts);
      assert.equal(r.gallery, 4);
      // text -> image ranks: 1, 2, 1, 2
      assert.deepEqual(r.textToImage, { r1: 0.5, r5: 1, r10: 1, medianRank: 1.5 });
      // image -> text: image 0 ranks caption 0 first (1 > 0.87); image 1: caption 1 (0.49) first; image 2: caption 2 (1) first;
      // image 3: caption 3 (0.55) first.
      assert.deepEqual(r.imageToText, { r1: 1, r5: 1, r10: 1, medianRank: 1 });
      assert.throws(() => retrieval(images, texts.narrow(0, 0, 3)), /4 images and 3 captions/);
    });
  });
});

/** Coloured squares with pixel noise, each captioned with its colour word. */
function squares(n: number, seed: number): ImageTextPairs {
  const colours: [string, number[]][] = [
    ['red', [230, 30, 30]],
    ['green', [30, 200, 40]],
    ['blue', [40, 40, 230]],
    ['yellow', [240, 230, 30]],
  ];
  const size = 8;
  const images = new Uint8Array(n * size * size * 3);
  const captions: string[] = [];
  const labels = new Int32Array(n);
  let r = seed;
  const rand = (): number => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    const c = i % colours.length;
    labels[i] = c;
    const [name, rgb] = colours[c]!;
    for (let p = 0; p < size * size; p++)
      for (let k = 0; k < 3; k++)
        images[(i * size * size + p) * 3 + k] = Math.max(0, Math.min(255, rgb[k]! + Math.round((rand() - 0.5) * 60)));
    captions.push(`a ${name} square`);
  }
  return {
    images,
    size,
    captions,
    items: captions.map((_, i) => `sq${i}`),
    groups: captions.map((_, i) => `sq${i}`),
    labels,
    classes: colours.map((c) => c[0]),
  };
}

describe('trainImageText', () => {
  const train = squares(256, 1);
  const test = squares(64, 2);
  const textCfg = { dModel: 32, layers: 1, heads: 2, dropout: 0 };

  it('learns colour words from coloured squares (CLIP from scratch), and its run folder reloads to the same embeddings', async () => {
    const dir = tmp();
    const t = await trainImageText({
      train,
      loss: 'clip',
      outDir: dir,
      imageSize: 8,
      text: textCfg,
      embedDim: 16,
      vocabSize: 64,
      length: 8,
      epochs: 30,
      batchSize: 32,
      lr: 3e-3,
      quiet: true,
    });
    const zi = embedPairImages(t, test.images, test.size);
    const z = zeroShot(zi, test.labels, test.classes, ['{} square'], (x) => embedCaptions(t, x));
    assert.ok(z.top1 >= 0.9, `zero-shot top-1 ${z.top1}`);
    const loaded = loadImageText(dir);
    const zi2 = embedPairImages(loaded, test.images, test.size);
    close(zi.sub(zi2).abs().max().item(), 0, 1e-5);
    const zt = embedCaptions(t, test.captions);
    const zt2 = embedCaptions(loaded, test.captions);
    close(zt.sub(zt2).abs().max().item(), 0, 1e-5);
    assert.equal(loaded.meta.trainPairs, 256);
    assert.equal(loaded.meta.loss, 'clip');
    for (const x of [zi, zi2, zt, zt2]) x.dispose();
  });

  it('LiT trains the text side against a locked tower whose weights and statistics do not move', async () => {
    const spec: EncoderSpec = { type: 'small-cnn', config: { inChannels: 3, width: 8, depth: 2, inputSize: 8, readoutNorm: true } };
    torch.manualSeed(3);
    const encoder = buildEncoder(spec);
    encoder.eval();
    const before = new Map([...encoder.stateDict()].map(([k, v]) => [k, torch.keep(v.clone())]));
    const norm = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const dir = tmp();
    const t = await trainImageText({
      train,
      loss: 'siglip',
      outDir: dir,
      imageSize: 8,
      image: { encoder, spec, norm, source: 'test tower' },
      text: textCfg,
      embedDim: 16,
      vocabSize: 64,
      length: 8,
      epochs: 30,
      batchSize: 32,
      lr: 3e-3,
      quiet: true,
    });
    for (const [k, v] of encoder.stateDict()) close(v.float().sub(before.get(k)!.float()).abs().max().item(), 0, 0);
    assert.equal(t.meta.lockedImageFrom, 'test tower');
    const zi = embedPairImages(t, test.images, test.size);
    const z = zeroShot(zi, test.labels, test.classes, ['{} square'], (x) => embedCaptions(t, x));
    assert.ok(z.top1 >= 0.9, `LiT zero-shot top-1 ${z.top1}`);
    // Reloaded, the locked model reads pixels through the tower exactly as trained.
    const loaded = loadImageText(dir);
    close(embedPairImages(loaded, test.images, test.size).sub(zi).abs().max().item(), 0, 1e-5);
  });

  it('exports both towers as ONNX whose dot products are the model similarities, and a gallery the page searches', async () => {
    const dir = tmp();
    const t = await trainImageText({
      train,
      loss: 'clip',
      outDir: dir,
      imageSize: 8,
      text: textCfg,
      embedDim: 16,
      vocabSize: 64,
      length: 8,
      epochs: 2,
      batchSize: 32,
      quiet: true,
    });
    const out = join(dir, 'onnx');
    const r = await exportImageTextOnnx(dir, { outDir: out, checkInputs: 50 });
    for (const tower of ['image', 'text'] as const) {
      const check = onnxChecker(r.towers[tower].model);
      assert.ok(check.ok, check.out);
      assert.ok(r.towers[tower].parity.maxAbsDiff <= 1e-4, `${tower}: ${r.towers[tower].parity.maxAbsDiff}`);
      assert.equal(readOnnxSummary(readFileSync(r.towers[tower].model)).metadata['pretext.image_text_tower'], tower);
    }
    // The similarity of held-out images and captions, from the two graphs and from Pretext.
    const pixels = torch.tidy(() => pixelsToImages(test.images, test.size, 8).data() as Float32Array);
    const { ids } = captionIds(t.vocab, test.captions, 8);
    const imageSession = await onnxSession(readFileSync(r.towers.image.model));
    const textSession = await onnxSession(readFileSync(r.towers.text.model));
    const zi = (await imageSession.run({ pixels: new ort.Tensor('float32', pixels, [64, 3, 8, 8]) })).embedding!.data as Float32Array;
    const zt = (await textSession.run({ input_ids: new ort.Tensor('int64', ids.data() as BigInt64Array, [64, 8]) })).embedding!
      .data as Float32Array;
    const ours = torch.tidy(
      () => embedPairImages(t, test.images, test.size).matmul(embedCaptions(t, test.captions).t()).data() as Float32Array,
    );
    let worst = 0;
    for (let i = 0; i < 64; i++)
      for (let j = 0; j < 64; j++) {
        let dot = 0;
        for (let k = 0; k < 16; k++) dot += zi[i * 16 + k]! * zt[j * 16 + k]!;
        worst = Math.max(worst, Math.abs(dot - ours[i * 64 + j]!));
      }
    assert.ok(worst <= 1e-4, `similarity differs by ${worst}`);
    ids.dispose();
    await imageSession.release();
    await textSession.release();

    // The gallery: spread over the four colours, captions as labels, image embeddings as Pretext gives them.
    const gallery: Gallery = await writeImageTextGallery(dir, t, train, { n: 12 });
    assert.equal(gallery.items.length, 12);
    assert.deepEqual(gallery.inputShape, [3, 8, 8]);
    assert.equal(new Set(gallery.items.map((i) => i.label)).size, 4);
    const all = torch.tidy(() => embedPairImages(t, train.images, 8).data() as Float32Array);
    for (const item of gallery.items) {
      const at = train.captions.findIndex(
        (c, i) => c === item.label && item.embedding.every((v, k) => Math.abs(v - all[i * 16 + k]!) < 1e-5),
      );
      assert.ok(at >= 0, `gallery item '${item.label}' is a training pair with its own embedding`);
    }
    assert.deepEqual(await prepareImageTextSearch(dir), ['text.onnx', 'gallery.json']);
    assert.equal(readOnnxSummary(readFileSync(join(dir, 'text.onnx'))).metadata['pretext.image_text_tower'], 'text');
  });
});

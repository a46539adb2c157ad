// Text end to end: windows keep every token, padding changes nothing, the MLM corruption
// follows BERT's proportions, an MLM learns a predictable corpus, and a recipe on a folder
// of documents pretrains, scores, and answers fill-mask.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { Vocabulary } from '@pretext/sentencepiece';
import {
  MaskedLanguageModel,
  TextTransformer,
  fillMask,
  loadMaskedLanguageModel,
  maskTokens,
  maskedTopK,
  poolWindows,
  pretrainFromRecipe,
  readEncoderMeta,
  tokenWindows,
  validateRecipe,
  embedDocuments,
} from '../src/index.js';

const layout = { vocabSize: 50, padId: 0, clsId: 2, sepId: 3, maskId: 4, maxLength: 16 };

// Sentences from a tiny grammar: who does what to which object, so masked words are predictable from context.
function sentences(n: number, seed = 3): { text: string; label: string }[] {
  let s = seed;
  const rand = (k: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((s / 2 ** 31) * k);
  };
  const topics = {
    kitchen: { who: ['the cook', 'a chef', 'my aunt'], verb: ['bakes', 'roasts', 'slices'], what: ['bread', 'onions', 'a cake'] },
    garage: {
      who: ['the mechanic', 'a driver', 'my uncle'],
      verb: ['repairs', 'paints', 'washes'],
      what: ['the engine', 'a bicycle', 'the tires'],
    },
  };
  return Array.from({ length: n }, () => {
    const label = rand(2) === 0 ? 'kitchen' : 'garage';
    const t = topics[label];
    const pick = (xs: string[]): string => xs[rand(xs.length)]!;
    const parts = Array.from({ length: 1 + rand(3) }, () => `${pick(t.who)} ${pick(t.verb)} ${pick(t.what)} every morning.`);
    return { text: parts.join(' '), label };
  });
}

describe('text windows and the text encoder', () => {
  const vocab = Vocabulary.train(
    sentences(400).map((d) => d.text),
    { vocabSize: 60 },
  );

  it('cuts a long document into framed windows that keep every token in order', () => {
    const long = sentences(30)
      .map((d) => d.text)
      .join(' ');
    const ids = [...vocab.encode([long])[0]!];
    const w = tokenWindows(vocab, [long, 'bread'], { length: 16 });
    assert.equal(w.windows, Math.ceil(ids.length / 14) + 1);
    const kept: number[] = [];
    for (let r = 0; r < w.windows - 1; r++) {
      const row = [...w.ids.subarray(r * 16, r * 16 + 16)];
      assert.equal(row[0], vocab.special.cls);
      const end = row.indexOf(vocab.special.sep);
      kept.push(...row.slice(1, end));
      assert.ok(row.slice(end + 1).every((x) => x === vocab.special.pad));
    }
    assert.deepEqual(kept, ids);
    assert.deepEqual([...w.doc.subarray(w.windows - 2)], [0, 1]);
    const pooled = poolWindows(torch.tensor([1, 2, 3, 10, 20, 30], { shape: [3, 2] }), Int32Array.from([0, 0, 1]), 2);
    // Rows [1, 2] and [3, 10] belong to document 0, [20, 30] to document 1.
    assert.deepEqual(pooled.toArray(), [
      [2, 6],
      [20, 30],
    ]);
  });

  it('gives the same feature to a window whatever padding follows it, with BERT/PyTorch parameter names', () => {
    torch.manualSeed(0);
    const enc = new TextTransformer({ ...layout, dModel: 32, layers: 2, heads: 4 });
    enc.eval();
    const names = [...enc.stateDict().keys()];
    for (const k of [
      'embeddings.word_embeddings.weight',
      'embeddings.position_embeddings.weight',
      'layers.1.self_attn.in_proj_weight',
      'layers.0.linear1.weight',
      'norm.weight',
    ])
      assert.ok(names.includes(k), `${k} in ${names.join(', ')}`);
    const short = torch.tensor(BigInt64Array.from([2, 10, 11, 12, 3], BigInt), { shape: [1, 5] });
    const padded = torch.tensor(BigInt64Array.from([2, 10, 11, 12, 3, 0, 0, 0, 0, 0], BigInt), { shape: [1, 10] });
    const a = torch.noGrad(() => enc.forward(short));
    const b = torch.noGrad(() => enc.forward(padded));
    assert.ok(a.allclose(b, 1e-5, 1e-5), `max difference ${a.sub(b).abs().max().item()}`);
    const cls = new TextTransformer({ ...layout, dModel: 32, layers: 1, heads: 4, pooling: 'cls' });
    cls.eval();
    const { hidden } = torch.noGrad(() => cls.tokens(padded));
    assert.ok(torch.noGrad(() => cls.forward(padded)).allclose(hidden.select(1, 0)));
    assert.throws(() => enc.forward(torch.zeros([1, 17], { dtype: 'int64' })), /longer than the encoder's 16/);
  });

  it('corrupts 15% of real tokens, 80/10/10 as [MASK]/random/kept, never [CLS], [SEP] or padding', () => {
    const B = 400;
    const rows = new BigInt64Array(B * 16);
    for (let i = 0; i < B; i++) {
      rows[i * 16] = 2n;
      for (let j = 1; j < 12; j++) rows[i * 16 + j] = BigInt(5 + ((i + j) % 40));
      rows[i * 16 + 12] = 3n;
    }
    const ids = torch.tensor(rows, { shape: [B, 16] });
    const { input, chosen } = maskTokens(ids, layout, 0.15, new torch.Generator(1));
    const c = chosen.toArray() as boolean[][];
    const inp = input.toArray() as number[][];
    const orig = ids.toArray() as number[][];
    let picked = 0;
    let masked = 0;
    let same = 0;
    for (let i = 0; i < B; i++)
      for (let j = 0; j < 16; j++) {
        if (j === 0 || j >= 12) {
          assert.equal(c[i]![j], false);
          assert.equal(inp[i]![j], orig[i]![j]);
          continue;
        }
        if (!c[i]![j]) {
          assert.equal(inp[i]![j], orig[i]![j]);
          continue;
        }
        picked++;
        if (inp[i]![j] === 4) masked++;
        else if (inp[i]![j] === orig[i]![j]) same++;
      }
    const real = B * 11;
    assert.ok(Math.abs(picked / real - 0.15) < 0.02, `chosen share ${picked / real}`);
    assert.ok(Math.abs(masked / picked - 0.8) < 0.05, `[MASK] share ${masked / picked}`);
    // Kept: the 10% left alone plus random draws that hit the same token or a special piece.
    assert.ok(same / picked > 0.07 && same / picked < 0.16, `kept share ${same / picked}`);
  });

  it('learns to fill masked words of a predictable corpus far above chance', () => {
    torch.manualSeed(0);
    const docs = sentences(600).map((d) => d.text);
    const w = tokenWindows(vocab, docs, { length: 32 });
    const ids = torch.keep(torch.tensor(BigInt64Array.from(w.ids, BigInt), { shape: [w.windows, 32] }));
    const s = vocab.special;
    const mlm = new MaskedLanguageModel(
      () =>
        new TextTransformer({
          vocabSize: vocab.size,
          padId: s.pad,
          clsId: s.cls,
          sepId: s.sep,
          maskId: s.mask,
          maxLength: 32,
          dModel: 64,
          layers: 2,
          heads: 4,
          dropout: 0,
        }),
      { maskRate: 0.15 },
    );
    const opt = new torch.optim.AdamW(mlm.parameters(), { lr: 2e-3, weightDecay: 0.01 });
    const g = new torch.Generator(0);
    const accuracies: number[] = [];
    for (let step = 0; step < 250; step++) {
      accuracies.push(
        torch.tidy(() => {
          const batch = ids.indexSelect(0, torch.randint(0, w.windows, [64], { generator: g }));
          opt.zeroGrad();
          const r = mlm.step([batch]);
          r.loss.backward();
          opt.step();
          return r.logs.mlm_accuracy!;
        }),
      );
    }
    const late = accuracies.slice(-50).reduce((a, b) => a + b, 0) / 50;
    const early = accuracies.slice(0, 10).reduce((a, b) => a + b, 0) / 10;
    assert.ok(early < 0.3, `early accuracy ${early}`);
    // Subject, verb and object are each one of three within a topic: about half the masked
    // pieces can be guessed at best, the rest ("every morning.") exactly.
    assert.ok(late > 0.45, `masked-token accuracy after training ${late} (chance ${1 / vocab.size})`);
  });
});

describe('a text recipe end to end', () => {
  it('pretrains on a folder of documents, scores on held-out ones, embeds, and fills masks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'text-run-'));
    const data = join(dir, 'docs');
    for (const c of ['kitchen', 'garage']) mkdirSync(join(data, c), { recursive: true });
    sentences(300).forEach((d, i) => writeFileSync(join(data, d.label, `${i}.txt`), d.text));
    const recipe = validateRecipe({
      name: 'mlm-test',
      data: { dataset: 'text', path: data },
      vocabulary: { size: 60 },
      sequence: { length: 32 },
      encoder: { type: 'text-transformer', config: { dModel: 32, layers: 1, heads: 2 } },
      method: { name: 'mlm' },
      train: { epochs: 3, batchSize: 32, optimizer: { name: 'adamw', lr: 0.002 } },
    });
    const out = join(dir, 'run');
    const run = await pretrainFromRecipe(recipe, { outDir: out, quiet: true });
    for (const f of ['encoder.safetensors', 'encoder.json', 'vocab.model', 'mlm-head.safetensors', 'scores.json'])
      assert.ok(existsSync(join(out, f)), f);
    assert.deepEqual(run.testReads, ['the final score of the run']);
    // The two topics share no words: the frozen features separate them.
    assert.equal(run.scores.metric, 'accuracy');
    assert.ok(run.scores.linear! > 0.9, `test accuracy ${run.scores.linear}`);
    const meta = readEncoderMeta(out);
    assert.equal(meta.modality, 'text');
    assert.equal(meta.vocabulary, 'vocab.model');
    const e = embedDocuments(out, [
      'the cook bakes bread every morning.',
      sentences(40)
        .map((d) => d.text)
        .join(' '),
    ]);
    assert.deepEqual(e.shape, [2, 32]);
    const m = loadMaskedLanguageModel(out);
    const p = fillMask(m, 'the mechanic [MASK] the engine every morning.', 3);
    assert.equal(p.length, 1);
    assert.equal(p[0]!.top.length, 3);
    assert.ok(p[0]!.top[0]!.probability >= p[0]!.top[1]!.probability);
    const acc = maskedTopK(
      m,
      sentences(50, 9).map((d) => d.text),
      { tokens: 200, k: 5 },
    );
    assert.equal(acc.tokens, 200);
    assert.ok(acc.accuracy > 0.2, `top-5 masked-token accuracy ${acc.accuracy}`);
    assert.throws(() => fillMask(m, 'no mask here'), /no \[MASK\]/);
    m.dispose();

    // SimCSE on top of the MLM encoder: same vocabulary file, same weights at the start.
    const simcse = validateRecipe({
      name: 'simcse-test',
      data: { dataset: 'text', path: data },
      init: out,
      encoder: { type: 'text-transformer' },
      method: { name: 'simcse' },
      train: { epochs: 1, batchSize: 32, maxSteps: 2, optimizer: { name: 'adamw', lr: 1e-9 } },
    });
    const out2 = join(dir, 'run-simcse');
    await pretrainFromRecipe(simcse, { outDir: out2, quiet: true });
    assert.equal(readEncoderMeta(out2).initializedFrom, out);
    assert.deepEqual(readFileSync(join(out2, 'vocab.model')), readFileSync(join(out, 'vocab.model')));
    const before = torch.safetensors.loadFile(join(out, 'encoder.safetensors')).tensors;
    const after = torch.safetensors.loadFile(join(out2, 'encoder.safetensors')).tensors;
    const key = 'embeddings.word_embeddings.weight';
    assert.ok(after.get(key)!.allclose(before.get(key)!, 1e-5, 1e-6), 'the SimCSE run started from the MLM weights');
  });

  it('refuses a text method on images and an image encoder on text, by field', () => {
    const base = {
      name: 'x',
      train: { epochs: 1, batchSize: 8, optimizer: { name: 'adamw', lr: 0.001 } },
    };
    assert.throws(
      () => validateRecipe({ ...base, data: { dataset: 'fashion-mnist' }, encoder: { type: 'small-cnn' }, method: { name: 'mlm' } }),
      /method\.name: mlm learns from text, but the data is images/,
    );
    assert.throws(
      () => validateRecipe({ ...base, data: { dataset: 'text', name: 'brown' }, encoder: { type: 'small-cnn' }, method: { name: 'mlm' } }),
      /encoder\.type: small-cnn reads images, but the data is text/,
    );
    assert.throws(
      () =>
        validateRecipe({
          ...base,
          data: { dataset: 'text', name: 'brown', path: 'x' },
          encoder: { type: 'text-transformer' },
          method: { name: 'mlm' },
        }),
      /give a benchmark corpus name or a path, not both/,
    );
  });
});

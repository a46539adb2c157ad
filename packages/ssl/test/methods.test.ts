import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';
import { ntXent, ntXentViews } from '../src/losses/ntXent.js';
import { barlowTwinsLoss } from '../src/losses/barlowTwins.js';
import { vicregLoss } from '../src/losses/vicreg.js';
import { byolLoss, negativeCosine } from '../src/losses/cosine.js';
import { infoNce } from '../src/losses/infoNce.js';
import {
  buildMethod,
  SimCLR,
  METHODS,
  MemoryQueue,
  emaUpdate,
  momentumCopy,
  cosineMomentum,
  type MethodName,
} from '../src/methods/index.js';
import { allRotations, oneRotationEach } from '../src/methods/rotation.js';
import { patchMask, SimMim } from '../src/methods/simmim.js';
import { SmallCnn } from '../src/encoders/smallCnn.js';
import { TabularMlp } from '../src/modalities/tabular/encoders.js';
import { TextTransformer } from '../src/modalities/text/encoder.js';
import { EventGru } from '../src/modalities/sequence/encoder.js';
import { ResNet18 } from '../src/encoders/resnet.js';
import { buildEncoder, type EncoderSpec } from '../src/encoders/encoder.js';
import { loadRecipe, validateRecipe } from '../src/recipe/schema.js';

const minimalRecipe = {
  name: 'r',
  data: { dataset: 'fashion-mnist' },
  encoder: { type: 'small-cnn' },
  method: { name: 'simclr' },
  train: { epochs: 1 },
};
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knnAccuracy } from '../src/eval/knn.js';
import { linearProbe } from '../src/eval/linear.js';

const { tensor, tidy } = torch;

describe('losses', () => {
  for (const decoupled of [false, true]) {
    it(`NT-Xent${decoupled ? ' (decoupled)' : ''} matches the formula on a small batch`, () => {
      torch.manualSeed(0);
      const z1 = torch.randn([3, 4]);
      const z2 = torch.randn([3, 4]);
      const t = 0.5;
      const { loss } = ntXent(z1, z2, t, decoupled);
      // Direct computation: -log softmax over the other 2B-1 views, at the partner; the
      // decoupled form leaves the partner out of the denominator.
      const z = torch.nn.functional.normalize(torch.cat([z1, z2])).toArray() as number[][];
      const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
      let total = 0;
      for (let i = 0; i < 6; i++) {
        const partner = (i + 3) % 6;
        const logits = z.map((zj, j) => (j === i ? -Infinity : dot(z[i]!, zj) / t));
        const lse = Math.log(logits.reduce((s, l, j) => s + (decoupled && j === partner ? 0 : Math.exp(l)), 0));
        total += lse - logits[partner]!;
      }
      assert.ok(Math.abs(loss.item() - total / 6) < 1e-5, `${loss.item()} vs ${total / 6}`);
    });
  }

  it('multi-view NT-Xent equals NT-Xent for two views and averages over every positive', () => {
    torch.manualSeed(3);
    const [a, b, c] = [torch.randn([4, 5]), torch.randn([4, 5]), torch.randn([4, 5])];
    const two = ntXentViews([a, b], 0.3);
    const ref = ntXent(a, b, 0.3);
    assert.ok(Math.abs(two.loss.item() - ref.loss.item()) < 1e-5, `${two.loss.item()} vs ${ref.loss.item()}`);
    assert.equal(two.accuracy, ref.accuracy);
    // Three views by hand: row i's positives are the same image's two other views.
    const z = torch.nn.functional.normalize(torch.cat([a, b, c])).toArray() as number[][];
    const dot = (x: number[], y: number[]): number => x.reduce((s, v, k) => s + v * y[k]!, 0);
    let total = 0;
    for (let i = 0; i < 12; i++) {
      const logits = z.map((zj, j) => (j === i ? -Infinity : dot(z[i]!, zj) / 0.3));
      const lse = Math.log(logits.reduce((s, l) => s + Math.exp(l), 0));
      const pos = [0, 1, 2].map((v) => v * 4 + (i % 4)).filter((j) => j !== i);
      total += pos.reduce((s, j) => s + (lse - logits[j]!), 0) / 2;
    }
    const three = ntXentViews([a, b, c], 0.3);
    assert.ok(Math.abs(three.loss.item() - total / 12) < 1e-5, `${three.loss.item()} vs ${total / 12}`);
    assert.throws(() => ntXentViews([a], 0.3), /at least 2 views/);
  });

  it('NT-Xent is near zero with perfect accuracy for identical well-separated views', () => {
    const z = torch.eye(8).mul(5);
    const r = ntXent(z, z, 0.05);
    assert.ok(r.loss.item() < 1e-3);
    assert.equal(r.accuracy, 1);
  });

  it('InfoNCE picks the key among queued negatives', () => {
    // Queries and keys in the first four dimensions, the queued negatives in the last four.
    const q = torch.eye(4, 8);
    const queue = torch.eye(4, 8).roll(4, 1);
    const r = infoNce(q, q, queue, 0.1);
    assert.equal(r.accuracy, 1);
    assert.ok(r.loss.item() < 0.1);
  });

  it('cosine losses are 0 / -1 when prediction equals target, and stop the target gradient', () => {
    const p = torch.randn([4, 6], { requiresGrad: true });
    const z = p.detach().mul(2).requiresGrad_();
    assert.ok(Math.abs(byolLoss(p, z).item()) < 1e-6);
    const l = negativeCosine(p, z);
    assert.ok(Math.abs(l.item() + 1) < 1e-6);
    l.backward();
    assert.equal(z.grad, null, 'no gradient flows into the target');
  });

  it('Barlow Twins is 0 for identical decorrelated embeddings and grows with correlation', () => {
    const b = 64;
    const base = torch.randn([b, 4]);
    // Orthogonalized columns: standardized cross-correlation is exactly the identity.
    const q = tensor([1, -1])
      .repeat(b / 2)
      .reshape(b, 1);
    const z = torch.cat(
      [
        q,
        q.mul(
          tensor([1, 1, -1, -1])
            .repeat(b / 4)
            .reshape(b, 1),
        ),
      ],
      1,
    );
    assert.ok(barlowTwinsLoss(z, z, 1).item() < 1e-3);
    const correlated = barlowTwinsLoss(base, base.add(torch.randn([b, 4]).mul(0.1)), 1).item();
    const independent = barlowTwinsLoss(base, torch.randn([b, 4]), 1).item();
    assert.ok(correlated < independent / 4, `correlated views ${correlated}, independent ${independent}`);
  });

  it('VICReg: no variance penalty above unit std, full penalty when collapsed', () => {
    const wide = torch.randn([256, 8]).mul(3);
    assert.ok(vicregLoss(wide, wide).variance < 1e-6);
    const collapsed = torch.zeros([256, 8]);
    const r = vicregLoss(collapsed, collapsed);
    assert.ok(Math.abs(r.variance - (1 - 0.01)) < 1e-3, `variance term ${r.variance}`);
    assert.equal(r.invariance, 0);
  });
});

const tinyBackbone = (): SmallCnn => new SmallCnn({ width: 4, depth: 2 });

/** A tiny table encoder: three continuous columns and one categorical column of four codes. */
const tinyTableBackbone = (): TabularMlp => new TabularMlp({ continuous: 3, cardinalities: [4], hidden: [16] });
const tinyRows = (): torch.Tensor => torch.cat([torch.randn([8, 3]), torch.randint(0, 4, [8, 1]).float()], 1);

/** A tiny text encoder over a 30-piece vocabulary, and windows of 12 tokens ([CLS] ... [SEP], padding). */
const TINY_TEXT = { vocabSize: 30, padId: 0, clsId: 2, sepId: 3, maskId: 4, maxLength: 12 };
const tinyTextBackbone = (): TextTransformer => new TextTransformer({ ...TINY_TEXT, dModel: 16, layers: 1, heads: 2 });
const tinyWindows = (): torch.Tensor =>
  torch.cat(
    [
      torch.full([8, 1], 2, { dtype: 'int64' }),
      torch.randint(5, 30, [8, 8]),
      torch.full([8, 1], 3, { dtype: 'int64' }),
      torch.zeros([8, 2], { dtype: 'int64' }),
    ],
    1,
  );
const tinyEventBackbone = () => new EventGru({ cardinalities: [5], numeric: 1, embedDim: 4, hidden: 16 });
/** 8 histories of 2 to 10 events: code, value, present, gap, time to end, valid; padding after. */
const tinyHistories = (): torch.Tensor => {
  const valid = torch
    .arange(0, 10, 1, { dtype: 'float32' })
    .unsqueeze(0)
    .lt(torch.tensor(Float32Array.from([2, 3, 4, 5, 6, 8, 10, 10])).unsqueeze(1))
    .float();
  const x = torch.cat(
    [torch.randint(2, 5, [8, 10, 1]).float(), torch.randn([8, 10, 1]), torch.ones([8, 10, 1]), torch.randn([8, 10, 2])],
    2,
  );
  return torch.cat([x.mul(valid.unsqueeze(2)), valid.unsqueeze(2)], 2);
};
const backboneFor = { image: tinyBackbone, tabular: tinyTableBackbone, text: tinyTextBackbone, sequence: tinyEventBackbone } as const;
const viewFor = { image: () => torch.rand([8, 1, 28, 28]), tabular: tinyRows, text: tinyWindows, sequence: tinyHistories } as const;

describe('methods', () => {
  for (const { name, modality } of METHODS) {
    it(`${name}: one step gives a finite loss and gradients in the backbone`, () => {
      torch.manualSeed(0);
      const m = buildMethod(name, backboneFor[modality], name === 'moco' ? { queueSize: 64, projDim: 16, hiddenDim: 32 } : {});
      tidy(() => {
        const views = Array.from({ length: m.numViews }, viewFor[modality]);
        const r = m.step(views);
        assert.ok(Number.isFinite(r.loss.item()), `${name} loss ${r.loss.item()}`);
        assert.equal(r.embedding.size(0), 8);
        r.loss.backward();
        const g = m.backbone.parameters()[0]!.grad;
        assert.ok(g !== null && g.abs().sum().item() > 0, 'gradient reached the backbone');
      });
      const trainable = new Set(m.trainableParameters());
      for (const p of m.parameters()) assert.equal(trainable.has(p), p.requiresGrad);
    });
  }

  it('momentum networks are excluded from training and follow the online network by EMA', () => {
    const online = tinyBackbone();
    const target = momentumCopy(online, tinyBackbone);
    assert.ok(target.parameters().every((p) => !p.requiresGrad));
    assert.ok(target.parameters()[0]!.equal(online.parameters()[0]!));
    torch.noGrad(() => online.parameters()[0]!.add_(1));
    const before = target.parameters()[0]!.clone();
    emaUpdate(target, online, 0.9);
    const moved = target.parameters()[0]!.sub(before);
    assert.ok(moved.sub(0.1).abs().max().item() < 1e-6, 'target moved by (1 - tau) of the gap');
    assert.equal(cosineMomentum(0.99, 0), 0.99);
    assert.equal(cosineMomentum(0.99, 1), 1);
  });

  it('the MoCo queue wraps around', () => {
    const q = new MemoryQueue(5, 2);
    q.enqueue(torch.ones([3, 2]));
    q.enqueue(torch.full([3, 2], 2));
    assert.equal(q.position, 1);
    assert.deepEqual((q.keys.select(1, 0).toArray() as number[]).map((v) => Math.round(v * 100) / 100).slice(0, 4), [2, 1, 1, 2]);
  });

  it('SimMIM masks whole patches at the ratio and learns only from the masked pixels', () => {
    tidy(() => {
      torch.manualSeed(3);
      const mask = patchMask(4, 28, 4, 0.6);
      assert.deepEqual(mask.shape, [4, 1, 28, 28]);
      // Per image, round(0.6 * 49) = 29 of the 49 4x4 patches, each patch all 0 or all 1.
      const patches = mask.view(4, 7, 4, 7, 4).permute([0, 1, 3, 2, 4]).reshape([4, 49, 16]);
      assert.deepEqual(patches.sum(2).div(16).sum(1).toArray(), [29, 29, 29, 29]);
      assert.equal(patches.max(2).values.sub(patches.min(2).values).abs().sum().item(), 0, 'patches are whole');
      assert.notDeepEqual(mask.select(0, 0).toArray(), mask.select(0, 1).toArray(), 'each image draws its own patches');

      const m = new SimMim(tinyBackbone, { patch: 4, maskRatio: 0.6 });
      const x = torch.rand([1, 1, 28, 28]);
      torch.manualSeed(5);
      const drawn = patchMask(1, 28, 4, 0.6).view(784);
      torch.manualSeed(5);
      const r = m.step([x]);
      r.loss.backward();
      // The loss is the mean L1 over masked pixels: the decoder's bias gets a gradient of
      // +-1/count exactly at the masked pixels and none elsewhere.
      const g = m.decoder.bias!.grad!.abs();
      const count = drawn.sum().item();
      assert.equal(g.mul(drawn.neg().add(1)).sum().item(), 0, 'no gradient from unmasked pixels');
      assert.ok(Math.abs(g.mul(drawn).sum().item() - 1) < 1e-4, `masked pixels carry the whole loss (${count} of them)`);
      assert.ok(m.maskToken.grad!.abs().item() > 0, 'the mask value is learned');
      assert.throws(() => new SimMim(tinyBackbone, { patch: 5 }), /patch 5 must divide the square 28x28 images/);
      assert.throws(() => new SimMim(() => new ResNet18({ widthMultiplier: 0.0625 })), /give method.config.inputShape/);
    });
  });

  it('rotation helpers turn images by quarter turns, one per image by index for E-SSL', () => {
    // A 2x2 image [[1, 2], [3, 4]] a quarter turn clockwise is [[3, 1], [4, 2]].
    const img = tensor([1, 2, 3, 4]).reshape([1, 1, 2, 2]);
    const all = allRotations(img).reshape([4, 4]).toArray() as number[][];
    assert.deepEqual(all, [
      [1, 2, 3, 4],
      [3, 1, 4, 2],
      [4, 3, 2, 1],
      [2, 4, 1, 3],
    ]);
    const batch = torch.cat(Array.from({ length: 6 }, () => img));
    const { images, labels } = oneRotationEach(batch);
    assert.deepEqual(labels.toArray(), [0, 1, 2, 3, 0, 1]);
    assert.deepEqual(
      (images.reshape([6, 4]).toArray() as number[][]).map((r) => r.join('')),
      ['1234', '3142', '4321', '2413', '1234', '3142'],
    );
  });

  it('SimCLR with rotationWeight turns its views and adds the weighted rotation cross-entropy', () => {
    torch.manualSeed(0);
    const views = [torch.rand([8, 1, 28, 28]), torch.rand([8, 1, 28, 28])];
    torch.manualSeed(1);
    const plain = buildMethod('simclr', tinyBackbone, {});
    torch.manualSeed(1);
    const essl = buildMethod('simclr', tinyBackbone, { rotationWeight: 0.5 }) as SimCLR;
    tidy(() => {
      const e = essl.step(views);
      const acc = e.logs['rotation_accuracy']!;
      assert.ok(acc >= 0 && acc <= 1);
      // The same weights on the turned views, by hand: NT-Xent plus half the rotation loss.
      const turned = views.map(oneRotationEach);
      const p = plain.step(turned.map((t) => t.images));
      assert.equal(p.logs['rotation_accuracy'], undefined);
      const hs = turned.map((t) => essl.backbone.forward(t.images));
      const ce = torch.nn.functional.crossEntropy(essl.rotationHead!.forward(torch.cat(hs)), torch.cat(turned.map((t) => t.labels)));
      const extra = e.loss.item() - p.loss.item();
      assert.ok(Math.abs(extra - 0.5 * ce.item()) < 1e-5, `rotation term ${extra} vs ${0.5 * ce.item()}`);
      e.loss.backward();
    });
    assert.ok(essl.parameters().length > plain.parameters().length, 'the rotation head is registered');
    assert.throws(() => buildMethod('simclr', tinyBackbone, { rotationWeight: -1 }), /rotationWeight must be a number >= 0/);
    assert.throws(() => buildMethod('simclr', tinyBackbone, { views: 1 }), /views must be an integer >= 2/);
    assert.throws(() => buildMethod('simclr', tinyBackbone, { views: 3, decoupled: true }), /decoupled applies to two views only/);
  });

  it('checks options built directly by the same schema a recipe is checked by', () => {
    // A misspelt option is an error for a library caller too, not a silent default.
    assert.throws(() => new SimCLR(tinyBackbone, { temprature: 0.1 } as never), /simclr options: .*temprature/);
    assert.throws(() => buildMethod('moco', tinyBackbone, { momentum: 2 }), /moco options: momentum/);
    for (const spec of METHODS) assert.deepEqual(spec.config.parse({}), {}, `${spec.name}: every option is optional`);
  });

  it('SimCLR with the rotation term takes more than two views', () => {
    torch.manualSeed(0);
    const m = buildMethod('simclr', tinyBackbone, { rotationWeight: 1, views: 3 });
    assert.equal(m.numViews, 3);
    tidy(() => {
      const r = m.step([torch.rand([8, 1, 28, 28]), torch.rand([8, 1, 28, 28]), torch.rand([8, 1, 28, 28])]);
      assert.ok(Number.isFinite(r.loss.item()));
      assert.ok(r.logs['rotation_accuracy']! >= 0 && r.logs['pair_accuracy']! >= 0);
      r.loss.backward();
      const g = (m as unknown as { rotationHead: torch.nn.Module }).rotationHead.parameters()[0]!.grad;
      assert.ok(g !== null && g.abs().sum().item() > 0, 'the rotation head trains');
    });
  });

  it('every recipe in recipes/ validates and its method takes a step on its encoder', () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'recipes');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 8, `found ${files.length} recipes`);
    for (const file of files) {
      const recipe = loadRecipe(join(dir, file));
      torch.manualSeed(0);
      // Table, text and history encoders take their layout from the data (columns, vocabulary, event fields); small ones stand in here.
      const kinds = { table: 'tabular', text: 'text', events: 'sequence' } as const;
      const data = kinds[recipe.data.dataset as keyof typeof kinds] ?? 'image';
      const layout = {
        image: {},
        tabular: { continuous: 3, cardinalities: [4] },
        text: TINY_TEXT,
        sequence: { cardinalities: [5], numeric: 1 },
      }[data];
      const spec = { ...recipe.encoder, config: { ...recipe.encoder.config, ...layout } };
      const m = buildMethod(recipe.method.name, () => buildEncoder(spec as EncoderSpec), recipe.method.config);
      tidy(() => {
        const r = m.step(Array.from({ length: m.numViews }, viewFor[data]));
        assert.ok(Number.isFinite(r.loss.item()), `${file}: loss ${r.loss.item()}`);
      });
    }
  });

  it('rejects an unknown method', () => {
    assert.throws(() => buildMethod('swav' as MethodName, tinyBackbone), /unknown method 'swav'/);
  });
});

describe('encoders', () => {
  it('small CNN and ResNet-18 map images to their feature size', () => {
    assert.deepEqual(new SmallCnn({ width: 8, depth: 3 }).forward(torch.rand([2, 1, 28, 28])).shape, [2, 32]);
    const flat = new SmallCnn({ width: 8, depth: 3, pool: 'flatten' });
    assert.equal(flat.outDim, 32 * 3 * 3);
    assert.deepEqual(flat.forward(torch.rand([2, 1, 28, 28])).shape, [2, 288]);
    assert.throws(() => new SmallCnn({ depth: 6, pool: 'flatten' }), /pools a 28-pixel input away/);
    const r = new ResNet18({ widthMultiplier: 0.125 });
    assert.deepEqual(r.forward(torch.rand([2, 1, 28, 28])).shape, [2, 64]);
    assert.ok(r.stateDict().has('layer2.0.downsample.0.weight'), 'torchvision key names');
    assert.ok(r.stateDict().has('layer1.1.bn2.running_mean'));
  });

  it('a normalized readout centres and scales each feature, with statistics kept for eval', () => {
    torch.manualSeed(0);
    const enc = new SmallCnn({ width: 4, depth: 2, pool: 'flatten', readoutNorm: true });
    assert.equal(enc.outDim, 8 * 7 * 7);
    const x = torch.rand([64, 1, 28, 28]);
    tidy(() => {
      const y = enc.forward(x);
      assert.deepEqual(y.shape, [64, 392]);
      assert.ok(y.mean(0).abs().max().item() < 1e-5, 'each feature centred over the batch');
      // Without the norm every feature is a ReLU output: non-negative, mean well above 0.
      const raw = new SmallCnn({ width: 4, depth: 2, pool: 'flatten' }).forward(x);
      assert.ok(raw.min().item() >= 0 && raw.mean().item() > 0.01);
    });
    assert.ok(
      [...enc.stateDict().keys()].some((k) => k.endsWith('running_mean')),
      'running statistics saved with the encoder',
    );
    assert.throws(
      () => validateRecipe({ ...minimalRecipe, encoder: { type: 'small-cnn', config: { readoutNorm: 'yes' } } }),
      /readoutNorm/,
    );
  });

  it("recipes check each method's options: a misspelt or out-of-range one is an error naming it", () => {
    const valid = { ...minimalRecipe, train: { epochs: 1, batchSize: 8, optimizer: { name: 'adamw', lr: 1e-3 } } };
    const withMethod = (method: object) => ({ ...valid, method });
    assert.throws(
      () => validateRecipe(withMethod({ name: 'simclr', config: { temprature: 0.2 } })),
      /method\.config: unknown field temprature/,
    );
    assert.throws(() => validateRecipe(withMethod({ name: 'simclr', config: { views: 1 } })), /method\.config\.views/);
    assert.throws(() => validateRecipe(withMethod({ name: 'moco', config: { momentum: 1.5 } })), /method\.config\.momentum/);
    // An option of another method is not one of this method's.
    assert.throws(() => validateRecipe(withMethod({ name: 'byol', config: { queueSize: 10 } })), /unknown field queueSize/);
    assert.throws(() => validateRecipe(withMethod({ name: 'simclr2' })), /^ {2}- method\.name: expected one of "simclr", "moco"/m);
    assert.throws(
      () => validateRecipe({ ...minimalRecipe, encoder: { type: 'vit' } }),
      /^ {2}- encoder\.type: expected one of "small-cnn", "resnet18", "tabular-mlp", "ft-transformer", "text-transformer", "event-gru"$/m,
    );
    // Methods, encoders and data of different modalities are refused by field.
    assert.throws(() => validateRecipe(withMethod({ name: 'scarf' })), /method\.name: scarf learns from tables, but the data is images/);
    const table = { ...valid, data: { dataset: 'table', name: 'credit-g' }, method: { name: 'vime' } };
    assert.throws(() => validateRecipe(table), /encoder\.type: small-cnn reads images, but the data is a table/);
    assert.equal(validateRecipe({ ...table, encoder: { type: 'ft-transformer' } }).data.dataset, 'table');
    assert.throws(
      () => validateRecipe({ ...table, encoder: { type: 'ft-transformer' }, data: { dataset: 'table', name: 'a', path: 'b.csv' } }),
      /data\.name: give a benchmark table name or a file path, not both/,
    );
    const ok = validateRecipe(withMethod({ name: 'vicreg', config: { invariance: 25, variance: 25, covariance: 1 } }));
    assert.deepEqual(ok.method, { name: 'vicreg', config: { invariance: 25, variance: 25, covariance: 1 } });
    assert.deepEqual(validateRecipe(valid).method, { name: 'simclr', config: {} });
  });

  it('rebuild from a spec with the same parameter names', () => {
    const spec = { type: 'small-cnn' as const, config: { width: 4, depth: 2 } };
    assert.deepEqual([...buildEncoder(spec).stateDict().keys()], [...new SmallCnn(spec.config).stateDict().keys()]);
    assert.throws(() => buildEncoder({ type: 'vit' } as never), /unknown encoder type 'vit'/);
  });
});

describe('evaluation', () => {
  it('kNN and the linear probe classify separable clusters and fail on noise', () => {
    torch.manualSeed(0);
    const centers = torch.randn([3, 16]).mul(4);
    const make = (n: number): { x: torch.Tensor; y: torch.Tensor } => {
      const y = torch.randint(0, 3, [n]);
      return { x: centers.indexSelect(0, y).add(torch.randn([n, 16])), y };
    };
    const a = make(600);
    const b = make(300);
    assert.ok(knnAccuracy(a.x, a.y, b.x, b.y, { k: 20 }) > 0.95);
    assert.ok(linearProbe(a.x, a.y, b.x, b.y, { epochs: 20, batchSize: 64, lr: 0.01 }).testAccuracy > 0.95);
    const before = linearProbe(a.x, a.y, b.x, b.y, { epochs: 2, seed: 7 });
    torch.randn([1000]); // draws from the global generator must not change the probe
    assert.deepEqual(linearProbe(a.x, a.y, b.x, b.y, { epochs: 2, seed: 7 }), before);
    const noise = torch.randn([300, 16]);
    const chance = knnAccuracy(a.x, torch.randint(0, 3, [600]), noise, b.y, { k: 20 });
    assert.ok(chance < 0.5, `kNN on random labels ${chance}`);
  });
});

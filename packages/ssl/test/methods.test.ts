import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';
import { ntXent } from '../src/losses/ntXent.js';
import { barlowTwinsLoss } from '../src/losses/barlowTwins.js';
import { vicregLoss } from '../src/losses/vicreg.js';
import { byolLoss, negativeCosine } from '../src/losses/cosine.js';
import { infoNce } from '../src/losses/infoNce.js';
import { buildMethod, METHODS, MemoryQueue, emaUpdate, momentumCopy, cosineMomentum, type MethodName } from '../src/methods/index.js';
import { SmallCnn } from '../src/encoders/smallCnn.js';
import { ResNet18 } from '../src/encoders/resnet.js';
import { buildEncoder } from '../src/encoders/encoder.js';
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

describe('methods', () => {
  for (const name of Object.keys(METHODS) as MethodName[]) {
    it(`${name}: one step gives a finite loss and gradients in the backbone`, () => {
      torch.manualSeed(0);
      const m = buildMethod(name, tinyBackbone, name === 'moco' ? { queueSize: 64, projDim: 16, hiddenDim: 32 } : {});
      tidy(() => {
        const views = Array.from({ length: m.numViews }, () => torch.rand([8, 1, 28, 28]));
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

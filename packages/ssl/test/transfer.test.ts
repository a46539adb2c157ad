import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';
import {
  LabelBudgetError,
  SmallCnn,
  alignment,
  budgetName,
  diagnose,
  effectiveRank,
  finetune,
  fitLinearHead,
  linearProbe,
  labelSubset,
  parseLabelBudget,
  sampleStd,
  summarize,
  uniformity,
  Consistency,
  WeightAverage,
  SEMI_DEFAULTS,
  type TransferRun,
} from '../src/index.js';

describe('label budgets', () => {
  it('parses percentages, fractions and per-class counts, and refuses the ambiguous', () => {
    assert.deepEqual(parseLabelBudget('1%'), { kind: 'fraction', value: 0.01 });
    assert.deepEqual(parseLabelBudget('0.1'), { kind: 'fraction', value: 0.1 });
    assert.deepEqual(parseLabelBudget('100%'), { kind: 'fraction', value: 1 });
    assert.deepEqual(parseLabelBudget('5/class'), { kind: 'per-class', value: 5 });
    assert.deepEqual(parseLabelBudget('50 per class'), { kind: 'per-class', value: 50 });
    for (const bad of ['5', '0%', '150%', '0/class', 'lots', '1.5']) {
      assert.throws(() => parseLabelBudget(bad), LabelBudgetError, bad);
    }
    assert.equal(budgetName(parseLabelBudget('0.01')), '1%');
    assert.equal(budgetName(parseLabelBudget('10/class')), '10/class');
  });

  const labels = Array.from({ length: 1000 }, (_, i) => (i < 700 ? i % 3 : 3)); // class 3 has 300, others ~233

  it('draws class-balanced subsets by seed, holding validation out of the budget', () => {
    const a = labelSubset(labels, { kind: 'per-class', value: 20 }, 1);
    assert.deepEqual(a.perClass, [20, 20, 20, 20]);
    assert.equal(a.train.length + a.val.length, 80);
    assert.equal(a.val.length, 16, 'a fifth of each class');
    const count = (idx: number[], c: number): number => idx.filter((i) => labels[i] === c).length;
    for (let c = 0; c < 4; c++) assert.equal(count(a.val, c), 4);
    assert.equal(new Set([...a.train, ...a.val]).size, 80, 'no image twice');
    assert.deepEqual(labelSubset(labels, { kind: 'per-class', value: 20 }, 1), a, 'same seed, same subset');
    assert.notDeepEqual(labelSubset(labels, { kind: 'per-class', value: 20 }, 2).train, a.train);
  });

  it('spreads a fraction evenly over classes, keeps tiny budgets whole, and takes everything at 100%', () => {
    const tenth = labelSubset(labels, { kind: 'fraction', value: 0.1 }, 0);
    assert.deepEqual(tenth.perClass, [25, 25, 25, 25]);
    const tiny = labelSubset(labels, { kind: 'per-class', value: 5 }, 0);
    assert.deepEqual([tiny.train.length, tiny.val.length], [20, 0], 'no validation below 10 per class');
    const all = labelSubset(labels, { kind: 'fraction', value: 1 }, 0);
    assert.equal(all.train.length + all.val.length, 1000);
  });

  it('summarizes runs as mean and sample std per budget and arm', () => {
    const runs: TransferRun[] = [0.8, 0.82, 0.84].map((accuracy, seed) => ({
      labels: '1%',
      arm: 'scratch',
      seed,
      used: 600,
      accuracy,
      seconds: 1,
    }));
    const [row] = summarize(runs);
    assert.equal(row!.runs, 3);
    assert.ok(Math.abs(row!.mean - 0.82) < 1e-12);
    assert.ok(Math.abs(row!.std - 0.02) < 1e-12);
    assert.equal(sampleStd([0.5]), 0);
  });
});

/** Two classes of 12x12 images: a bright square top-left or bottom-right. */
function squares(n: number, seed: number): { images: torch.Tensor; labels: torch.Tensor } {
  const g = new torch.Generator(seed);
  const y = torch.randint(0, 2, [n], { generator: g });
  const x = torch.rand([n, 1, 12, 12], { generator: g }).mul(0.3);
  const tl = torch.zeros([1, 1, 12, 12]);
  tl.narrow(2, 1, 5).narrow(3, 1, 5).fill_(0.7);
  const br = tl.flip([2, 3]);
  const yf = y.float().reshape([n, 1, 1, 1]);
  return { images: x.add(tl.mul(yf.neg().add(1))).add(br.mul(yf)), labels: y };
}

describe('fine-tuning', () => {
  const norm = { mean: 0.3, std: 0.3 };
  const train = squares(96, 1);
  const val = squares(32, 2);
  const test = squares(200, 3);
  const encoder = (): SmallCnn => {
    torch.manualSeed(0);
    return new SmallCnn({ width: 4, depth: 2, inputSize: 12, pool: 'flatten' });
  };
  const opts = { numClasses: 2, epochs: 8, minSteps: 0, batchSize: 32, quiet: true, seed: 0 } as const;

  for (const mode of ['linear', 'partial', 'full', 'scratch'] as const) {
    it(`${mode}: learns a separable task and reports its history`, () => {
      const r = finetune(encoder(), norm, { train, val, test }, { ...opts, mode, augment: null });
      assert.ok(r.testAccuracy > 0.9, `${mode} test accuracy ${r.testAccuracy}`);
      assert.equal(r.history.length, r.epochs);
      assert.ok(r.valAccuracy !== null && r.valAccuracy > 0.9);
      // LP-FT may keep its probe (epoch 0) when no fine-tuned epoch validates better.
      const first = mode === 'partial' || mode === 'full' ? 0 : 1;
      assert.ok(r.bestEpoch >= first && r.bestEpoch <= r.epochs, `best epoch ${r.bestEpoch}`);
      r.classifier.dispose();
    });
  }

  it('LP-FT keeps the probe when no fine-tuned epoch beats it on validation', () => {
    // A learning rate that wrecks the network in its first steps: every epoch validates worse
    // than the probe it started from, so the probe's weights are what comes back.
    const r = finetune(encoder(), norm, { train, val, test }, { ...opts, mode: 'full', augment: null, lr: 50, encoderLrScale: 1 });
    assert.equal(r.bestEpoch, 0);
    assert.ok(r.valAccuracy !== null && r.valAccuracy > 0.9, `probe validation ${r.valAccuracy}`);
    assert.ok(
      r.history.every((h) => h.valAccuracy! < r.valAccuracy!),
      'every fine-tuned epoch below the probe',
    );
    assert.ok(r.testAccuracy > 0.9, `test accuracy of the kept probe ${r.testAccuracy}`);
    r.classifier.dispose();
    // Scratch has no trained start to keep: its best epoch is a trained one.
    const s = finetune(encoder(), norm, { train, val, test }, { ...opts, mode: 'scratch', augment: null });
    assert.ok(s.bestEpoch >= 1);
    s.classifier.dispose();
  });

  it('partial mode trains only the last blocks and keeps the frozen blocks BatchNorm statistics', () => {
    const enc = encoder();
    const before = new Map([...enc.stateDict()].map(([k, v]) => [k, v.clone()]));
    const r = finetune(enc, norm, { train, val: null, test }, { ...opts, mode: 'partial', unfreezeBlocks: 1 });
    const after = enc.stateDict();
    const changed = (k: string): boolean => after.get(k)!.sub(before.get(k)!).abs().max().item() > 0;
    // Stage 1 is features.0-3 (conv, bn, relu, pool); stage 2 is features.4-7.
    assert.ok(!changed('features.0.weight') && !changed('features.1.weight'), 'first stage weights frozen');
    assert.ok(!changed('features.1.running_mean') && !changed('features.1.running_var'), 'first stage BN statistics frozen');
    assert.ok(changed('features.4.weight'), 'last stage trained');
    assert.equal(r.valAccuracy, null, 'no validation set, no early stopping');
    assert.equal(r.epochs, 8);
    r.classifier.dispose();
  });

  it('a linear head folds its standardization into its weights', () => {
    const g = new torch.Generator(5);
    const x = torch
      .randn([64, 3], { generator: g })
      .mul(torch.tensor([1, 10, 100]))
      .add(torch.tensor([5, -3, 40]));
    const y = x.select(1, 1).gt(-3).long();
    const r = fitLinearHead({ x, y }, null, 2, { epochs: 60, minSteps: 0, batchSize: 16, lr: 0.05 });
    const acc = torch.noGrad(() => r.head.forward(x).argmax(1).eq(y).float().mean().item());
    assert.ok(acc > 0.95, `train accuracy on raw features ${acc}`);
  });

  it('the linear probe is the same head trainer: its scores are what the folded head predicts', () => {
    const g = new torch.Generator(8);
    const centers = torch.randn([4, 6], { generator: g }).mul(2);
    const make = (n: number): { x: torch.Tensor; y: torch.Tensor } => {
      const y = torch.randint(0, 4, [n], { generator: g });
      return {
        x: centers
          .indexSelect(0, y)
          .add(torch.randn([n, 6], { generator: g }))
          .add(3),
        y,
      };
    };
    const a = make(300);
    const b = make(200);
    const probe = linearProbe(a.x, a.y, b.x, b.y, { epochs: 4, batchSize: 32, seed: 11 });
    // The probe's settings through fitLinearHead: one generator for weights and batch order.
    const { head } = fitLinearHead(a, null, 4, {
      epochs: 4,
      batchSize: 32,
      minSteps: 0,
      maxSteps: 1000,
      generator: new torch.Generator(11),
    });
    const correct = (s: { x: torch.Tensor; y: torch.Tensor }): number =>
      torch.noGrad(() => head.forward(s.x).argmax(1).eq(s.y).sum().item());
    assert.equal(Math.round(probe.trainAccuracy * 300), correct(a));
    assert.equal(Math.round(probe.testAccuracy * 200), correct(b));
    assert.ok(probe.testAccuracy > 0.4 && probe.testAccuracy < 1, `a task with errors to agree on: ${probe.testAccuracy}`);
    // Another seed trains another head: the agreement above is not two untrained heads.
    const other = fitLinearHead(a, null, 4, { epochs: 4, batchSize: 32, minSteps: 0, maxSteps: 1000, generator: new torch.Generator(12) });
    assert.ok(torch.noGrad(() => other.head.weight.sub(head.weight).abs().max().item()) > 1e-4);
  });

  it('maxSteps takes epochs off large budgets, never below one, and must not undercut minSteps', () => {
    const g = new torch.Generator(6);
    const x = torch.randn([64, 3], { generator: g });
    const y = x.select(1, 0).gt(0).long();
    // 64 images in batches of 16: 4 steps an epoch; 60 epochs wanted, 22 steps allowed -> 5 epochs.
    const capped = fitLinearHead({ x, y }, null, 2, { epochs: 60, minSteps: 0, maxSteps: 22, batchSize: 16 });
    assert.equal(capped.epochs, 5);
    assert.equal(capped.steps, 20);
    const one = fitLinearHead({ x, y }, null, 2, { epochs: 60, minSteps: 0, maxSteps: 2, batchSize: 16 });
    assert.equal(one.epochs, 1);
    const free = fitLinearHead({ x, y }, null, 2, { epochs: 3, minSteps: 0, batchSize: 16 });
    assert.equal(free.steps, 12);
    assert.throws(
      () => fitLinearHead({ x, y }, null, 2, { minSteps: 100, maxSteps: 50 }),
      /maxSteps \(50\) must be at least minSteps \(100\)/,
    );
  });
});

describe('semi-supervised fine-tuning (FixMatch)', () => {
  const norm = { mean: 0.3, std: 0.3 };
  const encoder = (): SmallCnn => {
    torch.manualSeed(0);
    return new SmallCnn({ width: 4, depth: 2, inputSize: 12, pool: 'flatten' });
  };
  // Eight labels, 400 unlabeled images of the same task.
  const train = squares(8, 11);
  const pool = squares(400, 12).images;
  const val = squares(32, 13);
  const test = squares(200, 14);
  const opts = { numClasses: 2, batchSize: 8, quiet: true, seed: 0 } as const;

  for (const mode of ['full', 'scratch'] as const) {
    it(`${mode}: runs its steps on labels plus the pool and reports how much of the pool passed the threshold`, () => {
      const semi = { steps: 150, ratio: 4, threshold: 0.9, emaDecay: 0.9 };
      const r = finetune(encoder(), norm, { train, val, test, pool }, { ...opts, mode, semi });
      assert.equal(r.steps, 150);
      assert.equal(r.history.length, 150, 'one step per epoch of eight labels');
      assert.ok(
        r.history.every((h) => h.maskRate !== undefined && h.maskRate >= 0 && h.maskRate <= 1),
        'a mask rate in [0, 1] per epoch',
      );
      // Most of the pool passes by the end; from random weights the share grows (about 0.05 -> 0.4).
      const rate = (hs: typeof r.history): number => hs.reduce((a, h) => a + h.maskRate!, 0) / hs.length;
      const early = rate(r.history.slice(0, 30));
      const late = rate(r.history.slice(-30));
      assert.ok(late > 0.3 && (mode === 'full' || late > 2 * early), `mask rate ${early} early, ${late} late`);
      assert.ok(r.testAccuracy > 0.9, `${mode} semi test accuracy ${r.testAccuracy}`);
      r.classifier.dispose();
    });
  }

  it('needs a pool, and refuses settings outside their range', () => {
    assert.throws(() => finetune(encoder(), norm, { train, val, test }, { ...opts, mode: 'full', semi: {} }), /needs unlabeled images/);
    assert.throws(() => new Consistency(pool.narrow(0, 0, 0), norm, {}, 0), /the pool is empty/);
    assert.equal(SEMI_DEFAULTS.threshold, 0.95);
  });

  it('pseudo-labels count only above the threshold, and the loss is their cross-entropy on the strong view', () => {
    const term = new Consistency(pool, norm, { ratio: 2, threshold: 0.9 }, 0);
    // A model sure of class 1 whatever it sees: every pseudo-label passes, the loss is CE(logits, 1).
    const sure = (x: torch.Tensor): torch.Tensor => torch.tensor([0, 4]).reshape(1, 2).expand(x.size(0), 2).contiguous();
    const expected = torch.nn.functional.crossEntropy(torch.tensor([[0, 4]]), torch.tensor(BigInt64Array.from([1n]))).item();
    assert.ok(Math.abs(term.loss(sure, 5).item() - expected) < 1e-6);
    assert.equal(term.take().maskRate, 1);
    // A model at even odds: nothing passes, no loss, and the rate resets after each take().
    const unsure = (x: torch.Tensor): torch.Tensor => torch.zeros([x.size(0), 2]);
    assert.equal(term.loss(unsure, 5).item(), 0);
    assert.equal(term.take().maskRate, 0);
    assert.equal(term.take().maskRate, 0);
  });

  it('the weight average moves by (1 - decay) towards the trained weights and puts them back after use', () => {
    const lin = new torch.nn.Linear(2, 1);
    torch.noGrad(() => lin.weight.fill_(1));
    const avg = new WeightAverage(lin, 0.75);
    torch.noGrad(() => lin.weight.fill_(5));
    avg.update(); // 1 + 0.25 * (5 - 1) = 2
    avg.update(); // 2 + 0.25 * (5 - 2) = 2.75
    const seen = avg.with(() => lin.weight.mean().item());
    assert.ok(Math.abs(seen - 2.75) < 1e-6, `averaged weight ${seen}`);
    assert.equal(lin.weight.mean().item(), 5, 'trained weights back after with()');
    avg.install();
    assert.ok(Math.abs(lin.weight.mean().item() - 2.75) < 1e-6);
    avg.dispose();
  });
});

describe('representation diagnostics', () => {
  it('alignment, uniformity and effective rank on known geometry', () => {
    const e = torch.eye(4, 4);
    assert.equal(alignment(e, e), 0);
    assert.ok(Math.abs(alignment(e, e.roll(1, 1)) - 2) < 1e-6, 'orthogonal unit vectors are sqrt(2) apart');
    // Distinct pairs of orthonormal points are all at squared distance 2: log exp(-4) = -4.
    assert.ok(Math.abs(uniformity(e) - -4) < 1e-9);
    assert.ok(Math.abs(effectiveRank(e) - 4) < 1e-6);
    assert.ok(Math.abs(effectiveRank(torch.ones([10, 6])) - 1) < 1e-6);
    assert.ok(
      Math.abs(
        effectiveRank(
          torch.tensor([
            [3, 0],
            [0, 1],
          ]),
        ) - Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))),
      ) < 1e-6,
    );
  });

  it('flags a constant encoder as collapsed and a random one as not', () => {
    const images = squares(300, 4).images;
    torch.manualSeed(0);
    const healthy = new SmallCnn({ width: 4, depth: 2, inputSize: 12, pool: 'flatten' });
    const d = diagnose(healthy, { mean: 0.3, std: 0.3 }, images, { samples: 300 });
    assert.equal(d.collapsed, false, d.findings.join('; '));
    const constant = new SmallCnn({ width: 4, depth: 2, inputSize: 12, pool: 'flatten' });
    torch.noGrad(() => {
      for (const [name, p] of constant.namedParameters()) if (name.endsWith('weight') && name.startsWith('features.0')) p.zero_();
    });
    const c = diagnose(constant, { mean: 0.3, std: 0.3 }, images, { samples: 300 });
    assert.equal(c.collapsed, true);
    assert.ok(c.embeddingStd < 0.01, `std ${c.embeddingStd}`);
    assert.ok(c.effectiveRank < 1.5, `rank ${c.effectiveRank}`);
    assert.match(c.findings.join(' '), /nearly one direction/);
  });
});

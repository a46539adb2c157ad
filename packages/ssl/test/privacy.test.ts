// The RDP accountant against the mechanism's definition: the moment E_{mu0}[(mu / mu0)^alpha]
// integrated numerically must match the closed sum, the unsampled case is the Gaussian's
// alpha / (2 sigma^2), and epsilon moves the way privacy does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';
import { dpSgdEpsilon, sampledGaussianRdp } from '../src/federated/privacy.js';
import { DpError, dpSettings, dpTrainStep, poissonSample, prepareForDp } from '../src/train/dpsgd.js';
import { DenoisingAutoencoder } from '../src/methods/dae.js';
import { SimCLR } from '../src/methods/simclr.js';
import { Rotation } from '../src/methods/rotation.js';
import { SmallCnn } from '../src/encoders/smallCnn.js';
import { TabularMlp } from '../src/modalities/tabular/encoders.js';
import { corruptRows, tabularViews } from '../src/modalities/tabular/views.js';

/** log E_{z ~ N(0, s^2)}[((1 - q) + q exp((2z - 1) / (2 s^2)))^alpha] by the trapezoid rule. */
function integratedRdp(q: number, sigma: number, alpha: number): number {
  const lo = -40 * sigma;
  const hi = 40 * sigma + alpha;
  const n = 400_000;
  const h = (hi - lo) / n;
  // Summed in log space: at large orders the integrand's peak overflows a double.
  let logS = -Infinity;
  for (let i = 0; i <= n; i++) {
    const z = lo + i * h;
    const logMu0 = -(z * z) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
    const x = (2 * z - 1) / (2 * sigma * sigma);
    // log((1 - q) + q e^x), stable for large x.
    const logRatio = x > 0 ? x + Math.log(q + (1 - q) * Math.exp(-x)) : Math.log(1 - q + q * Math.exp(x));
    const t = logMu0 + alpha * logRatio + (i === 0 || i === n ? Math.log(0.5) : 0);
    const m = Math.max(logS, t);
    logS = m === -Infinity ? t : m + Math.log(Math.exp(logS - m) + Math.exp(t - m));
  }
  return (logS + Math.log(h)) / (alpha - 1);
}

describe('RDP accountant', () => {
  it('matches the integrated definition of the sampled Gaussian', () => {
    for (const [q, sigma, alpha] of [
      [0.01, 1.1, 2],
      [0.01, 1.1, 8],
      [0.05, 0.8, 4],
      [0.2, 2, 16],
      [0.004, 1, 32],
    ] as const) {
      const closed = sampledGaussianRdp(q, sigma, alpha);
      const numeric = integratedRdp(q, sigma, alpha);
      assert.ok(
        Math.abs(closed - numeric) <= 1e-6 * Math.max(1, Math.abs(numeric)),
        `q ${q} sigma ${sigma} alpha ${alpha}: ${closed} vs ${numeric}`,
      );
    }
  });

  it('is the Gaussian mechanism without sampling, and nothing without data', () => {
    assert.equal(sampledGaussianRdp(1, 2, 10), 10 / 8);
    assert.equal(sampledGaussianRdp(0, 2, 10), 0);
    assert.ok(Math.abs(integratedRdp(1, 2, 10) - 10 / 8) < 1e-6);
  });

  it('spends more with more steps, less with more noise or a smaller sampling rate, and more at a smaller delta', () => {
    const base = { q: 256 / 60_000, sigma: 1.1, steps: 14_063, delta: 1e-5 };
    const e = dpSgdEpsilon(base).epsilon;
    assert.ok(e > 0.5 && e < 10, `epsilon ${e}`);
    assert.ok(dpSgdEpsilon({ ...base, steps: 2 * base.steps }).epsilon > e);
    assert.ok(dpSgdEpsilon({ ...base, sigma: 2 }).epsilon < e);
    assert.ok(dpSgdEpsilon({ ...base, q: base.q / 2 }).epsilon < e);
    assert.ok(dpSgdEpsilon({ ...base, delta: 1e-8 }).epsilon > e);
    assert.equal(dpSgdEpsilon({ ...base, steps: 0 }).epsilon, 0);
    assert.throws(() => dpSgdEpsilon({ ...base, delta: 0 }), /delta is in/);
  });
});

describe('DP-SGD steps', () => {
  const layout = { continuous: 3, cardinalities: [4, 3] };
  const dae = (norm: 'batch' | 'layer' = 'layer', hidden = [16, 8]): DenoisingAutoencoder =>
    new DenoisingAutoencoder(() => new TabularMlp({ ...layout, hidden, tokenDim: 4, norm }), { hiddenDim: 8 });
  const rows = (n: number, g: torch.Generator): torch.Tensor =>
    torch.cat(
      [
        torch.randn([n, 3], { generator: g }),
        torch.randint(0, 4, [n, 1], { generator: g }).float(),
        torch.randint(0, 3, [n, 1], { generator: g }).float(),
      ],
      1,
    );
  /** An optimizer that keeps the gradient it was asked to apply instead of applying it. */
  const recorder = (m: DenoisingAutoencoder) => {
    const applied: torch.Tensor[] = [];
    return {
      applied,
      zeroGrad: () => m.zeroGrad(),
      step: () => applied.push(...m.trainableParameters().map((p) => torch.keep(p.grad!.clone()))),
    };
  };

  it('applies the mean of per-example gradients, each clipped to the norm, and counts the clipped', () => {
    const m = dae();
    prepareForDp(m);
    const batch = rows(6, new torch.Generator(1));
    const params = m.trainableParameters();
    // Each row's own gradient, with the corruption draws the step will make (same seed, same order).
    torch.manualSeed(5);
    const own = Array.from({ length: 6 }, (_, i) =>
      torch.tidy(() => {
        m.zeroGrad();
        m.step([batch.narrow(0, i, 1)]).loss.backward();
        return params.map((p) => torch.keep(p.grad!.clone()));
      }),
    );
    const norms = own.map((g) => Math.sqrt(g.reduce((s, t) => s + t.pow(2).sum().item(), 0)));
    const sorted = [...norms].sort((a, b) => a - b);
    const clip = (sorted[2]! + sorted[3]!) / 2;
    const expected = params.map((_, j) =>
      own.reduce((sum, g, i) => sum.add(g[j]!.mul(Math.min(1, clip / norms[i]!))), torch.zeros(params[j]!.shape)).div(4),
    );
    const opt = recorder(m);
    torch.manualSeed(5);
    const r = dpTrainStep({ method: m, optimizer: opt, makeViews: tabularViews, generator: new torch.Generator(0) }, batch, {
      clip,
      noise: 1e-9,
      delta: 1e-5,
      expectedBatch: 4,
      noiseGenerator: new torch.Generator(2),
    });
    assert.equal(r.examples, 6);
    assert.equal(r.clipped, 3, 'the three rows above the norm');
    for (const [j, e] of expected.entries()) assert.ok(opt.applied[j]!.sub(e).abs().max().item() < 1e-5, `parameter ${j}`);
  });

  it('adds Gaussian noise of std noise * clip / expected batch, and still steps on an empty sample', () => {
    const m = dae('layer', [64, 32]);
    prepareForDp(m);
    const opt = recorder(m);
    const ctx = { method: m, optimizer: opt, makeViews: tabularViews, generator: new torch.Generator(0) };
    const r = dpTrainStep(ctx, torch.zeros([0, 5]), {
      clip: 2,
      noise: 1.5,
      delta: 1e-5,
      expectedBatch: 10,
      noiseGenerator: new torch.Generator(3),
    });
    assert.equal(r.examples, 0);
    assert.ok(Number.isNaN(r.loss));
    const all = torch.cat(opt.applied.map((t) => t.reshape([-1])));
    assert.ok(all.numel() > 1000);
    assert.ok(Math.abs(all.std().item() - 0.3) < 0.015, `noise std ${all.std().item()} (want 1.5 * 2 / 10)`);
    assert.ok(Math.abs(all.mean().item()) < 0.02);
  });

  it('refuses a loss that compares examples, a BatchNorm layer and settings out of range, by name', () => {
    assert.throws(
      () => prepareForDp(new SimCLR(() => new SmallCnn({ width: 4, depth: 1 }))),
      (e: Error) => e instanceof DpError && /simclr's loss compares examples/.test(e.message),
    );
    assert.throws(
      () => prepareForDp(dae('batch')),
      (e: Error) => e instanceof DpError && /BatchNorm layer 'backbone\.layers\.0\.1'/.test(e.message),
    );
    assert.throws(() => dpSettings({ clip: 0, noise: 1 }), /clip: the clipping norm must be positive/);
    assert.throws(() => dpSettings({ clip: 1, noise: 0 }), /noise: the noise multiplier must be positive/);
    assert.deepEqual(dpSettings({ clip: 1, noise: 2 }), { clip: 1, noise: 2, delta: 1e-5 });
  });

  it('images: rotation prediction on a group-norm CNN takes private steps; the BatchNorm defaults are refused by name', () => {
    const dpReady = new Rotation(() => new SmallCnn({ width: 8, depth: 1, norm: 'group', pool: 'avg' }), {
      hiddenDim: 8,
      headNorm: 'layer',
    });
    prepareForDp(dpReady);
    const before = dpReady.trainableParameters().map((p) => torch.keep(p.detach().clone()));
    const opt = new torch.optim.AdamW(dpReady.trainableParameters(), { lr: 0.01 });
    const images = torch.rand([5, 1, 12, 12], { generator: new torch.Generator(9) });
    const r = dpTrainStep(
      {
        method: dpReady,
        optimizer: opt,
        makeViews: (b, count) => Array.from({ length: count }, () => b.float()),
        generator: new torch.Generator(0),
      },
      images,
      { clip: 1, noise: 0.5, delta: 1e-5, expectedBatch: 5, noiseGenerator: new torch.Generator(1) },
    );
    assert.equal(r.examples, 5);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss ${r.loss}`);
    const moved = dpReady.trainableParameters().filter((p, i) => p.sub(before[i]!).abs().max().item() > 0).length;
    assert.equal(moved, before.length, 'every parameter took the step');
    assert.throws(
      () => prepareForDp(new Rotation(() => new SmallCnn({ width: 8, depth: 1 }))),
      (e: Error) => e instanceof DpError && /BatchNorm layer 'backbone\.features\.1'/.test(e.message) && /norm: group/.test(e.message),
    );
    assert.throws(
      () => prepareForDp(new Rotation(() => new SmallCnn({ width: 8, depth: 1, norm: 'group' }))),
      (e: Error) => e instanceof DpError && /'classifier\.1'/.test(e.message) && /headNorm: layer/.test(e.message),
    );
  });

  it('Poisson samples have the rate on average, distinct sorted indices, and repeat by seed', () => {
    const a = poissonSample(20000, 0.05, new torch.Generator(4));
    const idx = a.toArray() as number[];
    // 20,000 * 0.05 = 1,000 expected, standard deviation about 31.
    assert.ok(Math.abs(idx.length - 1000) < 130, `sample of ${idx.length}`);
    assert.ok(idx.every((v, i) => i === 0 || v > idx[i - 1]!) && idx[0]! >= 0 && idx.at(-1)! < 20000);
    assert.deepEqual(poissonSample(20000, 0.05, new torch.Generator(4)).toArray(), idx);
    assert.throws(() => poissonSample(10, 0, new torch.Generator(0)), /sampling rate is in \(0, 1\]/);
  });

  it('private views corrupt a row from the prior, never from another row', () => {
    // Every row is the same far-off row: a cell copied from another row would keep its value.
    const x = torch
      .tensor([9, 9, 9, 3, 2], { shape: [1, 5] })
      .expand([4000, 5])
      .contiguous();
    const { x: c, mask } = corruptRows(x, 0.5, new torch.Generator(6), layout);
    const replaced = mask.bool();
    const cont = c.narrow(1, 0, 3).maskedSelect(replaced.narrow(1, 0, 3));
    assert.ok(Math.abs(cont.mean().item()) < 0.1 && Math.abs(cont.std().item() - 1) < 0.1, 'continuous cells from a standard normal');
    const codes = c.narrow(1, 3, 1).maskedSelect(replaced.narrow(1, 3, 1));
    assert.ok(codes.ge(0).all().item() && codes.lt(4).all().item() && codes.ne(3).any().item(), 'codes drawn over the column');
    const batchDonors = corruptRows(x, 0.5, new torch.Generator(6)).x;
    assert.ok(batchDonors.eq(x).all().item(), 'without the prior, donors are the batch rows');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';
import * as A from '../src/augment/transforms.js';

const batch = (): torch.Tensor => {
  torch.manualSeed(1);
  return torch.rand([8, 1, 28, 28]);
};

describe('batched augmentations', () => {
  it('replays the same views for the same generator seed and differs across seeds', () => {
    const x = batch();
    const t = A.compose(A.randomResizedCrop(), A.colorJitter(), A.gaussianBlur(), A.gaussianNoise(), A.randomErasing({ p: 0.5 }));
    const a = t(x, new torch.Generator(3));
    const b = t(x, new torch.Generator(3));
    const c = t(x, new torch.Generator(4));
    assert.ok(a.equal(b));
    assert.ok(!a.equal(c));
    assert.deepEqual(a.shape, [8, 1, 28, 28]);
    assert.ok(a.min().item() >= 0 && a.max().item() <= 1, 'values stay in [0, 1]');
  });

  it('a full-size crop without flip is the identity; a certain flip mirrors', () => {
    const x = batch();
    const same = A.randomResizedCrop({ scale: [1, 1], ratio: [1, 1], flip: 0 })(x, new torch.Generator(0));
    assert.ok(same.sub(x).abs().max().item() < 1e-5);
    const flipped = A.randomResizedCrop({ scale: [1, 1], ratio: [1, 1], flip: 1 })(x, new torch.Generator(0));
    assert.ok(flipped.sub(x.flip(3)).abs().max().item() < 1e-5);
    assert.ok(A.horizontalFlip(1)(x, new torch.Generator(0)).equal(x.flip(3)));
  });

  it('a small crop zooms in: fewer distinct source pixels, same size', () => {
    const x = torch
      .arange(28 * 28, undefined, 1, { dtype: 'float32' })
      .div(28 * 28)
      .reshape(1, 1, 28, 28)
      .repeat(4, 1, 1, 1);
    const zoomed = A.randomResizedCrop({ scale: [0.25, 0.25], ratio: [1, 1], flip: 0 })(x, new torch.Generator(0));
    const span = zoomed.flatten(1).max(1).values.sub(zoomed.flatten(1).min(1).values).max().item();
    assert.ok(span < 0.6, `a quarter-area crop spans ${span} of the value range`);
  });

  it('jitter with p=0 and noise with std=0 leave images unchanged', () => {
    const x = batch();
    assert.ok(A.colorJitter({ p: 0 })(x, new torch.Generator(0)).equal(x));
    assert.ok(A.gaussianNoise({ std: 0, p: 1 })(x, new torch.Generator(0)).equal(x));
  });

  it('blur keeps a constant image constant and smooths noise', () => {
    const flat = torch.full([2, 1, 8, 8], 0.5);
    const blurred = A.gaussianBlur({ kernelSize: 5, p: 1 })(flat, new torch.Generator(0));
    assert.ok(blurred.sub(0.5).abs().max().item() < 1e-6);
    const noisy = batch();
    const smooth = A.gaussianBlur({ kernelSize: 5, sigma: [1.5, 1.5], p: 1 })(noisy, new torch.Generator(0));
    assert.ok(smooth.std().item() < 0.6 * noisy.std().item());
  });

  it('erasing zeroes one rectangle per image within the area bounds', () => {
    const ones = torch.ones([16, 1, 28, 28]);
    const erased = A.randomErasing({ scale: [0.1, 0.1], p: 1 })(ones, new torch.Generator(0));
    const zeroFraction = erased.eq(0).float().mean([1, 2, 3]).data() as Float32Array;
    for (const f of zeroFraction) assert.ok(f > 0.05 && f < 0.16, `erased fraction ${f}`);
  });

  it('an affine warp with no rotation, shift or shear is the identity; a whole-side shift moves the content', () => {
    const x = batch();
    const same = A.randomAffine()(x, new torch.Generator(0));
    assert.ok(same.sub(x).abs().max().item() < 1e-5);
    // One bright column in the middle: a rotation of up to 90 degrees moves it off its column.
    const bar = torch.zeros([4, 1, 28, 28]);
    bar.narrow(3, 13, 2).fill_(1);
    const turned = A.randomAffine({ degrees: 90 })(bar, new torch.Generator(1));
    assert.ok(turned.narrow(3, 13, 2).mean().item() < 0.9, 'the bar left its column');
    assert.deepEqual(turned.shape, [4, 1, 28, 28]);
  });

  it('solarize inverts pixels above its threshold and leaves the rest', () => {
    const x = torch.tensor([0.1, 0.4, 0.6, 0.9]).reshape(1, 1, 2, 2);
    const s = A.solarize({ threshold: [0.5, 0.5], p: 1 })(x, new torch.Generator(0));
    const got = Array.from(s.flatten().data() as Float32Array);
    [0.1, 0.4, 0.4, 0.1].forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6, `pixel ${i}: ${got[i]}`));
    assert.ok(A.solarize({ p: 0 })(x, new torch.Generator(0)).equal(x));
  });

  it('makes independent views', () => {
    const vs = A.views(batch(), A.randomResizedCrop(), 3, new torch.Generator(0));
    assert.equal(vs.length, 3);
    assert.ok(!vs[0]!.equal(vs[1]!));
  });

  it('rejects an even blur kernel', () => {
    assert.throws(() => A.gaussianBlur({ kernelSize: 4 }), /must be odd/);
  });
});

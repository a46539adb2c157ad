// Augmentations on whole batches [B, C, H, W] of float images in [0, 1]: each transform is
// a handful of native calls for the batch, drawing its per-image parameters from a Generator
// so that a seed replays the same views. No per-image JavaScript loops.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

const F = torch.nn.functional;

/** A batch transform. */
export type Transform = (x: Tensor, g: torch.Generator) => Tensor;

/** [B] uniform draws on [lo, hi). */
function uniform(b: number, lo: number, hi: number, g: torch.Generator): Tensor {
  return torch
    .rand([b], { generator: g })
    .mul(hi - lo)
    .add(lo);
}

/** [B, 1, 1, 1] booleans, true with probability p. */
function coin(b: number, p: number, g: torch.Generator): Tensor {
  return torch.rand([b, 1, 1, 1], { generator: g }).lt(p);
}

/** Applies `f` to the images selected with probability p, leaves the rest. */
function sometimes(x: Tensor, p: number, g: torch.Generator, f: (x: Tensor) => Tensor): Tensor {
  if (p <= 0) return x;
  const y = f(x);
  return p >= 1 ? y : torch.where(coin(x.size(0), p, g), y, x);
}

export interface ResizedCropOptions {
  /** Range of the crop's area as a fraction of the image. */
  scale?: [number, number];
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly. */
  ratio?: [number, number];
  /** Probability of a horizontal flip. */
  flip?: number;
}

/**
 * Random resized crop with horizontal flip, as one affine resampling: each image gets a crop
 * box (area and aspect drawn per image) mapped back to the full size by bilinear sampling.
 */
export function randomResizedCrop(o: ResizedCropOptions = {}): Transform {
  const [smin, smax] = o.scale ?? [0.2, 1];
  const [rmin, rmax] = o.ratio ?? [3 / 4, 4 / 3];
  const flipP = o.flip ?? 0.5;
  return (x, g) => {
    const b = x.size(0);
    const area = uniform(b, smin, smax, g);
    const logR = uniform(b, Math.log(rmin), Math.log(rmax), g).exp();
    const w = area.mul(logR).sqrt().clamp(null, 1);
    const h = area.div(logR).sqrt().clamp(null, 1);
    // Crop centre in normalized coordinates, keeping the box inside the image.
    const cx = torch.rand([b], { generator: g }).mul(2).sub(1).mul(torch.onesLike(w).sub(w));
    const cy = torch.rand([b], { generator: g }).mul(2).sub(1).mul(torch.onesLike(h).sub(h));
    const sign = torch.rand([b], { generator: g }).lt(flipP).float().mul(-2).add(1);
    const zero = torch.zerosLike(w);
    const theta = torch.stack([torch.stack([w.mul(sign), zero, cx], 1), torch.stack([zero, h, cy], 1)], 1);
    return F.gridSample(x, F.affineGrid(theta, x.shape), { paddingMode: 'reflection' });
  };
}

export interface AffineOptions {
  /** Rotation drawn uniformly in [-degrees, degrees]. */
  degrees?: number;
  /** Shift drawn per axis in [-translate, translate], as a fraction of the side. */
  translate?: number;
  /** Horizontal shear factor drawn in [-shear, shear]. */
  shear?: number;
}

/**
 * Rotation, shear and translation per image, as one affine resampling (edges reflected), the
 * geometric half of RandAugment-style strong views.
 */
export function randomAffine(o: AffineOptions = {}): Transform {
  const rad = ((o.degrees ?? 0) * Math.PI) / 180;
  const t = o.translate ?? 0;
  const sh = o.shear ?? 0;
  return (x, g) => {
    const b = x.size(0);
    const angle = uniform(b, -rad, rad, g);
    const shear = uniform(b, -sh, sh, g);
    // affineGrid maps output to input coordinates in [-1, 1]: a shift of t of the side is 2t there.
    const tx = uniform(b, -2 * t, 2 * t, g);
    const ty = uniform(b, -2 * t, 2 * t, g);
    const cos = angle.cos();
    const sin = angle.sin();
    // [[cos, -sin], [sin, cos]] @ [[1, shear], [0, 1]]
    const row0 = torch.stack([cos, cos.mul(shear).sub(sin), tx], 1);
    const row1 = torch.stack([sin, sin.mul(shear).add(cos), ty], 1);
    return F.gridSample(x, F.affineGrid(torch.stack([row0, row1], 1), x.shape), { paddingMode: 'reflection' });
  };
}

/** Solarize with probability p: pixels above a threshold drawn in [lo, 1) per image are inverted. */
export function solarize(o: { threshold?: [number, number]; p?: number } = {}): Transform {
  const [lo, hi] = o.threshold ?? [0.5, 1];
  return (x, g) =>
    sometimes(x, o.p ?? 0.2, g, (y) => {
      const th = uniform(y.size(0), lo, hi, g).reshape(y.size(0), 1, 1, 1);
      return torch.where(y.ge(th), torch.onesLike(y).sub(y), y);
    });
}

/** Horizontal flip with probability p. */
export function horizontalFlip(p = 0.5): Transform {
  return (x, g) => sometimes(x, p, g, (y) => y.flip(3));
}

export interface JitterOptions {
  brightness?: number;
  contrast?: number;
  /** Probability of applying the jitter to an image. */
  p?: number;
}

/** Brightness (scale) and contrast (blend with the image mean) factors in [1-s, 1+s] per image. */
export function colorJitter(o: JitterOptions = {}): Transform {
  const bs = o.brightness ?? 0.4;
  const cs = o.contrast ?? 0.4;
  return (x, g) =>
    sometimes(x, o.p ?? 0.8, g, (y) => {
      const b = y.size(0);
      const bf = uniform(b, 1 - bs, 1 + bs, g).reshape(b, 1, 1, 1);
      const cf = uniform(b, 1 - cs, 1 + cs, g).reshape(b, 1, 1, 1);
      const bright = y.mul(bf);
      const mean = bright.mean([1, 2, 3], true);
      return bright.sub(mean).mul(cf).add(mean).clamp(0, 1);
    });
}

/** Gaussian blur with sigma drawn per image, as separable grouped convolutions. */
export function gaussianBlur(o: { kernelSize?: number; sigma?: [number, number]; p?: number } = {}): Transform {
  const k = o.kernelSize ?? 3;
  if (k % 2 !== 1) throw new RangeError(`gaussianBlur kernelSize must be odd, got ${k}`);
  const [lo, hi] = o.sigma ?? [0.1, 2];
  return (x, g) =>
    sometimes(x, o.p ?? 0.5, g, (y) => {
      const [b, c, hgt, wid] = y.shape as [number, number, number, number];
      const offsets = torch.arange(-(k >> 1), (k >> 1) + 1, 1, { dtype: 'float32' });
      const sigma = uniform(b, lo, hi, g).reshape(b, 1);
      const kernel = offsets.reshape(1, k).square().div(sigma.square().mul(-2)).exp();
      const k1 = kernel.div(kernel.sum(1, true)).repeatInterleave(c, 0); // [b*c, k]
      const flat = y.reshape(1, b * c, hgt, wid);
      const pad = k >> 1;
      const rows = F.conv2d(F.pad(flat, [0, 0, pad, pad], 'reflect'), k1.reshape(b * c, 1, k, 1), null, { groups: b * c });
      const both = F.conv2d(F.pad(rows, [pad, pad, 0, 0], 'reflect'), k1.reshape(b * c, 1, 1, k), null, { groups: b * c });
      return both.reshape(b, c, hgt, wid);
    });
}

/** Additive Gaussian noise with standard deviation `std`. */
export function gaussianNoise(o: { std?: number; p?: number } = {}): Transform {
  return (x, g) => sometimes(x, o.p ?? 0.5, g, (y) => y.add(torch.randn(y.shape, { generator: g }).mul(o.std ?? 0.05)).clamp(0, 1));
}

/** Random erasing (Zhong et al., 2020): a rectangle per image set to 0. */
export function randomErasing(o: { scale?: [number, number]; p?: number } = {}): Transform {
  const [smin, smax] = o.scale ?? [0.02, 0.2];
  return (x, g) =>
    sometimes(x, o.p ?? 0.25, g, (y) => {
      const [b, , hgt, wid] = y.shape as [number, number, number, number];
      const side = uniform(b, smin, smax, g).sqrt();
      const h = side.mul(hgt).reshape(b, 1, 1);
      const w = side.mul(wid).reshape(b, 1, 1);
      const y0 = torch.rand([b, 1, 1], { generator: g }).mul(torch.fullLike(h, hgt).sub(h));
      const x0 = torch.rand([b, 1, 1], { generator: g }).mul(torch.fullLike(w, wid).sub(w));
      const rows = torch.arange(hgt, undefined, 1, { dtype: 'float32' }).reshape(1, hgt, 1);
      const cols = torch.arange(wid, undefined, 1, { dtype: 'float32' }).reshape(1, 1, wid);
      const inside = rows
        .ge(y0)
        .logicalAnd(rows.lt(y0.add(h)))
        .logicalAnd(cols.ge(x0))
        .logicalAnd(cols.lt(x0.add(w)));
      return y.maskedFill(inside.unsqueeze(1), 0);
    });
}

/** Applies transforms in order. */
export function compose(...ts: Transform[]): Transform {
  return (x, g) => ts.reduce((y, t) => t(y, g), x);
}

/** `n` independently augmented views of the same batch. */
export function views(x: Tensor, t: Transform, n: number, g: torch.Generator): Tensor[] {
  return Array.from({ length: n }, () => t(x, g));
}

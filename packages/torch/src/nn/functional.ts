// torch.nn.functional in camelCase: layers, losses and image resampling as plain functions.
import type { Handle } from '../native.js';
import { bindOp, reduction, tuple, type Reduction } from '../ops.js';
import { Tensor } from '../tensor.js';

const op = {
  linear: bindOp('aten::linear'),
  conv1d: bindOp('aten::conv1d'),
  conv1dPad: bindOp('aten::conv1d.padding'),
  conv2d: bindOp('aten::conv2d'),
  conv2dPad: bindOp('aten::conv2d.padding'),
  maxPool1d: bindOp('aten::max_pool1d'),
  maxPool2d: bindOp('aten::max_pool2d'),
  avgPool1d: bindOp('aten::avg_pool1d'),
  avgPool2d: bindOp('aten::avg_pool2d'),
  adaptiveAvgPool1d: bindOp('aten::adaptive_avg_pool1d'),
  adaptiveAvgPool2d: bindOp('aten::adaptive_avg_pool2d'),
  layerNorm: bindOp('aten::layer_norm'),
  batchNorm: bindOp('aten::batch_norm'),
  groupNorm: bindOp('aten::group_norm'),
  dropout: bindOp('aten::dropout'),
  embedding: bindOp('aten::embedding'),
  crossEntropy: bindOp('aten::cross_entropy_loss'),
  nllLoss: bindOp('aten::nll_loss'),
  mseLoss: bindOp('aten::mse_loss'),
  l1Loss: bindOp('aten::l1_loss'),
  smoothL1Loss: bindOp('aten::smooth_l1_loss'),
  bceWithLogits: bindOp('aten::binary_cross_entropy_with_logits'),
  cosineSimilarity: bindOp('aten::cosine_similarity'),
  pad: bindOp('aten::pad'),
  affineGrid: bindOp('aten::affine_grid_generator'),
  gridSampler: bindOp('aten::grid_sampler'),
  upsampleNearest1d: bindOp('aten::upsample_nearest1d.vec'),
  upsampleNearest2d: bindOp('aten::upsample_nearest2d.vec'),
  upsampleLinear1d: bindOp('aten::upsample_linear1d.vec'),
  upsampleBilinear2d: bindOp('aten::upsample_bilinear2d.vec'),
  upsampleBicubic2d: bindOp('aten::upsample_bicubic2d.vec'),
  oneHot: bindOp('aten::one_hot'),
  softplus: bindOp('aten::softplus'),
  leakyRelu: bindOp('aten::leaky_relu'),
};

const T = (h: unknown): Tensor => new Tensor(h as Handle);
const opt = (t: Tensor | null | undefined): Handle | null => (t ? t.h : null);

/** y = x W^T + b; x [*, in], weight [out, in], bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return T(op.linear(x.h, weight.h, opt(bias)));
}

export interface ConvOptions {
  stride?: number | number[];
  /** Zero padding per side, or 'same' / 'valid'. */
  padding?: number | number[] | 'same' | 'valid';
  dilation?: number | number[];
  groups?: number;
}

/** x [batch, in, length], weight [out, in/groups, k]. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: ConvOptions = {}): Tensor {
  const stride = tuple(o.stride ?? 1, 1, 'stride');
  const dilation = tuple(o.dilation ?? 1, 1, 'dilation');
  if (typeof o.padding === 'string') return T(op.conv1dPad(x.h, weight.h, opt(bias), stride, o.padding, dilation, o.groups ?? 1));
  return T(op.conv1d(x.h, weight.h, opt(bias), stride, tuple(o.padding ?? 0, 1, 'padding'), dilation, o.groups ?? 1));
}

/** x [batch, in, h, w], weight [out, in/groups, kh, kw]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: ConvOptions = {}): Tensor {
  const stride = tuple(o.stride ?? 1, 2, 'stride');
  const dilation = tuple(o.dilation ?? 1, 2, 'dilation');
  if (typeof o.padding === 'string') return T(op.conv2dPad(x.h, weight.h, opt(bias), stride, o.padding, dilation, o.groups ?? 1));
  return T(op.conv2d(x.h, weight.h, opt(bias), stride, tuple(o.padding ?? 0, 2, 'padding'), dilation, o.groups ?? 1));
}

export interface PoolOptions {
  stride?: number | number[];
  padding?: number | number[];
  ceilMode?: boolean;
}

export function maxPool1d(x: Tensor, kernelSize: number, o: PoolOptions & { dilation?: number } = {}): Tensor {
  const stride = tuple(o.stride ?? kernelSize, 1, 'stride');
  return T(op.maxPool1d(x.h, [kernelSize], stride, tuple(o.padding ?? 0, 1, 'padding'), [o.dilation ?? 1], o.ceilMode ?? false));
}
export function maxPool2d(x: Tensor, kernelSize: number | number[], o: PoolOptions & { dilation?: number | number[] } = {}): Tensor {
  const k = tuple(kernelSize, 2, 'kernelSize');
  return T(
    op.maxPool2d(
      x.h,
      k,
      tuple(o.stride ?? k, 2, 'stride'),
      tuple(o.padding ?? 0, 2, 'padding'),
      tuple(o.dilation ?? 1, 2, 'dilation'),
      o.ceilMode ?? false,
    ),
  );
}
export function avgPool1d(x: Tensor, kernelSize: number, o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  const stride = tuple(o.stride ?? kernelSize, 1, 'stride');
  return T(op.avgPool1d(x.h, [kernelSize], stride, tuple(o.padding ?? 0, 1, 'padding'), o.ceilMode ?? false, o.countIncludePad ?? true));
}
export function avgPool2d(x: Tensor, kernelSize: number | number[], o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor {
  const k = tuple(kernelSize, 2, 'kernelSize');
  return T(
    op.avgPool2d(
      x.h,
      k,
      tuple(o.stride ?? k, 2, 'stride'),
      tuple(o.padding ?? 0, 2, 'padding'),
      o.ceilMode ?? false,
      o.countIncludePad ?? true,
    ),
  );
}
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor {
  return T(op.adaptiveAvgPool1d(x.h, [outputSize]));
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | number[]): Tensor {
  return T(op.adaptiveAvgPool2d(x.h, tuple(outputSize, 2, 'outputSize')));
}

export const relu = (x: Tensor): Tensor => x.relu();
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => x.gelu(approximate);
export const silu = (x: Tensor): Tensor => x.silu();
export const sigmoid = (x: Tensor): Tensor => x.sigmoid();
export const tanh = (x: Tensor): Tensor => x.tanh();
export const softmax = (x: Tensor, dim: number): Tensor => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => x.logSoftmax(dim);
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return T(op.softplus(x.h, beta, threshold));
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return T(op.leakyRelu(x.h, negativeSlope));
}

/** Normalizes over the trailing `normalizedShape` dimensions. */
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return T(op.layerNorm(x.h, normalizedShape, opt(weight), opt(bias), eps, false));
}

/**
 * Batch normalization over dim 1. In training mode it uses batch statistics and updates the
 * running buffers in place (running = (1 - momentum) * running + momentum * batch).
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {},
): Tensor {
  return T(
    op.batchNorm(
      x.h,
      opt(o.weight),
      opt(o.bias),
      opt(runningMean),
      opt(runningVar),
      o.training ?? false,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
      false,
    ),
  );
}

export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return T(op.groupNorm(x.h, numGroups, opt(weight), opt(bias), eps, false));
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p) when training. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  return T(op.dropout(x.h, p, training));
}

/** Rows of `weight` [num, dim] at `indices` (int64). */
export function embedding(indices: Tensor, weight: Tensor, paddingIdx = -1): Tensor {
  return T(op.embedding(weight.h, indices.h, paddingIdx, false, false));
}

export interface CrossEntropyOptions {
  /** Per-class weight [classes]. */
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  /** Mixes the target with the uniform distribution (Szegedy et al., 2016). */
  labelSmoothing?: number;
}

/** logits [batch, classes, ...]; target: class indices (int64) [batch, ...] or probabilities. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return T(op.crossEntropy(logits.h, target.h, opt(o.weight), reduction(o.reduction), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
}

/** Negative log likelihood of log-probabilities [batch, classes] at int64 targets. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  return T(op.nllLoss(logProbs.h, target.h, opt(o.weight), reduction(o.reduction), o.ignoreIndex ?? -100));
}

export function mseLoss(input: Tensor, target: Tensor, red?: Reduction): Tensor {
  return T(op.mseLoss(input.h, target.h, reduction(red)));
}
export function l1Loss(input: Tensor, target: Tensor, red?: Reduction): Tensor {
  return T(op.l1Loss(input.h, target.h, reduction(red)));
}
/** Huber-like loss: quadratic below `beta`, linear above. */
export function smoothL1Loss(input: Tensor, target: Tensor, o: { reduction?: Reduction; beta?: number } = {}): Tensor {
  return T(op.smoothL1Loss(input.h, target.h, reduction(o.reduction), o.beta ?? 1));
}
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return T(op.bceWithLogits(logits.h, target.h, opt(o.weight), opt(o.posWeight), reduction(o.reduction)));
}

export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return T(op.cosineSimilarity(a.h, b.h, dim, eps));
}

/** x / max(||x||_p, eps) along `dim` (F.normalize). */
export function normalize(x: Tensor, p = 2, dim = 1, eps = 1e-12): Tensor {
  return x.div(x.norm(p, dim, true).clampMin(eps).expandAs(x));
}

/** Pads the last dimensions: `pad` lists (left, right) pairs from the last dim backwards. */
export function pad(x: Tensor, padding: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  return T(op.pad(x.h, padding, mode, mode === 'constant' ? value : null));
}

/** Sampling grid [N, H, W, 2] for the affine maps theta [N, 2, 3] onto an output of `size` [N, C, H, W]. */
export function affineGrid(theta: Tensor, size: number[], alignCorners = false): Tensor {
  return T(op.affineGrid(theta.h, size, alignCorners));
}

const gridModes = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const paddingModes = { zeros: 0, border: 1, reflection: 2 } as const;

/** Samples `x` [N, C, H, W] at grid [N, Ho, Wo, 2] coordinates in [-1, 1]. */
export function gridSample(
  x: Tensor,
  grid: Tensor,
  o: { mode?: keyof typeof gridModes; paddingMode?: keyof typeof paddingModes; alignCorners?: boolean } = {},
): Tensor {
  const mode = gridModes[o.mode ?? 'bilinear'];
  const paddingMode = paddingModes[o.paddingMode ?? 'zeros'];
  if (mode === undefined || paddingMode === undefined)
    throw new TypeError(`unknown gridSample mode '${o.mode}' or paddingMode '${o.paddingMode}'`);
  return T(op.gridSampler(x.h, grid.h, mode, paddingMode, o.alignCorners ?? false));
}

export interface InterpolateOptions {
  size?: number | number[];
  scaleFactor?: number | number[];
  mode?: 'nearest' | 'linear' | 'bilinear' | 'bicubic';
  alignCorners?: boolean;
}

/** Resizes [N, C, L] (linear, nearest) or [N, C, H, W] (bilinear, bicubic, nearest). */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const spatial = x.ndim - 2;
  if (spatial !== 1 && spatial !== 2) throw new TypeError(`interpolate expects a 3-D or 4-D input, got ${x.ndim}-D`);
  if ((o.size === undefined) === (o.scaleFactor === undefined))
    throw new TypeError('interpolate needs exactly one of size and scaleFactor');
  const size = o.size === undefined ? null : tuple(o.size, spatial, 'size');
  const scale =
    o.scaleFactor === undefined ? null : typeof o.scaleFactor === 'number' ? new Array<number>(spatial).fill(o.scaleFactor) : o.scaleFactor;
  const mode = o.mode ?? 'nearest';
  const align = o.alignCorners ?? false;
  if (mode === 'nearest') return T(spatial === 1 ? op.upsampleNearest1d(x.h, size, scale) : op.upsampleNearest2d(x.h, size, scale));
  if (mode === 'linear' && spatial === 1) return T(op.upsampleLinear1d(x.h, size, align, scale));
  if (mode === 'bilinear' && spatial === 2) return T(op.upsampleBilinear2d(x.h, size, align, scale));
  if (mode === 'bicubic' && spatial === 2) return T(op.upsampleBicubic2d(x.h, size, align, scale));
  throw new TypeError(`interpolate mode '${mode}' does not apply to a ${x.ndim}-D input`);
}

/** int64 class indices -> one-hot int64 [..., numClasses]. */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  return T(op.oneHot(indices.h, numClasses));
}

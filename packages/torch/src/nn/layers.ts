// Standard layers with PyTorch's parameter names and default initializations.
import { zeros, ones, empty } from '../creation.js';
import * as distributed from '../distributed.js';
import { noGrad } from '../autograd.js';
import { Tensor } from '../tensor.js';
import { tuple } from '../ops.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Module, type TensorModule } from './module.js';

/** PyTorch's default for Linear and Conv: kaiming_uniform(a=sqrt(5)) weights, U(±1/sqrt(fan_in)) bias. */
function resetLinearLike(weight: Tensor, bias: Tensor | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const bound = 1 / Math.sqrt(init.fans(weight).fanIn);
    init.uniform_(bias, -bound, bound);
  }
}

/** y = x W^T + b: [*, inFeatures] -> [*, outFeatures]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = this.registerParameter('bias', bias ? empty([outFeatures]) : null);
    resetLinearLike(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface ConvLayerOptions {
  stride?: number | number[];
  padding?: number | number[] | 'same' | 'valid';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
}

abstract class ConvNd extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number[],
    readonly options: ConvLayerOptions,
  ) {
    super();
    const groups = options.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new RangeError(`groups (${groups}) must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
    }
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, ...kernelSize]));
    this.bias = this.registerParameter('bias', options.bias === false ? null : empty([outChannels]));
    resetLinearLike(this.weight, this.bias);
  }
}

/** [batch, in, length] -> [batch, out, length']. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvLayerOptions = {}) {
    super(inChannels, outChannels, [kernelSize], options);
  }
  forward(x: Tensor): Tensor {
    return F.conv1d(x, this.weight, this.bias, this.options);
  }
}

/** [batch, in, h, w] -> [batch, out, h', w']. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], options: ConvLayerOptions = {}) {
    super(inChannels, outChannels, tuple(kernelSize, 2, 'kernelSize'), options);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the current batch in the running averages; null for a cumulative average. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

abstract class BatchNormNd extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null = null;
  readonly runningVar: Tensor | null = null;
  readonly numBatchesTracked: Tensor | null = null;
  readonly eps: number;
  readonly momentum: number | null;
  /**
   * SyncBatchNorm: in training, with a data-parallel group of more than one rank, the batch
   * statistics are those of the global batch (sums reduced across ranks, differentiably), as
   * PyTorch's nn.SyncBatchNorm computes them. Set by `convertSyncBatchNorm`; the state dict is
   * unchanged.
   */
  sync = false;
  constructor(
    readonly numFeatures: number,
    o: BatchNormOptions,
  ) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    const affine = o.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    if (o.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
      this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
    }
  }
  protected abstract checkInput(x: Tensor): void;
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked !== null) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) momentum = 1 / this.numBatchesTracked.item();
    }
    if (this.training && this.sync && distributed.isInitialized() && distributed.worldSize() > 1) return this.syncForward(x, momentum);
    // Without running statistics the batch's own are used in eval mode too, as in PyTorch.
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training || this.runningMean === null,
      momentum,
      eps: this.eps,
    });
  }

  /** Global-batch statistics (see distributed.syncBatchNorm); the running statistics as in PyTorch. */
  private syncForward(x: Tensor, momentum: number): Tensor {
    const c = this.numFeatures;
    const { output, mean, variance } = distributed.syncBatchNorm(
      x,
      this.weight ?? ones([c]),
      this.bias ?? zeros([c]),
      this.runningMean ?? zeros([c]),
      this.eps,
    );
    if (this.runningMean !== null && this.runningVar !== null)
      noGrad(() => {
        this.runningMean!.mul_(1 - momentum).add_(mean, momentum);
        this.runningVar!.mul_(1 - momentum).add_(variance, momentum);
      });
    return output;
  }
}

/** Turns every BatchNorm in `m` into a SyncBatchNorm (or back, with `on` false); returns how many it set. */
export function convertSyncBatchNorm(m: Module, on = true): number {
  let n = 0;
  for (const sub of m.modules())
    if (sub instanceof BatchNormNd) {
      sub.sync = on;
      n++;
    }
  return n;
}

/** Over [batch, features] or [batch, features, length]. */
export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(numFeatures, o);
  }
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new TypeError(`BatchNorm1d expects a 2-D or 3-D input, got ${x.ndim}-D`);
  }
}

/** Over [batch, channels, h, w]. */
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(numFeatures, o);
  }
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new TypeError(`BatchNorm2d expects a 4-D input, got ${x.ndim}-D`);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(
    normalizedShape: number | number[],
    readonly o: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    const affine = o.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones(this.normalizedShape) : null);
    this.bias = this.registerParameter('bias', affine && (o.bias ?? true) ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly o: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (numChannels % numGroups !== 0) throw new RangeError(`numGroups (${numGroups}) must divide numChannels (${numChannels})`);
    const affine = o.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numChannels]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numChannels]) : null);
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.o.eps ?? 1e-5);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? F.dropout(x, this.p, true) : x;
  }
}

/** A lookup table [numEmbeddings, embeddingDim], initialized N(0, 1). */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    readonly paddingIdx?: number,
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim]));
    init.normal_(this.weight);
    if (paddingIdx !== undefined) noGrad(() => this.weight.select(0, paddingIdx).fill_(0));
  }
  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx ?? -1);
  }
}

/** What a parameter-free layer computes, for code that reads a model as a graph (ONNX export). */
export type LayerOp =
  | { kind: 'relu' | 'silu' | 'sigmoid' | 'tanh' | 'identity' }
  | { kind: 'gelu'; approximate: 'none' | 'tanh' }
  | { kind: 'softmax'; dim: number }
  | { kind: 'flatten'; startDim: number; endDim: number }
  | { kind: 'maxPool' | 'avgPool'; dims: 1 | 2; kernelSize: number | number[]; options: F.PoolOptions }
  | { kind: 'adaptiveAvgPool'; dims: 1 | 2; outputSize: number | number[] };

/** A module with no parameters that applies a function, and says which (`op`). */
export class Lambda extends Module {
  constructor(
    readonly op: LayerOp,
    private readonly fn: (x: Tensor) => Tensor,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Lambda {
  constructor() {
    super({ kind: 'relu' }, (x) => x.relu());
  }
}
export class GELU extends Lambda {
  constructor(approximate: 'none' | 'tanh' = 'none') {
    super({ kind: 'gelu', approximate }, (x) => x.gelu(approximate));
  }
}
export class SiLU extends Lambda {
  constructor() {
    super({ kind: 'silu' }, (x) => x.silu());
  }
}
export class Sigmoid extends Lambda {
  constructor() {
    super({ kind: 'sigmoid' }, (x) => x.sigmoid());
  }
}
export class Tanh extends Lambda {
  constructor() {
    super({ kind: 'tanh' }, (x) => x.tanh());
  }
}
export class Softmax extends Lambda {
  constructor(dim: number) {
    super({ kind: 'softmax', dim }, (x) => x.softmax(dim));
  }
}
export class Identity extends Lambda {
  constructor() {
    super({ kind: 'identity' }, (x) => x);
  }
}
export class Flatten extends Lambda {
  constructor(startDim = 1, endDim = -1) {
    super({ kind: 'flatten', startDim, endDim }, (x) => x.flatten(startDim, endDim));
  }
}
export class MaxPool1d extends Lambda {
  constructor(kernelSize: number, o: F.PoolOptions = {}) {
    super({ kind: 'maxPool', dims: 1, kernelSize, options: o }, (x) => F.maxPool1d(x, kernelSize, o));
  }
}
export class MaxPool2d extends Lambda {
  constructor(kernelSize: number | number[], o: F.PoolOptions = {}) {
    super({ kind: 'maxPool', dims: 2, kernelSize, options: o }, (x) => F.maxPool2d(x, kernelSize, o));
  }
}
export class AvgPool1d extends Lambda {
  constructor(kernelSize: number, o: F.PoolOptions = {}) {
    super({ kind: 'avgPool', dims: 1, kernelSize, options: o }, (x) => F.avgPool1d(x, kernelSize, o));
  }
}
export class AvgPool2d extends Lambda {
  constructor(kernelSize: number | number[], o: F.PoolOptions = {}) {
    super({ kind: 'avgPool', dims: 2, kernelSize, options: o }, (x) => F.avgPool2d(x, kernelSize, o));
  }
}
export class AdaptiveAvgPool1d extends Lambda {
  constructor(outputSize: number) {
    super({ kind: 'adaptiveAvgPool', dims: 1, outputSize }, (x) => F.adaptiveAvgPool1d(x, outputSize));
  }
}
export class AdaptiveAvgPool2d extends Lambda {
  constructor(outputSize: number | number[]) {
    super({ kind: 'adaptiveAvgPool', dims: 2, outputSize }, (x) => F.adaptiveAvgPool2d(x, outputSize));
  }
}

/**
 * Children named '0', '1', ... applied in order. Each intermediate activation is released
 * as soon as the next layer has consumed it, as Python's reference counting would: autograd
 * keeps what backward needs (storage is reference-counted), and the step's working set stays
 * small. A layer that holds on to its input must keep() it.
 */
export class Sequential extends Module {
  private readonly layers: TensorModule[];
  constructor(...layers: TensorModule[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.forward(y);
      if (y !== x && next !== y && !y.kept) y.dispose();
      y = next;
    }
    return y;
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): TensorModule {
    const m = this.layers.at(i);
    if (m === undefined) throw new RangeError(`Sequential has ${this.layers.length} layers, no index ${i}`);
    return m;
  }
}

/** A list of modules registered as '0', '1', ... (no forward of its own). */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items.at(i);
    if (m === undefined) throw new RangeError(`ModuleList has ${this.items.length} modules, no index ${i}`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

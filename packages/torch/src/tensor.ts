// The Tensor class: PyTorch's tensor methods in camelCase, each one ATen call.
import { native, type Handle } from './native.js';
import { bindOp } from './ops.js';
import { track } from './scope.js';
import { dtypeCode, dtypeFromCode, typedArrayFor, type DType, type TypedArray, checkDtype } from './dtype.js';
import type { Generator } from './random.js';

/** A nested array of numbers or booleans, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | boolean | NestedArray[];
export type Dim = number | readonly number[];

interface RandomOptions {
  generator?: Generator | undefined;
}

const op = {
  add: bindOp('aten::add.Tensor'),
  sub: bindOp('aten::sub.Tensor'),
  addInplace: bindOp('aten::add_.Tensor'),
  addScalarInplace: bindOp('aten::add_.Scalar'),
  subInplace: bindOp('aten::sub_.Tensor'),
  subScalarInplace: bindOp('aten::sub_.Scalar'),
  mulInplace: bindOp('aten::mul_.Tensor'),
  mulScalarInplace: bindOp('aten::mul_.Scalar'),
  divInplace: bindOp('aten::div_.Tensor'),
  divScalarInplace: bindOp('aten::div_.Scalar'),
  divMode: bindOp('aten::div.Tensor_mode'),
  divScalarMode: bindOp('aten::div.Scalar_mode'),
  neg: bindOp('aten::neg'),
  powTensor: bindOp('aten::pow.Tensor_Tensor'),
  powScalar: bindOp('aten::pow.Tensor_Scalar'),
  remainder: bindOp('aten::remainder.Tensor'),
  remainderScalar: bindOp('aten::remainder.Scalar'),
  maximum: bindOp('aten::maximum'),
  minimum: bindOp('aten::minimum'),
  eq: bindOp('aten::eq.Tensor'),
  eqS: bindOp('aten::eq.Scalar'),
  ne: bindOp('aten::ne.Tensor'),
  neS: bindOp('aten::ne.Scalar'),
  lt: bindOp('aten::lt.Tensor'),
  ltS: bindOp('aten::lt.Scalar'),
  le: bindOp('aten::le.Tensor'),
  leS: bindOp('aten::le.Scalar'),
  gt: bindOp('aten::gt.Tensor'),
  gtS: bindOp('aten::gt.Scalar'),
  ge: bindOp('aten::ge.Tensor'),
  geS: bindOp('aten::ge.Scalar'),
  logicalAnd: bindOp('aten::logical_and'),
  logicalOr: bindOp('aten::logical_or'),
  logicalXor: bindOp('aten::logical_xor'),
  logicalNot: bindOp('aten::logical_not'),
  clamp: bindOp('aten::clamp'),
  clampInplace: bindOp('aten::clamp_'),
  mm: bindOp('aten::mm'),
  bmm: bindOp('aten::bmm'),
  baddbmm: bindOp('aten::baddbmm'),
  sum: bindOp('aten::sum.dim_IntList'),
  mean: bindOp('aten::mean.dim'),
  prod: bindOp('aten::prod'),
  prodDim: bindOp('aten::prod.dim_int'),
  var: bindOp('aten::var.correction'),
  std: bindOp('aten::std.correction'),
  max: bindOp('aten::max'),
  maxDim: bindOp('aten::max.dim'),
  min: bindOp('aten::min'),
  minDim: bindOp('aten::min.dim'),
  argmax: bindOp('aten::argmax'),
  argmin: bindOp('aten::argmin'),
  topk: bindOp('aten::topk'),
  sort: bindOp('aten::sort'),
  argsort: bindOp('aten::argsort'),
  logsumexp: bindOp('aten::logsumexp'),
  cumsum: bindOp('aten::cumsum'),
  norm: bindOp('aten::linalg_vector_norm'),
  all: bindOp('aten::all'),
  any: bindOp('aten::any'),
  reshape: bindOp('aten::reshape'),
  view: bindOp('aten::view'),
  permute: bindOp('aten::permute'),
  transpose: bindOp('aten::transpose.int'),
  t: bindOp('aten::t'),
  flatten: bindOp('aten::flatten.using_ints'),
  squeeze: bindOp('aten::squeeze'),
  squeezeDim: bindOp('aten::squeeze.dim'),
  unsqueeze: bindOp('aten::unsqueeze'),
  expand: bindOp('aten::expand'),
  repeat: bindOp('aten::repeat'),
  repeatInterleave: bindOp('aten::repeat_interleave.self_int'),
  contiguous: bindOp('aten::contiguous'),
  flip: bindOp('aten::flip'),
  roll: bindOp('aten::roll'),
  diag: bindOp('aten::diag'),
  triu: bindOp('aten::triu'),
  maskedSelect: bindOp('aten::masked_select'),
  tril: bindOp('aten::tril'),
  split: bindOp('aten::split.Tensor'),
  splitSizes: bindOp('aten::split_with_sizes'),
  chunk: bindOp('aten::chunk'),
  narrow: bindOp('aten::narrow'),
  select: bindOp('aten::select.int'),
  slice: bindOp('aten::slice.Tensor'),
  index: bindOp('aten::index.Tensor'),
  indexPutInplace: bindOp('aten::index_put_'),
  indexSelect: bindOp('aten::index_select'),
  gather: bindOp('aten::gather'),
  scatter: bindOp('aten::scatter.src'),
  scatterValue: bindOp('aten::scatter.value'),
  scatterAdd: bindOp('aten::scatter_add'),
  maskedFill: bindOp('aten::masked_fill.Scalar'),
  maskedFillInplace: bindOp('aten::masked_fill_.Scalar'),
  where: bindOp('aten::where.self'),
  softmax: bindOp('aten::softmax.int'),
  logSoftmax: bindOp('aten::log_softmax.int'),
  detach: bindOp('aten::detach'),
  clone: bindOp('aten::clone'),
  toDtype: bindOp('aten::to.dtype'),
  toDevice: bindOp('aten::to.device'),
  zeroInplace: bindOp('aten::zero_'),
  fillInplace: bindOp('aten::fill_.Scalar'),
  copyInplace: bindOp('aten::copy_'),
  uniformInplace: bindOp('aten::uniform_'),
  normalInplace: bindOp('aten::normal_'),
  bernoulliInplace: bindOp('aten::bernoulli_.float'),
  bernoulli: bindOp('aten::bernoulli'),
  bernoulliP: bindOp('aten::bernoulli.p'),
  addcmulInplace: bindOp('aten::addcmul_'),
  addcdivInplace: bindOp('aten::addcdiv_'),
  lerpInplace: bindOp('aten::lerp_.Scalar'),
  eqAll: bindOp('aten::equal'),
  allclose: bindOp('aten::allclose'),
  isnan: bindOp('aten::isnan'),
  isfinite: bindOp('aten::isfinite'),
  nanToNum: bindOp('aten::nan_to_num'),
};

/** Unary elementwise ops: one schema each, same shape of call. */
const unaryOps = {
  exp: bindOp('aten::exp'),
  log: bindOp('aten::log'),
  log1p: bindOp('aten::log1p'),
  sqrt: bindOp('aten::sqrt'),
  rsqrt: bindOp('aten::rsqrt'),
  abs: bindOp('aten::abs'),
  sign: bindOp('aten::sign'),
  sin: bindOp('aten::sin'),
  cos: bindOp('aten::cos'),
  tanh: bindOp('aten::tanh'),
  sigmoid: bindOp('aten::sigmoid'),
  relu: bindOp('aten::relu'),
  silu: bindOp('aten::silu'),
  reciprocal: bindOp('aten::reciprocal'),
  square: bindOp('aten::square'),
  floor: bindOp('aten::floor'),
  ceil: bindOp('aten::ceil'),
  round: bindOp('aten::round'),
  erf: bindOp('aten::erf'),
};
const gelu = bindOp('aten::gelu');

function dims(dim: Dim | undefined | null): number[] | null {
  if (dim === undefined || dim === null) return null;
  return typeof dim === 'number' ? [dim] : [...dim];
}

function shapeArgs(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...(args[0] as readonly number[])];
  return args as number[];
}

function generatorHandle(o: RandomOptions | undefined): object | null {
  return o?.generator?.handle ?? null;
}

/** A multi-dimensional array on a device, with autograd. */
export class Tensor {
  /** @internal native handle; -1 once disposed */
  h: Handle;
  /** @internal survives the scopes it was created in */
  kept = false;

  /** @internal use the factory functions (`tensor`, `zeros` ...) instead */
  constructor(h: Handle) {
    this.h = h;
    track(this);
  }

  // ---- metadata -------------------------------------------------------------------------

  /** Sizes of each dimension. */
  get shape(): number[] {
    return native.shape(this.h);
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.h));
  }
  get device(): string {
    return native.device(this.h);
  }
  get ndim(): number {
    return native.shape(this.h).length;
  }
  dim(): number {
    return this.ndim;
  }
  /** Size of dimension `d` (negative counts from the end), or the whole shape. */
  size(): number[];
  size(d: number): number;
  size(d?: number): number | number[] {
    const s = native.shape(this.h);
    if (d === undefined) return s;
    const i = d < 0 ? d + s.length : d;
    if (i < 0 || i >= s.length) throw new RangeError(`dimension ${d} out of range for a ${s.length}-D tensor`);
    return s[i]!;
  }
  numel(): number {
    return native.shape(this.h).reduce((a, b) => a * b, 1);
  }
  stride(): number[] {
    return native.strides(this.h);
  }
  get isDisposed(): boolean {
    return this.h < 0 || native.isDisposed(this.h);
  }

  // ---- data out --------------------------------------------------------------------------

  /** The value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.h));
  }
  /** A copy of the elements, row-major, in the typed array of this dtype. */
  data(): TypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.h));
  }
  /** The elements as nested arrays (int64 as numbers, bool as booleans). */
  toArray(): NestedArray {
    const shape = this.shape;
    const dtype = this.dtype;
    const flat = this.data();
    const at = (i: number): number | boolean =>
      dtype === 'bool' ? flat[i] !== 0 : dtype === 'int64' ? Number(flat[i]) : (flat[i] as number);
    if (dtype === 'float16' || dtype === 'bfloat16') return this.to('float32').toArray();
    if (shape.length === 0) return at(0);
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const out: NestedArray[] = [];
      for (let i = 0; i < shape[d]!; i++) out.push(d === shape.length - 1 ? at(pos++) : build(d + 1));
      return out;
    };
    return build(0);
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const body = this.numel() <= 64 ? JSON.stringify(this.toArray()) : `[${this.numel()} elements]`;
    return `Tensor(${body}, shape=[${this.shape.join(', ')}], dtype=${this.dtype}${this.device === 'cpu' ? '' : `, device=${this.device}`})`;
  }

  // ---- memory ---------------------------------------------------------------------------

  /** Frees the native memory now. Using the tensor afterwards throws. */
  dispose(): void {
    if (this.h >= 0) native.dispose(this.h);
    this.h = -1;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- autograd -------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this.h);
  }
  set requiresGrad(v: boolean) {
    native.setRequiresGrad(this.h, v);
  }
  requiresGrad_(v = true): this {
    native.setRequiresGrad(this.h, v);
    return this;
  }
  /** The accumulated gradient, or null before the first backward(). */
  get grad(): Tensor | null {
    const g = native.grad(this.h);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.h, g === null ? null : g.h);
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(this.h, gradient ? gradient.h : null, opts.retainGraph ?? false, opts.createGraph ?? false);
  }
  detach(): Tensor {
    return new Tensor(op.detach(this.h) as Handle);
  }
  clone(): Tensor {
    return new Tensor(op.clone(this.h) as Handle);
  }

  // ---- conversion -----------------------------------------------------------------------

  /** Converts to a dtype and/or moves to a device ('cpu', 'cuda', 'cuda:1'). */
  to(target: DType | string | { dtype?: DType; device?: string }): Tensor {
    const spec = typeof target === 'string' ? (target in dtypeCode ? { dtype: target as DType } : { device: target }) : target;
    if (spec.device !== undefined) {
      const code = dtypeCode[checkDtype(spec.dtype ?? this.dtype)];
      return new Tensor(op.toDevice(this.h, spec.device, code) as Handle);
    }
    return new Tensor(op.toDtype(this.h, dtypeCode[checkDtype(spec.dtype ?? this.dtype)]) as Handle);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    return this.to({ device: `cuda:${index}` });
  }

  // ---- arithmetic -----------------------------------------------------------------------

  add(other: Tensor | number, alpha = 1): Tensor {
    if (typeof other === 'number') return new Tensor(native.addScalar(this.h, other * alpha));
    if (alpha === 1) return new Tensor(native.add(this.h, other.h));
    return new Tensor(op.add(this.h, other.h, alpha) as Handle);
  }
  sub(other: Tensor | number, alpha = 1): Tensor {
    if (typeof other === 'number') return new Tensor(native.subScalar(this.h, other * alpha));
    if (alpha === 1) return new Tensor(native.sub(this.h, other.h));
    return new Tensor(op.sub(this.h, other.h, alpha) as Handle);
  }
  mul(other: Tensor | number): Tensor {
    return new Tensor(typeof other === 'number' ? native.mulScalar(this.h, other) : native.mul(this.h, other.h));
  }
  /** True division, or 'trunc' / 'floor' rounding. */
  div(other: Tensor | number, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode !== undefined) {
      const r = typeof other === 'number' ? op.divScalarMode(this.h, other, roundingMode) : op.divMode(this.h, other.h, roundingMode);
      return new Tensor(r as Handle);
    }
    return new Tensor(typeof other === 'number' ? native.divScalar(this.h, other) : native.div(this.h, other.h));
  }
  neg(): Tensor {
    return new Tensor(op.neg(this.h) as Handle);
  }
  pow(exponent: Tensor | number): Tensor {
    return new Tensor((typeof exponent === 'number' ? op.powScalar(this.h, exponent) : op.powTensor(this.h, exponent.h)) as Handle);
  }
  remainder(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.remainderScalar(this.h, other) : op.remainder(this.h, other.h)) as Handle);
  }
  maximum(other: Tensor): Tensor {
    return new Tensor(op.maximum(this.h, other.h) as Handle);
  }
  minimum(other: Tensor): Tensor {
    return new Tensor(op.minimum(this.h, other.h) as Handle);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(op.clamp(this.h, min ?? null, max ?? null) as Handle);
  }
  clampMin(min: number): Tensor {
    return this.clamp(min, null);
  }
  clampMax(max: number): Tensor {
    return this.clamp(null, max);
  }
  exp(): Tensor {
    return new Tensor(unaryOps.exp(this.h) as Handle);
  }
  log(): Tensor {
    return new Tensor(unaryOps.log(this.h) as Handle);
  }
  log1p(): Tensor {
    return new Tensor(unaryOps.log1p(this.h) as Handle);
  }
  sqrt(): Tensor {
    return new Tensor(unaryOps.sqrt(this.h) as Handle);
  }
  rsqrt(): Tensor {
    return new Tensor(unaryOps.rsqrt(this.h) as Handle);
  }
  abs(): Tensor {
    return new Tensor(unaryOps.abs(this.h) as Handle);
  }
  sign(): Tensor {
    return new Tensor(unaryOps.sign(this.h) as Handle);
  }
  sin(): Tensor {
    return new Tensor(unaryOps.sin(this.h) as Handle);
  }
  cos(): Tensor {
    return new Tensor(unaryOps.cos(this.h) as Handle);
  }
  tanh(): Tensor {
    return new Tensor(unaryOps.tanh(this.h) as Handle);
  }
  sigmoid(): Tensor {
    return new Tensor(unaryOps.sigmoid(this.h) as Handle);
  }
  relu(): Tensor {
    return new Tensor(unaryOps.relu(this.h) as Handle);
  }
  /** GELU, exact (erf) or with the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return new Tensor(gelu(this.h, approximate) as Handle);
  }
  silu(): Tensor {
    return new Tensor(unaryOps.silu(this.h) as Handle);
  }
  reciprocal(): Tensor {
    return new Tensor(unaryOps.reciprocal(this.h) as Handle);
  }
  square(): Tensor {
    return new Tensor(unaryOps.square(this.h) as Handle);
  }
  floor(): Tensor {
    return new Tensor(unaryOps.floor(this.h) as Handle);
  }
  ceil(): Tensor {
    return new Tensor(unaryOps.ceil(this.h) as Handle);
  }
  round(): Tensor {
    return new Tensor(unaryOps.round(this.h) as Handle);
  }
  erf(): Tensor {
    return new Tensor(unaryOps.erf(this.h) as Handle);
  }
  isnan(): Tensor {
    return new Tensor(op.isnan(this.h) as Handle);
  }
  isfinite(): Tensor {
    return new Tensor(op.isfinite(this.h) as Handle);
  }
  nanToNum(nan = 0, posinf?: number, neginf?: number): Tensor {
    return new Tensor(op.nanToNum(this.h, nan, posinf ?? null, neginf ?? null) as Handle);
  }

  // ---- comparison and logic -------------------------------------------------------------

  eq(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.eqS(this.h, other) : op.eq(this.h, other.h)) as Handle);
  }
  ne(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.neS(this.h, other) : op.ne(this.h, other.h)) as Handle);
  }
  lt(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.ltS(this.h, other) : op.lt(this.h, other.h)) as Handle);
  }
  le(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.leS(this.h, other) : op.le(this.h, other.h)) as Handle);
  }
  gt(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.gtS(this.h, other) : op.gt(this.h, other.h)) as Handle);
  }
  ge(other: Tensor | number): Tensor {
    return new Tensor((typeof other === 'number' ? op.geS(this.h, other) : op.ge(this.h, other.h)) as Handle);
  }
  logicalAnd(other: Tensor): Tensor {
    return new Tensor(op.logicalAnd(this.h, other.h) as Handle);
  }
  logicalOr(other: Tensor): Tensor {
    return new Tensor(op.logicalOr(this.h, other.h) as Handle);
  }
  logicalXor(other: Tensor): Tensor {
    return new Tensor(op.logicalXor(this.h, other.h) as Handle);
  }
  logicalNot(): Tensor {
    return new Tensor(op.logicalNot(this.h) as Handle);
  }
  /** True if both have the same shape and elements. */
  equal(other: Tensor): boolean {
    return op.eqAll(this.h, other.h) as boolean;
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): boolean {
    return op.allclose(this.h, other.h, rtol, atol, equalNan) as boolean;
  }

  // ---- linear algebra -------------------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.h, other.h));
  }
  mm(other: Tensor): Tensor {
    return new Tensor(op.mm(this.h, other.h) as Handle);
  }
  bmm(other: Tensor): Tensor {
    return new Tensor(op.bmm(this.h, other.h) as Handle);
  }
  /** beta * this + alpha * (a @ b) for batches a [B, n, m] and b [B, m, p]; `this` broadcasts to [B, n, p]. */
  baddbmm(a: Tensor, b: Tensor, o: { beta?: number; alpha?: number } = {}): Tensor {
    return new Tensor(op.baddbmm(this.h, a.h, b.h, o.beta ?? 1, o.alpha ?? 1) as Handle);
  }
  /** Transpose of a 2-D tensor. */
  t(): Tensor {
    return new Tensor(op.t(this.h) as Handle);
  }
  get T(): Tensor {
    return this.t();
  }

  // ---- reductions -----------------------------------------------------------------------

  sum(dim?: Dim | null, keepdim = false, opts: { dtype?: DType } = {}): Tensor {
    return new Tensor(op.sum(this.h, dims(dim), keepdim, opts.dtype ? dtypeCode[opts.dtype] : null) as Handle);
  }
  mean(dim?: Dim | null, keepdim = false, opts: { dtype?: DType } = {}): Tensor {
    return new Tensor(op.mean(this.h, dims(dim), keepdim, opts.dtype ? dtypeCode[opts.dtype] : null) as Handle);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return new Tensor((dim === undefined ? op.prod(this.h) : op.prodDim(this.h, dim, keepdim)) as Handle);
  }
  /** Variance; `correction` 1 (default) is the unbiased estimate, 0 the population variance. */
  var(dim?: Dim | null, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.var(this.h, dims(dim), opts.correction ?? 1, opts.keepdim ?? false) as Handle);
  }
  std(dim?: Dim | null, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.std(this.h, dims(dim), opts.correction ?? 1, opts.keepdim ?? false) as Handle);
  }
  /** Largest element, or `{values, indices}` along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(op.max(this.h) as Handle);
    const [v, i] = op.maxDim(this.h, dim, keepdim) as [Handle, Handle];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return new Tensor(op.min(this.h) as Handle);
    const [v, i] = op.minDim(this.h, dim, keepdim) as [Handle, Handle];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(op.argmax(this.h, dim ?? null, keepdim) as Handle);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(op.argmin(this.h, dim ?? null, keepdim) as Handle);
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = op.topk(this.h, k, dim, largest, sorted) as [Handle, Handle];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = op.sort(this.h, dim, descending) as [Handle, Handle];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argsort(dim = -1, descending = false): Tensor {
    return new Tensor(op.argsort(this.h, dim, descending) as Handle);
  }
  logsumexp(dim: Dim, keepdim = false): Tensor {
    return new Tensor(op.logsumexp(this.h, dims(dim), keepdim) as Handle);
  }
  cumsum(dim: number): Tensor {
    return new Tensor(op.cumsum(this.h, dim) as Handle);
  }
  /** Vector p-norm over `dim` (all elements when omitted). */
  norm(p = 2, dim?: Dim | null, keepdim = false): Tensor {
    return new Tensor(op.norm(this.h, p, dims(dim), keepdim) as Handle);
  }
  all(): Tensor {
    return new Tensor(op.all(this.h) as Handle);
  }
  any(): Tensor {
    return new Tensor(op.any(this.h) as Handle);
  }
  softmax(dim: number): Tensor {
    return new Tensor(op.softmax(this.h, dim) as Handle);
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(op.logSoftmax(this.h, dim) as Handle);
  }

  // ---- shape ----------------------------------------------------------------------------

  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.reshape(this.h, shapeArgs(shape)) as Handle);
  }
  /** A view with a new shape (no copy; the tensor must be contiguous enough). */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.view(this.h, shapeArgs(shape)) as Handle);
  }
  permute(...order: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.permute(this.h, shapeArgs(order)) as Handle);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(op.transpose(this.h, dim0, dim1) as Handle);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(op.flatten(this.h, startDim, endDim) as Handle);
  }
  squeeze(dim?: number): Tensor {
    return new Tensor((dim === undefined ? op.squeeze(this.h) : op.squeezeDim(this.h, dim)) as Handle);
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(op.unsqueeze(this.h, dim) as Handle);
  }
  /** Broadcasts size-1 dimensions to `shape` without copying (-1 keeps a size). */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.expand(this.h, shapeArgs(shape)) as Handle);
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }
  repeat(...times: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.repeat(this.h, shapeArgs(times)) as Handle);
  }
  /** Repeats each element (or slice along `dim`) `repeats` times in place: [a, b] -> [a, a, b, b]. */
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return new Tensor(op.repeatInterleave(this.h, repeats, dim ?? null) as Handle);
  }
  contiguous(): Tensor {
    return new Tensor(op.contiguous(this.h) as Handle);
  }
  flip(dim: Dim): Tensor {
    return new Tensor(op.flip(this.h, dims(dim)) as Handle);
  }
  roll(shifts: Dim, dim?: Dim): Tensor {
    return new Tensor(op.roll(this.h, dims(shifts), dims(dim) ?? []) as Handle);
  }
  diag(diagonal = 0): Tensor {
    return new Tensor(op.diag(this.h, diagonal) as Handle);
  }
  triu(diagonal = 0): Tensor {
    return new Tensor(op.triu(this.h, diagonal) as Handle);
  }
  tril(diagonal = 0): Tensor {
    return new Tensor(op.tril(this.h, diagonal) as Handle);
  }
  /** Pieces of `size` along `dim`, or pieces of the given sizes. */
  split(size: number | readonly number[], dim = 0): Tensor[] {
    const r = typeof size === 'number' ? op.split(this.h, size, dim) : op.splitSizes(this.h, [...size], dim);
    return (r as Handle[]).map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return (op.chunk(this.h, chunks, dim) as Handle[]).map((h) => new Tensor(h));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(op.narrow(this.h, dim, start, length) as Handle);
  }
  /** The slice at `index` along `dim` (that dimension removed). */
  select(dim: number, index: number): Tensor {
    return new Tensor(op.select(this.h, dim, index) as Handle);
  }
  /** Python's `x[..., start:end:step, ...]` along one dimension (a view). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return new Tensor(op.slice(this.h, dim, start ?? null, end ?? null, step) as Handle);
  }
  /** Advanced indexing, `x[idx0, idx1]`: one index tensor (or null for `:`) per leading dim. */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return new Tensor(
      op.index(
        this.h,
        indices.map((t) => (t === null ? null : t.h)),
      ) as Handle,
    );
  }
  indexPut_(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): this {
    op.indexPutInplace(
      this.h,
      indices.map((t) => (t === null ? null : t.h)),
      values.h,
      accumulate,
    );
    return this;
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(op.indexSelect(this.h, dim, index.h) as Handle);
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(op.gather(this.h, dim, index.h) as Handle);
  }
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    const r = typeof src === 'number' ? op.scatterValue(this.h, dim, index.h, src) : op.scatter(this.h, dim, index.h, src.h);
    return new Tensor(r as Handle);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(op.scatterAdd(this.h, dim, index.h, src.h) as Handle);
  }
  /** The elements where `mask` (broadcast) is true, as a 1-D tensor. */
  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(op.maskedSelect(this.h, mask.h) as Handle);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return new Tensor(op.maskedFill(this.h, mask.h, value) as Handle);
  }

  // ---- in place -------------------------------------------------------------------------

  add_(other: Tensor | number, alpha = 1): this {
    if (typeof other === 'number') op.addScalarInplace(this.h, other, alpha);
    else op.addInplace(this.h, other.h, alpha);
    return this;
  }
  sub_(other: Tensor | number, alpha = 1): this {
    if (typeof other === 'number') op.subScalarInplace(this.h, other, alpha);
    else op.subInplace(this.h, other.h, alpha);
    return this;
  }
  mul_(other: Tensor | number): this {
    if (typeof other === 'number') op.mulScalarInplace(this.h, other);
    else op.mulInplace(this.h, other.h);
    return this;
  }
  div_(other: Tensor | number): this {
    if (typeof other === 'number') op.divScalarInplace(this.h, other);
    else op.divInplace(this.h, other.h);
    return this;
  }
  /** self += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    op.addcmulInplace(this.h, t1.h, t2.h, value);
    return this;
  }
  /** self += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    op.addcdivInplace(this.h, t1.h, t2.h, value);
    return this;
  }
  /** self += weight * (end - self) */
  lerp_(end: Tensor, weight: number): this {
    op.lerpInplace(this.h, end.h, weight);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    op.clampInplace(this.h, min ?? null, max ?? null);
    return this;
  }
  zero_(): this {
    op.zeroInplace(this.h);
    return this;
  }
  fill_(value: number | boolean): this {
    op.fillInplace(this.h, value);
    return this;
  }
  /** Copies `src` (broadcast, converted) into this tensor. */
  copy_(src: Tensor): this {
    op.copyInplace(this.h, src.h);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    op.maskedFillInplace(this.h, mask.h, value);
    return this;
  }
  uniform_(from = 0, to = 1, opts?: RandomOptions): this {
    op.uniformInplace(this.h, from, to, generatorHandle(opts));
    return this;
  }
  normal_(mean = 0, std = 1, opts?: RandomOptions): this {
    op.normalInplace(this.h, mean, std, generatorHandle(opts));
    return this;
  }
  bernoulli_(p = 0.5, opts?: RandomOptions): this {
    op.bernoulliInplace(this.h, p, generatorHandle(opts));
    return this;
  }
  /** Draws 0/1 with this tensor's elements as probabilities, or with probability `p`. */
  bernoulli(p?: number, opts?: RandomOptions): Tensor {
    const r = p === undefined ? op.bernoulli(this.h, generatorHandle(opts)) : op.bernoulliP(this.h, p, generatorHandle(opts));
    return new Tensor(r as Handle);
  }
}

/** Elementwise choice: `a` where `condition` is true, else `b`. */
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(op.where(condition.h, a.h, b.h) as Handle);
}

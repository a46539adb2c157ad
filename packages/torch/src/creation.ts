// Factory functions: tensors from data, constants, ranges and random draws.
import { native, type Handle } from './native.js';
import { bindOp } from './ops.js';
import { Tensor, type NestedArray } from './tensor.js';
import { checkDtype, dtypeCode, dtypeOfTypedArray, dtypeSize, type DType } from './dtype.js';
import type { Generator } from './random.js';

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}
export interface RandomTensorOptions extends TensorOptions {
  generator?: Generator;
}

const op = {
  zeros: bindOp('aten::zeros'),
  ones: bindOp('aten::ones'),
  full: bindOp('aten::full'),
  empty: bindOp('aten::empty.memory_format'),
  eye: bindOp('aten::eye.m'),
  arange: bindOp('aten::arange.start_step'),
  linspace: bindOp('aten::linspace'),
  rand: bindOp('aten::rand.generator'),
  randn: bindOp('aten::randn.generator'),
  randint: bindOp('aten::randint.low_generator'),
  randperm: bindOp('aten::randperm.generator'),
  zerosLike: bindOp('aten::zeros_like'),
  onesLike: bindOp('aten::ones_like'),
  fullLike: bindOp('aten::full_like'),
  randLike: bindOp('aten::rand_like'),
  randnLike: bindOp('aten::randn_like'),
  cat: bindOp('aten::cat'),
  stack: bindOp('aten::stack'),
  einsum: bindOp('aten::einsum'),
};

type Shape = readonly number[];

function finish(h: Handle, o: TensorOptions | undefined): Tensor {
  const t = new Tensor(h);
  if (o?.requiresGrad) t.requiresGrad = true;
  return t;
}

function dt(o: TensorOptions | undefined, fallback: DType | null = 'float32'): number | null {
  const d = o?.dtype ?? fallback;
  return d === null ? null : dtypeCode[checkDtype(d)];
}

function flatten(data: NestedArray, shape: number[], out: (number | boolean)[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) {
      throw new TypeError(`ragged nested array: expected ${shape[depth]} elements at depth ${depth}, got ${data.length}`);
    }
    for (const d of data) flatten(d, shape, out, depth + 1);
  } else {
    if (depth !== shape.length) throw new TypeError('ragged nested array: a number where an array was expected');
    out.push(data);
  }
}

function fromFlat(values: (number | boolean)[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values, Number);
    case 'float64':
      return Float64Array.from(values, Number);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(Number(v))));
    case 'int32':
      return Int32Array.from(values, Number);
    case 'int16':
      return Int16Array.from(values, Number);
    case 'int8':
      return Int8Array.from(values, Number);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values, (v) => Number(v));
    default:
      throw new TypeError(`tensor() cannot build ${dtype} from numbers; build float32 and convert with .to('${dtype}')`);
  }
}

/**
 * A tensor from nested arrays or a typed array (copied once). Numbers become float32 and
 * booleans bool unless `dtype` says otherwise; typed arrays keep their element type.
 */
export function tensor(data: NestedArray | ArrayBufferView, options: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const dtype = options.dtype ?? dtypeOfTypedArray(data);
    const count = data.byteLength / dtypeSize[dtype];
    const shape = options.shape ? [...options.shape] : [count];
    const t = finish(native.fromBuffer(data, dtypeCode[dtype], shape), { requiresGrad: false });
    return place(t, options);
  }
  const shape: number[] = [];
  const flat: (number | boolean)[] = [];
  flatten(data, shape, flat, 0);
  const dtype = options.dtype ?? (flat.length > 0 && typeof flat[0] === 'boolean' ? 'bool' : 'float32');
  const t = new Tensor(native.fromBuffer(fromFlat(flat, checkDtype(dtype)), dtypeCode[dtype], options.shape ? [...options.shape] : shape));
  return place(t, options);
}

function place(t: Tensor, o: TensorOptions): Tensor {
  const moved = o.device && o.device !== 'cpu' ? t.to({ device: o.device }) : t;
  if (o.requiresGrad) moved.requiresGrad = true;
  return moved;
}

export function zeros(shape: Shape, o?: TensorOptions): Tensor {
  return finish(op.zeros(shape, dt(o), null, o?.device ?? null) as Handle, o);
}
export function ones(shape: Shape, o?: TensorOptions): Tensor {
  return finish(op.ones(shape, dt(o), null, o?.device ?? null) as Handle, o);
}
export function full(shape: Shape, value: number | boolean, o?: TensorOptions): Tensor {
  return finish(op.full(shape, value, dt(o, typeof value === 'boolean' ? 'bool' : 'float32'), null, o?.device ?? null) as Handle, o);
}
/** Uninitialized memory: fill it before reading. */
export function empty(shape: Shape, o?: TensorOptions): Tensor {
  return finish(op.empty(shape, dt(o), null, o?.device ?? null) as Handle, o);
}
export function eye(n: number, m = n, o?: TensorOptions): Tensor {
  return finish(op.eye(n, m, dt(o), null, o?.device ?? null) as Handle, o);
}
/** [start, end) in steps; `arange(n)` is 0..n-1. Integer arguments give int64 unless dtype says. */
export function arange(start: number, end?: number, step = 1, o?: TensorOptions): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
  return finish(op.arange(s, e, step, dt(o, integral ? 'int64' : 'float32'), null, o?.device ?? null) as Handle, o);
}
export function linspace(start: number, end: number, steps: number, o?: TensorOptions): Tensor {
  return finish(op.linspace(start, end, steps, dt(o), null, o?.device ?? null) as Handle, o);
}
/** Uniform on [0, 1). */
export function rand(shape: Shape, o?: RandomTensorOptions): Tensor {
  return finish(op.rand(shape, o?.generator?.handle ?? null, dt(o), null, o?.device ?? null) as Handle, o);
}
/** Standard normal. */
export function randn(shape: Shape, o?: RandomTensorOptions): Tensor {
  return finish(op.randn(shape, o?.generator?.handle ?? null, dt(o), null, o?.device ?? null) as Handle, o);
}
/** Integers uniform on [low, high), int64 by default. */
export function randint(low: number, high: number, shape: Shape, o?: RandomTensorOptions): Tensor {
  return finish(op.randint(low, high, shape, o?.generator?.handle ?? null, dt(o, 'int64'), null, o?.device ?? null) as Handle, o);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o?: RandomTensorOptions): Tensor {
  return finish(op.randperm(n, o?.generator?.handle ?? null, dt(o, 'int64'), null, o?.device ?? null) as Handle, o);
}
export function zerosLike(t: Tensor, o?: TensorOptions): Tensor {
  return finish(op.zerosLike(t.h, dt(o, null)) as Handle, o);
}
export function onesLike(t: Tensor, o?: TensorOptions): Tensor {
  return finish(op.onesLike(t.h, dt(o, null)) as Handle, o);
}
export function fullLike(t: Tensor, value: number, o?: TensorOptions): Tensor {
  return finish(op.fullLike(t.h, value, dt(o, null)) as Handle, o);
}
export function randLike(t: Tensor, o?: TensorOptions): Tensor {
  return finish(op.randLike(t.h, dt(o, null)) as Handle, o);
}
export function randnLike(t: Tensor, o?: TensorOptions): Tensor {
  return finish(op.randnLike(t.h, dt(o, null)) as Handle, o);
}

/** Joins tensors along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    op.cat(
      tensors.map((t) => t.h),
      dim,
    ) as Handle,
  );
}
/** Joins tensors along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    op.stack(
      tensors.map((t) => t.h),
      dim,
    ) as Handle,
  );
}
/** Einstein summation, e.g. `einsum('bij,bjk->bik', a, b)`. */
export function einsum(equation: string, ...tensors: Tensor[]): Tensor {
  return new Tensor(
    op.einsum(
      equation,
      tensors.map((t) => t.h),
    ) as Handle,
  );
}

// libtorch's multi-tensor kernels: one native call updates every parameter of a group.
import type { Handle } from '../native.js';
import { bindOp } from '../ops.js';
import { Tensor } from '../tensor.js';

const op = {
  addList_: bindOp('aten::_foreach_add_.List'),
  addScalar_: bindOp('aten::_foreach_add_.Scalar'),
  addList: bindOp('aten::_foreach_add.List'),
  mulScalar_: bindOp('aten::_foreach_mul_.Scalar'),
  mulList_: bindOp('aten::_foreach_mul_.List'),
  addcmul_: bindOp('aten::_foreach_addcmul_.Scalar'),
  addcdiv_: bindOp('aten::_foreach_addcdiv_.Scalar'),
  sqrt: bindOp('aten::_foreach_sqrt'),
  divScalar_: bindOp('aten::_foreach_div_.Scalar'),
  norm: bindOp('aten::_foreach_norm.Scalar'),
};

const hs = (ts: readonly Tensor[]): Handle[] => ts.map((t) => t.h);
const wrap = (r: unknown): Tensor[] => (r as Handle[]).map((h) => new Tensor(h));

/** xs[i] += alpha * ys[i] */
export const addList_ = (xs: Tensor[], ys: Tensor[], alpha = 1): void => void op.addList_(hs(xs), hs(ys), alpha);
export const addScalar_ = (xs: Tensor[], s: number): void => void op.addScalar_(hs(xs), s);
/** xs[i] + alpha * ys[i], new tensors */
export const addList = (xs: Tensor[], ys: Tensor[], alpha = 1): Tensor[] => wrap(op.addList(hs(xs), hs(ys), alpha));
export const mulScalar_ = (xs: Tensor[], s: number): void => void op.mulScalar_(hs(xs), s);
export const mulList_ = (xs: Tensor[], ys: Tensor[]): void => void op.mulList_(hs(xs), hs(ys));
/** xs[i] += value * a[i] * b[i] */
export const addcmul_ = (xs: Tensor[], a: Tensor[], b: Tensor[], value: number): void => void op.addcmul_(hs(xs), hs(a), hs(b), value);
/** xs[i] += value * a[i] / b[i] */
export const addcdiv_ = (xs: Tensor[], a: Tensor[], b: Tensor[], value: number): void => void op.addcdiv_(hs(xs), hs(a), hs(b), value);
export const sqrt = (xs: Tensor[]): Tensor[] => wrap(op.sqrt(hs(xs)));
export const divScalar_ = (xs: Tensor[], s: number): void => void op.divScalar_(hs(xs), s);
/** The p-norm of each tensor (0-d tensors). */
export const norms = (xs: Tensor[], p = 2): Tensor[] => wrap(op.norm(hs(xs), p));

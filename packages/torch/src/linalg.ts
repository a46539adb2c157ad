// Linear algebra beyond matmul: decompositions used by representation diagnostics
// (effective rank) and by PCA before an embedding map.
import type { Handle } from './native.js';
import { bindOp } from './ops.js';
import { Tensor } from './tensor.js';

const op = {
  svdvals: bindOp('aten::linalg_svdvals'),
  svd: bindOp('aten::linalg_svd'),
};

/** Singular values of a [..., M, N] matrix, in descending order. */
export function svdvals(a: Tensor): Tensor {
  return new Tensor(op.svdvals(a.h, undefined) as Handle);
}

/** Reduced SVD: a = u diag(s) vh, with u [M, K], s [K], vh [K, N], K = min(M, N). */
export function svd(a: Tensor): { u: Tensor; s: Tensor; vh: Tensor } {
  const [u, s, vh] = op.svd(a.h, false, undefined) as Handle[];
  return { u: new Tensor(u!), s: new Tensor(s!), vh: new Tensor(vh!) };
}

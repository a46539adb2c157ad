// Barlow Twins (Zbontar et al., 2021): the cross-correlation of the two views' standardized
// embeddings should be the identity: invariant on the diagonal, decorrelated off it.
import type { Tensor } from '@pretext/torch';

export function barlowTwinsLoss(z1: Tensor, z2: Tensor, lambda = 5e-3): Tensor {
  const b = z1.size(0);
  const standardize = (z: Tensor): Tensor => z.sub(z.mean(0)).div(z.std(0, { correction: 0 }).add(1e-5));
  const c = standardize(z1).t().matmul(standardize(z2)).div(b);
  const diag = c.diag();
  const onDiag = diag.sub(1).square().sum();
  const offDiag = c.square().sum().sub(diag.square().sum());
  return onDiag.add(offDiag.mul(lambda));
}

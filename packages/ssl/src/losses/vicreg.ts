// VICReg (Bardes et al., 2022): invariance (MSE between views), variance (each dimension's
// std kept above 1) and covariance (off-diagonal covariance pushed to 0) terms.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

export interface VicregWeights {
  invariance?: number;
  variance?: number;
  covariance?: number;
}

export function vicregLoss(
  z1: Tensor,
  z2: Tensor,
  w: VicregWeights = {},
): { loss: Tensor; invariance: number; variance: number; covariance: number } {
  const [n, d] = z1.shape as [number, number];
  const inv = torch.nn.functional.mseLoss(z1, z2);
  const variance = (z: Tensor): Tensor => z.var(0).add(1e-4).sqrt().neg().add(1).relu().mean();
  const covariance = (z: Tensor): Tensor => {
    const zc = z.sub(z.mean(0));
    const cov = zc
      .t()
      .matmul(zc)
      .div(n - 1);
    return cov.square().sum().sub(cov.diag().square().sum()).div(d);
  };
  const v = variance(z1).add(variance(z2)).div(2);
  const c = covariance(z1).add(covariance(z2));
  const loss = inv
    .mul(w.invariance ?? 25)
    .add(v.mul(w.variance ?? 25))
    .add(c.mul(w.covariance ?? 1));
  return { loss, invariance: inv.item(), variance: v.item(), covariance: c.item() };
}

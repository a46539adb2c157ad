// Projector and predictor heads: Linear-BN-ReLU blocks then a final Linear, as in SimCLR,
// BYOL, SimSiam, Barlow Twins and VICReg (which differ only in sizes and the last BN).
import { nn } from '@pretext/torch';

export interface MlpHeadConfig {
  inDim: number;
  hiddenDim: number;
  outDim: number;
  /** Number of Linear layers (at least 1). */
  layers?: number;
  /** BatchNorm after the last Linear, without affine parameters (SimSiam's projector). */
  lastBatchNorm?: boolean;
  /** The normalization of the hidden layers (default 'batch'; 'layer' keeps examples apart, as DP-SGD needs). */
  norm?: 'batch' | 'layer';
}

export function mlpHead(c: MlpHeadConfig): nn.Sequential {
  const n = c.layers ?? 2;
  if (n < 1) throw new RangeError(`an MLP head needs at least one layer, got ${n}`);
  const mods: nn.TensorModule[] = [];
  let d = c.inDim;
  for (let i = 0; i < n - 1; i++) {
    const norm = c.norm === 'layer' ? new nn.LayerNorm(c.hiddenDim) : new nn.BatchNorm1d(c.hiddenDim);
    mods.push(new nn.Linear(d, c.hiddenDim, false), norm, new nn.ReLU());
    d = c.hiddenDim;
  }
  mods.push(new nn.Linear(d, c.outDim, !c.lastBatchNorm));
  if (c.lastBatchNorm) mods.push(new nn.BatchNorm1d(c.outDim, { affine: false }));
  return new nn.Sequential(...mods);
}

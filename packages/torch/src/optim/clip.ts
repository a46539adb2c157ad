// Gradient clipping.
import { noGrad } from '../autograd.js';
import { stack } from '../creation.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import * as fe from './foreach.js';

/**
 * Scales all gradients together so their global p-norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. With
 * `errorIfNonfinite`, a NaN or infinite norm throws instead of poisoning the weights.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2, errorIfNonfinite = false): number {
  return tidy(() =>
    noGrad(() => {
      const grads = params.flatMap((p) => {
        const g = p.grad;
        return g === null ? [] : [g];
      });
      if (grads.length === 0) return 0;
      const total =
        normType === Infinity
          ? stack(grads.map((g) => g.abs().max()))
              .max()
              .item()
          : stack(fe.norms(grads, normType)).norm(normType).item();
      if (errorIfNonfinite && !Number.isFinite(total)) {
        throw new RangeError(`the total gradient norm is ${total}: a NaN or Inf gradient; lower the learning rate or check the loss`);
      }
      const coef = maxNorm / (total + 1e-6);
      if (coef < 1) fe.mulScalar_(grads, coef);
      return total;
    }),
  );
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue(params: Tensor[], clipValue: number): void {
  tidy(() => noGrad(() => params.forEach((p) => p.grad?.clamp_(-clipValue, clipValue))));
}

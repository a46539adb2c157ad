// Record-level DP-SGD (Abadi et al., CCS 2016): each step samples examples independently with
// probability q (Poisson sampling, which the accountant assumes), clips every example's own
// gradient to L2 norm `clip`, sums them, adds Gaussian noise of standard deviation
// noise * clip to the sum and divides by the expected batch size. The Renyi-DP accountant in
// federated/privacy.ts turns (q, noise, steps) into epsilon at delta.
//
// One example's gradient is taken by running the method's step on that example alone, so the
// method's loss must be a mean of per-example terms (`perExampleLoss`) and no layer may mix
// examples (BatchNorm); both are checked before training, with an error that says which.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { SSLMethod } from '../methods/method.js';
import { viewMaker, type StepContext } from './trainer.js';

export const dpConfig = z.strictObject({
  /** Largest L2 norm one example's gradient keeps (all trainable parameters together). */
  clip: z.number().positive('the clipping norm must be positive'),
  /**
   * Noise multiplier sigma: the noise added to the clipped sum has std sigma * clip. Positive:
   * clipping without noise protects nothing (its epsilon is infinite).
   */
  noise: z.number().positive('the noise multiplier must be positive'),
  /** The delta epsilon is reported at (default 1e-5). */
  delta: z.number().gt(0).lt(1).default(1e-5),
});
export type DpConfig = z.input<typeof dpConfig>;
export type DpSettings = z.output<typeof dpConfig>;

/** DP-SGD cannot run as asked: settings out of range, a method or layer it cannot bound. */
export class DpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DpError';
  }
}

/** The settings with their defaults, or a DpError naming what is wrong. */
export function dpSettings(c: DpConfig): DpSettings {
  const r = dpConfig.safeParse(c);
  if (!r.success) throw new DpError(`DP-SGD settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/**
 * Refuses a method DP-SGD cannot bound (a loss that compares examples, a BatchNorm layer),
 * and switches the method's views to ones made from each example alone.
 */
export function prepareForDp(method: SSLMethod): void {
  if (!method.perExampleLoss)
    throw new DpError(
      `DP-SGD bounds one record's influence by clipping that record's own gradient, but ${method.name}'s loss compares examples with each other; ` +
        'use a method whose loss is a mean over examples (rotation for images; dae, mfm or vime for tables)',
    );
  for (const [name, m] of method.namedModules())
    if (m instanceof torch.nn.BatchNorm1d || m instanceof torch.nn.BatchNorm2d)
      throw new DpError(
        `DP-SGD cannot run with the BatchNorm layer '${name}': its batch statistics put every example into every other's gradient; ` +
          'use layers without it (tables: tabular-mlp with norm: layer, or ft-transformer; images: small-cnn with norm: group and no readoutNorm, rotation with headNorm: layer)',
      );
  method.usePrivateViews();
}

/** Poisson sampling: the indices (int64) of the n examples that each joined with probability q. */
export function poissonSample(n: number, q: number, g: torch.Generator): Tensor {
  if (!(q > 0 && q <= 1)) throw new RangeError(`a sampling rate is in (0, 1], got ${q}`);
  return torch.tidy(() => torch.arange(n).maskedSelect(torch.rand([n], { generator: g }).lt(q)));
}

export interface DpStepOutcome {
  /** Mean loss of the sampled examples (NaN when none was sampled). */
  loss: number;
  /** Examples in the step. */
  examples: number;
  /** Of them, how many had their gradient scaled down to the clipping norm. */
  clipped: number;
}

/**
 * One DP-SGD step on `batch` (a Poisson sample): per-example gradients clipped, summed, noised
 * and divided by `expectedBatch`, then the optimizer's update. A sample with no examples still
 * updates with noise alone, as the analysis counts every step.
 */
export function dpTrainStep(
  ctx: StepContext,
  batch: Tensor,
  dp: DpSettings & { expectedBatch: number; noiseGenerator: torch.Generator },
): DpStepOutcome {
  if (torch.distributed.isInitialized()) throw new DpError('DP-SGD runs on one process; data-parallel DP-SGD is not built');
  const params = ctx.method.trainableParameters();
  const sums = params.map((p) => torch.keep(torch.zeros(p.shape)));
  let lossSum = 0;
  let clipped = 0;
  const n = batch.size(0);
  try {
    const vs = torch.keep(viewMaker(ctx)(batch, ctx.method.numViews, ctx.generator));
    try {
      for (let i = 0; i < n; i++) {
        const loss = torch.tidy(() => {
          ctx.optimizer.zeroGrad();
          const r = ctx.method.step(vs.map((v) => v.narrow(0, i, 1)));
          const value = r.loss.item();
          if (!Number.isFinite(value)) return value;
          r.loss.backward();
          // The example's gradient scaled to the clipping norm in place (the engine's clip_grad_norm_).
          const norm = torch.optim.clipGradNorm(params, dp.clip);
          if (dp.clip / (norm + 1e-6) < 1) clipped++;
          torch.noGrad(() => params.forEach((p, j) => p.grad && sums[j]!.add_(p.grad)));
          return value;
        });
        if (!Number.isFinite(loss)) return { loss, examples: n, clipped };
        lossSum += loss;
      }
    } finally {
      for (const v of vs) v.dispose();
    }
    torch.tidy(() =>
      torch.noGrad(() =>
        params.forEach((p, j) => {
          const noise = torch.randn(p.shape, { generator: dp.noiseGenerator }).mul(dp.noise * dp.clip);
          // The parameter holds on to the gradient; the wrapper goes with the scope.
          p.grad = sums[j]!.add(noise).div(dp.expectedBatch);
        }),
      ),
    );
    ctx.beforeUpdate?.();
    ctx.optimizer.step();
    return { loss: n > 0 ? lossSum / n : NaN, examples: n, clipped };
  } finally {
    for (const s of sums) s.dispose();
  }
}

// Optimizer and schedule from a recipe. LARS follows the SimCLR/BYOL/Barlow Twins papers;
// the learning rate scales linearly with the batch size (lr = baseLr * batch / 256).
import * as torch from '@pretext/torch';
import type { SSLMethod } from '../methods/method.js';

export interface OptimizerConfig {
  name: 'adamw' | 'adam' | 'sgd' | 'lars';
  lr: number;
  weightDecay?: number;
  momentum?: number;
  betas?: [number, number];
}

export interface ScheduleConfig {
  name: 'warmup-cosine' | 'one-cycle' | 'constant';
  warmupEpochs?: number;
  minLrRatio?: number;
}

type AnyOptimizer = torch.optim.Optimizer<torch.optim.GroupOptions>;

export function buildOptimizer(c: OptimizerConfig, method: SSLMethod): AnyOptimizer {
  const params = method.trainableParameters();
  const wd = c.weightDecay ?? 0;
  switch (c.name) {
    case 'adamw':
      return new torch.optim.AdamW(params, { lr: c.lr, weightDecay: wd, ...(c.betas ? { betas: c.betas } : {}) });
    case 'adam':
      return new torch.optim.Adam(params, { lr: c.lr, weightDecay: wd, ...(c.betas ? { betas: c.betas } : {}) });
    case 'sgd':
      return new torch.optim.SGD(params, { lr: c.lr, weightDecay: wd, momentum: c.momentum ?? 0.9 });
    case 'lars':
      return new torch.optim.LARS(params, { lr: c.lr, weightDecay: wd, momentum: c.momentum ?? 0.9 });
  }
}

/** A schedule stepped once per optimizer step. */
export function buildSchedule(c: ScheduleConfig, opt: AnyOptimizer, totalSteps: number, stepsPerEpoch: number): torch.optim.LRScheduler {
  switch (c.name) {
    case 'warmup-cosine':
      return new torch.optim.WarmupCosine(opt, {
        warmupSteps: Math.min(totalSteps, Math.round((c.warmupEpochs ?? 1) * stepsPerEpoch)),
        totalSteps,
        minLr: (c.minLrRatio ?? 0) * opt.lrs[0]!,
      });
    case 'one-cycle':
      return new torch.optim.OneCycleLR(opt, { maxLr: opt.lrs[0]!, totalSteps, cycleMomentum: false });
    case 'constant':
      return new torch.optim.StepLR(opt, { stepSize: Number.MAX_SAFE_INTEGER, gamma: 1 });
  }
}

// The training loop every fine-tuning arm shares: shuffled batches, a cosine schedule and
// early stopping on a validation split, plus the helpers around it.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { ProgressBar } from '@pretext/data';
import type { EpochRecord, FinetuneOptions } from './finetune.js';

export function accuracyOf(logits: (x: Tensor) => Tensor, x: Tensor, y: Tensor, batch = 1000): number {
  return torch.noGrad(() => {
    let correct = 0;
    for (let i = 0; i < x.size(0); i += batch) {
      const n = Math.min(batch, x.size(0) - i);
      correct += torch.tidy(() =>
        logits(x.narrow(0, i, n))
          .argmax(1)
          .eq(y.narrow(0, i, n))
          .sum()
          .item(),
      );
    }
    return correct / Math.max(1, x.size(0));
  });
}

/** Minus the mean cross-entropy (higher is better, as early stopping compares). */
export function negativeLossOf(logits: (x: Tensor) => Tensor, x: Tensor, y: Tensor, batch = 1000): number {
  return torch.noGrad(() => {
    let sum = 0;
    for (let i = 0; i < x.size(0); i += batch) {
      const n = Math.min(batch, x.size(0) - i);
      sum += torch.tidy(() => torch.nn.functional.crossEntropy(logits(x.narrow(0, i, n)), y.narrow(0, i, n), { reduction: 'sum' }).item());
    }
    return -sum / Math.max(1, x.size(0));
  });
}

/**
 * The validation score early stopping maximizes: accuracy, or minus the cross-entropy, which
 * still moves when accuracy cannot (a 5% minority class, where predicting the majority is
 * already 95% accurate).
 */
export const validationScore = (by: 'accuracy' | 'loss' = 'accuracy'): typeof accuracyOf => (by === 'loss' ? negativeLossOf : accuracyOf);

export interface LoopSpec {
  /** Items an epoch walks through (shuffled, in batches). */
  n: number;
  optimizer: torch.optim.AdamW;
  /** The training loss of the batch of items `idx` (train mode). */
  loss(idx: Tensor): Tensor;
  /** Validation accuracy in eval mode, or null when there is no validation set. */
  validate(): number | null;
  /** Copies of the weights worth restoring. */
  snapshot(): Map<string, Tensor>;
  restore(state: Map<string, Tensor>): void;
  setTraining(on: boolean): void;
  label: string;
  /**
   * Score the starting weights as "epoch 0" and keep them when no epoch beats them: an LP-FT
   * start is already a trained classifier, and fine-tuning that does not help must not cost.
   */
  validateStart?: boolean;
  /** Called after every optimizer step (a weight average's update). */
  afterStep?(): void;
  /** Extra figures for an epoch's record, read once at its end. */
  epochStats?(): Partial<EpochRecord>;
  /** Draw the batch orders from this generator (default: a fresh one seeded with the loop's seed). */
  generator?: torch.Generator;
}

/** The shared loop: epochs of shuffled batches, cosine schedule, early stopping on validation. */
export function fit(spec: LoopSpec, o: LoopOptions) {
  const bs = Math.min(o.batchSize, spec.n);
  const perEpoch = Math.floor(spec.n / bs);
  const wanted = Math.max(o.epochs, Math.ceil(o.minSteps / perEpoch));
  const epochs = wanted * perEpoch > o.maxSteps ? Math.max(1, Math.floor(o.maxSteps / perEpoch)) : wanted;
  const sched = new torch.optim.WarmupCosine(spec.optimizer, { warmupSteps: 0, totalSteps: epochs * perEpoch });
  // Patience never shorter than a quarter of the run, so one-step epochs do not stop at once.
  const patience = Math.max(o.patience, Math.ceil(epochs / 4));
  const g = spec.generator ?? new torch.Generator(o.seed);
  const history: EpochRecord[] = [];
  const bar = o.quiet ? null : new ProgressBar({ total: epochs, label: spec.label, unit: 'epochs' });
  let best: { acc: number; epoch: number; state: Map<string, Tensor> | null } = { acc: -1, epoch: epochs, state: null };
  if (spec.validateStart) {
    spec.setTraining(false);
    const val = spec.validate();
    if (val !== null) best = { acc: val, epoch: 0, state: spec.snapshot() };
  }
  // Patience runs on the trained epochs' own best: a start that validates high (a probe picked
  // from many epochs on the same split) must not stop fine-tuning before its schedule decays.
  let trainedBest = { acc: -1, epoch: 0 };
  let steps = 0;
  let epoch = 0;
  for (; epoch < epochs; epoch++) {
    spec.setTraining(true);
    const order = torch.randperm(spec.n, { generator: g });
    let lossSum = 0;
    for (let s = 0; s < perEpoch; s++) {
      lossSum += torch.tidy(() => {
        const idx = order.narrow(0, s * bs, bs);
        spec.optimizer.zeroGrad();
        const loss = spec.loss(idx);
        loss.backward();
        spec.optimizer.step();
        sched.step();
        spec.afterStep?.();
        return loss.item();
      });
      steps++;
    }
    order.dispose();
    spec.setTraining(false);
    const val = spec.validate();
    history.push({ epoch: epoch + 1, loss: lossSum / perEpoch, ...(val === null ? {} : { valAccuracy: val }), ...spec.epochStats?.() });
    bar?.tick(1, `loss ${(lossSum / perEpoch).toFixed(3)}${val === null ? '' : `  val ${(100 * val).toFixed(1)}%`}`);
    // Ties go to the later epoch (small validation sets tie often, and later is better
    // trained), except against the start: fine-tuning has to beat the probe to replace it.
    if (val === null) continue;
    if (val > best.acc || (val === best.acc && best.epoch > 0)) {
      for (const t of best.state?.values() ?? []) t.dispose();
      best = { acc: val, epoch: epoch + 1, state: spec.snapshot() };
    }
    if (val >= trainedBest.acc) trainedBest = { acc: val, epoch: epoch + 1 };
    else if (epoch + 1 - trainedBest.epoch >= patience) {
      epoch++;
      break;
    }
  }
  bar?.finish(best.state ? `best val ${(100 * best.acc).toFixed(1)}% at epoch ${best.epoch}` : undefined);
  if (best.state) {
    spec.restore(best.state);
    for (const t of best.state.values()) t.dispose();
  }
  return { history, steps, epochs: epoch, bestEpoch: best.state ? best.epoch : epoch, valAccuracy: best.state ? best.acc : null };
}

export interface LoopOptions {
  epochs: number;
  minSteps: number;
  maxSteps: number;
  batchSize: number;
  patience: number;
  seed: number;
  quiet: boolean;
}

/** The loop's settings: the caller's, else the mode's defaults. */
export function loopOptions(
  o: Omit<FinetuneOptions, 'mode' | 'numClasses'>,
  d: { epochs: number; batchSize: number; quiet: boolean },
): LoopOptions {
  const minSteps = o.minSteps ?? 500;
  const maxSteps = o.maxSteps ?? 5000;
  if (!(maxSteps >= minSteps)) throw new RangeError(`maxSteps (${maxSteps}) must be at least minSteps (${minSteps})`);
  return {
    epochs: o.epochs ?? d.epochs,
    minSteps,
    maxSteps,
    batchSize: o.batchSize ?? d.batchSize,
    patience: o.patience ?? 25,
    seed: o.seed ?? 0,
    quiet: o.quiet ?? d.quiet,
  };
}

export function cloneState(m: torch.nn.Module): Map<string, Tensor> {
  return cloneTensors(m.stateDict());
}

/** Kept copies of a map of tensors (the caller frees them). */
export function cloneTensors(state: Map<string, Tensor>): Map<string, Tensor> {
  return new Map([...state].map(([k, v]) => [k, torch.keep(v.detach().clone())]));
}

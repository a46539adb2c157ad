// The one linear-head trainer: a softmax classifier on standardized frozen features, trained
// by the fine-tuning loop (shuffled batches, cosine schedule, early stopping when there is a
// validation split). Two front doors:
//   linearProbe    the standard measure of a representation: fixed epochs, no validation,
//                  scored on a held-out set
//   fitLinearHead  a head for the transfer arms and LP-FT, early-stopped on validation, with
//                  the standardization folded into its weights
// Deterministic for a given seed.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { EpochRecord, FinetuneOptions } from '../transfer/finetune.js';
import { accuracyOf, cloneState, fit, loopOptions, validationScore } from '../transfer/loop.js';

export type LinearHeadOptions = Omit<FinetuneOptions, 'mode' | 'numClasses'> & {
  /** Features of unlabeled images to standardize with (default: the training features). */
  unlabeled?: Tensor;
  /**
   * Draw the initial weights and every epoch's batch order from this generator, one stream
   * (default: a generator seeded with `seed` for the weights and another for the order).
   */
  generator?: torch.Generator;
};

export interface LinearHeadFit {
  head: torch.nn.Linear;
  history: EpochRecord[];
  steps: number;
  epochs: number;
  bestEpoch: number;
  valAccuracy: number | null;
}

/** The trainer: a head on (x - mean) / std, and those statistics (all kept: the caller frees them). */
function trainStandardized(
  train: { x: Tensor; y: Tensor },
  val: { x: Tensor; y: Tensor } | null,
  numClasses: number,
  o: LinearHeadOptions,
  defaults: { epochs: number; minSteps: number; maxSteps: number },
): LinearHeadFit & { mean: Tensor; std: Tensor } {
  // With a handful of labels, per-feature statistics of those few images are noise that the
  // division then amplifies; unlabeled images (plentiful in this setting) give stable ones.
  const statsFrom = o.unlabeled ?? train.x;
  const mean = torch.keep(statsFrom.mean(0));
  const std = torch.keep(statsFrom.std(0).add(1e-6));
  const xs = torch.keep(train.x.sub(mean).div(std));
  const xv = val ? torch.keep(val.x.sub(mean).div(std)) : null;
  const g = o.generator ?? new torch.Generator(o.seed ?? 0);
  const head = new torch.nn.Linear(train.x.size(1), numClasses);
  // Initialized from the head's own seed (PyTorch's default scheme), so the result does not
  // depend on what drew from the global generator before.
  torch.nn.init.kaimingUniform_(head.weight, { a: Math.sqrt(5), generator: g });
  const bound = 1 / Math.sqrt(train.x.size(1));
  torch.nn.init.uniform_(head.bias!, -bound, bound, { generator: g });
  const optimizer = new torch.optim.AdamW(head.parameters(), { lr: o.lr ?? 1e-3, weightDecay: o.weightDecay ?? 1e-4 });
  const r = fit(
    {
      n: xs.size(0),
      optimizer,
      loss: (idx) => torch.nn.functional.crossEntropy(head.forward(xs.indexSelect(0, idx)), train.y.indexSelect(0, idx)),
      validate: () => (xv && val ? validationScore(o.selectBy)((x) => head.forward(x), xv, val.y) : null),
      snapshot: () => cloneState(head),
      restore: (s) => head.loadStateDict(s),
      setTraining: () => undefined,
      label: 'linear head',
      generator: o.generator,
    },
    loopOptions(
      { ...o, minSteps: o.minSteps ?? defaults.minSteps, maxSteps: o.maxSteps ?? defaults.maxSteps },
      { epochs: defaults.epochs, batchSize: 256, quiet: true },
    ),
  );
  for (const t of [xs, ...(xv ? [xv] : [])]) t.dispose();
  return { head, mean, std, ...r };
}

/**
 * A softmax head on standardized frozen features, early-stopped on validation. The returned
 * head works on raw features: the standardization is folded into its weights.
 */
export function fitLinearHead(
  train: { x: Tensor; y: Tensor },
  val: { x: Tensor; y: Tensor } | null,
  numClasses: number,
  o: LinearHeadOptions = {},
): LinearHeadFit {
  const { mean, std, ...r } = trainStandardized(train, val, numClasses, o, { epochs: 100, minSteps: 500, maxSteps: 5000 });
  // logits = W (x - mean) / std + b = (W / std) x + (b - (W / std) mean)
  torch.noGrad(() =>
    torch.tidy(() => {
      const w = r.head.weight.div(std);
      const b = r.head.bias!.sub(w.matmul(mean));
      r.head.weight.copy_(w);
      r.head.bias!.copy_(b);
    }),
  );
  mean.dispose();
  std.dispose();
  return r;
}

export interface LinearProbeOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  numClasses?: number;
  /** Train for at least this many steps, adding epochs on small sets (default 0). */
  minSteps?: number;
}

export interface LinearProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
}

/**
 * The linear probe: the head trainer for a fixed number of epochs (default 30) on features
 * standardized by the training set's statistics, scored on both sets.
 */
export function linearProbe(
  train: Tensor,
  trainLabels: Tensor,
  test: Tensor,
  testLabels: Tensor,
  o: LinearProbeOptions = {},
): LinearProbeResult {
  return torch.tidy(() => {
    const classes = o.numClasses ?? trainLabels.max().item() + 1;
    const { head, mean, std } = trainStandardized(
      { x: train, y: trainLabels },
      null,
      classes,
      {
        epochs: o.epochs,
        batchSize: o.batchSize,
        lr: o.lr,
        weightDecay: o.weightDecay,
        minSteps: o.minSteps,
        generator: new torch.Generator(o.seed ?? 0),
      },
      { epochs: 30, minSteps: 0, maxSteps: Infinity },
    );
    const score = (x: Tensor, y: Tensor): number => {
      const standardized = x.sub(mean).div(std);
      return accuracyOf((f) => head.forward(f), standardized, y, standardized.size(0));
    };
    const result = { trainAccuracy: score(train, trainLabels), testAccuracy: score(test, testLabels) };
    for (const t of [mean, std]) t.dispose();
    head.dispose();
    return result;
  });
}

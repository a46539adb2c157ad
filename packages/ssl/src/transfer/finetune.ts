// Fine-tuning an encoder with few labels, and the arms it is compared against.
//   linear   frozen encoder, a softmax head on standardized features (computed once)
//   partial  the last N blocks of the encoder train with the head; earlier blocks stay frozen
//            (their BatchNorm statistics too)
//   full     the whole encoder trains, at a smaller learning rate than the head
//   scratch  the same architecture from random initialization, everything at the head's rate
// A validation part of the budget picks the best epoch (early stopping); the test split is
// touched once, at the end.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { extractFeatures, normalizeInput, toFloatImages, type InputNorm } from '../eval/features.js';
import { compose, horizontalFlip, randomResizedCrop, type Transform } from '../augment/transforms.js';
import { fitLinearHead } from '../eval/linear.js';
import { accuracyOf, cloneState, fit, loopOptions, validationScore } from './loop.js';
import { Consistency, WeightAverage, type SemiConfig } from './semi.js';

export const FINETUNE_MODES = ['linear', 'partial', 'full', 'scratch'] as const;
export type FinetuneMode = (typeof FINETUNE_MODES)[number];

export interface LabeledTensors {
  /** uint8 or float images [N, (C,) H, W] */
  images: Tensor;
  /** int64 [N] */
  labels: Tensor;
}

export interface FinetuneOptions {
  mode: FinetuneMode;
  numClasses: number;
  /** partial: how many blocks, counted from the output, train (default 1). */
  unfreezeBlocks?: number;
  /** Epochs over the labeled images (default 60; linear 100). */
  epochs?: number;
  /** Train at least this many steps, adding epochs on small budgets (default 500). */
  minSteps?: number;
  /**
   * Train at most this many steps, taking epochs off large budgets (default 5000: every
   * budget up to 10% of Fashion-MNIST keeps its full epochs; all 60,000 labels get 6 epochs
   * of fine-tuning instead of 60, which would take about 30 minutes per run here).
   */
  maxSteps?: number;
  batchSize?: number;
  /** The head's learning rate (AdamW; default 1e-3). */
  lr?: number;
  /** Encoder learning rate = lr * this (full: default 0.1; scratch: 1). */
  encoderLrScale?: number;
  weightDecay?: number;
  /** Training augmentation for modes that run the encoder (default crop 0.6-1 + flip; null: none). */
  augment?: Transform | null;
  /**
   * partial/full: start the head from a linear probe on the frozen features, then fine-tune
   * everything (LP-FT, Kumar et al., 2022: the pretrained features are not torn up by the
   * gradients of a random head). Default true; scratch always starts from random.
   */
  probeFirst?: boolean;
  /**
   * partial/full: keep the encoder's BatchNorm layers on their pretrained statistics (eval
   * mode) while fine-tuning, as few-label fine-tuning usually does (default true).
   */
  freezeBatchNorm?: boolean;
  /** Stop after this many epochs without a better validation score (default 25). */
  patience?: number;
  /** What early stopping and the best epoch go by: validation accuracy (default) or cross-entropy ('loss'). */
  selectBy?: 'accuracy' | 'loss';
  /**
   * partial/full: fits the probe that starts fine-tuning, from frozen features (default: the
   * SGD-trained linear head). The tabular protocol passes its converged logistic regression.
   */
  startHead?: (
    train: { x: Tensor; y: Tensor },
    val: { x: Tensor; y: Tensor } | null,
    numClasses: number,
    unlabeled: Tensor | undefined,
  ) => torch.nn.Linear;
  /**
   * full/partial/scratch: semi-supervised training (FixMatch) on `data.pool` besides the
   * labels; the run then lasts `semi.steps` optimizer steps and returns the weight average.
   */
  semi?: SemiConfig;
  seed?: number;
  quiet?: boolean;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  valAccuracy?: number;
  /** Semi-supervised runs: share of the unlabeled images whose pseudo-label passed the threshold. */
  maskRate?: number;
}

export interface FinetuneResult {
  mode: FinetuneMode;
  testAccuracy: number;
  trainAccuracy: number;
  /** Best validation accuracy, or null when the budget is too small to hold any out. */
  valAccuracy: number | null;
  bestEpoch: number;
  epochs: number;
  steps: number;
  seconds: number;
  history: EpochRecord[];
  /** Encoder + head, ready for inference on normalized images (kept: the caller frees it). */
  classifier: Classifier;
}

/** An encoder with a linear head: images [B, C, H, W] (normalized) -> logits [B, classes]. */
export class Classifier extends torch.nn.Module {
  readonly encoder: Encoder;
  readonly head: torch.nn.Linear;
  constructor(encoder: Encoder, numClasses: number) {
    super();
    this.encoder = this.registerModule('encoder', encoder);
    this.head = this.registerModule('head', new torch.nn.Linear(encoder.outDim, numClasses));
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.encoder.forward(x));
  }
}

export const defaultFinetuneAugment = (): Transform => compose(randomResizedCrop({ scale: [0.6, 1], flip: 0 }), horizontalFlip(0.5));

/** Fine-tunes `encoder` (or, for 'scratch', trains it from its current random weights) on labeled images. */
export function finetune(
  encoder: Encoder,
  norm: InputNorm,
  data: {
    train: LabeledTensors;
    val: LabeledTensors | null;
    test: LabeledTensors;
    /** Unlabeled images from the same distribution: feature statistics for the linear head. */
    unlabeled?: Tensor;
    /**
     * The same images' features under `encoder` as given (before any training), when the
     * caller has them already (a transfer report computes them once per encoder).
     */
    unlabeledFeatures?: Tensor;
    /** Semi-supervised runs: the unlabeled pool (default `unlabeled`). */
    pool?: Tensor;
  },
  o: FinetuneOptions,
): FinetuneResult {
  const t0 = performance.now();
  const classifier = new Classifier(encoder, o.numClasses);
  const prepare = (images: Tensor): Tensor => torch.tidy(() => normalizeInput(toFloatImages(images), norm));
  const logits = (x: Tensor): Tensor => classifier.forward(x);
  const evalAccuracy = (set: LabeledTensors): number => {
    classifier.eval();
    const x = prepare(set.images);
    try {
      return accuracyOf(logits, x, set.labels);
    } finally {
      x.dispose();
    }
  };

  /** Trains the head alone on frozen features and installs it in the classifier. */
  const probe = (): ReturnType<typeof fitLinearHead> => {
    encoder.eval();
    const feats = (set: LabeledTensors): { x: Tensor; y: Tensor } => ({ x: extractFeatures(encoder, set.images, norm), y: set.labels });
    const train = feats(data.train);
    const val = data.val ? feats(data.val) : null;
    const computed = !data.unlabeledFeatures && data.unlabeled ? extractFeatures(encoder, data.unlabeled, norm) : undefined;
    const unlabeled = data.unlabeledFeatures ?? computed;
    const r =
      o.startHead && o.mode !== 'linear'
        ? { head: o.startHead(train, val, o.numClasses, unlabeled), history: [], steps: 0, epochs: 0, bestEpoch: 0, valAccuracy: null }
        : fitLinearHead(train, val, o.numClasses, {
            seed: o.seed,
            quiet: o.quiet ?? true,
            selectBy: o.selectBy,
            ...(o.mode === 'linear' ? o : {}),
            unlabeled,
          });
    computed?.dispose();
    torch.noGrad(() => {
      classifier.head.weight.copy_(r.head.weight);
      classifier.head.bias!.copy_(r.head.bias!);
    });
    r.head.dispose();
    for (const t of [train.x, ...(val ? [val.x] : [])]) t.dispose();
    return r;
  };

  if (o.mode === 'linear') {
    for (const p of encoder.parameters()) p.requiresGrad = false;
    const r = probe();
    return finish({ ...r, trainAccuracy: evalAccuracy(data.train), testAccuracy: evalAccuracy(data.test) });
  }
  const probed = o.mode !== 'scratch' && (o.probeFirst ?? true);
  if (probed) probe();

  const blocks = encoder.blocks();
  const trainable = o.mode === 'partial' ? Math.min(blocks.length, Math.max(1, o.unfreezeBlocks ?? 1)) : blocks.length;
  const frozen = blocks.slice(0, blocks.length - trainable).flat();
  for (const m of frozen) for (const p of m.parameters()) p.requiresGrad = false;
  const encoderParams = encoder.parameters().filter((p) => p.requiresGrad);
  const lr = o.lr ?? 1e-3;
  const encoderLr = lr * (o.encoderLrScale ?? (o.mode === 'scratch' ? 1 : 0.1));
  const wd = o.weightDecay ?? 5e-4;
  const optimizer = new torch.optim.AdamW(
    [
      { params: classifier.head.parameters(), lr },
      { params: encoderParams, lr: encoderLr },
    ],
    { lr, weightDecay: wd },
  );
  const augment = o.augment === undefined ? defaultFinetuneAugment() : o.augment;
  if (o.semi && !(data.pool ?? data.unlabeled)) throw new RangeError('semi-supervised fine-tuning needs unlabeled images (data.pool)');
  const consistency = o.semi ? new Consistency((data.pool ?? data.unlabeled)!, norm, o.semi, o.seed ?? 0) : null;
  const average = consistency ? new WeightAverage(classifier, consistency.o.emaDecay) : null;
  const augGen = new torch.Generator((o.seed ?? 0) + 1);
  const trainX = torch.keep(toFloatImages(data.train.images));
  const valX = data.val ? prepare(data.val.images) : null;
  const validate = (): number | null => (valX && data.val ? validationScore(o.selectBy)(logits, valX, data.val.labels) : null);
  const r = fit(
    {
      n: trainX.size(0),
      optimizer,
      loss: (idx) => {
        const x = trainX.indexSelect(0, idx);
        const out = classifier.forward(normalizeInput(augment ? augment(x, augGen) : x, norm));
        const labeled = torch.nn.functional.crossEntropy(out, data.train.labels.indexSelect(0, idx));
        return consistency ? labeled.add(consistency.loss(logits, idx.size(0))) : labeled;
      },
      validate: () => (average ? average.with(validate) : validate()),
      snapshot: () => (average ? average.snapshot() : cloneState(classifier)),
      restore: (s) => classifier.loadStateDict(s),
      ...(average && consistency ? { afterStep: () => average.update(), epochStats: () => consistency.take() } : {}),
      setTraining: (on) => {
        classifier.train(on);
        for (const m of frozen) m.eval();
        if (on && o.mode !== 'scratch' && (o.freezeBatchNorm ?? true)) {
          for (const m of encoder.modules()) if (m instanceof torch.nn.BatchNorm2d || m instanceof torch.nn.BatchNorm1d) m.eval();
        }
      },
      label: `${o.mode} fine-tune`,
      validateStart: probed,
    },
    consistency
      ? // A fixed number of steps; no early stop, the schedule runs its course and validation picks the average kept.
        {
          ...loopOptions(o, { epochs: 1, batchSize: 64, quiet: false }),
          epochs: 1,
          minSteps: consistency.o.steps,
          maxSteps: consistency.o.steps,
          patience: consistency.o.steps,
        }
      : loopOptions(o, { epochs: 60, batchSize: 64, quiet: false }),
  );
  // Without a validation split nothing was restored: the run ends on the average, not the last weights.
  if (average && r.valAccuracy === null) average.install();
  average?.dispose();
  trainX.dispose();
  valX?.dispose();
  for (const p of encoder.parameters()) p.requiresGrad = true;
  return finish({ ...r, trainAccuracy: evalAccuracy(data.train), testAccuracy: evalAccuracy(data.test) });

  function finish(r: Omit<FinetuneResult, 'mode' | 'seconds' | 'classifier'>): FinetuneResult {
    classifier.eval();
    return { mode: o.mode, ...r, seconds: (performance.now() - t0) / 1000, classifier };
  }
}

// The label-efficiency protocol behind `pretext transfer-report`: for each label budget and
// seed, the same class-balanced subset trains four arms, all scored on the same test split:
//   pretrained-linear    the encoder frozen, a linear head
//   pretrained-finetune  the encoder fine-tuned (full mode)
//   scratch              the same architecture from random weights, same labels and augmentation
//   raw-logistic         logistic regression on raw pixels
//   pretrained-semi      the encoder fine-tuned on the labels plus FixMatch consistency on
//                        the whole unlabeled pool (semi.ts)
//   scratch-semi         the same semi-supervised training from random weights, so the
//                        pretraining's share of the semi-supervised gain shows
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { buildEncoder } from '../encoders/encoder.js';
import { extractFeatures, toFloatImages } from '../eval/features.js';
import { fitLinearHead } from '../eval/linear.js';
import type { LabeledSet } from '../data/sources.js';
import { loadEncoder, readEncoderMeta, type EncoderMeta } from '../pipeline.js';
import { budgetName, labelSubset, type LabelBudget } from './labels.js';
import { finetune, type FinetuneMode, type FinetuneOptions, type LabeledTensors } from './finetune.js';
import type { SemiConfig } from './semi.js';

export const TRANSFER_ARMS = [
  'pretrained-linear',
  'pretrained-finetune',
  'scratch',
  'raw-logistic',
  'pretrained-semi',
  'scratch-semi',
] as const;
export type TransferArm = (typeof TRANSFER_ARMS)[number];

export const DEFAULT_BUDGETS = ['1%', '10%', '100%', '1/class', '5/class', '10/class', '50/class'];

export interface TransferRun {
  labels: string;
  arm: TransferArm;
  seed: number;
  /** Labeled images used (training + validation). */
  used: number;
  accuracy: number;
  seconds: number;
}

export interface TransferRow {
  labels: string;
  arm: TransferArm;
  /** Labeled images used per seed (training + validation). */
  used: number;
  mean: number;
  std: number;
  runs: number;
}

export interface TransferOptions {
  budgets: LabelBudget[];
  seeds: number[];
  arms?: readonly TransferArm[];
  /** Overrides for the fine-tuning arms (epochs, learning rate, ...). */
  finetune?: Partial<FinetuneOptions>;
  /** Settings of the semi-supervised arms (steps, ratio, threshold, ...). */
  semi?: SemiConfig;
  quiet?: boolean;
  onRun?: (run: TransferRun) => void;
}

/** The images and labels at `idx` (kept: the caller frees them). */
export function selectLabeled(set: LabeledTensors, idx: number[]): LabeledTensors {
  const i = torch.tensor(BigInt64Array.from(idx, (v) => BigInt(v)));
  const out = { images: torch.keep(set.images.indexSelect(0, i)), labels: torch.keep(set.labels.indexSelect(0, i)) };
  i.dispose();
  return out;
}

/** Classes of a labeled set: its named classes, or as many as its largest label needs. */
export function numClassesOf(set: LabeledSet): number {
  return Math.max(set.classes.length, set.labels.max().item() + 1);
}

/** Sample standard deviation (n - 1), 0 for a single run. */
export function sampleStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Runs grouped by budget and arm (in first-seen order), each group's score mean and sample std over its seeds. */
export function summarizeRuns<R extends { labels: string; arm: string }>(
  runs: R[],
  score: (r: R) => number,
): { first: R; mean: number; std: number; runs: number }[] {
  const groups = new Map<string, R[]>();
  for (const r of runs) {
    const key = `${r.labels}\u0000${r.arm}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  return [...groups.values()].map((rs) => ({
    first: rs[0]!,
    mean: rs.reduce((a, r) => a + score(r), 0) / rs.length,
    std: sampleStd(rs.map(score)),
    runs: rs.length,
  }));
}

export function summarize(runs: TransferRun[]): TransferRow[] {
  return summarizeRuns(runs, (r) => r.accuracy).map(({ first, ...g }) => ({
    labels: first.labels,
    arm: first.arm,
    used: first.used,
    ...g,
  }));
}

/** Runs every arm for every budget and seed on `train`'s labeled pool; scores on `test`. */
export function runTransfer(encoderDir: string, train: LabeledSet, test: LabeledSet, o: TransferOptions): TransferRun[] {
  const meta: EncoderMeta = readEncoderMeta(encoderDir);
  const numClasses = numClassesOf(train);
  const labels = Array.from(train.labels.data() as BigInt64Array, Number);
  const arms = o.arms ?? TRANSFER_ARMS;
  const runs: TransferRun[] = [];
  const rawTest = torch.keep(toFloatImages(test.images).flatten(1));
  // Unlabeled images (the pool's first 10,000, labels unused) for feature statistics.
  const unlabeled = torch.keep(train.images.narrow(0, 0, Math.min(10000, train.images.size(0))));
  const rawUnlabeled = torch.keep(toFloatImages(unlabeled).flatten(1));
  // The pretrained encoder's features of that pool: every pretrained arm starts from the same
  // weights, so they are computed once, not once per run (about 3 s each on 10,000 images).
  let pretrainedUnlabeled: Tensor | null = null;
  if (arms.some((a) => a.startsWith('pretrained'))) {
    const encoder = loadEncoder(encoderDir).encoder;
    pretrainedUnlabeled = torch.keep(extractFeatures(encoder, unlabeled, meta.inputNorm));
    encoder.dispose();
  }
  const testSet = { images: test.images, labels: test.labels };
  for (const budget of o.budgets) {
    for (const seed of o.seeds) {
      const subset = labelSubset(labels, budget, seed);
      const tr = selectLabeled(train, subset.train);
      const va = subset.val.length > 0 ? selectLabeled(train, subset.val) : null;
      const used = subset.train.length + subset.val.length;
      for (const arm of arms) {
        const t0 = performance.now();
        let accuracy: number;
        if (arm === 'raw-logistic') {
          const flat = (s: LabeledTensors): { x: Tensor; y: Tensor } => ({
            x: torch.keep(toFloatImages(s.images).flatten(1)),
            y: s.labels,
          });
          const a = flat(tr);
          const b = va ? flat(va) : null;
          const { head } = fitLinearHead(a, b, numClasses, { seed, unlabeled: rawUnlabeled });
          accuracy = torch.tidy(() => torch.noGrad(() => head.forward(rawTest).argmax(1).eq(test.labels).float().mean().item()));
          head.dispose();
          a.x.dispose();
          b?.x.dispose();
        } else {
          torch.manualSeed(seed);
          const fromScratch = arm === 'scratch' || arm === 'scratch-semi';
          const encoder = fromScratch ? buildEncoder(meta.encoder) : loadEncoder(encoderDir).encoder;
          const mode: FinetuneMode = arm === 'pretrained-linear' ? 'linear' : fromScratch ? 'scratch' : 'full';
          const semi = arm.endsWith('-semi');
          const r = finetune(
            encoder,
            meta.inputNorm,
            {
              train: tr,
              val: va,
              test: testSet,
              unlabeled,
              pool: train.images,
              ...(fromScratch || !pretrainedUnlabeled ? {} : { unlabeledFeatures: pretrainedUnlabeled }),
            },
            {
              numClasses,
              seed,
              quiet: o.quiet ?? true,
              ...o.finetune,
              mode,
              ...(semi ? { semi: o.semi ?? {} } : {}),
            },
          );
          accuracy = r.testAccuracy;
          r.classifier.dispose();
        }
        const run: TransferRun = { labels: budgetName(budget), arm, seed, used, accuracy, seconds: (performance.now() - t0) / 1000 };
        runs.push(run);
        o.onRun?.(run);
      }
      for (const t of [tr.images, tr.labels, ...(va ? [va.images, va.labels] : [])]) t.dispose();
    }
  }
  for (const t of [rawTest, unlabeled, rawUnlabeled, ...(pretrainedUnlabeled ? [pretrainedUnlabeled] : [])]) t.dispose();
  return runs;
}

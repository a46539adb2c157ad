// What a representation looks like, with or without labels:
//   alignment    E ||f(x) - f(x+)||^2 over two augmented views (Wang and Isola, 2020; lower
//                is better: views of one image land together)
//   uniformity   log E exp(-2 ||f(x) - f(y)||^2) over pairs of images (lower is better:
//                the embeddings spread over the sphere)
//   effective rank  exp(entropy of the normalized singular values) of the feature matrix
//                (RankMe, Garrido et al., 2023): how many directions the features really use
//   embedding std   per-dimension std of L2-normalized features, times sqrt(dim): ~1 healthy,
//                ~0 when every image maps to the same point (as the trainer's collapse check)
// all on L2-normalized features; kNN and linear accuracy where labels exist.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { extractFeatures, toFloatImages, type InputNorm } from '../eval/features.js';
import { compose, horizontalFlip, randomResizedCrop, type Transform } from '../augment/transforms.js';
import { embeddingStd } from '../train/trainer.js';
import { knnAccuracy } from '../eval/knn.js';
import { linearProbe } from '../eval/linear.js';

export interface Diagnostics {
  samples: number;
  dim: number;
  alignment: number;
  uniformity: number;
  effectiveRank: number;
  /** effectiveRank / min(samples, dim). */
  rankRatio: number;
  embeddingStd: number;
  collapsed: boolean;
  /** Why it was flagged (empty when healthy). */
  findings: string[];
  knn?: number;
  linear?: number;
}

export interface DiagnoseOptions {
  /** Images the geometry is measured on (default 5,000). */
  samples?: number;
  /** The positive-pair transform for alignment (default crop 0.5-1 + flip). */
  augment?: Transform;
  seed?: number;
  /** Labeled splits for kNN and the linear probe. */
  labeled?: { train: { images: Tensor; labels: Tensor }; test: { images: Tensor; labels: Tensor } };
}

/** Below this embedding std every image maps to nearly the same direction. */
export const COLLAPSED_STD = 0.1;
/** Below this share of the available dimensions the features are flagged as dimension-collapsed. */
export const COLLAPSED_RANK_RATIO = 0.01;

/** RankMe: exp of the entropy of the singular-value distribution of `features` [N, D]. */
export function effectiveRank(features: Tensor): number {
  return torch.tidy(() => {
    const s = torch.linalg.svdvals(features.double());
    const p = s.div(s.sum().add(1e-12)).add(1e-12);
    return Math.exp(-p.mul(p.log()).sum().item());
  });
}

/** Alignment of paired normalized embeddings [N, D] (alpha = 2). */
export function alignment(a: Tensor, b: Tensor): number {
  return torch.tidy(() => {
    const x = torch.nn.functional.normalize(a);
    const y = torch.nn.functional.normalize(b);
    return x.sub(y).square().sum(1).mean().item();
  });
}

/** Uniformity of normalized embeddings [N, D] over all distinct pairs (t = 2). */
export function uniformity(a: Tensor): number {
  return torch.tidy(() => {
    const x = torch.nn.functional.normalize(a).double();
    const n = x.size(0);
    const sq = x.square().sum(1);
    const d2 = sq.unsqueeze(1).add(sq.unsqueeze(0)).sub(x.matmul(x.t()).mul(2)).clamp(0);
    const offDiag = torch.ones([n, n], { dtype: 'bool' }).triu(1);
    const vals = d2.maskedSelect(offDiag).mul(-2);
    // log mean exp, stably
    const m = vals.max();
    return m.add(vals.sub(m).exp().mean().log()).item();
  });
}

export function diagnose(encoder: Encoder, norm: InputNorm, images: Tensor, o: DiagnoseOptions = {}): Diagnostics {
  const n = Math.min(o.samples ?? 5000, images.size(0));
  const g = new torch.Generator(o.seed ?? 0);
  const augment = o.augment ?? compose(randomResizedCrop({ scale: [0.5, 1], flip: 0 }), horizontalFlip(0.5));
  const sample = torch.keep(images.indexSelect(0, torch.randperm(images.size(0), { generator: g }).narrow(0, 0, n)));
  const feats = extractFeatures(encoder, sample, norm);
  const viewsOf = (): Tensor => {
    const x = torch.tidy(() => augment(toFloatImages(sample), g));
    const f = extractFeatures(encoder, x, norm);
    x.dispose();
    return f;
  };
  const v1 = viewsOf();
  const v2 = viewsOf();
  const pairs = Math.min(n, 2000);
  const d: Diagnostics = {
    samples: n,
    dim: feats.size(1),
    alignment: alignment(v1, v2),
    uniformity: uniformity(feats.narrow(0, 0, pairs)),
    effectiveRank: effectiveRank(feats),
    rankRatio: 0,
    embeddingStd: embeddingStd(feats),
    collapsed: false,
    findings: [],
  };
  d.rankRatio = d.effectiveRank / Math.min(n, d.dim);
  if (d.embeddingStd < COLLAPSED_STD) {
    d.findings.push(`embedding std ${d.embeddingStd.toFixed(3)} < ${COLLAPSED_STD}: inputs map to nearly one direction`);
  }
  if (d.rankRatio < COLLAPSED_RANK_RATIO) {
    d.findings.push(
      `effective rank ${d.effectiveRank.toFixed(1)} of ${Math.min(n, d.dim)} possible: the features use almost no directions`,
    );
  }
  d.collapsed = d.findings.length > 0;
  for (const t of [sample, feats, v1, v2]) t.dispose();
  if (o.labeled) {
    const a = extractFeatures(encoder, o.labeled.train.images, norm);
    const b = extractFeatures(encoder, o.labeled.test.images, norm);
    d.knn = knnAccuracy(a, o.labeled.train.labels, b, o.labeled.test.labels);
    d.linear = linearProbe(a, o.labeled.train.labels, b, o.labeled.test.labels).testAccuracy;
    a.dispose();
    b.dispose();
  }
  return d;
}

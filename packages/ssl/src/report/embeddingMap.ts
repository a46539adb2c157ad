// A 2-D map of an encoder's features: PCA to 50 dimensions (an SVD in libtorch), then UMAP
// (umap-js) seeded, drawn as a scatter plot coloured by label.
import { UMAP } from 'umap-js';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { extractFeatures, type InputNorm } from '../eval/features.js';
import { seededRandom } from '../transfer/labels.js';
import { scatterPlot } from './plot.js';

export interface EmbeddingMap {
  /** [x, y, label] per plotted image (label -1 when unlabeled). */
  points: [number, number, number][];
  svg: string;
}

/** Rows of `features` [N, D] projected on their top `k` principal directions: number[][] (N x k). */
export function pca(features: Tensor, k: number): number[][] {
  return torch.tidy(() => {
    const x = features.double();
    const centered = x.sub(x.mean(0));
    const { vh } = torch.linalg.svd(centered);
    const kk = Math.min(k, vh.size(0));
    const proj = centered.matmul(vh.narrow(0, 0, kk).t());
    const flat = proj.data() as Float64Array;
    return Array.from({ length: proj.size(0) }, (_, i) => Array.from(flat.subarray(i * kk, (i + 1) * kk)));
  });
}

export function embeddingMap(
  encoder: Encoder,
  norm: InputNorm,
  images: Tensor,
  labels: Tensor | undefined,
  classes: string[],
  o: { samples?: number; seed?: number; title?: string } = {},
): EmbeddingMap {
  const n = Math.min(o.samples ?? 3000, images.size(0));
  const g = new torch.Generator(o.seed ?? 0);
  const idx = torch.keep(torch.randperm(images.size(0), { generator: g }).narrow(0, 0, n));
  const sample = torch.keep(images.indexSelect(0, idx));
  const feats = extractFeatures(encoder, sample, norm);
  const reduced = pca(feats, 50);
  for (const t of [sample, feats]) t.dispose();
  const umap = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, random: seededRandom(o.seed ?? 0) });
  const xy = umap.fit(reduced);
  const ys = labels ? Array.from(torch.tidy(() => labels.indexSelect(0, idx)).data() as BigInt64Array, Number) : [];
  idx.dispose();
  const points = xy.map((p, i) => [p[0]!, p[1]!, ys[i] ?? -1] as [number, number, number]);
  const names = classes.length > 0 ? classes : ['images'];
  return {
    points,
    svg: scatterPlot(
      points.map(([x, y, c]) => [x, y, Math.max(0, c)]),
      names,
      { title: o.title ?? 'Embedding map (UMAP of test features)' },
    ),
  };
}

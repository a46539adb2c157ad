// What an image-text model is worth: zero-shot classification (class names put into prompt
// templates, each template's embedding normalized, averaged per class and normalized again, as
// open_clip does) and retrieval both ways (recall at 1/5/10 and median rank of the true
// partner in a gallery of all pairs). Both read normalized embeddings only.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

export interface ZeroShotResult {
  /** Top-1 with the template ensemble. */
  top1: number;
  /** Top-1 with each template alone. */
  perTemplate: Record<string, number>;
  classes: number;
  chance: number;
}

/** Class embeddings [K, D]: templates filled with each class name, embedded, normalized, averaged, normalized. */
export function classEmbeddings(classes: readonly string[], templates: readonly string[], embedTexts: (texts: string[]) => Tensor): Tensor {
  return torch.tidy(() => {
    const texts = classes.flatMap((c) => templates.map((t) => t.replace('{}', c)));
    const z = embedTexts(texts).reshape([classes.length, templates.length, -1]);
    return torch.nn.functional.normalize(z.mean(1));
  });
}

const top1 = (images: Tensor, classes: Tensor, labels: Tensor): number =>
  torch.tidy(() => images.matmul(classes.t()).argmax(1).eq(labels).float().mean().item());

/**
 * Zero-shot top-1 of normalized image embeddings [N, D] whose true class is `labels[i]` (an
 * index into `classes`), with the ensemble of `templates` and with each template alone.
 */
export function zeroShot(
  images: Tensor,
  labels: Int32Array,
  classes: readonly string[],
  templates: readonly string[],
  embedTexts: (texts: string[]) => Tensor,
): ZeroShotResult {
  if (labels.length !== images.size(0)) throw new RangeError(`${labels.length} labels for ${images.size(0)} images`);
  return torch.tidy(() => {
    const y = torch.tensor(BigInt64Array.from(labels, (v) => BigInt(v)));
    const perTemplate: Record<string, number> = {};
    for (const t of templates) perTemplate[t] = top1(images, classEmbeddings(classes, [t], embedTexts), y);
    return {
      top1: top1(images, classEmbeddings(classes, templates, embedTexts), y),
      perTemplate,
      classes: classes.length,
      chance: 1 / classes.length,
    };
  });
}

export interface RetrievalResult {
  /** Gallery size (pairs). */
  gallery: number;
  imageToText: { r1: number; r5: number; r10: number; medianRank: number };
  textToImage: { r1: number; r5: number; r10: number; medianRank: number };
}

function ranksOfDiagonal(sim: Tensor): Float64Array {
  return torch.tidy(() => {
    const own = sim.mul(torch.eye(sim.size(0), sim.size(1))).sum(1, true);
    // Rank 1 = the partner scores highest; ties count against it.
    const above = sim.gt(own).sum(1).add(1);
    return Float64Array.from(above.data() as BigInt64Array, Number);
  });
}

function summarize(ranks: Float64Array): { r1: number; r5: number; r10: number; medianRank: number } {
  const n = ranks.length;
  const at = (k: number): number => ranks.filter((r) => r <= k).length / n;
  const sorted = Float64Array.from(ranks).sort();
  const medianRank = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { r1: at(1), r5: at(5), r10: at(10), medianRank };
}

/** Retrieval of pair i's partner among all N, both ways, from normalized embeddings [N, D]. */
export function retrieval(images: Tensor, texts: Tensor): RetrievalResult {
  if (images.size(0) !== texts.size(0)) throw new RangeError(`${images.size(0)} images and ${texts.size(0)} captions`);
  return torch.tidy(() => {
    const sim = images.matmul(texts.t());
    return {
      gallery: images.size(0),
      imageToText: summarize(ranksOfDiagonal(sim)),
      textToImage: summarize(ranksOfDiagonal(sim.t())),
    };
  });
}

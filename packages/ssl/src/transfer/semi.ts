// Semi-supervised fine-tuning with the team's unlabeled pool, after FixMatch (Sohn et al.,
// 2020): each step adds to the labeled batch's cross-entropy a consistency term on `ratio`
// times as many unlabeled images. The current classifier labels a weakly augmented view of
// each (flip, small shift); where its top class is at least `threshold` likely, a strongly
// augmented view of the same image (rotation, shear, jitter, solarize, cutout) is trained
// towards that class. The weights that are validated, kept and returned are an exponential
// moving average of the trained ones (FixMatch's evaluation model).
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { colorJitter, compose, horizontalFlip, randomAffine, randomErasing, solarize, type Transform } from '../augment/transforms.js';
import { normalizeInput, toFloatImages, type InputNorm } from '../eval/features.js';
import { cloneTensors } from './loop.js';

export const semiConfig = z.strictObject({
  /** Optimizer steps (each: one labeled batch and `ratio` unlabeled batches; default 2000). */
  steps: z.number().int().min(1).optional(),
  /** Unlabeled images per labeled image in a step (FixMatch's mu; default 4). */
  ratio: z.number().int().min(1).optional(),
  /** Confidence a pseudo-label needs to count (default 0.95). */
  threshold: z.number().gt(0).lt(1).optional(),
  /** Weight of the consistency term (default 1). */
  weight: z.number().min(0).optional(),
  /** Decay of the weight average that is validated and returned (default 0.99). */
  emaDecay: z.number().min(0).lt(1).optional(),
});
export type SemiConfig = z.input<typeof semiConfig>;

export const SEMI_DEFAULTS: Required<SemiConfig> = { steps: 2000, ratio: 4, threshold: 0.95, weight: 1, emaDecay: 0.99 };

/** Every setting of a semi-supervised run: the given ones (checked against the schema), else the defaults. */
export const semiSettings = (config: SemiConfig): Required<SemiConfig> => ({ ...SEMI_DEFAULTS, ...semiConfig.parse(config) });

/** The weak view pseudo-labels come from: a flip and a shift of up to an eighth of the side. */
export const weakAugment = (): Transform => compose(horizontalFlip(0.5), randomAffine({ translate: 0.125 }));

/** The strong view trained towards them: geometry, intensity, solarize and a cut-out patch. */
export const strongAugment = (): Transform =>
  compose(
    horizontalFlip(0.5),
    randomAffine({ degrees: 25, translate: 0.15, shear: 0.25 }),
    colorJitter({ brightness: 0.5, contrast: 0.5, p: 0.8 }),
    solarize({ p: 0.2 }),
    randomErasing({ scale: [0.05, 0.25], p: 1 }),
  );

/** What a step's consistency term reports besides the loss. */
export interface ConsistencyStats {
  /** Share of the unlabeled batch whose pseudo-label passed the threshold. */
  maskRate: number;
}

/** FixMatch's unlabeled term, drawing its batches from `pool` (uint8 or float images, labels unused). */
export class Consistency {
  private readonly gen: torch.Generator;
  private readonly weak = weakAugment();
  private readonly strong = strongAugment();
  readonly o: Required<SemiConfig>;
  private masked = 0;
  private seen = 0;

  constructor(
    private readonly pool: Tensor,
    private readonly norm: InputNorm,
    config: SemiConfig,
    seed: number,
  ) {
    this.o = semiSettings(config);
    if (pool.size(0) === 0) throw new RangeError('semi-supervised fine-tuning needs unlabeled images; the pool is empty');
    this.gen = new torch.Generator(seed + 7);
  }

  /**
   * The weighted consistency loss for `batch` pool images drawn with replacement. `model` maps
   * normalized images to logits; the weak view's pass runs without gradients.
   */
  loss(model: (x: Tensor) => Tensor, batch: number): Tensor {
    const n = batch * this.o.ratio;
    const idx = torch.randint(0, this.pool.size(0), [n], { generator: this.gen });
    const x = toFloatImages(this.pool.indexSelect(0, idx));
    const weak = normalizeInput(this.weak(x, this.gen), this.norm);
    const { values: conf, indices: pseudo } = torch.noGrad(() => model(weak).softmax(1).max(1));
    const mask = conf.ge(this.o.threshold).float();
    this.masked += mask.sum().item();
    this.seen += n;
    const strong = normalizeInput(this.strong(x, this.gen), this.norm);
    const ce = torch.nn.functional.crossEntropy(model(strong), pseudo, { reduction: 'none' });
    return ce.mul(mask).mean().mul(this.o.weight);
  }

  /** The mask rate since the last call (a training curve's "how much of the pool is used"). */
  take(): ConsistencyStats {
    const r = { maskRate: this.seen ? this.masked / this.seen : 0 };
    this.masked = 0;
    this.seen = 0;
    return r;
  }
}

/** An exponential moving average of a module's floating-point state (other buffers are copied). */
export class WeightAverage {
  /** The module's own tensors (stateDict hands out the live ones; training updates them in place). */
  private readonly live: Map<string, Tensor>;
  private readonly state: Map<string, Tensor>;

  constructor(
    private readonly module: torch.nn.Module,
    private readonly decay: number,
  ) {
    this.live = module.stateDict();
    this.state = cloneTensors(this.live);
  }

  update(): void {
    torch.tidy(() =>
      torch.noGrad(() => {
        for (const [k, v] of this.live) {
          const avg = this.state.get(k)!;
          if (v.dtype === 'float32' || v.dtype === 'float64') avg.lerp_(v, 1 - this.decay);
          else avg.copy_(v);
        }
      }),
    );
  }

  /** Copies of the averaged state (kept: the caller frees them). */
  snapshot(): Map<string, Tensor> {
    return cloneTensors(this.state);
  }

  /** Runs `f` with the averaged weights installed, then puts the trained ones back. */
  with<T>(f: () => T): T {
    const trained = cloneTensors(this.live);
    this.module.loadStateDict(this.state);
    try {
      return f();
    } finally {
      this.module.loadStateDict(trained);
      for (const t of trained.values()) t.dispose();
    }
  }

  /** Installs the averaged weights for good. */
  install(): void {
    this.module.loadStateDict(this.state);
  }

  dispose(): void {
    for (const t of this.state.values()) t.dispose();
  }
}

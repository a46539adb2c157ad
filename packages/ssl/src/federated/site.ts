// One federated site: its own examples, its own copy of the method and optimizer (whatever the
// strategy keeps local persists across rounds), and a round of local training that starts from
// the global weights and returns only the difference in the shared ones.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { SiteUpdate, Weights } from '@pretext/hub/client';
import { BatchLoader, TensorSource } from '../data/loader.js';
import type { SSLMethod } from '../methods/method.js';
import { buildOptimizer, buildSchedule } from '../train/optim.js';
import { TrainingDiverged, trainStep, type TrainConfig, type ViewMaker } from '../train/trainer.js';
import { readTrainingState, writeTrainingState } from '../train/state.js';
import { dpTrainStep, poissonSample, prepareForDp, type DpSettings } from '../train/dpsgd.js';
import { dpSgdEpsilon } from './privacy.js';
import type { Strategy } from './strategy.js';

export interface SiteOptions {
  name: string;
  /** The site's examples (kept by the site; freed by `dispose`). */
  examples: Tensor;
  method: SSLMethod;
  makeViews: ViewMaker;
  train: TrainConfig;
  rounds: number;
  /** Passes over the site's own examples per round (fractions allowed). */
  localEpochs: number;
  strategy: Strategy;
  shared: string[];
  seed: number;
  /**
   * Record-level DP-SGD at this site: every step a Poisson sample at rate batchSize / examples,
   * per-example gradients clipped and noised (see train/dpsgd.ts).
   */
  dp?: DpSettings;
}

/** A state-dict's shared tensors as flat float32 arrays. */
export function readWeights(method: SSLMethod, keys: string[]): Weights {
  const sd = method.stateDict();
  return new Map(keys.map((k) => [k, Float32Array.from(sd.get(k)!.detach().contiguous().data() as Float32Array)]));
}

/** Copies flat arrays into the method's tensors by key (shapes from the method). */
export function writeWeights(method: SSLMethod, weights: Weights): void {
  const sd = method.stateDict();
  torch.noGrad(() => {
    for (const [k, v] of weights) {
      const t = sd.get(k);
      if (!t) throw new RangeError(`the method has no '${k}'`);
      torch.tidy(() => t.copy_(torch.tensor(v, { shape: t.shape })));
    }
  });
}

export class FederatedSite {
  readonly name: string;
  readonly examples: number;
  readonly batchSize: number;
  readonly stepsPerRound: number;
  private readonly loader: BatchLoader;
  private readonly optimizer: ReturnType<typeof buildOptimizer>;
  private readonly schedule: torch.optim.LRScheduler;
  private readonly augGen: torch.Generator;
  private readonly loaderGen: torch.Generator;
  private order: Tensor | null = null;
  private batches: AsyncGenerator<Tensor> | null = null;
  /** The loader generator's state before the current pass's permutation, and the batches taken from it. */
  private passState: Tensor | null = null;
  private consumed = 0;
  private stepsDone = 0;
  /** FedEMA's lambda, set at the first round the site has diverged from the global encoder. */
  private emaLambda: number | null = null;
  /** The global weights of the current round as tensors (FedProx's anchor). */
  private anchor: Map<string, Tensor> | null = null;
  /** DP-SGD: its settings, the sampling rate, and the generators of the samples and of the noise. */
  private readonly dp: { settings: DpSettings; rate: number; sample: torch.Generator; noise: torch.Generator } | null;

  constructor(private readonly o: SiteOptions) {
    this.name = o.name;
    this.examples = o.examples.size(0);
    // A site smaller than the recipe's batch trains on all its examples at once.
    this.batchSize = Math.min(o.train.batchSize, this.examples);
    if (this.batchSize < 2) throw new RangeError(`site ${o.name} has ${this.examples} example(s); contrastive steps need at least 2`);
    const perEpoch = Math.floor(this.examples / this.batchSize);
    this.stepsPerRound = Math.max(1, Math.round(o.localEpochs * perEpoch));
    this.loader = new BatchLoader(new TensorSource(o.examples), { batchSize: this.batchSize });
    o.method.train();
    this.optimizer = buildOptimizer(o.train.optimizer, o.method);
    this.schedule = buildSchedule(o.train.schedule, this.optimizer, o.rounds * this.stepsPerRound, perEpoch);
    this.augGen = new torch.Generator(o.seed + 2);
    this.loaderGen = new torch.Generator(o.seed + 1);
    if (o.dp) prepareForDp(o.method);
    this.dp = o.dp
      ? {
          settings: o.dp,
          rate: this.batchSize / this.examples,
          sample: new torch.Generator(o.seed + 3),
          noise: new torch.Generator(o.seed + 4),
        }
      : null;
  }

  /** DP-SGD: epsilon spent so far at the settings' delta (null without DP-SGD). */
  epsilon(): number | null {
    if (!this.dp) return null;
    const { rate: q, settings } = this.dp;
    return dpSgdEpsilon({ q, sigma: settings.noise, steps: this.stepsDone, delta: settings.delta }).epsilon;
  }

  get method(): SSLMethod {
    return this.o.method;
  }

  /**
   * Takes the round's global weights: shared tensors are replaced by them, except that FedEMA
   * blends the encoder by the site's divergence. Returns the blend weight mu (NaN when not blended).
   */
  receive(global: Weights): number {
    let mu = NaN;
    const { emaTau } = this.o.strategy;
    if (emaTau !== null && this.stepsDone > 0) {
      const local = readWeights(this.o.method, [...global.keys()]);
      let d2 = 0;
      for (const [k, g] of global) {
        const l = local.get(k)!;
        for (let i = 0; i < g.length; i++) d2 += (g[i]! - l[i]!) ** 2;
      }
      const d = Math.sqrt(d2);
      if (this.emaLambda === null && d > 0) this.emaLambda = emaTau / d;
      mu = Math.min((this.emaLambda ?? 0) * d, 1);
      const blended: Weights = new Map();
      for (const [k, g] of global) {
        const l = local.get(k)!;
        blended.set(
          k,
          g.map((gi, i) => mu * l[i]! + (1 - mu) * gi),
        );
      }
      writeWeights(this.o.method, blended);
    } else writeWeights(this.o.method, global);
    if (this.o.strategy.proxMu > 0) {
      this.disposeAnchor();
      const sd = this.o.method.stateDict();
      this.anchor = new Map(
        [...global.keys()].filter((k) => sd.get(k)!.requiresGrad).map((k) => [k, torch.keep(sd.get(k)!.detach().clone())] as const),
      );
    }
    return mu;
  }

  private disposeAnchor(): void {
    if (this.anchor) for (const t of this.anchor.values()) t.dispose();
    this.anchor = null;
  }

  private async nextBatch(): Promise<Tensor> {
    for (;;) {
      if (!this.batches) {
        this.passState?.dispose();
        this.passState = torch.keep(this.loaderGen.getState());
        this.order = this.loader.permutation(this.loaderGen);
        this.batches = this.loader.epoch(this.order);
        this.consumed = 0;
      }
      const next = await this.batches.next();
      if (!next.done) {
        this.consumed++;
        return next.value;
      }
      this.order?.dispose();
      this.order = null;
      this.batches = null;
    }
  }

  /**
   * Writes everything the site carries between rounds (the method with what stays local, the
   * optimizer, the schedule, generators, the position in its pass over its examples) so a
   * restarted site trains its next round exactly as if it had never stopped.
   */
  save(dir: string): void {
    torch.tidy(() =>
      writeTrainingState(
        dir,
        { method: this.o.method, optimizer: this.optimizer, schedule: this.schedule },
        {
          default: torch.getRngState(),
          augment: this.augGen.getState(),
          loader: this.batches ? this.passState! : this.loaderGen.getState(),
          ...(this.dp ? { dpSample: this.dp.sample.getState(), dpNoise: this.dp.noise.getState() } : {}),
        },
        { site: this.name, stepsDone: this.stepsDone, emaLambda: this.emaLambda, consumed: this.batches ? this.consumed : null },
      ),
    );
  }

  /** Takes back what `save` wrote (the same site, recipe and examples). */
  load(dir: string): void {
    const { rng, extra } = readTrainingState<{ site: string; stepsDone: number; emaLambda: number | null; consumed: number | null }>(dir, {
      method: this.o.method,
      optimizer: this.optimizer,
      schedule: this.schedule,
    });
    if (extra.site !== this.name) throw new RangeError(`the state in ${dir} belongs to site ${extra.site}, not ${this.name}`);
    torch.setRngState(rng.get('default')!);
    this.augGen.setState(rng.get('augment')!);
    this.loaderGen.setState(rng.get('loader')!);
    if (this.dp) {
      const sample = rng.get('dpSample');
      const noise = rng.get('dpNoise');
      if (!sample || !noise) throw new RangeError(`the state in ${dir} was saved without DP-SGD; this site runs with it`);
      this.dp.sample.setState(sample);
      this.dp.noise.setState(noise);
      sample.dispose();
      noise.dispose();
    }
    rng.get('default')!.dispose();
    rng.get('augment')!.dispose();
    this.stepsDone = extra.stepsDone;
    this.emaLambda = extra.emaLambda;
    this.order?.dispose();
    this.passState?.dispose();
    this.passState = rng.get('loader')!;
    if (extra.consumed === null) {
      this.order = null;
      this.batches = null;
      return;
    }
    this.order = this.loader.permutation(this.loaderGen);
    this.batches = this.loader.epoch(this.order, extra.consumed);
    this.consumed = extra.consumed;
  }

  /**
   * A round of local training from the weights now in the method (after `receive`, or the site's
   * own when it trains alone): `stepsPerRound` steps, then the shared weights minus `global`.
   */
  async train(
    round: number,
    global: Weights | null,
    onStep?: (loss: number) => void,
  ): Promise<{ update: SiteUpdate | null; loss: number }> {
    const { method, train: c, rounds, strategy } = this.o;
    method.train();
    const anchor = this.anchor;
    const prox = anchor
      ? (): void => {
          const sd = method.stateDict();
          torch.noGrad(() => {
            for (const [k, a] of anchor) {
              const p = sd.get(k)!;
              if (p.grad) torch.tidy(() => p.grad!.add_(p.sub(a), strategy.proxMu));
            }
          });
        }
      : undefined;
    let lossSum = 0;
    let lossSteps = 0;
    const ctx = {
      method,
      optimizer: this.optimizer,
      makeViews: this.o.makeViews,
      generator: this.augGen,
      gradClip: c.gradClip,
      beforeUpdate: prox,
    };
    for (let s = 0; s < this.stepsPerRound; s++) {
      const r = this.dp ? this.privateStep(ctx) : trainStep(ctx, await this.nextBatch());
      // A DP step whose Poisson sample came out empty updates with noise alone and has no loss.
      const empty = 'examples' in r && r.examples === 0;
      if (!empty && !Number.isFinite(r.loss))
        throw new TrainingDiverged(`site ${this.name}: loss became ${r.loss} at step ${s + 1} of round ${round + 1}`, this.stepsDone + 1);
      this.schedule.step();
      this.stepsDone++;
      method.afterStep(this.stepsDone / (rounds * this.stepsPerRound));
      if (!empty) {
        lossSum += r.loss;
        lossSteps++;
        onStep?.(r.loss);
      }
    }
    const loss = lossSteps > 0 ? lossSum / lossSteps : NaN;
    if (!global) return { update: null, loss };
    const local = readWeights(method, [...global.keys()]);
    const delta: Weights = new Map();
    for (const [k, g] of global) {
      const l = local.get(k)!;
      delta.set(
        k,
        l.map((li, i) => li - g[i]!),
      );
    }
    return { update: { site: this.name, examples: this.stepsPerRound * this.batchSize, delta }, loss };
  }

  /** One DP-SGD step on a Poisson sample of the site's examples. */
  private privateStep(ctx: Parameters<typeof trainStep>[0]): ReturnType<typeof dpTrainStep> {
    const dp = this.dp!;
    const batch = torch.tidy(() => this.o.examples.indexSelect(0, poissonSample(this.examples, dp.rate, dp.sample)));
    try {
      return dpTrainStep(ctx, batch, { ...dp.settings, expectedBatch: this.batchSize, noiseGenerator: dp.noise });
    } finally {
      batch.dispose();
    }
  }

  dispose(): void {
    this.disposeAnchor();
    this.order?.dispose();
    this.passState?.dispose();
    this.o.examples.dispose();
  }
}

// The pretraining loop. It knows methods only through SSLMethod.step/afterStep, so a new
// method never touches it. Checkpoints hold everything a run needs to continue exactly:
// weights and buffers, optimizer state, schedule, every random generator, and the position
// inside the epoch.
import { mkdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { ProgressBar } from '@pretext/data';
import { views, type Transform } from '../augment/transforms.js';
import { normalizeInput, toFloatImages, type InputNorm } from '../eval/features.js';
import { BatchLoader, TensorSource, type BatchSource } from '../data/loader.js';
import type { SSLMethod } from '../methods/method.js';
import { buildOptimizer, buildSchedule, type OptimizerConfig, type ScheduleConfig } from './optim.js';
import { hasTrainingState, readTrainingState, shareTrainingState, writeTrainingState } from './state.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  seed: number;
  /** Stop after this many steps in total (quick runs and tests). */
  maxSteps?: number;
  checkpointEverySteps?: number;
  logEverySteps?: number;
  /** Clip the global gradient norm (0: off). */
  gradClip?: number;
  /**
   * Data-parallel: batch statistics over every rank's examples (default true), so BatchNorm
   * normalizes over the step's whole batch as one process would.
   */
  syncBatchNorm?: boolean;
}

export interface EpochHook {
  (epoch: number): Record<string, number>;
}

/**
 * A modality's views: `count` looks at each example of a batch, as model inputs. Images crop,
 * jitter and normalize; tables corrupt cells; the trainer only calls it.
 */
export type ViewMaker = (batch: Tensor, count: number, g: torch.Generator) => Tensor[];

/** Image views: float images in [0, 1], the augmentation per view, then normalization. */
export function imageViews(augment: Transform, norm: InputNorm): ViewMaker {
  return (batch, count, g) => views(toFloatImages(batch), augment, count, g).map((v) => normalizeInput(v, norm));
}

/** The views of a step: the modality's own, or image views from an augmentation and a normalization. */
type Views =
  { makeViews: ViewMaker; augment?: undefined; norm?: undefined } | { makeViews?: undefined; augment: Transform; norm: InputNorm };

export const viewMaker = (v: Views): ViewMaker => v.makeViews ?? imageViews(v.augment!, v.norm!);

export type TrainOptions = Views & {
  method: SSLMethod;
  /**
   * The examples as one tensor (images uint8 [N, H, W] / [N, C, H, W] or float [N, C, H, W];
   * encoded table rows [N, F]), or a source that loads them batch by batch (labels are never used).
   */
  images: Tensor | BatchSource;
  /** Batches loaded ahead of the step (default 2). */
  prefetch?: number;
  config: TrainConfig;
  outDir: string;
  resume?: boolean;
  /** Evaluation after each epoch (e.g. kNN); its numbers are logged. */
  onEpochEnd?: EpochHook;
  /** A throughput shown on the progress bar besides steps/s, e.g. tokens per example for text. */
  throughput?: { unit: string; perExample: number };
  quiet?: boolean;
};

export class TrainingDiverged extends Error {
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
    this.name = 'TrainingDiverged';
  }
}

interface Position {
  step: number;
  epoch: number;
  /** Batches of the current epoch already done. */
  batch: number;
  trainSeconds: number;
}

export interface TrainResult extends Position {
  lastLoss: number;
  /** Per-dimension std of normalized embeddings, times sqrt(D): ~1 healthy, ~0 collapsed. */
  embeddingStd: number;
}

/** std over the batch of L2-normalized embeddings, averaged over dimensions, times sqrt(D). */
export function embeddingStd(z: Tensor): number {
  return torch.tidy(() => torch.noGrad(() => torch.nn.functional.normalize(z.detach()).std(0).mean().item() * Math.sqrt(z.size(1))));
}

const COLLAPSE_THRESHOLD = 0.1;

export type StepContext = Views & {
  method: SSLMethod;
  optimizer: { zeroGrad(): void; step(): void };
  generator: torch.Generator;
  gradClip?: number;
  /** Runs between backward and the update, e.g. a federated site's proximal term on the gradients. */
  beforeUpdate?: () => void;
  /** Data-parallel: averages the gradients while backward runs (else they are averaged after it). */
  reducer?: torch.distributed.GradientReducer;
};

export interface StepOutcome {
  loss: number;
  logs: Record<string, number>;
  /** Embedding spread when measured, else NaN. */
  std: number;
}

/** A loss averaged over the data-parallel ranks. */
function globalLoss(loss: Tensor): number {
  return torch.tidy(() => {
    const g = loss.detach().clone();
    torch.distributed.allReduce(g, 'avg');
    return g.item();
  });
}

/** Rank `rank`'s share of an epoch's permutation: every world-th index, the tail that does not divide dropped (kept). */
function shardOrder(order: Tensor, rank: number, world: number): Tensor {
  const m = Math.floor(order.size(0) / world);
  return torch.keep(
    torch.tidy(() =>
      order
        .narrow(0, 0, m * world)
        .view(m, world)
        .select(1, rank)
        .contiguous(),
    ),
  );
}

/**
 * One optimizer step on a batch of images (freed here): views, normalization, the method's
 * loss, backward, clipping, update. A non-finite loss skips the update and is returned.
 */
export function trainStep(ctx: StepContext, batch: Tensor, measureSpread = false): StepOutcome {
  return torch.tidy(() => {
    const vs = viewMaker(ctx)(batch, ctx.method.numViews, ctx.generator);
    batch.dispose();
    ctx.optimizer.zeroGrad();
    const r = ctx.method.step(vs);
    const dist = torch.distributed.isInitialized();
    // Data-parallel: every rank sees the mean loss, so all skip a non-finite step together.
    const loss = dist ? globalLoss(r.loss) : r.loss.item();
    if (!Number.isFinite(loss)) return { loss, logs: r.logs, std: NaN };
    ctx.reducer?.prepare();
    r.loss.backward();
    if (ctx.reducer) ctx.reducer.finish();
    else if (dist) torch.distributed.allReduceGradients(ctx.method.trainableParameters());
    ctx.beforeUpdate?.();
    if (ctx.gradClip) torch.optim.clipGradNorm(ctx.method.trainableParameters(), ctx.gradClip);
    ctx.optimizer.step();
    return { loss, logs: r.logs, std: measureSpread ? embeddingStd(r.embedding) : NaN };
  });
}

export async function pretrain(o: TrainOptions): Promise<TrainResult> {
  const { method, config: c } = o;
  const makeViews = viewMaker(o);
  mkdirSync(o.outDir, { recursive: true });
  const ckptDir = join(o.outDir, 'checkpoint');
  const metricsPath = join(o.outDir, 'metrics.jsonl');
  // Data-parallel (torch.distributed initialized): each rank takes its shard of every epoch's
  // permutation and batchSize / ranks examples a step; gradients are averaged in trainStep, so
  // a step sees the recipe's batch size in all.
  const dist = torch.distributed.isInitialized() ? { rank: torch.distributed.rank(), world: torch.distributed.worldSize() } : null;
  if (dist && c.batchSize % dist.world !== 0) throw new RangeError(`batch size ${c.batchSize} does not divide among ${dist.world} ranks`);
  const loader = new BatchLoader(o.images instanceof torch.Tensor ? new TensorSource(o.images) : o.images, {
    batchSize: dist ? c.batchSize / dist.world : c.batchSize,
    prefetch: o.prefetch,
  });
  const n = loader.source.length;
  const stepsPerEpoch = Math.floor(n / c.batchSize);
  if (stepsPerEpoch < 1) throw new RangeError(`batch size ${c.batchSize} is larger than the ${n} training images`);
  const totalSteps = Math.min(c.epochs * stepsPerEpoch, c.maxSteps ?? Infinity);

  torch.manualSeed(c.seed);
  const loaderGen = new torch.Generator(c.seed + 1);
  const augGen = new torch.Generator(c.seed + 2 + (dist ? 1000 * dist.rank : 0));
  method.train();
  // Every rank starts from rank 0's weights; BatchNorm layers share their batch statistics and
  // the gradient all-reduce overlaps backward, bucket by bucket.
  if (dist) torch.distributed.broadcastModule(method);
  const synced = dist !== null && dist.world > 1 && c.syncBatchNorm !== false;
  if (synced) torch.nn.convertSyncBatchNorm(method);
  const reducer = dist ? new torch.distributed.GradientReducer(method.trainableParameters()) : undefined;
  // After training (or a divergence) the method is used by one rank alone: no more collectives.
  const leaveDataParallel = (): void => {
    reducer?.destroy();
    if (synced) torch.nn.convertSyncBatchNorm(method, false);
  };
  const opt = buildOptimizer(c.optimizer, method);
  const sched = buildSchedule(c.schedule, opt, totalSteps, stepsPerEpoch);
  let pos: Position = { step: 0, epoch: 0, batch: 0, trainSeconds: 0 };
  // The loader generator's state at the start of the current epoch: replaying it redraws
  // the epoch's permutation after a resume.
  let epochGenState = torch.keep(loaderGen.getState());

  const parts = { method, optimizer: opt, schedule: sched };
  // Data-parallel, rank 0 alone keeps checkpoints (in the run folder) and hands its state to
  // the others on resume. The weights, optimizer, schedule, loader and default generator are
  // the same on every rank; each rank's augmentation generator is its own, so all are kept.
  // Another number of ranks may resume: a global step covers the same examples whatever the
  // ranks (see shardOrder), and a rank the checkpoint has no generator for keeps its fresh one.
  const augmentKey = (rank: number): string => (rank === 0 ? 'augment' : `augment.${rank}`);
  if (o.resume && (dist ? shareTrainingState(ckptDir) : hasTrainingState(ckptDir))) {
    const { rng, extra } = readTrainingState<{ position: Position }>(ckptDir, parts);
    torch.setRngState(rng.get('default')!);
    const augment = rng.get(augmentKey(dist?.rank ?? 0));
    if (augment) augGen.setState(augment);
    loaderGen.setState(rng.get('loader')!);
    epochGenState.dispose();
    epochGenState = rng.get('loader')!;
    for (const [name, t] of rng) if (name !== 'loader') t.dispose();
    pos = extra.position;
  }

  const saveCheckpoint = (): void =>
    torch.tidy(() => {
      const augment = dist ? torch.distributed.allGather(augGen.getState()) : [augGen.getState()];
      if (dist && dist.rank !== 0) return;
      writeTrainingState(
        ckptDir,
        parts,
        { default: torch.getRngState(), loader: epochGenState, ...Object.fromEntries(augment.map((t, r) => [augmentKey(r), t])) },
        { position: pos },
      );
    });

  const log = (record: Record<string, unknown>): void => appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
  let lastLoss = NaN;
  let lastStd = NaN;
  let warned = false;

  while (pos.step < totalSteps) {
    loaderGen.setState(epochGenState);
    const full = loader.permutation(loaderGen);
    const order = dist ? shardOrder(full, dist.rank, dist.world) : full;
    if (dist) full.dispose();
    const bar =
      o.quiet || (dist && dist.rank !== 0)
        ? null
        : new ProgressBar({ total: stepsPerEpoch, label: `epoch ${pos.epoch + 1}/${c.epochs}`, unit: 'steps' });
    if (bar) bar.tick(pos.batch);
    const epochStart = performance.now();
    let epochSamples = 0;
    let t0 = performance.now();
    for await (const batch of loader.epoch(order, pos.batch)) {
      // The spread is measured every logEverySteps and on the last step, so every run reports it.
      const measure = (pos.step + 1) % (c.logEverySteps ?? 50) === 0 || pos.step + 1 === totalSteps;
      const result = trainStep({ method, optimizer: opt, makeViews, generator: augGen, gradClip: c.gradClip, reducer }, batch, measure);
      if (!Number.isFinite(result.loss)) {
        order.dispose();
        leaveDataParallel();
        const kept = hasTrainingState(ckptDir) ? `the last good checkpoint is kept in ${ckptDir}` : 'no checkpoint was written yet';
        throw new TrainingDiverged(
          `loss became ${result.loss} at step ${pos.step + 1} (epoch ${pos.epoch + 1}); ${kept}. Lower the learning rate or add gradClip.`,
          pos.step + 1,
        );
      }
      sched.step();
      method.afterStep((pos.step + 1) / totalSteps);
      pos.step++;
      pos.batch++;
      const now = performance.now();
      pos.trainSeconds += (now - t0) / 1000;
      t0 = now;
      epochSamples += c.batchSize;
      lastLoss = result.loss;
      const rate = o.throughput
        ? `  ${((epochSamples * o.throughput.perExample) / Math.max((now - epochStart) / 1000, 1e-9) / 1000).toFixed(1)}k ${o.throughput.unit}/s`
        : '';
      bar?.tick(1, `loss ${result.loss.toFixed(3)}${rate}`);
      if (Number.isFinite(result.std)) {
        lastStd = result.std;
        log({
          step: pos.step,
          epoch: pos.epoch + pos.batch / stepsPerEpoch,
          loss: result.loss,
          lr: opt.lrs[0],
          embedding_std: result.std,
          ...result.logs,
        });
        if (result.std < COLLAPSE_THRESHOLD && !warned) {
          warned = true;
          process.emitWarning(
            `representation collapse suspected at step ${pos.step}: per-dimension std of normalized embeddings is ${result.std.toFixed(3)} of the healthy ~1`,
            { code: 'PRETEXT_COLLAPSE' },
          );
          log({ step: pos.step, warning: 'collapse', embedding_std: result.std });
        }
      }
      if (c.checkpointEverySteps && pos.step % c.checkpointEverySteps === 0) {
        saveCheckpoint();
        t0 = performance.now();
      }
      if (pos.step >= totalSteps) break;
    }
    order.dispose();
    if (pos.batch >= stepsPerEpoch) {
      const seconds = (performance.now() - epochStart) / 1000;
      pos.epoch++;
      pos.batch = 0;
      epochGenState.dispose();
      epochGenState = torch.keep(loaderGen.getState());
      const extra = o.onEpochEnd ? o.onEpochEnd(pos.epoch) : {};
      bar?.finish(
        `loss ${lastLoss.toFixed(3)}${Object.entries(extra)
          .map(([k, v]) => `  ${k} ${(100 * v).toFixed(2)}%`)
          .join('')}`,
      );
      log({
        epoch: pos.epoch,
        step: pos.step,
        loss: lastLoss,
        samples_per_s: epochSamples / seconds,
        train_seconds: pos.trainSeconds,
        ...extra,
      });
      method.train();
    } else {
      bar?.finish(`loss ${lastLoss.toFixed(3)}`);
    }
  }
  saveCheckpoint();
  epochGenState.dispose();
  leaveDataParallel();
  log({
    final: true,
    step: pos.step,
    epoch: pos.epoch + pos.batch / stepsPerEpoch,
    loss: lastLoss,
    train_seconds: pos.trainSeconds,
    stopped: pos.step >= c.epochs * stepsPerEpoch ? 'epochs' : 'max-steps',
  });
  return { ...pos, lastLoss, embeddingStd: lastStd };
}

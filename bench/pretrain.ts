// Pretraining benchmark. One JSON line per method recipe in recipes/ (epochs, train
// minutes, kNN and linear-probe test accuracy of the frozen encoder), then the speed case:
// the same SimCLR step in Pretext and in PyTorch 1.13, alternated, as epoch times.
//
//   npm run bench:pretrain                 full recipes (hours on 2 cores)
//   npm run bench:pretrain -- --quick      40 steps per method and a short speed case (< 5 min)
//   npm run bench:pretrain -- --methods simclr,byol --skip-speed
//   npm run bench:pretrain -- --epochs 3 --skip-speed   every method, 3 epochs each
//   npm run bench:pretrain -- --minutes 15 --skip-speed  every method, 15 minutes of training each
//                                          (the method table: equal time, not equal epochs)
//   npm run bench:pretrain -- --skip-methods --pytorch-env same   the speed case with PyTorch
//                                          given Pretext's thread-wait and malloc settings
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import {
  loadRecipe,
  runPretrain,
  SimCLR,
  buildEncoder,
  buildAugment,
  loadFashionMnist,
  trainStep,
  BatchLoader,
  TensorSource,
  FASHION_MNIST_NORM,
  type EncoderSpec,
  type SimCLRConfig,
  type StepContext,
} from '@pretext/ssl';
import { PyTorchWorker, median, pytorchEnv, quiesce, type PyTorchEnv } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    // Overrides every recipe's epochs (shorter comparison runs); the line reports what ran.
    epochs: { type: 'string' },
    // Equal training time: each method's step is timed on a short run first, and its schedule is
    // set to the steps that fit in this many minutes (its cosine decays over them).
    minutes: { type: 'string' },
    methods: { type: 'string' },
    'skip-speed': { type: 'boolean', default: false },
    'skip-methods': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    python: { type: 'string', default: '/usr/bin/python3' },
    // 'default': PyTorch as a user runs it; 'same': with Pretext's thread-wait and malloc settings.
    'pytorch-env': { type: 'string', default: 'default' },
  },
});
const threads = Number(args.threads);
torch.setNumThreads(threads);

if (!args['skip-methods']) {
  const recipeDir = join(here, '..', 'recipes');
  const wanted = args.methods ? new Set(args.methods.split(',')) : null;
  for (const file of readdirSync(recipeDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const recipe = loadRecipe(join(recipeDir, file));
    if (wanted && !wanted.has(recipe.method.name)) continue;
    if (args.epochs !== undefined && args.minutes !== undefined) throw new Error('--epochs and --minutes are two budgets: give one');
    if (args.epochs !== undefined) recipe.train.epochs = Number(args.epochs);
    let budget: { minutes: number; stepSeconds: number } | null = null;
    if (args.minutes !== undefined) {
      const minutes = Number(args.minutes);
      if (!(minutes > 0)) throw new Error(`--minutes must be a positive number (got ${args.minutes})`);
      const stepSeconds = await timeStep(structuredClone(recipe));
      budget = { minutes, stepSeconds };
      recipe.train.maxSteps = Math.max(1, Math.floor((minutes * 60) / stepSeconds));
      recipe.train.epochs = Math.ceil(recipe.train.maxSteps / stepsPerEpochOf(recipe)) + 1;
      process.stderr.write(`${recipe.method.name}: ${stepSeconds.toFixed(3)} s a step, ${recipe.train.maxSteps} steps in ${minutes} min\n`);
    }
    if (args.quick) {
      // A smoke-size run: 40 steps, scored with 10,000 labeled training images.
      recipe.train.maxSteps = 40;
      recipe.evaluation.trainLimit = 10000;
    }
    const outDir = mkdtempSync(join(tmpdir(), `bench-${recipe.method.name}-`));
    process.stderr.write(`${recipe.method.name}: training\n`);
    const run = await runPretrain(recipe, { outDir, quiet: true });
    const stepsPerEpoch = stepsPerEpochOf(recipe);
    console.log(
      JSON.stringify({
        method: recipe.method.name,
        recipe: recipe.name,
        epochs: Number((run.result.step / stepsPerEpoch).toFixed(2)),
        train_min: Number((run.result.trainSeconds / 60).toFixed(2)),
        knn: Number(run.scores.knn!.toFixed(4)),
        linear: Number(run.scores.linear!.toFixed(4)),
        embedding_std: Number(run.result.embeddingStd.toFixed(3)),
        encoder: recipe.encoder.config,
        ...(budget ? { budget_min: budget.minutes, step_seconds: Number(budget.stepSeconds.toFixed(4)) } : {}),
        ...(args.quick ? { quick: true } : {}),
      }),
    );
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Steps in one epoch of the recipe's Fashion-MNIST training images. */
function stepsPerEpochOf(recipe: ReturnType<typeof loadRecipe>): number {
  return Math.floor(((recipe.data.dataset === 'fashion-mnist' && recipe.data.limit) || 60000) / recipe.train.batchSize);
}

/**
 * Seconds per training step of a recipe: a short unscored run, timed over its later steps
 * (the first ones pay for warm-up and the loader's first batches).
 */
async function timeStep(recipe: ReturnType<typeof loadRecipe>): Promise<number> {
  const run = async (steps: number): Promise<number> => {
    const outDir = mkdtempSync(join(tmpdir(), `bench-time-${recipe.method.name}-`));
    try {
      const r = structuredClone(recipe);
      r.train.maxSteps = steps;
      r.train.epochs = Math.ceil(steps / stepsPerEpochOf(r)) + 1;
      r.evaluation = { knnEveryEpoch: false, knn: false, linear: false };
      return (await runPretrain(r, { outDir, quiet: true })).result.trainSeconds;
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  };
  const short = await run(10);
  const long = await run(40);
  return (long - short) / 30;
}

if (!args['skip-speed']) {
  // The default recipe's step (its encoder, projector, batch and augmentations), run by the
  // trainer's own step function, against the same step written in PyTorch.
  const recipe = loadRecipe(join(here, '..', 'recipes', 'simclr.yaml'));
  const train = await loadFashionMnist('train');
  torch.manualSeed(0);
  const spec = recipe.encoder as EncoderSpec;
  const method = new SimCLR(() => buildEncoder(spec), recipe.method.config as SimCLRConfig);
  const dir = mkdtempSync(join(tmpdir(), 'bench-simclr-'));
  const path = join(dir, 'simclr.safetensors');
  torch.safetensors.saveFile(
    path,
    new Map([...[...method.stateDict()].map(([k, v]) => [`model.${k}`, v] as const), ['images', train.images]]),
  );
  const ctx: StepContext = {
    method,
    optimizer: new torch.optim.AdamW(method.trainableParameters(), {
      lr: recipe.train.optimizer.lr,
      weightDecay: recipe.train.optimizer.weightDecay,
    }),
    augment: buildAugment(recipe.augment),
    norm: FASHION_MNIST_NORM,
    generator: new torch.Generator(0),
  };
  const batchSize = recipe.train.batchSize;
  const loader = new BatchLoader(new TensorSource(train.images), { batchSize });
  let epoch = loader.epoch(loader.permutation(ctx.generator));
  const step = async (): Promise<void> => {
    let next = await epoch.next();
    if (next.done) {
      epoch = loader.epoch(loader.permutation(ctx.generator));
      next = await epoch.next();
    }
    trainStep(ctx, next.value as torch.Tensor);
  };
  if (recipe.train.optimizer.name !== 'adamw') throw new Error('the PyTorch side of the speed case mirrors AdamW only');
  const py = new PyTorchWorker(args.python, join(here, 'pretrain_torch.py'), pytorchEnv(args['pytorch-env'] as PyTorchEnv));
  // Everything the step depends on comes from the one recipe, on both sides.
  const info = await py.ask<{ torch: string }>({
    cmd: 'setup',
    path,
    threads,
    encoder: spec.config,
    method: recipe.method.config,
    batchSize: recipe.train.batchSize,
    augment: recipe.augment,
    optimizer: recipe.train.optimizer,
    norm: FASHION_MNIST_NORM,
  });
  const rounds = Number(args.rounds ?? (args.quick ? 3 : 8));
  const iters = args.quick ? 4 : 8;
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 2; i++) await step();
  await py.ask({ cmd: 'time', iters: 2 });
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? ['pretext', 'pytorch'] : ['pytorch', 'pretext']) {
      await quiesce();
      if (side === 'pytorch') b.push(...(await py.ask<{ ms: number[] }>({ cmd: 'time', iters })).ms);
      else
        for (let i = 0; i < iters; i++) {
          const t0 = performance.now();
          await step();
          a.push(performance.now() - t0);
        }
    }
  }
  py.close();
  const stepsPerEpoch = loader.batchesPerEpoch;
  const pretextS = (median(a) * stepsPerEpoch) / 1000;
  const pytorchS = (median(b) * stepsPerEpoch) / 1000;
  console.log(
    JSON.stringify({
      case: 'simclr-epoch',
      pretext_s: Number(pretextS.toFixed(1)),
      pytorch_s: Number(pytorchS.toFixed(1)),
      ratio: Number((pytorchS / pretextS).toFixed(3)),
      steps_per_epoch: stepsPerEpoch,
      threads,
      pytorch_env: args['pytorch-env'],
      torch: info.torch,
    }),
  );
  rmSync(dir, { recursive: true, force: true });
}

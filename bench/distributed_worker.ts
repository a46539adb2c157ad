// One rank of bench:distributed (started by bench/distributed.ts with PyTorch's variables set).
// argv: mode [threads] [steps]. Prints one JSON line.
//   step        the default SimCLR recipe's training step, data-parallel, on random images
//               (global negatives); BENCH_OVERLAP=1 all-reduces the gradients during backward
//               (else after it), BENCH_SYNCBN=1 adds SyncBatchNorm: both is how `pretrain` runs
//   allreduce   all-reduce time of float32 buffers of 1 to 64 MB
//   equivalence linear-model SGD, 20 steps on a fixed batch of 32 (weights printed)
//   simclr      SimCLR on a small CNN with BatchNorm through trainStep, fixed views of a batch of
//               32, 10 steps: as pretrain runs it on this many ranks (losses and weights printed)
//   fault       rank 1 is killed after a barrier; rank 0 times how long its next all-reduce takes to fail
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@pretext/torch';
import {
  buildAugment,
  buildEncoder,
  FASHION_MNIST_NORM,
  loadRecipe,
  SimCLR,
  trainStep,
  type EncoderSpec,
  type SimCLRConfig,
  type StepContext,
} from '@pretext/ssl';
import { median } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const [mode = 'step', threadsArg = '1', stepsArg = '10'] = process.argv.slice(2);
torch.setNumThreads(Number(threadsArg));
const dist = torch.distributed;
const { rank, worldSize } = dist.init({ timeoutSeconds: Number(process.env.BENCH_TIMEOUT ?? '120') });
const out: Record<string, unknown> = { rank, worldSize };

if (mode === 'step') {
  const recipe = loadRecipe(join(here, '..', 'recipes', 'simclr.yaml'));
  torch.manualSeed(0);
  const method = new SimCLR(() => buildEncoder(recipe.encoder as EncoderSpec), recipe.method.config as SimCLRConfig);
  dist.broadcastModule(method);
  const overlap = process.env.BENCH_OVERLAP === '1';
  if (process.env.BENCH_SYNCBN === '1' && worldSize > 1) torch.nn.convertSyncBatchNorm(method);
  const reducer = overlap ? new dist.GradientReducer(method.trainableParameters()) : undefined;
  const ctx: StepContext = {
    method,
    optimizer: new torch.optim.AdamW(method.trainableParameters(), {
      lr: recipe.train.optimizer.lr,
      weightDecay: recipe.train.optimizer.weightDecay,
    }),
    augment: buildAugment(recipe.augment),
    norm: FASHION_MNIST_NORM,
    generator: new torch.Generator(rank + 1),
    reducer,
  };
  const local = recipe.train.batchSize / worldSize;
  const images = torch.keep(torch.rand([local, 28, 28]).mul(255).to('uint8'));
  const steps = Number(stepsArg);
  for (let i = 0; i < 2; i++) trainStep(ctx, images.clone());
  dist.barrier();
  const start = performance.now();
  const waits: number[] = [];
  for (let i = 0; i < steps; i++) {
    trainStep(ctx, images.clone());
    if (reducer) waits.push(reducer.lastWaitMs);
  }
  dist.barrier();
  const seconds = (performance.now() - start) / 1000;
  const params = method.trainableParameters().filter((p) => p.grad !== null);
  // Not overlapped, the step pays the whole all-reduce: time it alone on the last step's
  // gradients. Overlapped, it pays what was still in flight when backward ended.
  const times: number[] = [];
  for (let i = 0; i < 5 && !reducer; i++) {
    const t = performance.now();
    dist.allReduceGradients(params);
    times.push(performance.now() - t);
  }
  out.imagesPerS = (recipe.train.batchSize * steps) / seconds;
  out.stepMs = (1000 * seconds) / steps;
  out.allreduceMs = worldSize === 1 ? 0 : median(reducer ? waits : times);
  out.gradientMb = params.reduce((a, p) => a + p.numel() * 4, 0) / 1e6;
  out.buckets = reducer?.bucketBytes.length ?? 0;
  reducer?.destroy();
} else if (mode === 'allreduce') {
  const rows: { mb: number; ms: number }[] = [];
  for (const mb of [1, 4, 16, 64]) {
    const t = torch.keep(torch.ones([(mb * 1e6) / 4]));
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = performance.now();
      dist.allReduce(t, 'sum');
      times.push(performance.now() - s);
    }
    rows.push({ mb, ms: median(times.slice(1)) });
    t.dispose();
  }
  out.rows = rows;
} else if (mode === 'equivalence') {
  torch.manualSeed(123 + 1000 * rank);
  const model = new torch.nn.Linear(8, 3);
  dist.broadcastModule(model);
  torch.manualSeed(7);
  const X = torch.randn([32, 8]);
  const Y = torch.randn([32, 3]);
  const B = 32 / worldSize;
  const opt = new torch.optim.SGD(model.parameters(), { lr: 0.1 });
  for (let step = 0; step < 20; step++) {
    opt.zeroGrad();
    model
      .forward(X.narrow(0, rank * B, B))
      .sub(Y.narrow(0, rank * B, B))
      .pow(2)
      .mean()
      .backward();
    dist.allReduceGradients(model.parameters());
    opt.step();
  }
  out.weights = [...Array.from(model.weight.data() as Float32Array), ...Array.from(model.bias!.data() as Float32Array)];
} else if (mode === 'simclr') {
  // Fixed views (the batch and its mirror image), so 1 rank and 2 ranks see the same inputs.
  torch.manualSeed(11 + 1000 * rank);
  const encoder: EncoderSpec = { type: 'small-cnn', config: { inChannels: 1, inputSize: 28, width: 4, depth: 2 } };
  const method = new SimCLR(() => buildEncoder(encoder), { projDim: 16, hiddenDim: 32, temperature: 0.5 });
  dist.broadcastModule(method);
  if (worldSize > 1) torch.nn.convertSyncBatchNorm(method);
  const reducer = new dist.GradientReducer(method.trainableParameters(), { bucketBytes: 4096, firstBucketBytes: 1024 });
  torch.manualSeed(5);
  const all = torch.keep(torch.rand([32, 28, 28]).mul(255).to('uint8'));
  const B = 32 / worldSize;
  const ctx: StepContext = {
    method,
    optimizer: new torch.optim.SGD(method.trainableParameters(), { lr: 0.05, momentum: 0.9 }),
    makeViews: (batch) => {
      const x = batch.float().div(255).unsqueeze(1);
      return [x, x.flip([3])];
    },
    generator: new torch.Generator(1),
    reducer,
  };
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) losses.push(trainStep(ctx, all.narrow(0, rank * B, B).clone()).loss);
  out.losses = losses;
  out.weights = method.trainableParameters().flatMap((p) => Array.from(p.data() as Float32Array));
  out.buckets = reducer.bucketBytes.length;
  reducer.destroy();
} else if (mode === 'fault') {
  dist.barrier();
  if (rank === 1) process.kill(process.pid, 'SIGKILL');
  const start = performance.now();
  try {
    for (let i = 0; i < 1000; i++) dist.allReduce(torch.ones([1024]), 'sum');
  } catch (err) {
    out.error = (err as Error).message;
  }
  out.detectedS = (performance.now() - start) / 1000;
}
console.log(JSON.stringify(out));
dist.destroy();

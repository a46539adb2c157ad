// One rank of bench:distributed (started by bench/distributed.ts with PyTorch's variables set).
// argv: mode [threads] [steps]. Prints one JSON line.
//   step        the default SimCLR recipe's training step, data-parallel, on random images
//   allreduce   all-reduce time of float32 buffers of 1 to 64 MB
//   equivalence linear-model SGD, 20 steps on a fixed batch of 32 (weights printed)
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
  const ctx: StepContext = {
    method,
    optimizer: new torch.optim.AdamW(method.trainableParameters(), {
      lr: recipe.train.optimizer.lr,
      weightDecay: recipe.train.optimizer.weightDecay,
    }),
    augment: buildAugment(recipe.augment),
    norm: FASHION_MNIST_NORM,
    generator: new torch.Generator(rank + 1),
  };
  const local = recipe.train.batchSize / worldSize;
  const images = torch.keep(torch.rand([local, 28, 28]).mul(255).to('uint8'));
  const steps = Number(stepsArg);
  for (let i = 0; i < 2; i++) trainStep(ctx, images.clone());
  dist.barrier();
  const start = performance.now();
  for (let i = 0; i < steps; i++) trainStep(ctx, images.clone());
  dist.barrier();
  const seconds = (performance.now() - start) / 1000;
  // The gradients' all-reduce alone (it runs after backward, not overlapped): the last step's gradients again.
  const params = method.trainableParameters().filter((p) => p.grad !== null);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    dist.allReduceGradients(params);
    times.push(performance.now() - t);
  }
  out.imagesPerS = (recipe.train.batchSize * steps) / seconds;
  out.stepMs = (1000 * seconds) / steps;
  out.allreduceMs = worldSize > 1 ? median(times) : 0;
  out.gradientMb = params.reduce((a, p) => a + p.numel() * 4, 0) / 1e6;
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

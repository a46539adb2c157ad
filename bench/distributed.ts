// Data-parallel bench on c10d + Gloo, one JSON line per case:
//   {"case":"ddp-equivalence","ranks":2,"max_abs_diff"}   2 ranks x 16 vs 1 rank x 32, linear SGD, 20 steps
//   {"case":"ddp-simclr-equivalence","ranks":2,"max_loss_diff","max_abs_diff","noise_*"}   SimCLR with BatchNorm
//       through trainStep as pretrain runs it (SyncBatchNorm, global negatives, overlapped buckets): 2 ranks x 16
//       vs 1 rank x 32; noise_*: the same 1-rank run with 2 threads instead of 1 (float summation order alone)
//   {"case":"ddp-throughput","ranks","threads_per_rank","images_per_s","step_ms","allreduce_ms_per_step","gradient_mb","overlap"}
//       the default SimCLR recipe's step (batch 256 in all, global negatives) as 1 rank x 2 threads and
//       2 ranks x 1 thread: the gradient all-reduce after backward, overlapped with it (allreduce_ms_per_step
//       is then the wait left after backward), and overlapped with SyncBatchNorm (sync_bn), as pretrain runs
//   {"case":"allreduce","ranks":2,"mb","ms","ms_per_mb"}   loopback all-reduce of float32 buffers
//   {"case":"ddp-fault","ranks":2,"timeout_s","detected_s","named"}   a rank killed: how long until the other fails
//       with an error naming it (the 1.5 s roll call included)
//
//   npm run bench:distributed [-- --steps 10]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '10' } } });
const emit = (o: object): void => console.log(JSON.stringify(o));

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** Runs `ranks` workers in `mode`; resolves with each rank's JSON line (null for a rank that printed none). */
async function run(
  mode: string,
  ranks: number,
  threads: number,
  env: Record<string, string> = {},
): Promise<(Record<string, unknown> | null)[]> {
  const port = await freePort();
  return Promise.all(
    Array.from(
      { length: ranks },
      (_, rank) =>
        new Promise<Record<string, unknown> | null>((resolve) => {
          const p = spawn(process.execPath, ['--import', 'tsx', join(here, 'distributed_worker.ts'), mode, String(threads), args.steps], {
            env: {
              ...process.env,
              MASTER_ADDR: '127.0.0.1',
              MASTER_PORT: String(port),
              RANK: String(rank),
              WORLD_SIZE: String(ranks),
              ...env,
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let text = '';
          p.stdout.on('data', (d: Buffer) => (text += d.toString()));
          p.on('exit', () => {
            const line = text.trim().split('\n').at(-1);
            resolve(line ? (JSON.parse(line) as Record<string, unknown>) : null);
          });
        }),
    ),
  );
}

const [one] = await run('equivalence', 1, 1);
const two = await run('equivalence', 2, 1);
const a = one!.weights as number[];
const b = two[0]!.weights as number[];
const maxDiff = (x: number[], y: number[]): number => Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
emit({ case: 'ddp-equivalence', ranks: 2, max_abs_diff: maxDiff(a, b) });

const [single] = await run('simclr', 1, 1);
const [threaded] = await run('simclr', 1, 2);
const [pair] = await run('simclr', 2, 1);
emit({
  case: 'ddp-simclr-equivalence',
  ranks: 2,
  steps: 10,
  max_loss_diff: maxDiff(single!.losses as number[], pair!.losses as number[]),
  max_abs_diff: maxDiff(single!.weights as number[], pair!.weights as number[]),
  noise_loss_diff: maxDiff(single!.losses as number[], threaded!.losses as number[]),
  noise_abs_diff: maxDiff(single!.weights as number[], threaded!.weights as number[]),
  buckets: pair!.buckets,
});

for (const [ranks, threads, overlap, syncBn] of [
  [1, 2, false, false],
  [2, 1, false, false],
  [2, 1, true, false],
  [2, 1, true, true],
] as const) {
  const r = (await run('step', ranks, threads, { BENCH_OVERLAP: overlap ? '1' : '0', BENCH_SYNCBN: syncBn ? '1' : '0' }))[0]!;
  emit({
    case: 'ddp-throughput',
    ranks,
    threads_per_rank: threads,
    images_per_s: Math.round(r.imagesPerS as number),
    step_ms: Math.round(r.stepMs as number),
    allreduce_ms_per_step: Number((r.allreduceMs as number).toFixed(1)),
    gradient_mb: Number((r.gradientMb as number).toFixed(2)),
    overlap,
    sync_bn: syncBn,
    buckets: r.buckets,
  });
}

const rows = (await run('allreduce', 2, 1))[0]!.rows as { mb: number; ms: number }[];
for (const r of rows)
  emit({ case: 'allreduce', ranks: 2, mb: r.mb, ms: Number(r.ms.toFixed(2)), ms_per_mb: Number((r.ms / r.mb).toFixed(3)) });

const timeout = 30;
const fault = await run('fault', 2, 1, { BENCH_TIMEOUT: String(timeout) });
emit({
  case: 'ddp-fault',
  ranks: 2,
  timeout_s: timeout,
  detected_s: Number((fault[0]!.detectedS as number).toFixed(3)),
  failed: typeof fault[0]!.error === 'string',
  named: /rank 1 died or hangs/.test(String(fault[0]!.error)),
});

// A PyTorch worker process for side-by-side benchmarks: one JSON request per line on its
// stdin, one JSON answer per line on its stdout.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as torch from '@pretext/torch';

export type PyTorchEnv = 'default' | 'same';

/**
 * The environment the PyTorch side runs in. Pretext defaults to passive OpenMP waiting and a
 * malloc that keeps freed memory (packages/torch/src/native.ts). 'default': PyTorch as a user
 * runs it, with its own defaults; 'same': given the equivalent settings, which isolates the
 * engines themselves.
 */
export function pytorchEnv(mode: PyTorchEnv): NodeJS.ProcessEnv {
  if (mode !== 'default' && mode !== 'same') throw new Error(`--pytorch-env must be default or same, got '${String(mode)}'`);
  const env = { ...process.env };
  if (mode === 'same') {
    if (torch.mallocTuned)
      Object.assign(env, { MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20), MALLOC_TRIM_THRESHOLD_: String(512 * 2 ** 20) });
  } else if (torch.ompWaitPolicyDefaulted) {
    delete env.OMP_WAIT_POLICY;
  }
  return env;
}

export class PyTorchWorker {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;

  constructor(python: string, script: string, env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(python, [script], { stdio: ['pipe', 'pipe', 'inherit'], env }) as unknown as ChildProcessWithoutNullStreams;
    this.proc.on('error', (err) => {
      console.error(`cannot start ${python} (Debian's python3 with python3-torch): ${err.message}`);
      process.exit(1);
    });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  async ask<T>(cmd: object): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the PyTorch worker exited');
    const answer = JSON.parse(next.value) as T & { error?: string };
    if (answer.error) throw new Error(answer.error);
    return answer;
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/**
 * Lets the other process's idle BLAS/OpenMP threads stop spin-waiting (OpenBLAS spins for
 * up to 2^28 cycles after a call) before a side is timed: on 2 cores they would steal one.
 */
export const quiesce = (): Promise<void> => new Promise((r) => setTimeout(r, 400));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A side-by-side timing: a PyTorch script run with `shape` as its JSON argument (its last
 * stdout line is JSON holding `field`), alternated with our own measurement, `reps` times;
 * the medians of both sides.
 */
export async function alternateWithPyTorch(
  script: string,
  shape: object,
  field: string,
  ours: () => number,
  reps = 3,
): Promise<{ pytorch: number; pretext: number }> {
  const theirs: number[] = [];
  const mine: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    await quiesce();
    const out = execFileSync('/usr/bin/python3', [script, JSON.stringify(shape)], { env: pytorchEnv('same') }).toString();
    theirs.push((JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>)[field]!);
    await quiesce();
    mine.push(ours());
  }
  return { pytorch: median(theirs), pretext: median(mine) };
}

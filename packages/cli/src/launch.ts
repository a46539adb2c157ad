// pretext pretrain --nproc N: the launcher half of data-parallel pretraining, as torchrun does
// it: N copies of the same command on this machine, each told its rank through the variables
// PyTorch uses (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK). Rank 0 shows its
// output; a rank that fails stops the others and its error is printed with its rank.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { UsageError } from './errors.js';

/** Set in the workers' environment: the command runs as one rank of a data-parallel run. */
export const WORKER_FLAG = 'PRETEXT_DATA_PARALLEL';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
  });
}

export interface LaunchOptions {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  /** host:port of rank 0's store (default: this machine, a free port; required with several nodes). */
  master?: string;
}

interface Exit {
  rank: number;
  local: number;
  code: number;
  signal: NodeJS.Signals | null;
}

/** Runs `argv` (the pretext command without the launch options) as `nproc` local ranks; resolves with the exit code. */
export async function launchRanks(bin: string, argv: string[], o: LaunchOptions): Promise<number> {
  if (!(o.nproc >= 1 && o.nnodes >= 1 && o.nodeRank >= 0 && o.nodeRank < o.nnodes))
    throw new UsageError('--nproc and --nnodes must be at least 1 and --node-rank below --nnodes');
  if (o.nnodes > 1 && !o.master) throw new UsageError('several nodes need --master host:port (rank 0 hosts the store there)');
  const [host, portText] = (o.master ?? `127.0.0.1:${await freePort()}`).split(':');
  const world = o.nproc * o.nnodes;
  const children: ChildProcess[] = [];
  const stderrOf: string[] = [];
  const exits = Array.from({ length: o.nproc }, (_, local) => {
    const rank = o.nodeRank * o.nproc + local;
    const child = spawn(process.execPath, [bin, ...argv], {
      env: {
        ...process.env,
        MASTER_ADDR: host,
        MASTER_PORT: portText,
        RANK: String(rank),
        WORLD_SIZE: String(world),
        LOCAL_RANK: String(local),
        [WORKER_FLAG]: '1',
      },
      stdio: rank === 0 ? 'inherit' : ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    stderrOf[local] = '';
    child.stderr?.on('data', (d: Buffer) => (stderrOf[local] = (stderrOf[local]! + d.toString()).slice(-4000)));
    return new Promise<Exit>((resolve) =>
      child.on('exit', (code, signal) =>
        resolve({ rank, local, code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1), signal }),
      ),
    );
  });
  // The first rank to fail stops the rest; its message is the one that explains, unless a rank
  // was killed from outside: the others then fail on the lost connection, possibly first, and
  // only the launcher can name the rank that died.
  let failed: Exit | null = null;
  const stopped = new Set<ChildProcess>();
  const all = await Promise.all(
    exits.map((p) =>
      p.then((e) => {
        if (e.code !== 0 && !failed) {
          failed = e;
          for (const c of children)
            if (c.exitCode === null && c.signalCode === null) {
              stopped.add(c);
              c.kill('SIGTERM');
            }
        }
        return e;
      }),
    ),
  );
  const killed = all.find((e) => e.signal && !stopped.has(children[e.local]!));
  const f = killed ?? (failed as Exit | null);
  if (f) {
    if (f.signal) process.stderr.write(`rank ${f.rank} of ${world} was killed by ${f.signal}; the other ranks stopped\n`);
    else if (f.rank !== 0) process.stderr.write(`rank ${f.rank} of ${world} failed (exit ${f.code}):\n${stderrOf[f.local]}\n`);
    return f.code;
  }
  return 0;
}

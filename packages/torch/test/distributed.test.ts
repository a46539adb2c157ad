// c10d with Gloo across real processes: two ranks join over a TCPStore (and a FileStore) from
// torchrun's environment variables and agree on every collective's result; a rank that is
// killed or hangs makes the others fail within the timeout with a DistributedError naming it,
// not hang.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';

const worker = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'distributedWorker.ts');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface RankResult {
  code: number | null;
  signal: string | null;
  out: Record<string, unknown> | null;
  stderr: string;
}

/** Runs `size` ranks of the worker in `mode`; resolves with each rank's exit and JSON line. */
async function ranks(mode: string, size: number, env: Record<string, string>): Promise<RankResult[]> {
  const port = await freePort();
  return Promise.all(
    Array.from(
      { length: size },
      (_, r) =>
        new Promise<RankResult>((resolve) => {
          const p = spawn(process.execPath, ['--import', 'tsx', worker, mode], {
            env: { ...process.env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(r), WORLD_SIZE: String(size), ...env },
          });
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          p.on('exit', (code, signal) => {
            const line = stdout.trim().split('\n').at(-1);
            resolve({ code, signal, out: line ? (JSON.parse(line) as Record<string, unknown>) : null, stderr });
          });
        }),
    ),
  );
}

describe('distributed (c10d, Gloo)', () => {
  for (const store of ['tcp', 'file'] as const) {
    it(`two ranks over a ${store === 'tcp' ? 'TCPStore hosted by rank 0' : 'FileStore'} agree on all-reduce, broadcast, all-gather and the store`, async () => {
      const env: Record<string, string> =
        store === 'file' ? { PRETEXT_STORE_PATH: join(mkdtempSync(join(tmpdir(), 'c10d-')), 'store') } : {};
      const rs = await ranks('collectives', 2, env);
      for (const [r, res] of rs.entries()) {
        assert.equal(res.code, 0, res.stderr);
        assert.deepEqual(res.out, {
          rank: r,
          worldSize: 2,
          localRank: r,
          sum: [3, 30],
          avg: [1.5, 2],
          max: [5],
          broadcast: [42, 1],
          gathered: [
            [0, 0.5],
            [1, 1.5],
          ],
          async: [3000, [30, 30, 30]],
          store: 'run-7',
        });
      }
    });
  }

  it('data-parallel SGD on 2 ranks x 16 examples matches 1 rank x 32 within 1e-5 over 20 steps', async () => {
    const [one] = await ranks('ddp', 1, {});
    const two = await ranks('ddp', 2, {});
    const close = (a: number[], b: number[], what: string): void =>
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-5, `${what}[${i}]: ${v} vs ${b[i]}`));
    for (const res of [one!, ...two]) assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(two[0]!.out!.weight, two[1]!.out!.weight, 'the ranks hold the same weights');
    for (const key of ['losses', 'weight', 'bias']) close(two[0]!.out![key] as number[], one!.out![key] as number[], key);
    const losses = one!.out!.losses as number[];
    assert.ok(losses[19]! < losses[0]!, 'training lowers the loss');
  });

  it('SyncBatchNorm, global negatives and the overlapped reducer: 2 ranks x 16 pairs match 1 rank x 32 within 1e-4 over 20 steps', async () => {
    const [one] = await ranks('sync', 1, {});
    const two = await ranks('sync', 2, {});
    for (const res of [one!, ...two]) assert.equal(res.code, 0, res.stderr);
    assert.equal(two[0]!.out!.synced, 2, 'both BatchNorm layers converted');
    assert.ok((two[0]!.out!.buckets as number) >= 3, `several buckets in flight (${String(two[0]!.out!.buckets)})`);
    assert.deepEqual(two[0]!.out!.state, two[1]!.out!.state, 'the ranks hold the same weights and statistics');
    for (const key of ['losses', 'state']) {
      const [x, y] = [two[0]!.out![key] as number[], one!.out![key] as number[]];
      assert.equal(x.length, y.length);
      const worst = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
      assert.ok(worst <= 1e-4, `${key}: max difference ${worst}`);
    }
    const losses = one!.out!.losses as number[];
    assert.ok(losses[19]! < losses[0]! - 0.1, `training lowers the loss (${losses[0]} -> ${losses[19]})`);
    assert.match(String(two[1]!.out!.mismatch), /same number of rows on every rank \(rank 1 has 2, others between 1 and 2\)/);
  });

  it('a rank killed mid-run makes the others fail with a DistributedError naming it, within the timeout', async () => {
    const [zero, one, two] = await ranks('die', 3, { PRETEXT_TEST_TIMEOUT: '5' });
    assert.equal(one!.signal, 'SIGKILL');
    for (const [r, survivor] of [
      [0, zero],
      [2, two],
    ] as const) {
      assert.equal(survivor!.code, 0, survivor!.stderr);
      assert.equal(survivor!.out!.name, 'DistributedError');
      // The survivors answer each other's roll call; only the killed rank is named.
      assert.match(String(survivor!.out!.error), new RegExp(`allReduce\\(sum\\) failed on rank ${r} of 3 .*: rank 1 died or hangs`));
      assert.ok((survivor!.out!.seconds as number) < 5, `detected after ${String(survivor!.out!.seconds)} s`);
    }
    // Rank 0 hosts the store: when it dies, the others say so.
    const [, other] = await ranks('die', 2, { PRETEXT_TEST_TIMEOUT: '5', PRETEXT_TEST_VICTIM: '0' });
    assert.equal(other!.out!.name, 'DistributedError');
    assert.match(String(other!.out!.error), /rank 0, which hosts the store, is unreachable/);
    assert.ok((other!.out!.seconds as number) < 5.5, `detected after ${String(other!.out!.seconds)} s`);
  });

  it('a rank that hangs makes the other fail at the timeout', async () => {
    const [zero] = await ranks('hang', 2, { PRETEXT_TEST_TIMEOUT: '2' });
    assert.equal(zero!.out!.name, 'DistributedError');
    assert.match(String(zero!.out!.error), /timeout 2 s.*: rank 1 died or hangs/);
    // The timeout, then the roll call (1.5 s) that rank 1 never answers.
    const s = zero!.out!.seconds as number;
    assert.ok(s >= 3.4 && s < 5, `failed after ${s} s`);
  });

  it('refuses collectives before init and a rank outside the world', () => {
    assert.throws(() => torch.distributed.allReduce(torch.ones([1])), /not initialized/);
    assert.throws(() => torch.distributed.init({ rank: 2, worldSize: 2 }), /rank 2 is outside a world of 2/);
    assert.equal(torch.distributed.isInitialized(), false);
  });
});

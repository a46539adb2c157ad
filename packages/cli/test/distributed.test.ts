// pretext pretrain --nproc: two ranks of the same recipe on this machine (c10d + Gloo), rank 0
// writing the run folder; a recipe whose batch does not divide among the ranks fails cleanly;
// a rank killed mid-run stops the run with its name, and the run resumes to the weights of an
// uninterrupted one (also on another number of ranks); two "machines" (network namespaces
// joined by a veth pair, made by the test) train one run over the wire.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { bin, runPretext, tinyImageRecipe } from './fixtures/cli.js';

/** Runs `ip` (iproute2); throws with its message on failure. */
function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/** The bytes interface `dev` in network namespace `ns` has received. */
function receivedBytes(ns: string, dev: string): number {
  const r = spawnSync('ip', ['-n', ns, '-s', '-j', 'link', 'show', dev], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { stats64: { rx: { bytes: number } } }[])[0]!.stats64.rx.bytes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid of the launcher's child with RANK=`rank` (Linux /proc). */
function rankPid(launcher: number, rank: number): number | null {
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(launcher)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => p > 0);
  for (const pid of children) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

const encoderWeights = (run: string): Map<string, Float32Array> =>
  torch.tidy(() => {
    const { tensors } = torch.safetensors.loadFile(join(run, 'encoder.safetensors'));
    return new Map([...tensors].map(([k, t]) => [k, Float32Array.from(t.float().data() as Float32Array)]));
  });

const metricSteps = (run: string): number[] =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);

describe('data-parallel pretraining', () => {
  it('trains on 2 ranks with the recipe batch split between them, and refuses a batch that does not divide', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-ddp-'));
    const pretext = (...args: string[]): ReturnType<typeof runPretext> => runPretext({}, ...args);
    writeFileSync(join(dir, 'r.yaml'), tinyImageRecipe('tiny-ddp', '{ width: 4, depth: 2, pool: flatten, readoutNorm: true }'));
    const run = join(dir, 'run');
    const r = pretext('pretrain', join(dir, 'r.yaml'), '--out', run, '--nproc', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { steps: number; knn: number };
    assert.equal(out.steps, 8, '512 images in global batches of 64 (32 per rank): 8 steps');
    assert.ok(out.knn > 0.5, `kNN ${out.knn}`);
    for (const f of ['encoder.safetensors', 'encoder.json', 'metrics.jsonl', 'scores.json']) assert.ok(existsSync(join(run, f)), f);
    const final = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { final?: boolean; step: number });
    assert.equal(final.filter((l) => l.final).length, 1, 'one rank writes the metrics');

    writeFileSync(join(dir, 'odd.yaml'), tinyImageRecipe('odd', '{ width: 4, depth: 2 }').replace('batchSize: 64', 'batchSize: 63'));
    const odd = pretext('pretrain', join(dir, 'odd.yaml'), '--out', join(dir, 'odd'), '--nproc', '2');
    assert.notEqual(odd.code, 0);
    assert.match(odd.stderr, /batch size 63 does not divide among 2 ranks/);
    assert.equal(pretext('pretrain', join(dir, 'r.yaml'), '--nnodes', '2').code, 2, 'several nodes need --master');
  });

  it('a rank killed with SIGKILL mid-run is named, and the run resumes to the weights of an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-ddp-kill-'));
    const recipe = join(dir, 'r.yaml');
    // 512 images, global batch 64: 8 steps an epoch, 48 in all, a checkpoint every 4.
    writeFileSync(
      recipe,
      tinyImageRecipe('kill', '{ width: 8, depth: 2, pool: flatten, readoutNorm: true }')
        .replace('epochs: 1', 'epochs: 6\n  checkpointEverySteps: 4')
        .replace('evaluation: { linear: false }', 'evaluation: { knn: false, linear: false }'),
    );
    const whole = join(dir, 'whole');
    assert.equal(runPretext({}, 'pretrain', recipe, '--out', whole, '--nproc', '2', '--json').code, 0);

    const cut = join(dir, 'cut');
    const launcher = spawn(process.execPath, [bin, 'pretrain', recipe, '--out', cut, '--nproc', '2', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    launcher.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => launcher.on('exit', (code) => resolve(code ?? -1)));
    while (!existsSync(join(cut, 'checkpoint', 'state.json'))) await sleep(10);
    const victim = rankPid(launcher.pid!, 1);
    assert.ok(victim, 'rank 1 is running');
    const killedAt = performance.now();
    process.kill(victim, 'SIGKILL');
    const code = await exited;
    const stoppedIn = (performance.now() - killedAt) / 1000;
    assert.notEqual(code, 0);
    assert.match(stderr, /rank 1 of 2 was killed by SIGKILL/);
    assert.ok(stoppedIn < 30, `the run stopped ${stoppedIn.toFixed(1)} s after the kill (collective timeout 60 s)`);
    const at = (JSON.parse(readFileSync(join(cut, 'checkpoint', 'state.json'), 'utf8')) as { position: { step: number } }).position.step;
    assert.ok(at >= 4 && at < 48, `checkpoint at step ${at}`);
    assert.deepEqual(readdirSync(join(cut, 'checkpoint')).sort(), ['state.json', 'state.safetensors'], 'no half-written files');
    // The same checkpoint, to resume on one rank afterwards.
    const cutOne = join(dir, 'cut-one');
    cpSync(cut, cutOne, { recursive: true });

    const resumed = runPretext({}, 'pretrain', recipe, '--out', cut, '--nproc', '2', '--resume', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout.trim().split('\n').at(-1)!) as { steps: number }).steps, 48);
    const a = encoderWeights(whole);
    const b = encoderWeights(cut);
    assert.deepEqual([...b.keys()], [...a.keys()]);
    let diff = 0;
    for (const [k, w] of a) w.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - b.get(k)![i]!))));
    assert.ok(diff <= 1e-6, `resumed vs uninterrupted: max weight difference ${diff}`);

    // Another number of ranks: one process continues the two ranks' run from the same step.
    const one = runPretext({}, 'pretrain', recipe, '--out', cutOne, '--resume', '--json');
    assert.equal(one.code, 0, one.stderr);
    assert.equal((JSON.parse(one.stdout.trim().split('\n').at(-1)!) as { steps: number }).steps, 48);
    const after = metricSteps(cutOne).filter((st) => st > at);
    assert.ok(after.length > 0 && after.at(-1) === 48, `steps after the checkpoint: ${after.join(', ')}`);
  });

  // Network namespaces need root (CI runs as root); elsewhere the test says why it cannot run.
  const root = process.getuid?.() === 0;
  it(
    'two machines, as two network namespaces joined by a veth pair, train one run over it',
    { skip: root ? false : 'needs root for ip netns' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-ddp-netns-'));
      const recipe = join(dir, 'r.yaml');
      writeFileSync(recipe, tinyImageRecipe('two-nodes', '{ width: 4, depth: 2, pool: flatten, readoutNorm: true }'));
      const tag = `ptx${process.pid % 100000}`;
      const net = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
      const nodes = [0, 1].map((i) => ({ ns: `${tag}n${i}`, dev: `${tag}v${i}`, addr: `${net}.${i + 1}` }));
      try {
        for (const n of nodes) ip('netns', 'add', n.ns);
        ip('link', 'add', nodes[0]!.dev, 'type', 'veth', 'peer', 'name', nodes[1]!.dev);
        for (const n of nodes) {
          ip('link', 'set', n.dev, 'netns', n.ns);
          ip('-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', n.dev);
          ip('-n', n.ns, 'link', 'set', n.dev, 'up');
          ip('-n', n.ns, 'link', 'set', 'lo', 'up');
        }
        const master = `${nodes[0]!.addr}:29517`;
        const runs = nodes.map((n, i) => {
          const child = spawn(
            'ip',
            [
              'netns',
              'exec',
              n.ns,
              process.execPath,
              bin,
              'pretrain',
              recipe,
              '--out',
              join(dir, `node${i}`),
              '--json',
              '--nproc',
              '1',
              '--nnodes',
              '2',
              '--node-rank',
              String(i),
              '--master',
              master,
            ],
            { env: { ...process.env, GLOO_SOCKET_IFNAME: n.dev }, stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          // Bounded: a run that does not finish in two minutes is stopped and fails the test.
          const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
          return new Promise<{ code: number; out: string; err: string }>((resolve) =>
            child.on('exit', (code) => {
              clearTimeout(timer);
              resolve({ code: code ?? -1, out, err });
            }),
          );
        });
        const [first, second] = await Promise.all(runs);
        assert.equal(first!.code, 0, first!.err);
        assert.equal(second!.code, 0, second!.err);
        const result = JSON.parse(first!.out.trim().split('\n').at(-1)!) as { steps: number; knn: number };
        assert.equal(result.steps, 8, '512 images in global batches of 64, 32 on each machine');
        assert.ok(existsSync(join(dir, 'node0', 'encoder.safetensors')));
        // The gradients crossed the veth: 8 steps of all-reduced gradients, each way.
        const gradientBytes = [...encoderWeights(join(dir, 'node0')).values()].reduce((a, w) => a + 4 * w.length, 0);
        for (const n of nodes) {
          const rx = receivedBytes(n.ns, n.dev);
          assert.ok(
            rx > 8 * gradientBytes,
            `${n.dev} received ${rx} bytes, 8 steps of the encoder's gradients alone are ${8 * gradientBytes}`,
          );
        }
      } finally {
        for (const n of nodes) spawnSync('ip', ['netns', 'del', n.ns]);
      }
    },
  );
});

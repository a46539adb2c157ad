import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '@pretext/torch';
import { pretrain, SSLMethod, SmallCnn, TrainingDiverged, type StepResult } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'fixtures', 'train-small.ts');

function runChild(outDir: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, outDir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function finalWeights(dir: string): Map<string, torch.Tensor> {
  return torch.safetensors.loadFile(join(dir, 'final.safetensors')).tensors;
}

async function killAfterCheckpoint(outDir: string, atLeastStep: number, ...args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, outDir, ...args], { stdio: 'ignore' });
  const state = join(outDir, 'checkpoint', 'state.json');
  let killedAt = -1;
  while (child.exitCode === null) {
    if (existsSync(state)) {
      const step = (JSON.parse(readFileSync(state, 'utf8')) as { position: { step: number } }).position.step;
      if (step >= atLeastStep) {
        child.kill('SIGKILL');
        killedAt = step;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => child.once('exit', r));
  return killedAt;
}

describe('pretraining loop', () => {
  for (const method of ['simclr', 'moco']) {
    it(`${method}: a run killed with SIGKILL mid-epoch and resumed ends with the same weights`, async () => {
      const reference = mkdtempSync(join(tmpdir(), 'ref-'));
      runChild(reference, 'fresh', method);
      const interrupted = mkdtempSync(join(tmpdir(), 'kill-'));
      const killedAt = await killAfterCheckpoint(interrupted, 21, 'fresh', method);
      assert.ok(killedAt >= 21, 'the run was killed before it finished');
      assert.ok(!existsSync(join(interrupted, 'final.safetensors')));
      const position = (JSON.parse(readFileSync(join(interrupted, 'checkpoint', 'state.json'), 'utf8')) as { position: { batch: number } })
        .position;
      assert.ok(position.batch > 0 && position.batch < 10, `checkpoint mid-epoch (batch ${position.batch} of 10)`);
      runChild(interrupted, 'resume', method);
      const a = finalWeights(reference);
      const b = finalWeights(interrupted);
      assert.deepEqual([...b.keys()], [...a.keys()]);
      for (const [k, t] of a) assert.ok(t.equal(b.get(k)!), `${k} differs after resume`);
      const metrics = readFileSync(join(interrupted, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number>);
      assert.ok(
        metrics.some((m) => m.epoch === 10 && m.step === 100),
        'the resumed run finished epoch 10 at step 100',
      );
    });
  }

  it('writes metrics with loss, learning rate and embedding spread', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
    runChild(dir);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>);
    const steps = lines.filter((l) => l.lr !== undefined);
    assert.equal(steps.length, 20);
    assert.ok(steps.every((l) => Number.isFinite(l.loss) && l.embedding_std! > 0.1));
    const final = lines.at(-1) as Record<string, unknown>;
    assert.deepEqual([final.final, final.step, final.stopped], [true, 100, 'epochs']);
    const epochs = lines.filter((l) => l.samples_per_s !== undefined);
    assert.deepEqual(
      epochs.map((l) => l.epoch),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.ok(steps.at(-1)!.loss! < steps[0]!.loss!, 'the loss falls');
  });

  class Scripted extends SSLMethod {
    readonly name = 'scripted';
    constructor(private readonly behaviour: (step: number, x: torch.Tensor) => StepResult) {
      super(() => new SmallCnn({ width: 2, depth: 1 }));
    }
    private calls = 0;
    step([x]: torch.Tensor[]): StepResult {
      return this.behaviour(++this.calls, this.backbone.forward(x!));
    }
  }

  const smallRun = (method: SSLMethod, outDir: string): ReturnType<typeof pretrain> =>
    pretrain({
      method,
      images: torch.randint(0, 256, [128, 28, 28], { dtype: 'uint8' }),
      augment: (x) => x,
      norm: { mean: 0.5, std: 0.3 },
      outDir,
      quiet: true,
      config: {
        epochs: 4,
        batchSize: 16,
        seed: 0,
        optimizer: { name: 'sgd', lr: 0.01 },
        schedule: { name: 'constant' },
        checkpointEverySteps: 5,
        logEverySteps: 2,
      },
    });

  it('stops on a NaN loss, naming the step, and keeps the last good checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nan-'));
    const m = new Scripted((step, f) => ({ loss: step === 12 ? f.sum().mul(NaN) : f.square().mean(), logs: {}, embedding: f }));
    await assert.rejects(
      () => smallRun(m, dir),
      (e: unknown) =>
        e instanceof TrainingDiverged &&
        e.step === 12 &&
        /loss became NaN at step 12 \(epoch 2\); the last good checkpoint is kept/.test(e.message),
    );
    const saved = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')) as { position: { step: number } };
    assert.equal(saved.position.step, 10);
  });

  it('warns when the embeddings collapse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'collapse-'));
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const constant = new Scripted((_s, f) => ({
      loss: f.square().mean(),
      logs: {},
      embedding: torch.ones([f.size(0), 8]).add(f.sum().mul(0)),
    }));
    const r = await smallRun(constant, dir);
    await new Promise((res) => setImmediate(res));
    process.off('warning', onWarning);
    assert.ok(r.embeddingStd < 0.01);
    assert.ok(warnings.some((w) => /representation collapse suspected at step 2/.test(w.message)));
    assert.match(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'), /"warning":"collapse"/);
  });
});

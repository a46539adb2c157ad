// pretext pretrain --nproc: two ranks of the same recipe on this machine (c10d + Gloo), rank 0
// writing the run folder; a recipe whose batch does not divide among the ranks fails cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPretext, tinyImageRecipe } from './fixtures/cli.js';

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
});

// What a run folder publishes to a hub: the card, the file list, numeric metrics and lineage.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { preparePublication } from '../src/index.js';
import { encoderMeta } from './fixtures/runFolder.js';

describe('publication of a run', () => {
  it('writes a Hugging Face-style card and lists exactly the files a version holds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'publish-'));
    writeFileSync(
      join(dir, 'encoder.json'),
      JSON.stringify(encoderMeta({ dataFingerprint: `sha256:${'1'.repeat(64)}`, createdAt: '2026-12-04T00:00:00.000Z' })),
    );
    writeFileSync(join(dir, 'scores.json'), JSON.stringify({ dataset: 'fashion-mnist', split: 'test', knn: 0.8734, linear: 0.9125 }));
    for (const f of ['encoder.safetensors', 'metrics.jsonl', 'loss.png', 'notes.txt', 'checkpoint.bin', 'eval-fashion-mnist.json'])
      writeFileSync(join(dir, f), 'x');
    const pub = preparePublication(dir, 'vision/simclr', { license: 'mit', codeVersion: 'pretext 0.1.0' });
    assert.deepEqual(pub.files, ['card.md', 'encoder.json', 'encoder.safetensors', 'loss.png', 'metrics.jsonl', 'scores.json']);
    assert.equal(readFileSync(join(dir, 'card.md'), 'utf8'), pub.card);
    const front = parseYaml(/^---\n([\s\S]*?)\n---/.exec(pub.card)![1]!) as {
      license: string;
      library_name: string;
      'model-index': { results: { metrics: { name: string; value: number }[] }[] }[];
    };
    assert.equal(front.license, 'mit');
    assert.equal(front.library_name, 'pretext');
    assert.deepEqual(
      front['model-index'][0]!.results[0]!.metrics.map((m) => m.value),
      [87.34, 91.25],
    );
    assert.deepEqual(pub.metrics, { knn: 0.8734, linear: 0.9125, trainSeconds: 90, trainSteps: 200 }, 'numbers only');
    assert.deepEqual(pub.lineage, {
      recipe: 'simclr-fashion-mnist',
      method: 'simclr',
      dataset: 'fashion-mnist',
      dataFingerprint: `sha256:${'1'.repeat(64)}`,
      codeVersion: 'pretext 0.1.0',
      parentRun: basename(dir),
      createdAt: '2026-12-04T00:00:00.000Z',
    });
    assert.deepEqual(pub.model, { method: 'simclr', modality: 'image', tags: ['self-supervised', 'simclr', 'small-cnn'] });
  });
});

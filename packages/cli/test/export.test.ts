// pretext export and classifier publication, as a user runs them: an encoder and a fine-tuned
// classifier exported to ONNX and checked, the classifier pushed with lineage.baseModel
// naming its encoder's version, pulled by another team and exported from its hub reference.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxSummary } from '@pretext/ssl';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { postJson, runPretext, serveHub, servePretext, tinyImageRecipe } from './fixtures/cli.js';

/** The curl line the README shows for pretext serve. */
function readmeCurl(): string {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith('curl -s http://127.0.0.1:8090/v1/embeddings'));
  assert.ok(line, 'the README shows a curl line for the service');
  return line;
}

const recipe = tinyImageRecipe('tiny-export', '{ width: 4, depth: 2, pool: flatten, readoutNorm: true }');

interface Exported {
  kind: string;
  family: string;
  model: string;
  outputs: { name: string; shape: (number | string)[] }[];
  parity: { inputs: number; maxAbsDiff: number; probabilitiesMaxAbsDiff?: number };
}

describe('pretext export', () => {
  it('exports an encoder and its fine-tuned classifier, and publishes the classifier with its base model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-export-'));
    const env = { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') };
    const pretext = (...args: string[]): ReturnType<typeof runPretext> => runPretext(env, ...args);
    writeFileSync(join(dir, 'r.yaml'), recipe);
    const run = join(dir, 'run');
    assert.equal(pretext('pretrain', join(dir, 'r.yaml'), '--out', run, '--json').code, 0);

    const ex = pretext('export', run, '--format', 'onnx', '--json');
    assert.equal(ex.code, 0, ex.stderr);
    const e = JSON.parse(ex.stdout) as Exported;
    assert.deepEqual([e.kind, e.family, e.model], ['encoder', 'small-cnn', join(run, 'onnx', 'model.onnx')]);
    assert.deepEqual(e.outputs[0], { name: 'embedding', type: 'float32', shape: ['batch', 392] });
    assert.ok(e.parity.inputs === 100 && e.parity.maxAbsDiff <= 1e-4, JSON.stringify(e.parity));
    const human = pretext('export', run, '--out', join(dir, 'enc-onnx'), '--check', '10');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /input {3}pixels float32 \[batch, 1, 28, 28\]/);
    assert.match(human.stdout, /onnxruntime vs Pretext on 10 random inputs: max abs difference \d\.\d\de-\d+/);

    assert.equal(pretext('export', run, '--format', 'tflite').code, 2);
    const notRun = pretext('export', join(dir, 'config'));
    assert.equal(notRun.code, 1);
    assert.match(notRun.stderr, /neither a pretraining run|no encoder\.json/);

    // The README's curl line against `pretext serve`, then a classifier's predictions.
    const png = await sharp(Buffer.from(Uint8Array.from({ length: 784 }, (_, i) => (i * 13) % 256)), {
      raw: { width: 28, height: 28, channels: 1 },
    })
      .png()
      .toFile(join(dir, 'shoe.png'));
    assert.equal(png.width, 28);
    const curl = readmeCurl();
    const served = await servePretext(env, run);
    try {
      const r = spawnSync('bash', ['-c', curl.replace('http://127.0.0.1:8090', served.url)], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const body = JSON.parse(r.stdout) as { dim: number; embeddings: number[][] };
      assert.equal(body.dim, 392);
      assert.ok(body.embeddings.length === 1 && body.embeddings[0]!.length === 392 && body.embeddings[0]!.every(Number.isFinite));
    } finally {
      const stopped = await served.stop();
      assert.equal(stopped.code, 0);
      assert.match(stopped.log, /SIGTERM: finishing requests in flight\nstopped/);
    }

    const clf = join(dir, 'clf');
    const ft = pretext('finetune', '--encoder', run, '--labels', '10/class', '--mode', 'linear', '--out', clf, '--json');
    assert.equal(ft.code, 0, ft.stderr);
    const ce = pretext('export', clf, '--json');
    assert.equal(ce.code, 0, ce.stderr);
    const c = JSON.parse(ce.stdout) as Exported;
    assert.equal(c.kind, 'classifier');
    assert.deepEqual(
      c.outputs.map((o) => [o.name, o.shape[1]]),
      [
        ['embedding', 392],
        ['probabilities', 10],
      ],
    );
    assert.ok(c.parity.probabilitiesMaxAbsDiff! <= 1e-4);
    const meta = readOnnxSummary(readFileSync(c.model)).metadata;
    const clfServed = await servePretext(env, clf, '--runtime', 'onnxruntime');
    try {
      const image = readFileSync(join(dir, 'shoe.png')).toString('base64');
      const p = await postJson<{ classes: string[]; predictions: { label: string; probabilities: number[] }[] }>(
        `${clfServed.url}/v1/predict`,
        { images: [image, image] },
      );
      assert.equal(p.status, 200);
      assert.equal(p.body.classes.length, 10);
      const [first] = p.body.predictions;
      assert.ok(Math.abs(first!.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      assert.equal(first!.label, p.body.classes[first!.probabilities.indexOf(Math.max(...first!.probabilities))]);
    } finally {
      await clfServed.stop();
    }
    assert.equal(JSON.parse(meta['pretext.classes']!)[1], 'Trouser');
    assert.equal(meta['pretext.method'], 'simclr+finetune-linear');

    const hub = await serveHub(join(dir, 'hub'), env);
    try {
      assert.equal(pretext('login', '--hub', hub.url, '--token', hub.token).code, 0);
      assert.equal(pretext('hub', 'team', 'create', 'vision').code, 0);
      assert.equal(pretext('push', run, 'vision/tiny', '--json').code, 0);
      assert.deepEqual(JSON.parse(readFileSync(join(run, 'pushed.json'), 'utf8')).version, 1);
      const pushed = pretext('push', clf, 'vision/tiny-classifier', '--json');
      assert.equal(pushed.code, 0, pushed.stderr);
      const card = readFileSync(join(clf, 'card.md'), 'utf8');
      assert.match(card, /base_model: vision\/tiny@v1/);
      assert.match(card, /pipeline_tag: image-classification/);
      const version = (await (
        await fetch(`${hub.url}/api/models/vision/tiny-classifier/versions/latest`, { headers: { authorization: `Bearer ${hub.token}` } })
      ).json()) as { lineage: { baseModel: string; kind: string }; files: { path: string }[] };
      assert.deepEqual([version.lineage.baseModel, version.lineage.kind], ['vision/tiny@v1', 'classifier']);
      assert.deepEqual(
        version.files.map((f) => f.path),
        ['card.md', 'classifier.safetensors', 'finetune.json', 'metrics.jsonl', 'scores.json'],
      );

      // Another team pulls the classifier by reference and exports it: the hub version is in the graph.
      const out = join(dir, 'theirs');
      const fromHub = pretext('export', 'vision/tiny-classifier@v1', '--out', out, '--check', '20', '--json');
      assert.equal(fromHub.code, 0, fromHub.stderr);
      const theirs = readOnnxSummary(readFileSync(join(out, 'model.onnx'))).metadata;
      assert.deepEqual([theirs['pretext.hub_model'], theirs['pretext.hub_version']], ['vision/tiny-classifier', '1']);
      assert.ok(existsSync(join(out, 'export.json')));
    } finally {
      hub.server.kill('SIGTERM');
    }
  });
});

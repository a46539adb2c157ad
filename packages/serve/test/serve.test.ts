// The embedding service: the batcher's rules, then a real encoder behind the HTTP API on both
// runtimes: embeddings equal Pretext's own, bad input is a 400 naming the field, a full queue
// is a 503 with Retry-After, metrics and the OpenAPI document are served, and closing
// finishes the requests in flight.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as torch from '@pretext/torch';
import { fitFeatures, type Table } from '@pretext/data';
import { buildEncoder, extractFeatures, tabularEncoderSpec, type EncoderMeta, type EncoderSpec } from '@pretext/ssl';
import { createEmbeddingService, loadServedModel, MicroBatcher, QueueFullError, type Item, type ServedModel } from '../src/index.js';

const item = (v: number): Item => ({ data: Float32Array.of(v), dims: [1] });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A batcher over a stand-in model that doubles its inputs and records each pass's size. */
function doubling(o: Partial<ConstructorParameters<typeof MicroBatcher>[1]> = {}, delayMs = 0): { b: MicroBatcher; passes: number[] } {
  const passes: number[] = [];
  const b = new MicroBatcher(
    async (items) => {
      passes.push(items.length);
      if (delayMs) await sleep(delayMs);
      if (items.some((i) => i.data[0] === -1)) throw new Error('poisoned input');
      return items.map((i) => Float32Array.of(2 * (i.data[0] as number)));
    },
    { maxBatch: 4, maxWaitMs: 20, maxQueue: 8, batching: true, ...o },
  );
  return { b, passes };
}

describe('micro-batcher', () => {
  it('shares passes between concurrent requests, up to maxBatch items, and returns each request its own results in order', async () => {
    const { b, passes } = doubling();
    const r = await Promise.all([b.submit([item(1), item(2)]), b.submit([item(3)]), b.submit([item(4), item(5), item(6)])]);
    assert.deepEqual(
      r.map((x) => x.map((f) => f[0])),
      [[2, 4], [6], [8, 10, 12]],
    );
    assert.deepEqual(passes, [4, 2], 'six items in passes of at most four');
  });

  it('with no wait starts a pass as soon as the model is idle; what arrives meanwhile forms the next', async () => {
    const { b, passes } = doubling({ maxWaitMs: 0 }, 20);
    await Promise.all([b.submit([item(1), item(2)]), b.submit([item(3)]), b.submit([item(4), item(5), item(6)])]);
    assert.deepEqual(passes, [2, 4]);
  });

  it('without batching runs each request alone', async () => {
    const { b, passes } = doubling({ batching: false });
    await Promise.all([b.submit([item(1), item(2)]), b.submit([item(3)]), b.submit([item(4)])]);
    assert.deepEqual(passes, [2, 1, 1]);
  });

  it('refuses what overflows the queue, and a failed pass fails only its own requests', async () => {
    const { b } = doubling({ maxQueue: 4 }, 30);
    const first = b.submit([item(1), item(2), item(3), item(4)]); // runs at once (a full batch)
    const second = b.submit([item(5), item(6), item(7), item(8)]); // waits: the queue is full
    await assert.rejects(b.submit([item(9)]), QueueFullError);
    assert.equal(b.depth, 4);
    assert.deepEqual(
      [...(await first), ...(await second)].map((f) => f[0]),
      [2, 4, 6, 8, 10, 12, 14, 16],
    );
    const { b: solo } = doubling({ batching: false });
    const [bad, good] = await Promise.allSettled([solo.submit([item(-1)]), solo.submit([item(5)])]);
    assert.equal(bad.status, 'rejected');
    assert.deepEqual(good.status === 'fulfilled' && good.value[0]![0], 10);
    await solo.drained();
  });
});

/** A run folder with a random small CNN (and trained-looking BatchNorm statistics). */
function imageRun(): { dir: string; meta: EncoderMeta } {
  const dir = mkdtempSync(join(tmpdir(), 'serve-run-'));
  const spec: EncoderSpec = { type: 'small-cnn', config: { width: 4, depth: 2, readoutNorm: true } };
  torch.manualSeed(1);
  const e = buildEncoder(spec);
  torch.noGrad(() => e.forward(torch.rand([16, 1, 28, 28])).dispose());
  torch.safetensors.saveFile(join(dir, 'encoder.safetensors'), e.stateDict(), { format: 'pt' });
  const meta: EncoderMeta = {
    format: 'pretext-encoder/1',
    modality: 'image',
    encoder: spec,
    outDim: e.outDim,
    inputNorm: { mean: 0.3, std: 0.35 },
    inputShape: [1, 28, 28],
    method: 'simclr',
    recipe: 'test',
    dataset: 'test',
    dataFingerprint: 'sha256:0',
    trainSteps: 1,
    trainSeconds: 1,
    createdAt: '2026-12-05T00:00:00.000Z',
  };
  writeFileSync(join(dir, 'encoder.json'), JSON.stringify(meta));
  return { dir, meta };
}

const post = (path: string, payload: unknown) => ({ method: 'POST' as const, url: path, payload: payload as Record<string, unknown> });

describe('embedding service', () => {
  for (const runtime of ['libtorch', 'onnxruntime'] as const) {
    it(`${runtime}: embeddings of pixel arrays and of PNGs equal Pretext's own`, async () => {
      const { dir, meta } = imageRun();
      const model = await loadServedModel(dir, runtime);
      const s = await createEmbeddingService(model);
      try {
        const bytes = Uint8Array.from({ length: 2 * 784 }, (_, i) => (i * 37) % 256);
        const pixels = [Array.from(bytes.subarray(0, 784), (v) => v / 255), Array.from(bytes.subarray(784), (v) => v / 255)];
        const png = await sharp(Buffer.from(bytes.subarray(784)), { raw: { width: 28, height: 28, channels: 1 } })
          .png()
          .toBuffer();
        const r = await s.app.inject(post('/v1/embeddings', { images: [...pixels, `data:image/png;base64,${png.toString('base64')}`] }));
        assert.equal(r.statusCode, 200, r.body);
        const got = r.json<{ dim: number; embeddings: number[][] }>();
        assert.equal(got.embeddings.length, 3);
        assert.equal(got.dim, model.outDim);
        const { encoder } = await import('@pretext/ssl').then((m) => m.loadEncoder(dir));
        const want = torch.tidy(
          () => extractFeatures(encoder, torch.tensor(bytes, { shape: [2, 1, 28, 28] }), meta.inputNorm).data() as Float32Array,
        );
        for (let i = 0; i < 2; i++)
          for (let k = 0; k < got.dim; k++)
            assert.ok(Math.abs(got.embeddings[i]![k]! - want[i * got.dim + k]!) < 1e-4, `input ${i}, feature ${k}`);
        assert.deepEqual(got.embeddings[2], got.embeddings[1], 'the PNG decodes to the same pixels');
        const packed = await s.app.inject(post('/v1/embeddings', { images: pixels.slice(0, 1), encoding: 'base64' }));
        const b64 = packed.json<{ embeddings: string[] }>().embeddings[0]!;
        const bytes32 = Buffer.from(b64, 'base64');
        const unpacked = new Float32Array(bytes32.buffer.slice(bytes32.byteOffset, bytes32.byteOffset + bytes32.length));
        assert.equal(unpacked.length, got.dim);
        // (a batch of one here, of three before: the engine may sum in another order)
        unpacked.forEach((v, k) => assert.ok(Math.abs(v - got.embeddings[0]![k]!) < 1e-5, `base64 value ${k}: ${v}`));
      } finally {
        await s.close();
      }
    });
  }

  it('answers bad input with a 400 naming the field, never crashing', async () => {
    const { dir } = imageRun();
    const s = await createEmbeddingService(await loadServedModel(dir, 'libtorch'), { maxInputs: 4, bodyLimit: 16 * 1024 });
    try {
      const cases: [unknown, string][] = [
        [{ images: [[0.1, 0.2]] }, 'images[0]'],
        [{ images: [Array(784).fill(0), 'bm90IGFuIGltYWdl'] }, 'images[1]'],
        [{ images: [Array(784).fill('x')] }, 'images[0]'],
        [{ rows: [{ a: 1 }] }, 'body'],
        [{ images: [] }, 'images'],
        [{ images: Array(5).fill(Array(784).fill(0)) }, 'images'],
      ];
      for (const [body, field] of cases) {
        const r = await s.app.inject(post('/v1/embeddings', body));
        assert.equal(r.statusCode, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.body}`);
        assert.equal(r.json<{ field: string }>().field, field, r.body);
      }
      const broken = await s.app.inject({
        method: 'POST',
        url: '/v1/embeddings',
        payload: '{"images": [',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(broken.statusCode, 400);
      assert.match(broken.json<{ error: string }>().error, /not valid JSON/);
      const big = await s.app.inject(
        post('/v1/embeddings', { images: [Array(784).fill(0.123456789)].concat(Array(3).fill(Array(784).fill(0.123456789))) }),
      );
      assert.equal(big.statusCode, 413);
      assert.equal((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still serving');
    } finally {
      await s.close();
    }
  });

  it('refuses with 503 and Retry-After when the queue is full, and reports requests, batches and queue depth', async () => {
    const { dir } = imageRun();
    const real = await loadServedModel(dir, 'libtorch');
    const slow: ServedModel = { ...real, embed: async (items) => (await sleep(200), real.embed(items)) };
    const s = await createEmbeddingService(slow, { maxBatch: 2, maxQueue: 2, maxWaitMs: 1 });
    try {
      const one = { images: [Array(784).fill(0.5)] };
      const all = await Promise.all(Array.from({ length: 6 }, () => s.app.inject(post('/v1/embeddings', one))));
      const codes = all.map((r) => r.statusCode).sort();
      assert.ok(codes.includes(200) && codes.includes(503), codes.join(','));
      const refused = all.find((r) => r.statusCode === 503)!;
      assert.equal(refused.headers['retry-after'], '1');
      const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /pretext_requests_total\{route="\/v1\/embeddings",status="503"\} [1-9]/);
      assert.match(metrics, /pretext_batch_size_count [1-9]/);
      assert.match(metrics, /pretext_queue_depth 0/);
      assert.match(metrics, /pretext_request_duration_seconds_bucket\{le="0\.5",route="\/v1\/embeddings"\}/);
      const api = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
      assert.deepEqual(Object.keys(api.paths).sort(), ['/healthz', '/readyz', '/v1/embeddings', '/v1/predict']);
      assert.equal((await s.app.inject(post('/v1/predict', one))).statusCode, 404, 'an encoder has no classes');
    } finally {
      await s.close();
    }
  });

  it('finishes requests in flight on close and is not ready while closing', async () => {
    const { dir } = imageRun();
    const real = await loadServedModel(dir, 'libtorch');
    const slow: ServedModel = { ...real, embed: async (items) => (await sleep(300), real.embed(items)) };
    const s = await createEmbeddingService(slow);
    const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
    const inflight = fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [Array(784).fill(0.2)] }),
    });
    await sleep(100);
    const closed = s.close();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { embeddings: number[][] }).embeddings.length, 1);
    await closed;
    await assert.rejects(fetch(`${url}/healthz`), 'no new connections after close');
  });

  it('takes table rows by column name through the saved preprocessing; a missing column is named', async () => {
    const n = 40;
    const table: Table = {
      source: 'test',
      rows: n,
      columns: [
        { name: 'amount', type: 'numeric', values: Float64Array.from({ length: n }, (_, i) => i * 1.5) },
        {
          name: 'merchant',
          type: 'categorical',
          values: Int32Array.from({ length: n }, (_, i) => i % 3),
          levels: ['fuel', 'grocery', 'travel'],
        },
      ],
    };
    const schema = fitFeatures(table);
    const spec = tabularEncoderSpec({ type: 'tabular-mlp', config: { hidden: [16] } }, schema);
    const dir = mkdtempSync(join(tmpdir(), 'serve-table-'));
    const e = buildEncoder(spec);
    torch.safetensors.saveFile(join(dir, 'encoder.safetensors'), e.stateDict(), { format: 'pt' });
    writeFileSync(
      join(dir, 'encoder.json'),
      JSON.stringify({
        ...imageRun().meta,
        modality: 'tabular',
        encoder: spec,
        features: schema,
        outDim: e.outDim,
        inputNorm: { mean: 0, std: 1 },
        inputShape: [3],
      }),
    );
    const s = await createEmbeddingService(await loadServedModel(dir, 'onnxruntime'));
    try {
      const ok = await s.app.inject(
        post('/v1/embeddings', {
          rows: [
            { amount: 3, merchant: 'fuel' },
            { amount: null, merchant: 'casino' },
          ],
        }),
      );
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<{ embeddings: number[][] }>().embeddings.length, 2);
      const bad = await s.app.inject(post('/v1/embeddings', { rows: [{ amount: 3, merchant: 'fuel' }, { amount: 2 }] }));
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json(), { statusCode: 400, error: "rows[1]: no column 'merchant'", field: 'rows[1]' });
      const word = await s.app.inject(post('/v1/embeddings', { rows: [{ amount: 'lots', merchant: 'fuel' }] }));
      assert.equal(word.statusCode, 400);
      assert.match(word.json<{ error: string }>().error, /amount.*'lots' is not a number/);
    } finally {
      await s.close();
    }
  });
});

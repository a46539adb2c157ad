// Deployment bench, one JSON line per case:
//   {"case":"export-parity","family","name","max_abs_diff","inputs"}   every exportable family
//     (the small example encoders of the export tests), onnxruntime vs Pretext on 100 inputs
//   {"case":"serve","runtime","clients","batching","rps","p50_ms","p99_ms","errors"}
//     `pretext serve` in its own process, the default SimCLR recipe's encoder (small CNN,
//     width 32, depth 2, 28x28x1), each request one base64 PNG; autocannon at 1, 16 and 64
//     concurrent clients, micro-batching on and off
//   {"case":"batching-gain","clients":64,"ratio"}   rps with batching on / off at 64 clients
//   {"case":"onnxruntime-vs-libtorch","clients":64,"ratio"}   rps of the service on onnxruntime
//     / on libtorch, batching on, in the same run
//   {"case":"forward","runtime","batch","images_per_s"}   the same encoder without HTTP, batches
//     of 1 and 32: what batching can gain at most, against what the service gains
// Client and server share the machine's cores, as they would on one box.
//
//   npm run bench:serve                      10 s per serve case
//   npm run bench:serve -- --seconds 5 --skip-parity
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import * as torch from '@pretext/torch';
import * as ort from 'onnxruntime-node';
import {
  buildExampleEncoder,
  checkOnnxParity,
  encodeBatch,
  EXAMPLE_ENCODERS,
  exampleMeta,
  exportEncoderOnnx,
  onnxSession,
  type ExampleEncoder,
} from '@pretext/ssl';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1,16,64' },
    'skip-parity': { type: 'boolean', default: false },
  },
});
const emit = (o: object): void => console.log(JSON.stringify(o));

if (!args['skip-parity']) {
  for (const e of EXAMPLE_ENCODERS) {
    const encoder = buildExampleEncoder(e);
    const meta = exampleMeta(e, encoder.outDim);
    const p = await checkOnnxParity(exportEncoderOnnx(encoder, meta), encoder, meta, { n: 100 });
    emit({
      case: 'export-parity',
      family: e.spec.type,
      name: e.name,
      max_abs_diff: Number(p.maxAbsDiff.toExponential(3)),
      inputs: p.inputs,
    });
    encoder.dispose();
  }
}

// The served encoder: the default recipe's architecture (random weights: speed does not depend on them).
const dir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
const example: ExampleEncoder = {
  name: 'simclr default',
  spec: { type: 'small-cnn', config: { width: 32, depth: 2, pool: 'flatten', readoutNorm: true } },
  inputShape: [1, 28, 28],
  modality: 'image',
};
const encoder = buildExampleEncoder(example);
torch.safetensors.saveFile(join(dir, 'encoder.safetensors'), encoder.stateDict(), { format: 'pt' });
writeFileSync(join(dir, 'encoder.json'), JSON.stringify(exampleMeta(example, encoder.outDim)));
// The model alone: images per second at batch 1 and 32, two seconds each, both runtimes.
{
  const meta = exampleMeta(example, encoder.outDim);
  const session = await onnxSession(exportEncoderOnnx(encoder, meta).bytes, torch.getNumThreads());
  for (const batch of [1, 32]) {
    const data = new Float32Array(batch * 784).fill(0.3);
    for (const runtime of ['libtorch', 'onnxruntime'] as const) {
      let images = 0;
      const start = performance.now();
      while (performance.now() - start < 2000) {
        if (runtime === 'libtorch') encodeBatch(encoder, meta.inputNorm, data, [batch, 1, 28, 28]);
        else await session.run({ pixels: new ort.Tensor('float32', data, [batch, 1, 28, 28]) });
        images += batch;
      }
      emit({ case: 'forward', runtime, batch, images_per_s: Math.round(images / ((performance.now() - start) / 1000)) });
    }
  }
  await session.release();
}

const png = await sharp(Buffer.from(Uint8Array.from({ length: 784 }, (_, i) => (i * 29) % 256)), {
  raw: { width: 28, height: 28, channels: 1 },
})
  .png()
  .toBuffer();
const body = JSON.stringify({ images: [png.toString('base64')] });

async function startService(extra: string[]): Promise<{ url: string; server: ChildProcess }> {
  const server = spawn(process.execPath, [join(here, '..', 'packages', 'cli', 'bin', 'pretext.js'), 'serve', dir, '--port', '0', ...extra]);
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    server.on('exit', (code) => reject(new Error(`pretext serve exited ${code}: ${log}`)));
  });
  return { url, server };
}

const load = (url: string, clients: number, seconds: number): Promise<autocannon.Result> =>
  new Promise((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/embeddings`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: clients,
        duration: seconds,
        timeout: 30,
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );

const rps: Record<string, number> = {};
for (const runtime of ['libtorch', 'onnxruntime'] as const)
  for (const batching of [true, false]) {
    // onnxruntime is measured where the comparison is made: 64 clients, batching on.
    if (runtime === 'onnxruntime' && !batching) continue;
    const { url, server } = await startService(['--runtime', runtime, ...(batching ? [] : ['--no-batching'])]);
    try {
      await load(url, 8, 2); // warm-up
      for (const clients of args.clients.split(',').map(Number)) {
        if (runtime === 'onnxruntime' && clients !== 64) continue;
        const r = await load(url, clients, Number(args.seconds));
        const errors = r.errors + r.timeouts + r.non2xx;
        rps[`${runtime}/${batching}/${clients}`] = r.requests.average;
        emit({
          case: 'serve',
          runtime,
          clients,
          batching,
          rps: Math.round(r.requests.average),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          errors,
        });
      }
    } finally {
      server.kill('SIGTERM');
    }
  }
const ratio = (a: string, b: string): number | null => (rps[a] && rps[b] ? Number((rps[a] / rps[b]).toFixed(2)) : null);
emit({ case: 'batching-gain', clients: 64, ratio: ratio('libtorch/true/64', 'libtorch/false/64') });
emit({ case: 'onnxruntime-vs-libtorch', clients: 64, batching: true, ratio: ratio('onnxruntime/true/64', 'libtorch/true/64') });

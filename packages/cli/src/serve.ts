// pretext serve: an encoder or classifier behind an HTTP JSON API (packages/serve).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbeddingService, loadServedModel, type Runtime } from '@pretext/serve';
import { UsageError } from './errors.js';
import { resolveEncoderArg } from './hub.js';

export const SERVE_HELP: Record<string, string> = {
  serve: `Usage: pretext serve <run|classifier|team/name[@version]> [--port N] [--host H]
                     [--runtime libtorch|onnxruntime] [--max-batch N] [--max-wait-ms N]
                     [--max-queue N] [--no-batching] [--max-inputs N] [--body-limit-mb N]

Serves the encoder (or fine-tuned classifier) over HTTP:
  POST /v1/embeddings  {"images": [...]} | {"rows": [...]} | {"texts": [...]} | {"histories": [...]}
                       (the field of the model's modality) -> {"embeddings": [[...], ...]}
  POST /v1/predict     classifiers: the same body -> class probabilities and labels
  GET  /healthz, /readyz, /metrics (Prometheus), /openapi.json
Concurrent requests share forward passes of up to --max-batch items: when the model is idle a
pass starts at once (or after --max-wait-ms, for fuller batches), and requests that arrive
during a pass form the next one. When --max-queue items wait, requests get 503 with
Retry-After. SIGTERM or
Ctrl-C stops taking requests and finishes those in flight. --runtime onnxruntime runs the
graph pretext export writes, checked against Pretext at start-up.

Options (defaults): --port 8090, --host 127.0.0.1, --runtime libtorch, --max-batch 32,
--max-wait-ms 0, --max-queue 1024, --max-inputs 256 per request, --body-limit-mb 16`,
};

const positiveInt = (v: string, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
};

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8090' },
      host: { type: 'string', default: '127.0.0.1' },
      runtime: { type: 'string', default: 'libtorch' },
      'max-batch': { type: 'string', default: '32' },
      'max-wait-ms': { type: 'string', default: '0' },
      'max-queue': { type: 'string', default: '1024' },
      'max-inputs': { type: 'string', default: '256' },
      'body-limit-mb': { type: 'string', default: '16' },
      'no-batching': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(SERVE_HELP.serve), 0);
  if (positionals.length !== 1)
    throw new UsageError(`pretext serve needs one run, classifier folder or hub reference\n\n${SERVE_HELP.serve}`);
  if (values.runtime !== 'libtorch' && values.runtime !== 'onnxruntime')
    throw new UsageError(`--runtime must be libtorch or onnxruntime, got '${values.runtime}'`);
  const arg = positionals[0]!;
  const dir = existsSync(join(arg, 'finetune.json')) ? arg : await resolveEncoderArg(arg);
  const model = await loadServedModel(dir, values.runtime as Runtime);
  const service = await createEmbeddingService(model, {
    maxBatch: Math.max(1, positiveInt(values['max-batch'], 'max-batch')),
    maxWaitMs: positiveInt(values['max-wait-ms'], 'max-wait-ms'),
    maxQueue: positiveInt(values['max-queue'], 'max-queue'),
    maxInputs: Math.max(1, positiveInt(values['max-inputs'], 'max-inputs')),
    bodyLimit: positiveInt(values['body-limit-mb'], 'body-limit-mb') * 1024 * 1024,
    batching: !values['no-batching'],
  });
  const address = await service.app.listen({ port: positiveInt(values.port, 'port'), host: values.host });
  console.error(
    `serving ${model.kind} ${model.family} (${model.modality}, ${model.outDim}-d) from ${dir} on ${model.runtime}${model.parity === undefined ? '' : ` (onnxruntime vs Pretext ${model.parity.toExponential(1)})`} at ${address}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      console.error(`${signal}: finishing requests in flight`);
      void service.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  console.error('stopped');
  return 0;
}

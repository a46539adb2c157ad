// `pretext serve`: an HTTP JSON service over one encoder or classifier.
//   POST /v1/embeddings   inputs of the model's modality -> one embedding each
//   POST /v1/predict      classifiers: class probabilities and the most likely class
//   GET  /healthz         the process is up
//   GET  /readyz          the model is loaded and the service is not shutting down
//   GET  /metrics         Prometheus: requests, latency, batch sizes, queue depth
//   GET  /openapi.json    generated from the route schemas
// Requests share forward passes through the micro-batcher; a full queue answers 503 with
// Retry-After; bad input is a 400 naming the field; close() stops taking requests and
// finishes the ones in flight.
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MicroBatcher, QueueFullError } from './batcher.js';
import { INPUT_FIELD, InputError, inputReader } from './inputs.js';
import type { ServedModel } from './model.js';

export interface ServeOptions {
  maxBatch?: number;
  maxWaitMs?: number;
  /** Items waiting at most before requests are refused with 503 (default 1024). */
  maxQueue?: number;
  batching?: boolean;
  /** Inputs per request at most (default 256). */
  maxInputs?: number;
  /** Request body bytes at most (default 16 MiB). */
  bodyLimit?: number;
  maxTextChars?: number;
  logger?: boolean;
}

export interface EmbeddingService {
  app: FastifyInstance;
  batcher: MicroBatcher;
  /** Stops taking requests, finishes those in flight, releases the model. */
  close(): Promise<void>;
}

const error = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, field: { type: 'string' } },
} as const;
const matrix = {
  type: 'array',
  description: "one per input: numbers, or with encoding 'base64' the float32 values (little-endian) in base64",
  items: { anyOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }] },
} as const;

/** The body schema of the model's modality: one list field, each entry in the shape it takes. */
function inputSchema(m: ServedModel, maxInputs: number): Record<string, unknown> {
  const entry =
    m.modality === 'image'
      ? {
          description: 'a base64 PNG/JPEG (or data: URL), or C*H*W pixel values in [0, 1] (flat or nested)',
          anyOf: [{ type: 'string' }, { type: 'array' }],
        }
      : m.modality === 'tabular'
        ? { type: 'object', description: 'one row: values by column name (null for missing)' }
        : m.modality === 'text'
          ? { type: 'string' }
          : { type: 'array', description: 'one history: events as objects with time and the event fields', items: { type: 'object' } };
  const field = INPUT_FIELD[m.modality];
  return {
    type: 'object',
    required: [field],
    additionalProperties: false,
    properties: {
      [field]: { type: 'array', minItems: 1, maxItems: maxInputs, items: entry },
      encoding: {
        type: 'string',
        enum: ['float', 'base64'],
        description: 'embeddings as numbers (default) or as base64 float32, 4x smaller',
      },
    },
  };
}

export async function createEmbeddingService(model: ServedModel, o: ServeOptions = {}): Promise<EmbeddingService> {
  const maxInputs = o.maxInputs ?? 256;
  const bodyLimit = o.bodyLimit ?? 16 * 1024 * 1024;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'pretext_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'pretext_request_duration_seconds',
    help: 'Request latency by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchSizes = new Histogram({
    name: 'pretext_batch_size',
    help: 'Items per forward pass',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const passSeconds = new Histogram({
    name: 'pretext_forward_seconds',
    help: 'Seconds per forward pass',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batcher = new MicroBatcher((items) => model.embed(items), {
    maxBatch: o.maxBatch ?? 32,
    maxWaitMs: o.maxWaitMs ?? 0,
    maxQueue: o.maxQueue ?? 1024,
    batching: o.batching ?? true,
    onBatch: (size, seconds) => {
      batchSizes.observe(size);
      passSeconds.observe(seconds);
    },
  });
  new Gauge({
    name: 'pretext_queue_depth',
    help: 'Items waiting for a forward pass',
    registers: [registry],
    collect() {
      this.set(batcher.depth);
    },
  });
  const read = inputReader(model, { maxTextChars: o.maxTextChars ?? 100_000 });
  let closing = false;

  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    ajv: { customOptions: { allErrors: false, coerceTypes: false } },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: `Pretext ${model.kind} service: ${model.family} (${model.modality})`,
        version: '1.0.0',
        description: `Embeddings${model.kind === 'classifier' ? ' and class probabilities' : ''} from ${model.dir}, on ${model.runtime}.`,
      },
    },
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler(
    (err: Error & { statusCode?: number; validation?: { instancePath: string; message?: string }[]; code?: string }, req, reply) => {
      if (err instanceof InputError) return reply.status(400).send({ statusCode: 400, error: err.message, field: err.field });
      if (err instanceof QueueFullError) return reply.status(503).header('retry-after', '1').send({ statusCode: 503, error: err.message });
      if (err.validation) {
        const v = err.validation[0]!;
        const field =
          v.instancePath
            .replace(/^\//, '')
            .replace(/\/(\d+)/g, '[$1]')
            .replace(/\//g, '.') || 'body';
        return reply.status(400).send({ statusCode: 400, error: `${field}: ${v.message ?? 'invalid'}`, field });
      }
      const status = err.statusCode ?? 500;
      if (status >= 500) req.log.error({ err }, 'request failed');
      let message = status >= 500 ? 'internal error' : err.message;
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `the body is larger than ${bodyLimit} bytes`;
      if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.name === 'SyntaxError')
        message = `the body is not valid JSON (${err.message})`;
      return reply.status(status).send({ statusCode: status, error: message, field: 'body' });
    },
  );
  app.setNotFoundHandler(
    (req, reply) => void reply.status(404).send({ statusCode: 404, error: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  const embed = async (body: Record<string, unknown>): Promise<Float32Array[]> => {
    const prepared = await read(body[INPUT_FIELD[model.modality]] as unknown[]);
    return prepared.pool(await batcher.submit(prepared.items));
  };
  const body = inputSchema(model, maxInputs);
  const withErrors = (ok: Record<string, unknown>): Record<string, unknown> => ({ 200: ok, 400: error, 413: error, 503: error });

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: error } } },
    (_req, reply) => (closing ? reply.status(503).send({ statusCode: 503, error: 'shutting down' }) : reply.send({ status: 'ready' })),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.post<{ Body: Record<string, unknown> }>(
    '/v1/embeddings',
    {
      schema: {
        body,
        response: withErrors({ type: 'object', properties: { model: { type: 'string' }, dim: { type: 'integer' }, embeddings: matrix } }),
      },
    },
    async (req) => {
      const e = await embed(req.body);
      const base64 = req.body.encoding === 'base64';
      return {
        model: model.family,
        dim: model.outDim,
        embeddings: e.map((r) => (base64 ? Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64') : Array.from(r))),
      };
    },
  );
  app.post<{ Body: Record<string, unknown> }>(
    '/v1/predict',
    {
      schema: {
        body,
        response: withErrors({
          type: 'object',
          properties: {
            classes: { type: 'array', items: { type: 'string' } },
            predictions: {
              type: 'array',
              items: {
                type: 'object',
                properties: { label: { type: 'string' }, probabilities: { type: 'array', items: { type: 'number' } } },
              },
            },
          },
        }),
      },
    },
    async (req, reply) => {
      if (!model.probabilities || !model.classes)
        return reply.status(404).send({ statusCode: 404, error: 'this service runs an encoder, not a classifier: use /v1/embeddings' });
      const probs = model.probabilities(await embed(req.body));
      const classes = model.classes;
      return {
        classes,
        predictions: probs.map((p) => ({ label: classes[p.indexOf(Math.max(...p))]!, probabilities: Array.from(p) })),
      };
    },
  );
  await app.ready();
  return {
    app,
    batcher,
    close: async () => {
      closing = true;
      await app.close();
      await batcher.drained();
      await model.close();
    },
  };
}

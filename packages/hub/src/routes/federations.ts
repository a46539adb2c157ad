// Hosted federations: the owner team creates one, uploads the initial weights and starts it;
// each invited site pulls the global weights, trains at home and puts its update into its own
// slot of the open round. Weights travel as float32 safetensors (application/octet-stream).
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { LossReport, PrivacyReport } from '../federation/wire.js';
import { HubError, type FederationInput, type SecureStep, type Store } from '../store/index.js';
import { modelParams, name, responses } from './schemas.js';

/** Largest plan: its recipe and the preprocessing every site applies. */
const MAX_PLAN_BYTES = 16 * 1024 ** 2;

/** Largest initial-weights file (the updates are held to the size of the global weights). */
const MAX_WEIGHTS_BYTES = 1024 ** 3;

async function readBody(body: Readable, max: number, contentType: string | undefined): Promise<Buffer> {
  if (contentType !== 'application/octet-stream') throw new HubError('send weights as application/octet-stream', 400);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      body.destroy();
      throw new HubError(`the body is larger than the ${max} bytes allowed here`, 413);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Shared keys that are running statistics (averaged as they are). */
const plainKeys = { type: 'array', maxItems: 10_000, items: { type: 'string', minLength: 1, maxLength: 256 } } as const;
const aggregation = {
  type: 'object',
  required: ['kind'],
  properties: { kind: { type: 'string', enum: ['mean', 'median', 'trimmed-mean'] }, beta: { type: 'number', minimum: 0, maximum: 0.49 } },
  additionalProperties: false,
} as const;
const optimizer = {
  type: 'object',
  required: ['name', 'lr'],
  properties: {
    name: { type: 'string', enum: ['sgd', 'adam', 'yogi'] },
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    tau: { type: 'number', exclusiveMinimum: 0 },
  },
  additionalProperties: false,
} as const;
const federationBody = {
  type: 'object',
  required: ['sites', 'rounds', 'localEpochs', 'strategy', 'recipe'],
  properties: {
    sites: { type: 'array', minItems: 1, maxItems: 100, items: name },
    rounds: { type: 'integer', minimum: 1, maximum: 100_000 },
    localEpochs: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
    minSites: { type: 'integer', minimum: 1, maximum: 100 },
    roundTimeoutS: { type: 'number', exclusiveMinimum: 0, maximum: 7 * 86400 },
    maxUpdateNorm: { type: 'number', exclusiveMinimum: 0 },
    strategy: {
      type: 'object',
      required: ['name', 'share', 'aggregation', 'optimizer'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        share: { type: 'string', enum: ['encoder', 'all'] },
        aggregation,
        optimizer,
        proxMu: { type: 'number', minimum: 0 },
        emaTau: { type: ['number', 'null'] },
      },
      additionalProperties: false,
    },
    plainKeys,
    secureAggregation: {
      type: ['object', 'null'],
      required: ['clip'],
      properties: { clip: { type: 'number', exclusiveMinimum: 0, maximum: 1e6 } },
      additionalProperties: false,
    },
    dp: {
      type: ['object', 'null'],
      required: ['noise', 'clip', 'delta'],
      properties: {
        noise: { type: 'number', exclusiveMinimum: 0, maximum: 1e4 },
        clip: { type: 'number', exclusiveMinimum: 0, maximum: 1e6 },
        delta: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      },
      additionalProperties: false,
    },
    // The preprocessing every site applies (opaque here; the body limit bounds its size).
    features: { type: ['object', 'null'], maxProperties: 64 },
    siteSummaries: {
      type: ['object', 'null'],
      required: ['minCount'],
      properties: { minCount: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
      additionalProperties: false,
    },
    recipe: { type: 'string', minLength: 1, maxLength: 200_000 },
  },
  additionalProperties: false,
} as const;
/** A summary or a preprocessing: JSON the hub keeps as it is (the body limit bounds its size). */
const opaqueObject = { type: 'object', minProperties: 1, maxProperties: 64 } as const;
const privacyBody = {
  type: 'object',
  required: ['round', 'epsilon'],
  properties: { round: { type: 'integer', minimum: 1 }, epsilon: { type: 'number', minimum: 0 } },
  additionalProperties: false,
} as const;
const lossBody = {
  type: 'object',
  required: ['round', 'loss'],
  properties: { round: { type: 'integer', minimum: 1 }, loss: { type: 'number' } },
  additionalProperties: false,
} as const;
const controlBody = {
  type: 'object',
  required: ['action'],
  properties: { action: { type: 'string', enum: ['start', 'pause', 'resume', 'stop'] } },
  additionalProperties: false,
} as const;
const updateParams = {
  type: 'object',
  required: ['team', 'name', 'round', 'site'],
  properties: { team: name, name, round: { type: 'integer', minimum: 1 }, site: name },
  additionalProperties: false,
} as const;

const siteParams = {
  type: 'object',
  required: ['team', 'name', 'site'],
  properties: { team: name, name, site: name },
  additionalProperties: false,
} as const;
const key = { type: 'string', minLength: 1, maxLength: 128 } as const;
const shareMap = { type: 'object', maxProperties: 255, additionalProperties: { type: 'string', maxLength: 512 } } as const;
const secureStepBody = {
  type: 'object',
  required: ['step', 'round', 'attempt'],
  properties: {
    step: { type: 'string', enum: ['keys', 'shares', 'unmask'] },
    round: { type: 'integer', minimum: 1 },
    attempt: { type: 'string', minLength: 1, maxLength: 64 },
    advertisement: {
      type: 'object',
      required: ['site', 'channelKey', 'maskKey'],
      properties: { site: name, channelKey: key, maskKey: key },
      additionalProperties: false,
    },
    boxes: {
      type: 'array',
      maxItems: 255,
      items: {
        type: 'object',
        required: ['from', 'to', 'box'],
        properties: { from: name, to: name, box: { type: 'string', maxLength: 1024 } },
        additionalProperties: false,
      },
    },
    response: {
      type: 'object',
      required: ['site', 'seedShares', 'keyShares'],
      properties: { site: name, seedShares: shareMap, keyShares: shareMap },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;
const inputQuery = {
  type: 'object',
  required: ['round', 'attempt', 'weight'],
  properties: {
    round: { type: 'integer', minimum: 1 },
    attempt: { type: 'string', minLength: 1, maxLength: 64 },
    weight: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  },
  additionalProperties: false,
} as const;

export function federationRoutes(app: FastifyInstance, store: Store): void {
  const { federations } = store;
  app.get('/api/federations', { schema: { response: responses({ 200: 'array' }, [403]) } }, (req) => federations.list(req.actor));
  app.post<{ Params: { team: string; name: string }; Body: FederationInput }>(
    '/api/federations/:team/:name',
    {
      // A wide table's preprocessing (quantiles of every column) outgrows the hub's 1 MiB default.
      bodyLimit: MAX_PLAN_BYTES,
      schema: { params: modelParams, body: federationBody, response: responses({ 201: 'object' }, [403, 404, 409, 413]) },
    },
    async (req, reply) => reply.status(201).send(await federations.create(req.actor, req.params.team, req.params.name, req.body)),
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/federations/:team/:name',
    { schema: { params: modelParams, response: responses({ 200: 'object' }, [403, 404]) } },
    (req) => federations.get(req.actor, req.params.team, req.params.name),
  );
  app.put<{ Params: { team: string; name: string }; Body: Readable }>(
    '/api/federations/:team/:name/weights',
    { schema: { params: modelParams, response: responses({ 201: 'object' }, [403, 404, 409, 413]) } },
    async (req, reply) => {
      await federations.assertOwner(req.actor, req.params.team, req.params.name);
      const bytes = await readBody(req.body, MAX_WEIGHTS_BYTES, req.headers['content-type']);
      return reply.status(201).send(await federations.setInitialWeights(req.actor, req.params.team, req.params.name, bytes));
    },
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/federations/:team/:name/weights',
    { schema: { params: modelParams, response: responses({ 200: 'bytes' }, [403, 404]) } },
    async (req, reply) => {
      const w = await federations.weights(req.actor, req.params.team, req.params.name);
      return reply.type('application/octet-stream').header('x-pretext-round', String(w.round)).send(w.bytes);
    },
  );
  app.post<{ Params: { team: string; name: string }; Body: { action: 'start' | 'pause' | 'resume' | 'stop' } }>(
    '/api/federations/:team/:name/control',
    { schema: { params: modelParams, body: controlBody, response: responses({ 200: 'object' }, [403, 404, 409]) } },
    (req) => federations.control(req.actor, req.params.team, req.params.name, req.body.action),
  );
  app.post<{ Params: { team: string; name: string; round: number }; Body: { metrics: Record<string, number> } }>(
    '/api/federations/:team/:name/rounds/:round/metrics',
    {
      schema: {
        params: {
          type: 'object',
          required: ['team', 'name', 'round'],
          properties: { team: name, name, round: { type: 'integer', minimum: 1 } },
          additionalProperties: false,
        },
        body: {
          type: 'object',
          required: ['metrics'],
          properties: {
            metrics: {
              type: 'object',
              minProperties: 1,
              maxProperties: 20,
              propertyNames: { minLength: 1, maxLength: 64 },
              additionalProperties: { type: 'number' },
            },
          },
          additionalProperties: false,
        },
        response: responses({ 200: 'object' }, [403, 404, 409]),
      },
    },
    (req) => federations.recordMetrics(req.actor, req.params.team, req.params.name, req.params.round, req.body.metrics),
  );
  // A preprocessing merged across sites: each site's summary of its rows (site writers, for
  // their own slot), read back by the owner only, who then fixes the merged preprocessing.
  app.put<{ Params: { team: string; name: string; site: string }; Body: Record<string, unknown> }>(
    '/api/federations/:team/:name/summaries/:site',
    {
      bodyLimit: MAX_PLAN_BYTES,
      schema: { params: siteParams, body: opaqueObject, response: responses({ 200: 'object' }, [403, 404, 409, 413]) },
    },
    (req) => federations.submitSummary(req.actor, req.params.team, req.params.name, req.params.site, req.body),
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/federations/:team/:name/summaries',
    { schema: { params: modelParams, response: responses({ 200: 'object' }, [403, 404]) } },
    (req) => federations.summaries(req.actor, req.params.team, req.params.name),
  );
  app.put<{ Params: { team: string; name: string }; Body: { features: Record<string, unknown>; plainKeys?: string[] } }>(
    '/api/federations/:team/:name/features',
    {
      bodyLimit: MAX_PLAN_BYTES,
      schema: {
        params: modelParams,
        body: {
          type: 'object',
          required: ['features'],
          properties: { features: opaqueObject, plainKeys },
          additionalProperties: false,
        },
        response: responses({ 200: 'object' }, [403, 404, 409, 413]),
      },
    },
    (req) => federations.setFeatures(req.actor, req.params.team, req.params.name, req.body.features, req.body.plainKeys ?? []),
  );
  // DP-SGD: a site's account of the privacy it has spent, after a round, for the federation's page and provenance.
  app.post<{ Params: { team: string; name: string; site: string }; Body: PrivacyReport }>(
    '/api/federations/:team/:name/privacy/:site',
    { schema: { params: siteParams, body: privacyBody, response: responses({ 200: 'object' }, [403, 404, 409]) } },
    (req) => federations.reportPrivacy(req.actor, req.params.team, req.params.name, req.params.site, req.body),
  );
  // A site's mean training loss over a round, for the federation's page (refused under DP-SGD).
  app.post<{ Params: { team: string; name: string; site: string }; Body: LossReport }>(
    '/api/federations/:team/:name/losses/:site',
    { schema: { params: siteParams, body: lossBody, response: responses({ 200: 'object' }, [403, 404, 409]) } },
    (req) => federations.reportLoss(req.actor, req.params.team, req.params.name, req.params.site, req.body),
  );
  // Secure aggregation: each site's part of the open round's protocol (keys, sealed shares, a
  // masked input, revealed shares); the hub relays and sums, and never holds an input apart.
  app.get<{ Params: { team: string; name: string; site: string } }>(
    '/api/federations/:team/:name/secure/:site',
    { schema: { params: siteParams, response: responses({ 200: 'object' }, [403, 404, 409]) } },
    (req) => federations.secureView(req.actor, req.params.team, req.params.name, req.params.site),
  );
  app.post<{ Params: { team: string; name: string; site: string }; Body: SecureStep }>(
    '/api/federations/:team/:name/secure/:site',
    { schema: { params: siteParams, body: secureStepBody, response: responses({ 200: 'object' }, [403, 404, 409, 413]) } },
    (req) => {
      const b = req.body;
      const has = b.step === 'keys' ? 'advertisement' in b : b.step === 'shares' ? 'boxes' in b : 'response' in b;
      if (!has)
        throw new HubError(
          `a '${b.step}' step needs its ${b.step === 'keys' ? 'advertisement' : b.step === 'shares' ? 'boxes' : 'response'}`,
          400,
        );
      return federations.secureStep(req.actor, req.params.team, req.params.name, req.params.site, b);
    },
  );
  app.put<{
    Params: { team: string; name: string; site: string };
    Querystring: { round: number; attempt: string; weight: number };
    Body: Readable;
  }>(
    '/api/federations/:team/:name/secure/:site/input',
    { schema: { params: siteParams, querystring: inputQuery, response: responses({ 200: 'object' }, [403, 404, 409, 413]) } },
    async (req) => {
      const { team, name: fed, site } = req.params;
      await federations.secureSlot(req.actor, team, fed, site);
      const max = await federations.maxUpdateBytes(req.actor, team, fed);
      const bytes = await readBody(req.body, max, req.headers['content-type']);
      return federations.secureInput(req.actor, team, fed, site, req.query, bytes);
    },
  );
  app.put<{ Params: { team: string; name: string; round: number; site: string }; Body: Readable }>(
    '/api/federations/:team/:name/rounds/:round/updates/:site',
    { schema: { params: updateParams, response: responses({ 201: 'object' }, [403, 404, 409, 413]) } },
    async (req, reply) => {
      const { team, name: fed, round, site } = req.params;
      const max = await federations.maxUpdateBytes(req.actor, team, fed);
      const bytes = await readBody(req.body, max, req.headers['content-type']);
      return reply.status(201).send(await federations.submit(req.actor, team, fed, round, site, bytes));
    },
  );
}

// Models, grants, reported evaluations and leaderboards.
import type { FastifyInstance } from 'fastify';
import { renderCard, splitCard } from '../card.js';
import type { EvalInput, ModelFields, Store } from '../store/index.js';
import { modelParams, name, refParams, responses, visibility } from './schemas.js';

const modelBody = {
  type: 'object',
  properties: {
    visibility,
    card: { type: 'string', maxLength: 200_000 },
    tags: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 64 } },
    method: { type: 'string', maxLength: 64 },
    modality: { type: 'string', maxLength: 64 },
  },
  additionalProperties: false,
} as const;

const evalBody = {
  type: 'object',
  required: ['task', 'dataset', 'metric', 'value', 'protocol', 'labelBudget'],
  properties: {
    task: { type: 'string', minLength: 1, maxLength: 100 },
    dataset: { type: 'string', minLength: 1, maxLength: 200 },
    metric: { type: 'string', minLength: 1, maxLength: 64 },
    value: { type: 'number' },
    protocol: { type: 'string', minLength: 1, maxLength: 100 },
    labelBudget: { type: 'string', minLength: 1, maxLength: 32 },
  },
  additionalProperties: false,
} as const;

const grantParams = {
  type: 'object',
  required: ['team', 'name', 'to'],
  properties: { team: name, name, to: name },
  additionalProperties: false,
} as const;

export function modelRoutes(app: FastifyInstance, store: Store): void {
  const { models, evals } = store;

  app.get<{ Querystring: { q?: string; team?: string; tag?: string; method?: string; modality?: string } }>(
    '/api/models',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: 200 },
            team: name,
            tag: { type: 'string', maxLength: 64 },
            method: { type: 'string', maxLength: 64 },
            modality: { type: 'string', maxLength: 64 },
          },
          additionalProperties: false,
        },
        response: responses({ 200: 'array' }),
      },
    },
    (req) => models.list(req.actor, req.query),
  );
  app.post<{ Params: { team: string; name: string }; Body: ModelFields }>(
    '/api/models/:team/:name',
    { schema: { params: modelParams, body: modelBody, response: responses({ 201: 'object' }, [403, 404, 409, 413]) } },
    async (req, reply) => reply.status(201).send(await models.create(req.actor, req.params.team, req.params.name, req.body ?? {})),
  );
  // The card comes back as Markdown (`card`) and as sanitized HTML (`cardHtml`, with the
  // YAML front matter apart in `cardFront`); browsers show only the sanitized HTML.
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name',
    { schema: { params: modelParams, response: responses({ 200: 'object' }, [404]) } },
    async (req) => {
      const m = await models.get(req.actor, req.params.team, req.params.name);
      const card = splitCard(m.card);
      return { ...m, cardFront: card.front, cardHtml: renderCard(card.body) };
    },
  );
  app.patch<{ Params: { team: string; name: string }; Body: ModelFields }>(
    '/api/models/:team/:name',
    { schema: { params: modelParams, body: modelBody, response: responses({ 200: 'object' }, [403, 404, 413]) } },
    (req) => models.update(req.actor, req.params.team, req.params.name, req.body),
  );
  app.put<{ Params: { team: string; name: string; to: string } }>(
    '/api/models/:team/:name/grants/:to',
    { schema: { params: grantParams, response: responses({ 200: 'object' }, [403, 404]) } },
    async (req) => {
      await models.grant(req.actor, req.params.team, req.params.name, req.params.to);
      return { granted: req.params.to };
    },
  );
  app.delete<{ Params: { team: string; name: string; to: string } }>(
    '/api/models/:team/:name/grants/:to',
    { schema: { params: grantParams, response: responses({ 204: 'empty' }, [403, 404]) } },
    async (req, reply) => {
      await models.grant(req.actor, req.params.team, req.params.name, req.params.to, true);
      return reply.status(204).send();
    },
  );

  // Idempotency-Key (optional, one per result): a retried report returns the first one (200).
  app.post<{ Params: { team: string; name: string; ref: string }; Body: EvalInput; Headers: { 'idempotency-key'?: string } }>(
    '/api/models/:team/:name/versions/:ref/evals',
    {
      schema: {
        params: refParams,
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', pattern: '^[A-Za-z0-9_-]{8,100}$' } },
        },
        body: evalBody,
        response: responses({ 200: 'object', 201: 'object' }, [403, 404, 409, 413]),
      },
    },
    async (req, reply) => {
      const r = await evals.add(req.actor, req.params.team, req.params.name, req.params.ref, req.body, req.headers['idempotency-key']);
      return reply.status(r.created ? 201 : 200).send(r.eval);
    },
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/evals',
    { schema: { params: modelParams, response: responses({ 200: 'array' }, [404]) } },
    (req) => evals.list(req.actor, req.params.team, req.params.name),
  );
  app.get<{ Params: { task: string }; Querystring: { metric?: string } }>(
    '/api/leaderboards/:task',
    {
      schema: {
        params: { type: 'object', required: ['task'], properties: { task: { type: 'string', minLength: 1, maxLength: 100 } } },
        querystring: { type: 'object', properties: { metric: { type: 'string', maxLength: 64 } }, additionalProperties: false },
        response: responses({ 200: 'array' }),
      },
    },
    (req) => evals.leaderboard(req.actor, req.params.task, req.query.metric),
  );
  app.get('/api/tasks', { schema: { response: responses({ 200: 'array' }) } }, (req) => evals.tasks(req.actor));
}

// The hub's HTTP API on Fastify. Every route declares JSON schemas for its inputs (checked
// before the handler runs, with a 400 that says what was wrong) and outputs; the same
// schemas produce the OpenAPI document at /openapi.json. Logs are structured (pino) and
// never contain the Authorization header.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bearer, SCOPES } from './auth.js';
import { BlobError, BlobStore, parseRange, SHA256 } from './blobs.js';
import { migrate, openDb, type Db } from './db.js';
import { HubError, Store, VISIBILITIES, type Actor } from './store.js';

export interface HubOptions {
  /** Folder for the SQLite file and the artifacts (default ./hub-data). */
  dataDir: string;
  /** sqlite:PATH or postgres://... (default sqlite:<dataDir>/hub.db). */
  database?: string;
  /** Largest accepted blob, bytes (default 2 GiB). */
  maxBlobBytes?: number;
  /** pino log level, or false for no logs (default 'info'). */
  logLevel?: string | false;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** The built web UI (default packages/hub/web/dist). */
  webDir?: string;
}

export interface Hub {
  app: FastifyInstance;
  store: Store;
  blobs: BlobStore;
  db: Db;
  /** What the start-up sweep removed. */
  swept: { partial: number; orphans: string[] };
  /** The admin token created on an empty hub (shown once), else null. */
  adminToken: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

const name = { type: 'string', minLength: 1, maxLength: 64 } as const;
const modelParams = { type: 'object', required: ['team', 'name'], properties: { team: name, name }, additionalProperties: false } as const;
const refParams = {
  type: 'object',
  required: ['team', 'name', 'ref'],
  properties: { team: name, name, ref: { type: 'string', minLength: 1, maxLength: 64 } },
  additionalProperties: false,
} as const;
const visibility = { type: 'string', enum: VISIBILITIES } as const;
const fileSchema = {
  type: 'object',
  required: ['path', 'sha256', 'size'],
  properties: {
    path: { type: 'string', minLength: 1, maxLength: 255 },
    sha256: { type: 'string', pattern: SHA256.source },
    size: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
} as const;
const errorSchema = { type: 'object', properties: { error: { type: 'string' }, statusCode: { type: 'integer' } } } as const;

export async function createHub(o: HubOptions): Promise<Hub> {
  mkdirSync(o.dataDir, { recursive: true });
  const db = openDb(o.database ?? `sqlite:${join(o.dataDir, 'hub.db')}`);
  await migrate(db);
  const store = new Store(db);
  const blobs = new BlobStore(join(o.dataDir, 'blobs'));
  const swept = blobs.sweep(await store.referencedBlobs());
  const adminToken = await store.bootstrap();
  const maxBlob = o.maxBlobBytes ?? 2 * 1024 ** 3;

  const app = Fastify({
    logger:
      o.logLevel === false
        ? false
        : {
            level: o.logLevel ?? 'info',
            stream: o.logStream,
            redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
          },
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Pretext hub', version: '1.0.0', description: 'Publish, find and evaluate encoders across teams.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
      security: [{ token: [] }],
    },
  });

  // Blob uploads are streamed: the body is handed over unread.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (req) => {
    const header = req.headers.authorization;
    if (header === undefined) return;
    const token = bearer(header);
    if (!token) throw new HubError("Authorization must be 'Bearer ptx_...'", 401);
    req.actor = await store.authenticate(token);
    if (!req.actor) throw new HubError('the token is unknown, revoked or expired', 401);
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    let status = err instanceof HubError || err instanceof BlobError ? err.status : (err.statusCode ?? 500);
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') status = 400;
    if (status >= 500) req.log.error({ err }, 'request failed');
    let message = err.message;
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      message = `unsupported content type '${String(req.headers['content-type'])}': send application/json`;
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = 'the JSON body is empty';
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = 'the JSON body is larger than 1 MiB';
    void reply.status(status).send({ statusCode: status, error: status >= 500 ? 'internal error' : message });
  });
  app.setNotFoundHandler(
    (req, reply) => void reply.status(404).send({ statusCode: 404, error: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  const ok = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get(
    '/api/health',
    { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, engine: { type: 'string' } } } } } },
    () => ({
      ok: true,
      engine: db.engine,
    }),
  );

  app.get('/api/whoami', { schema: { response: ok } }, (req) => {
    if (!req.actor) throw new HubError('no token presented', 401);
    return { user: req.actor.user, admin: req.actor.isAdmin, scope: req.actor.scope };
  });

  app.post<{ Body: { name: string; admin?: boolean } }>(
    '/api/users',
    {
      schema: {
        body: { type: 'object', required: ['name'], properties: { name, admin: { type: 'boolean' } }, additionalProperties: false },
        response: ok,
      },
    },
    async (req, reply) => reply.status(201).send(await store.createUser(req.actor, req.body.name, req.body.admin ?? false)),
  );

  app.post<{ Body: { name: string } }>(
    '/api/teams',
    { schema: { body: { type: 'object', required: ['name'], properties: { name }, additionalProperties: false }, response: ok } },
    async (req, reply) => reply.status(201).send(await store.createTeam(req.actor, req.body.name)),
  );
  app.get('/api/teams', { schema: { response: ok } }, (req) => store.listTeams(req.actor));
  app.put<{ Params: { team: string; user: string }; Body: { role: 'member' | 'admin' } }>(
    '/api/teams/:team/members/:user',
    {
      schema: {
        params: { type: 'object', required: ['team', 'user'], properties: { team: name, user: name } },
        body: {
          type: 'object',
          required: ['role'],
          properties: { role: { type: 'string', enum: ['member', 'admin'] } },
          additionalProperties: false,
        },
        response: ok,
      },
    },
    async (req) => {
      await store.addMember(req.actor, req.params.team, req.params.user, req.body.role);
      return { team: req.params.team, user: req.params.user, role: req.body.role };
    },
  );

  app.post<{ Body: { name: string; scope: (typeof SCOPES)[number]; user?: string; expiresInDays?: number } }>(
    '/api/tokens',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'scope'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            scope: { type: 'string', enum: SCOPES },
            user: name,
            expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
          },
          additionalProperties: false,
        },
        response: ok,
      },
    },
    async (req, reply) => {
      if (!req.actor) throw new HubError('this needs an API token (Authorization: Bearer ptx_...)', 401);
      const t = await store.createToken(req.actor, {
        user: req.body.user ?? req.actor.user,
        name: req.body.name,
        scope: req.body.scope,
        expiresInDays: req.body.expiresInDays,
      });
      return reply.status(201).send(t);
    },
  );
  app.get('/api/tokens', { schema: { response: ok } }, (req) => store.listTokens(req.actor));
  app.delete<{ Params: { id: number } }>(
    '/api/tokens/:id',
    { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } }, response: ok } },
    async (req, reply) => {
      await store.revokeToken(req.actor, req.params.id);
      return reply.status(204).send();
    },
  );

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
        response: ok,
      },
    },
    (req) => store.listModels(req.actor, req.query),
  );
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
  app.post<{
    Params: { team: string; name: string };
    Body: { visibility?: 'private'; card?: string; tags?: string[]; method?: string; modality?: string };
  }>('/api/models/:team/:name', { schema: { params: modelParams, body: modelBody, response: ok } }, async (req, reply) =>
    reply.status(201).send(await store.createModel(req.actor, req.params.team, req.params.name, req.body ?? {})),
  );
  app.get<{ Params: { team: string; name: string } }>('/api/models/:team/:name', { schema: { params: modelParams, response: ok } }, (req) =>
    store.getModel(req.actor, req.params.team, req.params.name),
  );
  app.patch<{
    Params: { team: string; name: string };
    Body: { visibility?: 'private'; card?: string; tags?: string[]; method?: string; modality?: string };
  }>('/api/models/:team/:name', { schema: { params: modelParams, body: modelBody, response: ok } }, (req) =>
    store.updateModel(req.actor, req.params.team, req.params.name, req.body),
  );
  app.put<{ Params: { team: string; name: string; to: string } }>(
    '/api/models/:team/:name/grants/:to',
    { schema: { params: { type: 'object', required: ['team', 'name', 'to'], properties: { team: name, name, to: name } }, response: ok } },
    async (req) => {
      await store.grant(req.actor, req.params.team, req.params.name, req.params.to);
      return { granted: req.params.to };
    },
  );
  app.delete<{ Params: { team: string; name: string; to: string } }>(
    '/api/models/:team/:name/grants/:to',
    { schema: { params: { type: 'object', required: ['team', 'name', 'to'], properties: { team: name, name, to: name } }, response: ok } },
    async (req, reply) => {
      await store.grant(req.actor, req.params.team, req.params.name, req.params.to, true);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: { sha256: string }; Body: Readable }>(
    '/api/blobs/:sha256',
    {
      schema: {
        params: { type: 'object', required: ['sha256'], properties: { sha256: { type: 'string', pattern: SHA256.source } } },
        response: {
          201: { type: 'object', properties: { sha256: { type: 'string' }, size: { type: 'integer' }, created: { type: 'boolean' } } },
          ...ok,
        },
      },
    },
    async (req, reply) => {
      if (!req.actor || req.actor.scope === 'read')
        throw new HubError('uploading needs a token with the write scope', req.actor ? 403 : 401);
      if (req.headers['content-type'] !== 'application/octet-stream') throw new HubError('send blobs as application/octet-stream', 400);
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > maxBlob) throw new HubError(`upload is larger than the ${maxBlob}-byte limit`, 413);
      const r = await blobs.put(req.body, req.params.sha256, maxBlob);
      return reply.status(201).send(r);
    },
  );
  app.head<{ Params: { sha256: string } }>(
    '/api/blobs/:sha256',
    { schema: { params: { type: 'object', required: ['sha256'], properties: { sha256: { type: 'string', pattern: SHA256.source } } } } },
    async (req, reply) => {
      if (!req.actor) throw new HubError('this needs an API token', 401);
      return reply.status(blobs.has(req.params.sha256) ? 200 : 404).send();
    },
  );

  app.post<{
    Params: { team: string; name: string };
    Body: {
      files: { path: string; sha256: string; size: number }[];
      lineage?: Record<string, unknown>;
      metrics?: Record<string, unknown>;
      card?: string;
      visibility?: 'private';
    };
  }>(
    '/api/models/:team/:name/versions',
    {
      schema: {
        params: modelParams,
        body: {
          type: 'object',
          required: ['files'],
          properties: {
            files: { type: 'array', minItems: 1, maxItems: 1000, items: fileSchema },
            lineage: { type: 'object' },
            metrics: { type: 'object' },
            card: { type: 'string', maxLength: 200_000 },
            visibility,
          },
          additionalProperties: false,
        },
        response: ok,
      },
    },
    async (req, reply) => {
      const r = await store.pushVersion(req.actor, req.params.team, req.params.name, req.body, (sha) =>
        blobs.has(sha) ? blobs.size(sha) : null,
      );
      return reply.status(r.created ? 201 : 200).send(r);
    },
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/versions',
    { schema: { params: modelParams, response: ok } },
    (req) => store.listVersions(req.actor, req.params.team, req.params.name),
  );
  app.get<{ Params: { team: string; name: string; ref: string } }>(
    '/api/models/:team/:name/versions/:ref',
    { schema: { params: refParams, response: ok } },
    (req) => store.resolve(req.actor, req.params.team, req.params.name, req.params.ref),
  );
  app.get<{ Params: { team: string; name: string; ref: string; '*': string } }>(
    '/api/models/:team/:name/versions/:ref/files/*',
    {
      schema: {
        params: { type: 'object', properties: { ...refParams.properties, '*': { type: 'string', minLength: 1, maxLength: 255 } } },
      },
    },
    async (req, reply) => download(req, reply),
  );
  async function download(req: FastifyRequest<{ Params: { team: string; name: string; ref: string; '*': string } }>, reply: FastifyReply) {
    const v = await store.resolve(req.actor, req.params.team, req.params.name, req.params.ref);
    const f = v.files.find((x) => x.path === req.params['*']);
    if (!f) throw new HubError(`version v${v.seq} has no file '${req.params['*']}'`, 404);
    const range = parseRange(req.headers.range, f.size);
    void reply
      .header('accept-ranges', 'bytes')
      .header('etag', `"${f.sha256}"`)
      .header('x-content-sha256', f.sha256)
      .type('application/octet-stream');
    if (range) {
      void reply
        .status(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${f.size}`)
        .header('content-length', range.end - range.start + 1);
      return reply.send(blobs.open(f.sha256, range));
    }
    void reply.header('content-length', f.size);
    return reply.send(blobs.open(f.sha256));
  }

  app.put<{ Params: { team: string; name: string; alias: string }; Body: { version: string } }>(
    '/api/models/:team/:name/aliases/:alias',
    {
      schema: {
        params: { type: 'object', required: ['team', 'name', 'alias'], properties: { team: name, name, alias: name } },
        body: {
          type: 'object',
          required: ['version'],
          properties: { version: { type: 'string', minLength: 1, maxLength: 64 } },
          additionalProperties: false,
        },
        response: ok,
      },
    },
    (req) => store.setAlias(req.actor, req.params.team, req.params.name, req.params.alias, req.body.version),
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/aliases/history',
    { schema: { params: modelParams, response: ok } },
    (req) => store.aliasHistory(req.actor, req.params.team, req.params.name),
  );

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
  app.post<{
    Params: { team: string; name: string; ref: string };
    Body: { task: string; dataset: string; metric: string; value: number; protocol: string; labelBudget: string };
  }>('/api/models/:team/:name/versions/:ref/evals', { schema: { params: refParams, body: evalBody, response: ok } }, async (req, reply) =>
    reply.status(201).send(await store.addEval(req.actor, req.params.team, req.params.name, req.params.ref, req.body)),
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/evals',
    { schema: { params: modelParams, response: ok } },
    (req) => store.evals(req.actor, req.params.team, req.params.name),
  );
  app.get<{ Params: { task: string }; Querystring: { metric?: string } }>(
    '/api/leaderboards/:task',
    {
      schema: {
        params: { type: 'object', required: ['task'], properties: { task: { type: 'string', minLength: 1, maxLength: 100 } } },
        querystring: { type: 'object', properties: { metric: { type: 'string', maxLength: 64 } }, additionalProperties: false },
        response: ok,
      },
    },
    (req) => store.leaderboard(req.actor, req.params.task, req.query.metric),
  );
  app.get('/api/audit', { schema: { response: ok } }, (req) => store.auditLog(req.actor));
  app.get('/api/tasks', { schema: { response: ok } }, (req) => store.tasks(req.actor));

  // The web UI (built by `npm run build:web`), at /.
  const web = o.webDir ?? fileURLToPath(new URL('../web/dist', import.meta.url));
  if (existsSync(join(web, 'index.html'))) {
    await app.register(fastifyStatic, { root: web, prefix: '/', index: ['index.html'], wildcard: false });
  } else {
    app.get('/', { schema: { hide: true } }, (_req, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><title>Pretext hub</title><p>The web UI is not built: run <code>npm run build:web</code>. The API is at <a href="/openapi.json">/openapi.json</a>.</p>',
        ),
    );
  }

  app.addHook('onClose', async () => db.close());
  return { app, store, blobs, db, swept, adminToken };
}

// The hub's HTTP API on Fastify. Every route declares JSON schemas for its inputs (checked
// before the handler runs, with a 400 that says what was wrong) and for every status it
// answers; the same schemas produce the OpenAPI document at /openapi.json. Every response
// carries security headers (headers.ts: helmet's, with a script-src 'self'
// Content-Security-Policy, nosniff, no referrer, no framing). Logs are structured (pino) and never contain the Authorization
// header or the session cookie.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { bearer } from './auth.js';
import { securityHeaders } from './headers.js';
import { BlobError, BlobStore } from './blobs.js';
import { migrate, openDb, type Db } from './db.js';
import { accountRoutes, clearSessionCookie, csrfValid, SESSION_COOKIE } from './routes/accounts.js';
import { artifactRoutes } from './routes/artifacts.js';
import { federationRoutes } from './routes/federations.js';
import { modelRoutes } from './routes/models.js';
import { responses } from './routes/schemas.js';
import { HubError, Store, type Actor } from './store/index.js';

export interface HubOptions {
  /** Folder for the SQLite file and the artifacts (default ./hub-data). */
  dataDir: string;
  /** sqlite:PATH or postgres://... (default sqlite:<dataDir>/hub.db). */
  database?: string;
  /** Largest accepted blob, bytes (default 2 GiB). */
  maxBlobBytes?: number;
  /** Bytes one user may hold in uploads no version refers to (default 10 GiB); past it uploads get 429. */
  maxUnreferencedBytes?: number;
  /** Uploads no version refers to are removed once this old (default 1 hour). */
  unreferencedGraceMs?: number;
  /** How often the sweep of unreferenced uploads runs (default 10 minutes; 0: only at start). */
  sweepIntervalMs?: number;
  /** How long an idle kept-alive connection stays open (default Node's 72 s). */
  keepAliveTimeoutMs?: number;
  /** pino log level, or false for no logs (default 'info'). */
  logLevel?: string | false;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** How often rounds past their timeout are closed (default 2 s). */
  federationTickMs?: number;
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
  /** Runs the sweep of unreferenced uploads now (it also runs on a schedule); returns what it removed. */
  sweep: () => Promise<{ partial: number; orphans: string[] }>;
  /** The admin token created on an empty hub (shown once), else null. */
  adminToken: string | null;
  /** Every route as `METHOD /path`, for the access-matrix test. */
  routes: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
    /** The browser session's secret when the request was authenticated by the session cookie. */
    session: string | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function createHub(o: HubOptions): Promise<Hub> {
  mkdirSync(o.dataDir, { recursive: true });
  const db = openDb(o.database ?? `sqlite:${join(o.dataDir, 'hub.db')}`);
  await migrate(db);
  const store = new Store(db, join(o.dataDir, 'federations'));
  const blobs = new BlobStore(join(o.dataDir, 'blobs'));
  const graceMs = o.unreferencedGraceMs ?? 3600_000;
  /** Blobs no version uses, last uploaded (or written) more than `graceMs` ago, go; so do stale partial uploads and ended sessions. */
  const sweep = async (partialAgeMs: number) => {
    const referenced = await store.versions.referenced();
    const uploads = await store.versions.lastUploads();
    const cutoff = Date.now() - graceMs;
    const r = blobs.sweep((sha, modifiedMs) => {
      if (referenced.has(sha)) return true;
      const at = uploads.get(sha);
      return Math.max(modifiedMs, at ? Date.parse(at) : 0) >= cutoff;
    }, partialAgeMs);
    await store.versions.forgetUploads(r.orphans);
    await store.accounts.forgetEndedSessions();
    return r;
  };
  const swept = await sweep(0);
  const adminToken = await store.accounts.bootstrap();

  const secure = securityHeaders();
  const app = Fastify({
    logger:
      o.logLevel === false
        ? false
        : {
            level: o.logLevel ?? 'info',
            stream: o.logStream,
            redact: {
              paths: ['req.headers.authorization', 'headers.authorization', 'req.headers.cookie', 'headers.cookie'],
              censor: '[redacted]',
            },
          },
    bodyLimit: 1024 * 1024,
    exposeHeadRoutes: false,
    // A file path inside a version is up to 255 characters, more once URL-encoded.
    routerOptions: { maxParamLength: 1024 },
    // Malformed URLs are refused by the router before any hook runs: answer them in the
    // API's error shape, as a documented 400, with the headers helmet would have added.
    frameworkErrors: (err, _req, res) =>
      void (res as FastifyReply)
        .status(400)
        .headers(secure)
        .send({
          statusCode: 400,
          error: err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is longer than 1024 characters' : 'the URL is malformed',
        }),
    ...(o.keepAliveTimeoutMs ? { keepAliveTimeout: o.keepAliveTimeoutMs } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    if (r.schema?.hide) return;
    for (const m of [r.method].flat()) routes.push(`${m} ${r.url}`);
  });
  app.addHook('onRequest', async (_req, reply) => void reply.headers(secure));
  await app.register(cookie);
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
  app.decorateRequest('session', null);
  // Who is asking: a bearer token (API clients), else a browser session cookie. A request made
  // with the cookie that changes anything must carry the session's CSRF token and, when the
  // browser sends an Origin, come from the hub's own origin.
  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = bearer(header);
      if (!token) throw new HubError("Authorization must be 'Bearer ptx_...'", 401);
      req.actor = await store.accounts.authenticate(token);
      if (!req.actor) throw new HubError('the token is unknown, revoked or expired', 401);
      return;
    }
    const secret = req.cookies[SESSION_COOKIE];
    if (!secret) return;
    req.actor = await store.accounts.sessionActor(secret);
    if (!req.actor) return clearSessionCookie(req, reply);
    req.session = secret;
    if (SAFE_METHODS.has(req.method)) return;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `${req.protocol}://${req.headers.host ?? ''}`)
      throw new HubError(`cross-origin request from ${origin} refused`, 403);
    if (!csrfValid(req, secret)) throw new HubError('missing or wrong X-CSRF-Token for this session', 403);
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
    if (err instanceof HubError) void reply.headers(err.headers);
    void reply.status(status).send({ statusCode: status, error: status >= 500 ? 'internal error' : message });
  });
  app.setNotFoundHandler(
    (req, reply) => void reply.status(404).send({ statusCode: 404, error: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/api/health', { schema: { response: responses({ 200: 'object' }) } }, () => ({ ok: true, engine: db.engine }));
  accountRoutes(app, store);
  modelRoutes(app, store);
  artifactRoutes(app, store, blobs, {
    maxBlobBytes: o.maxBlobBytes ?? 2 * 1024 ** 3,
    maxUnreferencedBytes: o.maxUnreferencedBytes ?? 10 * 1024 ** 3,
  });
  federationRoutes(app, store);

  // The web UI (built by `npm run build:web`), at /.
  const web = o.webDir ?? fileURLToPath(new URL('../web/dist', import.meta.url));
  if (existsSync(join(web, 'index.html'))) {
    await app.register(fastifyStatic, { root: web, prefix: '/', index: ['index.html'], wildcard: false, schemaHide: true });
  } else {
    app.get('/', { schema: { hide: true } }, (_req, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><title>Pretext hub</title><p>The web UI is not built: run <code>npm run build:web</code>. The API is at <a href="/openapi.json">/openapi.json</a>.</p>',
        ),
    );
  }

  const interval = o.sweepIntervalMs ?? 600_000;
  const timer =
    interval > 0 ? setInterval(() => void sweep(graceMs).catch((err: Error) => app.log.error({ err }, 'sweep failed')), interval) : null;
  timer?.unref();
  // Rounds whose timeout passed close even when no site is asking.
  const rounds = setInterval(
    () => void store.federations.tick().catch((err: Error) => app.log.error({ err }, 'closing federation rounds failed')),
    o.federationTickMs ?? 2000,
  );
  rounds.unref();
  app.addHook('onClose', async () => {
    clearInterval(rounds);
    if (timer) clearInterval(timer);
    await db.close();
  });
  return { app, store, blobs, db, swept, sweep: () => sweep(graceMs), adminToken, routes };
}

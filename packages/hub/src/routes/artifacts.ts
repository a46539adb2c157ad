// Blobs, versions, file downloads and aliases.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BlobStore, parseRange } from '../blobs.js';
import { HubError, requireScope, type PushInput, type Store } from '../store/index.js';
import { modelParams, name, refParams, responses, sha256, visibility } from './schemas.js';

export interface UploadLimits {
  /** Largest accepted blob, bytes. */
  maxBlobBytes: number;
  /** Bytes one user may hold in uploads that no version refers to yet. */
  maxUnreferencedBytes: number;
}

const fileSchema = {
  type: 'object',
  required: ['path', 'sha256', 'size'],
  properties: { path: { type: 'string', minLength: 1, maxLength: 255 }, sha256, size: { type: 'integer', minimum: 0 } },
  additionalProperties: false,
} as const;
const blobParams = { type: 'object', required: ['sha256'], properties: { sha256 }, additionalProperties: false } as const;

export function artifactRoutes(app: FastifyInstance, store: Store, blobs: BlobStore, limits: UploadLimits): void {
  const { versions } = store;
  const stored = (sha: string): number | null => (blobs.has(sha) ? blobs.size(sha) : null);

  app.put<{ Params: { sha256: string }; Body: Readable }>(
    '/api/blobs/:sha256',
    { schema: { params: blobParams, response: responses({ 201: 'object' }, [403, 413, 429]) } },
    async (req, reply) => {
      const a = requireScope(req.actor, 'write');
      if (req.headers['content-type'] !== 'application/octet-stream') throw new HubError('send blobs as application/octet-stream', 400);
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > limits.maxBlobBytes) throw new HubError(`upload is larger than the ${limits.maxBlobBytes}-byte limit`, 413);
      const pending = await versions.unreferencedBytes(a);
      const overQuota = (bytes: number): HubError =>
        new HubError(
          `you hold ${bytes} bytes of uploads that no version uses (limit ${limits.maxUnreferencedBytes}): push a version that uses them, or wait for the sweep to remove them`,
          429,
          { 'retry-after': '3600' },
        );
      if (pending + (Number.isFinite(declared) ? declared : 0) > limits.maxUnreferencedBytes) throw overQuota(pending);
      const r = await blobs.put(req.body, req.params.sha256, limits.maxBlobBytes);
      await versions.recordUpload(a, r.sha256, r.size);
      // A body without a declared length is counted once it has arrived.
      if ((await versions.unreferencedBytes(a)) > limits.maxUnreferencedBytes) {
        await versions.forgetUpload(a, r.sha256);
        if (r.created && !(await versions.isKnown(r.sha256))) blobs.remove(r.sha256);
        throw overQuota(pending);
      }
      return reply.status(201).send(r);
    },
  );
  // Answers 200 only for blobs this actor may reference in a push (its own uploads, or files
  // of versions it can read); any other digest, stored or not, is a 404.
  app.head<{ Params: { sha256: string } }>(
    '/api/blobs/:sha256',
    { schema: { params: blobParams, response: responses({ 200: 'empty' }, [404]) }, config: { swagger: { exposeHeadRoute: true } } },
    async (req, reply) => {
      const a = requireScope(req.actor, 'read');
      const ok = stored(req.params.sha256) !== null && (await versions.referencable(store.db, a, req.params.sha256)) !== null;
      return reply.status(ok ? 200 : 404).send();
    },
  );

  app.post<{ Params: { team: string; name: string }; Body: PushInput }>(
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
        response: responses({ 200: 'object', 201: 'object' }, [403, 404, 409, 413]),
      },
    },
    async (req, reply) => {
      const r = await versions.push(req.actor, req.params.team, req.params.name, req.body, stored);
      return reply.status(r.created ? 201 : 200).send(r);
    },
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/versions',
    { schema: { params: modelParams, response: responses({ 200: 'array' }, [404]) } },
    (req) => versions.list(req.actor, req.params.team, req.params.name),
  );
  app.get<{ Params: { team: string; name: string; ref: string } }>(
    '/api/models/:team/:name/versions/:ref',
    { schema: { params: refParams, response: responses({ 200: 'object' }, [404]) } },
    (req) => versions.resolve(req.actor, req.params.team, req.params.name, req.params.ref),
  );

  type FileRequest = FastifyRequest<{ Params: { team: string; name: string; ref: string; '*': string } }>;
  // Files go out as opaque downloads: application/octet-stream, Content-Disposition:
  // attachment and nosniff, so no artifact is ever rendered as a page of the hub's origin.
  async function download(req: FileRequest, reply: FastifyReply) {
    const v = await versions.resolve(req.actor, req.params.team, req.params.name, req.params.ref);
    const f = v.files.find((x) => x.path === req.params['*']);
    if (!f) throw new HubError(`version v${v.seq} has no file '${req.params['*']}'`, 404);
    const range = parseRange(req.headers.range, f.size);
    void reply
      .header('accept-ranges', 'bytes')
      .header('etag', `"${f.sha256}"`)
      .header('x-content-sha256', f.sha256)
      .header('content-disposition', `attachment; filename="${f.path.split('/').pop()!}"`)
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
  app.get(
    '/api/models/:team/:name/versions/:ref/files/*',
    {
      schema: {
        params: { type: 'object', properties: { ...refParams.properties, '*': { type: 'string', minLength: 1, maxLength: 255 } } },
        response: responses({ 200: 'bytes', 206: 'bytes' }, [404, 416]),
      },
    },
    (req, reply) => download(req as FileRequest, reply),
  );

  app.put<{ Params: { team: string; name: string; alias: string }; Body: { version: string } }>(
    '/api/models/:team/:name/aliases/:alias',
    {
      schema: {
        params: {
          type: 'object',
          required: ['team', 'name', 'alias'],
          properties: { team: name, name, alias: name },
          additionalProperties: false,
        },
        body: {
          type: 'object',
          required: ['version'],
          properties: { version: { type: 'string', minLength: 1, maxLength: 64 } },
          additionalProperties: false,
        },
        response: responses({ 200: 'object' }, [403, 404, 413]),
      },
    },
    (req) => versions.setAlias(req.actor, req.params.team, req.params.name, req.params.alias, req.body.version),
  );
  app.get<{ Params: { team: string; name: string } }>(
    '/api/models/:team/:name/aliases/history',
    { schema: { params: modelParams, response: responses({ 200: 'array' }, [404]) } },
    (req) => versions.aliasHistory(req.actor, req.params.team, req.params.name),
  );
}

// The access matrix: every route of the hub x every kind of actor x every visibility, with
// the status each cell must answer, on SQLite and on PostgreSQL. A route the server has and
// the table lacks fails the test, so a new route cannot ship without its rows. Wherever a
// private model answers 404, the same request for a model that does not exist must get the
// same answer (status, headers and body, up to the name asked for).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { encodeWeights } from '../src/federation/tensors.js';
import { SecAggSite, secAggParams } from '../src/federation/secagg.js';
import { databaseFor, freshHub, sha, stopPostgres, type Reply } from './fixtures/hub.js';

const ACTORS = [
  'anon', // no token
  'expired', // a vision member's token past its expiry
  'revoked', // a vision member's revoked token
  'read', // vision member, read scope
  'write', // vision member, write scope
  'admin', // vision team admin, admin scope
  'other', // member of another team (fraud), write scope
  'granted', // member of a team (partner) granted read access to each model, write scope
  'hubAdmin', // hub admin, admin scope
  'hubAdminRead', // hub admin, read scope
] as const;
type ActorKind = (typeof ACTORS)[number];
const VIS = ['private', 'internal', 'public'] as const;
type Vis = (typeof VIS)[number];

/** One expected status for all three visibilities, or 'private internal public' statuses. */
type Expect = number | `${number} ${number} ${number}`;

interface Cell {
  vis: Vis;
  /** The model of this visibility: vision/m-private, vision/m-internal, vision/m-public. */
  model: string;
  /** A counter unique to this cell, for names and bytes that must not repeat. */
  n: number;
  /** The actor's token (null for anon). */
  token: string | null;
  actor: ActorKind;
}
interface Request {
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the actor's token in the body instead of the Authorization header (sign-in). */
  tokenInBody?: boolean;
}
interface Row {
  route: string;
  what?: string;
  req: (c: Cell) => Request | Promise<Request>;
  expect: Record<ActorKind, Expect>;
}

/** Builds a row's expectations: the actor kinds in ACTORS order. */
function e(...statuses: Expect[]): Record<ActorKind, Expect> {
  assert.equal(statuses.length, ACTORS.length);
  return Object.fromEntries(ACTORS.map((a, i) => [a, statuses[i]!])) as Record<ActorKind, Expect>;
}

const visible = 'GET model-scoped reads: private to its team, granted teams and hub admins; internal to any token; public to all';

for (const engine of ['sqlite', 'postgres'] as const)
  describe(`access matrix on ${engine}`, () => {
    let h: Awaited<ReturnType<typeof freshHub>>;
    const tokens = {} as Record<ActorKind, string | null>;
    const files = {} as Record<Vis, { sha256: string; size: number }>;
    let bystanderToken: { id: number };
    let n = 0;
    const users: Record<ActorKind, string> = {
      anon: '',
      expired: 'alice',
      revoked: 'alice',
      read: 'alice',
      write: 'alice',
      admin: 'vera',
      other: 'mallory',
      granted: 'pat',
      hubAdmin: 'admin',
      hubAdminRead: 'admin',
    };

    before(async () => {
      h = await freshHub({ database: await databaseFor(engine, 'access'), logLevel: false });
      const root = h.hub.adminToken!;
      const ok = async (r: Promise<Reply>, status = 201): Promise<Record<string, unknown>> => {
        const x = await r;
        assert.equal(x.status, status, x.body);
        return x.json ?? {};
      };
      for (const u of ['alice', 'vera', 'mallory', 'pat', 'bystander']) await ok(h.call('POST', '/api/users', root, { name: u }));
      const mint = async (user: string, scope: string, extra: Record<string, unknown> = {}) =>
        ok(h.call('POST', '/api/tokens', root, { name: `${user}-${scope}`, scope, user, ...extra }));
      const vera = (await mint('vera', 'admin')).token as string;
      await ok(h.call('POST', '/api/teams', vera, { name: 'vision' }));
      await ok(h.call('PUT', '/api/teams/vision/members/alice', vera, { role: 'member' }), 200);
      const mallory = (await mint('mallory', 'admin')).token as string;
      await ok(h.call('POST', '/api/teams', mallory, { name: 'fraud' }));
      const pat = (await mint('pat', 'admin')).token as string;
      await ok(h.call('POST', '/api/teams', pat, { name: 'partner' }));
      await ok(h.call('POST', '/api/teams', root, { name: 'nobody' }));
      tokens.anon = null;
      const expired = await mint('alice', 'write');
      await h.hub.db.run('UPDATE tokens SET expires_at = ? WHERE id = ?', ['2000-01-01T00:00:00.000Z', expired.id]);
      tokens.expired = expired.token as string;
      const revoked = await mint('alice', 'write');
      await ok(h.call('DELETE', `/api/tokens/${String(revoked.id)}`, root), 204);
      tokens.revoked = revoked.token as string;
      tokens.read = (await mint('alice', 'read')).token as string;
      tokens.write = (await mint('alice', 'write')).token as string;
      tokens.admin = vera;
      tokens.other = (await mint('mallory', 'write')).token as string;
      tokens.granted = (await mint('pat', 'write')).token as string;
      tokens.hubAdmin = root;
      tokens.hubAdminRead = (await mint('admin', 'read')).token as string;
      bystanderToken = (await mint('bystander', 'read')) as { id: number };
      for (const vis of VIS) {
        const bytes = Buffer.from(`weights of the ${vis} model`);
        await ok(h.upload(vera, bytes));
        files[vis] = { sha256: sha(bytes), size: bytes.length };
        await ok(
          h.call('POST', `/api/models/vision/m-${vis}/versions`, vera, {
            files: [{ path: 'encoder.safetensors', ...files[vis] }],
            visibility: vis,
          }),
        );
        await ok(h.call('PUT', `/api/models/vision/m-${vis}/grants/partner`, vera), 200);
        await ok(h.call('PUT', `/api/models/vision/m-${vis}/aliases/production`, vera, { version: 'v1' }), 200);
      }
    });
    after(async () => {
      await h.hub.app.close();
      if (engine === 'postgres') stopPostgres();
    });

    const evalBody = { task: 't', dataset: 'd', metric: 'accuracy', value: 0.5, protocol: 'linear', labelBudget: '1%' };
    // Federations: vision owns them, partner is invited as a site (fraud is not in them).
    const fedBody = (sites: string[], secure = false, dp = false, summaries = false) => ({
      sites,
      ...(secure ? { secureAggregation: { clip: 4 }, minSites: 2 } : {}),
      ...(dp ? { dp: { noise: 1, clip: 1, delta: 1e-5 } } : {}),
      ...(summaries ? { siteSummaries: { minCount: 5 } } : {}),
      rounds: 2,
      localEpochs: 1,
      strategy: { name: 'fedavg', share: 'all', aggregation: { kind: 'mean' }, optimizer: { name: 'sgd', lr: 1 } },
      recipe: 'name: matrix\n',
    });
    const initial = encodeWeights(new Map([['w', Float32Array.of(0.5, -0.5)]]));
    const octet = { 'content-type': 'application/octet-stream' };
    /** A fresh federation vision/fed-N made by vera, with its initial weights and started as asked. */
    const federation = async (
      c: Cell,
      o: { weights: boolean; start: boolean; sites?: string[]; secure?: boolean; dp?: boolean; summaries?: boolean },
    ): Promise<string> => {
      const url = `/api/federations/vision/fed-${c.n}`;
      assert.equal((await h.call('POST', url, tokens.admin, fedBody(o.sites ?? ['partner'], o.secure, o.dp, o.summaries))).status, 201);
      if (o.weights) assert.equal((await h.call('PUT', `${url}/weights`, tokens.admin, initial, octet)).status, 201);
      if (o.start) assert.equal((await h.call('POST', `${url}/control`, tokens.admin, { action: 'start' })).status, 200);
      return url;
    };
    //                    anon           exp  rev  read           write          admin          other          granted        hubAdmin       hubAdminRead
    const ROWS: Row[] = [
      {
        route: 'GET /api/health',
        req: () => ({ method: 'GET', url: '/api/health' }),
        expect: e(200, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'GET /api/whoami',
        req: () => ({ method: 'GET', url: '/api/whoami' }),
        expect: e(401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'POST /api/session',
        what: 'sign-in exchanges a live token for a session',
        req: () => ({ method: 'POST', url: '/api/session', tokenInBody: true }),
        expect: e(401, 401, 401, 201, 201, 201, 201, 201, 201, 201),
      },
      {
        route: 'GET /api/session',
        what: 'a bearer token is not a browser session',
        req: () => ({ method: 'GET', url: '/api/session' }),
        expect: e(401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
      },
      {
        route: 'DELETE /api/session',
        req: () => ({ method: 'DELETE', url: '/api/session' }),
        expect: e(204, 401, 401, 204, 204, 204, 204, 204, 204, 204),
      },
      {
        route: 'POST /api/users',
        req: (c) => ({ method: 'POST', url: '/api/users', body: { name: `user-${c.n}` } }),
        expect: e(401, 401, 401, 403, 403, 403, 403, 403, 201, 403),
      },
      {
        route: 'POST /api/teams',
        req: (c) => ({ method: 'POST', url: '/api/teams', body: { name: `team-${c.n}` } }),
        expect: e(401, 401, 401, 403, 201, 201, 201, 201, 201, 403),
      },
      {
        route: 'GET /api/teams',
        req: () => ({ method: 'GET', url: '/api/teams' }),
        expect: e(401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'PUT /api/teams/:team/members/:user',
        req: () => ({ method: 'PUT', url: '/api/teams/vision/members/bystander', body: { role: 'member' } }),
        expect: e(401, 401, 401, 403, 403, 200, 403, 403, 200, 403),
      },
      {
        route: 'POST /api/tokens',
        req: () => ({ method: 'POST', url: '/api/tokens', body: { name: 'matrix', scope: 'read' } }),
        expect: e(401, 401, 401, 403, 201, 201, 201, 201, 201, 403),
      },
      {
        route: 'POST /api/tokens',
        what: 'a token for another user',
        req: () => ({ method: 'POST', url: '/api/tokens', body: { name: 'matrix', scope: 'read', user: 'bystander' } }),
        expect: e(401, 401, 401, 403, 403, 403, 403, 403, 201, 403),
      },
      {
        route: 'GET /api/tokens',
        req: () => ({ method: 'GET', url: '/api/tokens' }),
        expect: e(401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'DELETE /api/tokens/:id',
        what: "one of the actor's own tokens",
        req: async (c) => {
          const user = users[c.actor] || 'bystander';
          const t = (await h.call('POST', '/api/tokens', tokens.hubAdmin, { name: `own-${c.n}`, scope: 'read', user })).json!;
          return { method: 'DELETE', url: `/api/tokens/${String(t.id)}` };
        },
        expect: e(401, 401, 401, 403, 204, 204, 204, 204, 204, 403),
      },
      {
        route: 'DELETE /api/tokens/:id',
        what: "another user's token",
        req: () => ({ method: 'DELETE', url: `/api/tokens/${bystanderToken.id}` }),
        expect: e(401, 401, 401, 403, 404, 404, 404, 404, 204, 403),
      },
      {
        route: 'GET /api/audit',
        req: () => ({ method: 'GET', url: '/api/audit' }),
        expect: e(401, 401, 401, 403, 403, 403, 403, 403, 200, 403),
      },
      {
        route: 'GET /api/models',
        req: () => ({ method: 'GET', url: '/api/models' }),
        expect: e(200, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'POST /api/models/:team/:name',
        what: 'create a model of the column visibility (non-private needs a team admin)',
        req: (c) => ({ method: 'POST', url: `/api/models/vision/new-${c.n}`, body: { visibility: c.vis } }),
        expect: e(401, 401, 401, 403, '201 403 403', 201, 403, 403, 201, 403),
      },
      {
        route: 'GET /api/models/:team/:name',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'PATCH /api/models/:team/:name',
        what: 'edit the card: team members',
        req: (c) => ({ method: 'PATCH', url: `/api/models/vision/${c.model}`, body: { card: `card ${c.n}` } }),
        expect: e('404 404 401', 401, 401, 403, 200, 200, '404 403 403', 403, 200, 403),
      },
      {
        route: 'PATCH /api/models/:team/:name',
        what: 'set the visibility: team admins',
        req: (c) => ({ method: 'PATCH', url: `/api/models/vision/${c.model}`, body: { visibility: c.vis } }),
        expect: e('404 404 401', 401, 401, 403, 403, 200, '404 403 403', 403, 200, 403),
      },
      {
        route: 'PUT /api/models/:team/:name/grants/:to',
        req: (c) => ({ method: 'PUT', url: `/api/models/vision/${c.model}/grants/partner` }),
        expect: e('404 404 401', 401, 401, 403, 403, 200, '404 403 403', 403, 200, 403),
      },
      {
        route: 'DELETE /api/models/:team/:name/grants/:to',
        req: (c) => ({ method: 'DELETE', url: `/api/models/vision/${c.model}/grants/nobody` }),
        expect: e('404 404 401', 401, 401, 403, 403, 204, '404 403 403', 403, 204, 403),
      },
      {
        route: 'PUT /api/blobs/:sha256',
        req: (c) => {
          const bytes = Buffer.from(`bytes of cell ${c.n}`);
          return { method: 'PUT', url: `/api/blobs/${sha(bytes)}`, body: bytes, headers: { 'content-type': 'application/octet-stream' } };
        },
        expect: e(401, 401, 401, 403, 201, 201, 201, 201, 201, 403),
      },
      {
        route: 'HEAD /api/blobs/:sha256',
        what: "a model's file: answered only for actors who could reference it",
        req: (c) => ({ method: 'HEAD', url: `/api/blobs/${files[c.vis].sha256}` }),
        expect: e(401, 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'POST /api/models/:team/:name/versions',
        what: "a new version made of the model's own file under a new path",
        req: (c) => ({
          method: 'POST',
          url: `/api/models/vision/${c.model}/versions`,
          body: { files: [{ path: `copy-${c.n}.bin`, ...files[c.vis] }] },
        }),
        expect: e(401, 401, 401, 403, 201, 201, 403, 403, 201, 403),
      },
      {
        route: 'GET /api/models/:team/:name/versions',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}/versions` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'GET /api/models/:team/:name/versions/:ref',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}/versions/production` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'GET /api/models/:team/:name/versions/:ref/files/*',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}/versions/v1/files/encoder.safetensors` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'PUT /api/models/:team/:name/aliases/:alias',
        req: (c) => ({ method: 'PUT', url: `/api/models/vision/${c.model}/aliases/production`, body: { version: 'v1' } }),
        expect: e('404 404 401', 401, 401, 403, 200, 200, '404 403 403', 403, 200, 403),
      },
      {
        route: 'GET /api/models/:team/:name/aliases/history',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}/aliases/history` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'POST /api/models/:team/:name/versions/:ref/evals',
        what: 'any reader with a write token reports results',
        req: (c) => ({ method: 'POST', url: `/api/models/vision/${c.model}/versions/v1/evals`, body: evalBody }),
        expect: e(401, 401, 401, 403, 201, 201, '404 201 201', 201, 201, 403),
      },
      {
        route: 'GET /api/models/:team/:name/evals',
        what: visible,
        req: (c) => ({ method: 'GET', url: `/api/models/vision/${c.model}/evals` }),
        expect: e('404 404 200', 401, 401, 200, 200, 200, '404 200 200', 200, 200, 200),
      },
      {
        route: 'GET /api/leaderboards/:task',
        req: () => ({ method: 'GET', url: '/api/leaderboards/t' }),
        expect: e(200, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'GET /api/tasks',
        req: () => ({ method: 'GET', url: '/api/tasks' }),
        expect: e(200, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'GET /api/federations',
        req: () => ({ method: 'GET', url: '/api/federations' }),
        expect: e(401, 401, 401, 200, 200, 200, 200, 200, 200, 200),
      },
      {
        route: 'POST /api/federations/:team/:name',
        what: "writers of the owner team create; a site team's member cannot create for the owner",
        req: (c) => ({ method: 'POST', url: `/api/federations/vision/new-fed-${c.n}`, body: fedBody(['partner']) }),
        expect: e(401, 401, 401, 403, 201, 201, 403, 403, 201, 403),
      },
      {
        route: 'GET /api/federations/:team/:name',
        what: 'the owner team, site teams and hub admins see it; anyone else is told it does not exist',
        req: async (c) => ({ method: 'GET', url: await federation(c, { weights: true, start: true }) }),
        expect: e(404, 401, 401, 200, 200, 200, 404, 200, 200, 200),
      },
      {
        route: 'PUT /api/federations/:team/:name/weights',
        what: "the initial weights: the owner team's writers, before the start",
        req: async (c) => ({
          method: 'PUT',
          url: `${await federation(c, { weights: false, start: false })}/weights`,
          body: initial,
          headers: octet,
        }),
        expect: e(404, 401, 401, 403, 201, 201, 404, 403, 201, 403),
      },
      {
        route: 'GET /api/federations/:team/:name/weights',
        what: 'the global weights: every member of the federation',
        req: async (c) => ({ method: 'GET', url: `${await federation(c, { weights: true, start: true })}/weights` }),
        expect: e(404, 401, 401, 200, 200, 200, 404, 200, 200, 200),
      },
      {
        route: 'POST /api/federations/:team/:name/control',
        what: "start, pause, resume, stop: the owner team's writers only",
        req: async (c) => ({
          method: 'POST',
          url: `${await federation(c, { weights: true, start: false })}/control`,
          body: { action: 'start' },
        }),
        expect: e(404, 401, 401, 403, 200, 200, 404, 403, 200, 403),
      },
      {
        route: 'PUT /api/federations/:team/:name/rounds/:round/updates/:site',
        what: "partner's slot: only partner's writers, not the owner team, not a hub admin",
        req: async (c) => ({
          method: 'PUT',
          url: `${await federation(c, { weights: true, start: true, sites: ['partner', 'vision'] })}/rounds/1/updates/partner`,
          body: encodeWeights(new Map([['w', Float32Array.of(0.1, 0.1)]]), { examples: '8' }),
          headers: octet,
        }),
        expect: e(404, 401, 401, 403, 403, 403, 404, 201, 403, 403),
      },
      {
        route: 'POST /api/federations/:team/:name/rounds/:round/metrics',
        what: "what the owner measured after a completed round: the owner team's writers",
        req: async (c) => {
          const url = await federation(c, { weights: true, start: true });
          const r = await h.call(
            'PUT',
            `${url}/rounds/1/updates/partner`,
            tokens.granted,
            encodeWeights(new Map([['w', Float32Array.of(0.1, 0.1)]]), { examples: '8' }),
            octet,
          );
          assert.equal(r.status, 201, r.body);
          return { method: 'POST', url: `${url}/rounds/1/metrics`, body: { metrics: { valKnn: 0.5 } } };
        },
        expect: e(404, 401, 401, 403, 200, 200, 404, 403, 200, 403),
      },
      {
        route: 'POST /api/federations/:team/:name/privacy/:site',
        what: "the privacy partner spent under DP-SGD: only partner's writers report it",
        req: async (c) => ({
          method: 'POST',
          url: `${await federation(c, { weights: true, start: true, dp: true, sites: ['partner', 'vision'] })}/privacy/partner`,
          body: { round: 1, epsilon: 0.5 },
        }),
        expect: e(404, 401, 401, 403, 403, 403, 404, 200, 403, 403),
      },
      {
        route: 'POST /api/federations/:team/:name/losses/:site',
        what: "partner's training loss in a round: only partner's writers report it",
        req: async (c) => ({
          method: 'POST',
          url: `${await federation(c, { weights: true, start: true, sites: ['partner', 'vision'] })}/losses/partner`,
          body: { round: 1, loss: 1.5 },
        }),
        expect: e(404, 401, 401, 403, 403, 403, 404, 200, 403, 403),
      },
      {
        route: 'PUT /api/federations/:team/:name/summaries/:site',
        what: "partner's summary of its rows for a merged preprocessing: only partner's writers send it",
        req: async (c) => ({
          method: 'PUT',
          url: `${await federation(c, { weights: false, start: false, summaries: true, sites: ['partner', 'vision'] })}/summaries/partner`,
          body: { format: 'pretext-table-summary/1', rows: 0, minCount: 5, columns: [] },
        }),
        expect: e(404, 401, 401, 403, 403, 403, 404, 200, 403, 403),
      },
      {
        route: 'GET /api/federations/:team/:name/summaries',
        what: "the sites' summaries: the owner team's writers, never a site team",
        req: async (c) => {
          const url = await federation(c, { weights: false, start: false, summaries: true, sites: ['partner', 'vision'] });
          const body = { format: 'pretext-table-summary/1', rows: 0, minCount: 5, columns: [] };
          assert.equal((await h.call('PUT', `${url}/summaries/partner`, tokens.granted, body)).status, 200);
          return { method: 'GET', url: `${url}/summaries` };
        },
        expect: e(404, 401, 401, 403, 200, 200, 404, 403, 200, 403),
      },
      {
        route: 'PUT /api/federations/:team/:name/features',
        what: "the merged preprocessing: the owner team's writers, before the initial weights",
        req: async (c) => ({
          method: 'PUT',
          url: `${await federation(c, { weights: false, start: false, summaries: true })}/features`,
          body: { features: { format: 'pretext-features/1', numeric: [], categorical: [], ignored: {} } },
        }),
        expect: e(404, 401, 401, 403, 200, 200, 404, 403, 200, 403),
      },
      {
        route: 'GET /api/federations/:team/:name/secure/:site',
        what: "partner's view of a secure round: only partner's writers",
        req: async (c) => ({
          method: 'GET',
          url: `${await federation(c, { weights: true, start: true, secure: true, sites: ['partner', 'vision', 'nobody'] })}/secure/partner`,
        }),
        expect: e(404, 401, 401, 403, 403, 403, 404, 200, 403, 403),
      },
      {
        route: 'POST /api/federations/:team/:name/secure/:site',
        what: "partner's keys for a secure round: only partner's writers",
        req: async (c) => {
          const url = await federation(c, { weights: true, start: true, secure: true, sites: ['partner', 'vision', 'nobody'] });
          const view = (await h.call('GET', `${url}/secure/partner`, tokens.granted)).json!;
          const advertisement = new SecAggSite('partner', secAggParams(3, 4, 'matrix')).advertise();
          return {
            method: 'POST',
            url: `${url}/secure/partner`,
            body: { step: 'keys', round: view.round, attempt: view.attempt, advertisement },
          };
        },
        expect: e(404, 401, 401, 403, 403, 403, 404, 200, 403, 403),
      },
      {
        route: 'PUT /api/federations/:team/:name/secure/:site/input',
        what: "partner's masked input: only partner's writers (before the inputs phase the protocol refuses it)",
        req: async (c) => {
          const url = await federation(c, { weights: true, start: true, secure: true, sites: ['partner', 'vision', 'nobody'] });
          const view = (await h.call('GET', `${url}/secure/partner`, tokens.granted)).json!;
          return {
            method: 'PUT',
            url: `${url}/secure/partner/input?round=${String(view.round)}&attempt=${String(view.attempt)}&weight=1`,
            body: Buffer.alloc(8),
            headers: octet,
          };
        },
        expect: e(404, 401, 401, 403, 403, 403, 404, 409, 403, 403),
      },
    ];

    async function send(c: Cell, r: Request, model?: string): Promise<Reply> {
      const url = model ? r.url.replace(c.model, model) : r.url;
      const body = r.tokenInBody ? { token: c.token ?? `ptx_${'x'.repeat(43)}` } : r.body;
      return h.call(r.method, url, r.tokenInBody ? null : c.token, body, r.headers ?? {});
    }

    it('has rows for every route the server serves, and no row for a route it lacks', () => {
      const served = new Set(h.hub.routes);
      const tabled = new Set(ROWS.map((r) => r.route));
      assert.deepEqual([...served].filter((r) => !tabled.has(r)).sort(), [], 'routes without rows');
      assert.deepEqual([...tabled].filter((r) => !served.has(r)).sort(), [], 'rows without routes');
    });

    for (const row of ROWS)
      it(`${row.route}${row.what ? ` (${row.what})` : ''}`, async () => {
        const wrong: string[] = [];
        for (const actor of ACTORS) {
          const want = String(row.expect[actor]).split(' ').map(Number);
          for (const [i, vis] of VIS.entries()) {
            const c: Cell = { vis, model: `m-${vis}`, n: n++, token: tokens[actor], actor };
            const r = await row.req(c);
            const got = await send(c, r);
            const expected = want.length === 1 ? want[0]! : want[i]!;
            if (got.status !== expected) wrong.push(`${actor} on ${vis}: ${got.status} (expected ${expected}) ${got.body.slice(0, 120)}`);
            if (got.status >= 500) wrong.push(`${actor} on ${vis}: a ${got.status}`);
            // A hidden private model must look exactly like one that does not exist.
            if (vis === 'private' && got.status === 404 && r.url.includes(c.model)) {
              const missing = await send(c, await row.req({ ...c, n: n++ }), 'm-missing');
              const norm = (x: Reply) => ({
                status: x.status,
                body: x.body.replaceAll('m-missing', 'm-private'),
                headers: Object.fromEntries(Object.entries(x.headers).filter(([k]) => k !== 'date')),
              });
              assert.deepEqual(norm(got), norm(missing), `${row.route} as ${actor}: private and missing answer differently`);
            }
          }
        }
        assert.deepEqual(wrong, []);
      });
  });

// The attacks reported against the hub, each as a test that passes because the attack fails,
// and the rules that close them: who may reference a blob, what a token may mint, who sees a
// team's members, browser sessions with CSRF, security headers, and the sweep and quota of
// uploads no version uses. Every case runs on SQLite and on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { databaseFor, freshHub, sha, stopPostgres, type Reply } from './fixtures/hub.js';

type H = Awaited<ReturnType<typeof freshHub>>;

/** Users alice (vision) and mallory (fraud), each the admin of their team, with write and admin tokens. */
async function twoTeams(h: H) {
  const root = h.hub.adminToken!;
  const tok = async (user: string, scope: string) =>
    (await h.call('POST', '/api/tokens', root, { name: `${user}-${scope}`, scope, user })).json!.token as string;
  for (const u of ['alice', 'mallory', 'pat']) assert.equal((await h.call('POST', '/api/users', root, { name: u })).status, 201);
  const t = {
    root,
    alice: await tok('alice', 'admin'),
    aliceWrite: await tok('alice', 'write'),
    mallory: await tok('mallory', 'admin'),
    malloryWrite: await tok('mallory', 'write'),
    pat: await tok('pat', 'write'),
  };
  assert.equal((await h.call('POST', '/api/teams', t.alice, { name: 'vision' })).status, 201);
  assert.equal((await h.call('POST', '/api/teams', t.mallory, { name: 'fraud' })).status, 201);
  assert.equal((await h.call('POST', '/api/teams', t.root, { name: 'partner' })).status, 201);
  assert.equal((await h.call('PUT', '/api/teams/partner/members/pat', t.root, { role: 'member' })).status, 200);
  return t;
}

const cookieOf = (r: Reply): string => {
  const set = [r.headers['set-cookie']].flat().filter(Boolean) as string[];
  assert.equal(set.length, 1, JSON.stringify(r.headers));
  return set[0]!;
};

for (const engine of ['sqlite', 'postgres'] as const)
  describe(`hub security on ${engine}`, () => {
    let dbn = 0;
    const hubs: H[] = [];
    const hub = async (o: Parameters<typeof freshHub>[0] = {}) => {
      const h = await freshHub({ database: await databaseFor(engine, `sec${dbn++}`), logLevel: false, ...o });
      hubs.push(h);
      return h;
    };
    after(async () => {
      for (const h of hubs) await h.hub.app.close();
      if (engine === 'postgres') stopPostgres();
    });

    describe('blobs belong to whoever may read them', () => {
      let h: H;
      let t: Awaited<ReturnType<typeof twoTeams>>;
      const secret = Buffer.from('private weights of vision/simclr');
      before(async () => {
        h = await hub();
        t = await twoTeams(h);
        assert.equal((await h.upload(t.alice, secret)).status, 201);
        const r = await h.call('POST', '/api/models/vision/simclr/versions', t.alice, {
          files: [{ path: 'encoder.safetensors', sha256: sha(secret), size: secret.length }],
        });
        assert.equal(r.status, 201);
      });

      it("refuses a push that names another team's private blob by digest, and never serves its bytes", async () => {
        // The reported exploit: fraud/steal with one file whose digest is vision's private encoder.
        const steal = await h.call('POST', '/api/models/fraud/steal/versions', t.malloryWrite, {
          files: [{ path: 'encoder.safetensors', sha256: sha(secret), size: secret.length }],
        });
        assert.equal(steal.status, 409);
        assert.match(String(steal.json!.error), /was not uploaded; PUT it/);
        assert.equal((await h.call('GET', '/api/models/fraud/steal', t.mallory)).status, 404, 'no model was created');
        const download = await h.call('GET', '/api/models/fraud/steal/versions/latest/files/encoder.safetensors', t.mallory);
        assert.equal(download.status, 404);
        assert.ok(!download.raw.includes(secret));
      });

      it('answers the existence check as "missing" for a digest the actor could not reference', async () => {
        const never = sha('never uploaded by anyone');
        const a = await h.call('HEAD', `/api/blobs/${sha(secret)}`, t.malloryWrite);
        const b = await h.call('HEAD', `/api/blobs/${never}`, t.malloryWrite);
        assert.deepEqual([a.status, b.status], [404, 404]);
        assert.equal((await h.call('HEAD', `/api/blobs/${sha(secret)}`, t.alice)).status, 200, 'its uploader still sees it');
      });

      it('lets an actor who has the bytes upload them and reference them; the store keeps one copy', async () => {
        const up = await h.upload(t.malloryWrite, secret);
        assert.equal(up.status, 201);
        assert.equal(up.json!.created, false, 'deduplicated inside the hub');
        const r = await h.call('POST', '/api/models/fraud/own-copy/versions', t.malloryWrite, {
          files: [{ path: 'w.bin', sha256: sha(secret), size: secret.length }],
        });
        assert.equal(r.status, 201);
      });

      it('mounts a blob from a version the actor can read, and only while it can', async () => {
        const push = () =>
          h.call('POST', '/api/models/partner/derived/versions', t.pat, {
            files: [{ path: 'base.safetensors', sha256: sha(secret), size: secret.length }],
          });
        const head = async () => (await h.call('HEAD', `/api/blobs/${sha(secret)}`, t.pat)).status;
        assert.deepEqual([(await push()).status, await head()], [409, 404], 'before any grant');
        assert.equal((await h.call('PUT', '/api/models/vision/simclr/grants/partner', t.alice)).status, 200);
        assert.equal(await head(), 200, 'granted');
        assert.equal((await h.call('DELETE', '/api/models/vision/simclr/grants/partner', t.alice)).status, 204);
        assert.deepEqual([(await push()).status, await head()], [409, 404], 'a revoked grant no longer reaches the bytes');
        assert.equal((await h.call('PUT', '/api/models/vision/simclr/grants/partner', t.alice)).status, 200);
        assert.equal((await push()).status, 201, 'while granted: a cross-team mount, no bytes sent');
      });
    });

    describe('tokens', () => {
      let h: H;
      let t: Awaited<ReturnType<typeof twoTeams>>;
      before(async () => {
        h = await hub();
        t = await twoTeams(h);
      });

      it('cannot mint a wider token or one that outlives it; without a lifetime a child expires with its parent', async () => {
        const parent = (await h.call('POST', '/api/tokens', t.aliceWrite, { name: 'p', scope: 'write', expiresInDays: 2 })).json!;
        const wider = await h.call('POST', '/api/tokens', parent.token as string, { name: 'c', scope: 'admin' });
        assert.equal(wider.status, 403);
        const longer = await h.call('POST', '/api/tokens', parent.token as string, { name: 'c', scope: 'read', expiresInDays: 3 });
        assert.equal(longer.status, 400);
        assert.match(String(longer.json!.error), /cannot outlive/);
        const child = await h.call('POST', '/api/tokens', parent.token as string, { name: 'c', scope: 'read' });
        assert.equal(child.status, 201);
        assert.equal(child.json!.expiresAt, parent.expiresAt);
        const shorter = await h.call('POST', '/api/tokens', parent.token as string, { name: 'c', scope: 'read', expiresInDays: 1 });
        assert.ok(String(shorter.json!.expiresAt) < String(parent.expiresAt));
      });

      it('revokes every token made from a revoked token, down the chain, and their sessions', async () => {
        const parent = (await h.call('POST', '/api/tokens', t.aliceWrite, { name: 'p', scope: 'write' })).json!;
        const child = (await h.call('POST', '/api/tokens', parent.token as string, { name: 'c', scope: 'write' })).json!;
        const grandchild = (await h.call('POST', '/api/tokens', child.token as string, { name: 'g', scope: 'read' })).json!;
        const session = await h.call('POST', '/api/session', null, { token: grandchild.token });
        const cookie = cookieOf(session).split(';')[0]!;
        assert.equal((await h.call('GET', '/api/session', null, undefined, { cookie })).status, 200);
        assert.equal((await h.call('DELETE', `/api/tokens/${String(parent.id)}`, t.aliceWrite)).status, 204);
        for (const x of [parent, child, grandchild]) assert.equal((await h.call('GET', '/api/whoami', x.token as string)).status, 401);
        assert.equal((await h.call('GET', '/api/session', null, undefined, { cookie })).status, 401, 'the session died with its token');
        assert.equal((await h.call('GET', '/api/whoami', t.aliceWrite)).status, 200, 'the grandparent is untouched');
      });

      it("gives a read-scoped token, a hub admin's included, no power to create or revoke anything", async () => {
        const adminRead = (await h.call('POST', '/api/tokens', t.root, { name: 'ro', scope: 'read' })).json!.token as string;
        const victim = (await h.call('POST', '/api/tokens', t.aliceWrite, { name: 'v', scope: 'read' })).json!;
        for (const [method, url, body] of [
          ['POST', '/api/tokens', { name: 'x', scope: 'read' }],
          ['POST', '/api/tokens', { name: 'x', scope: 'read', user: 'alice' }],
          ['DELETE', `/api/tokens/${String(victim.id)}`, undefined],
          ['POST', '/api/users', { name: 'eve' }],
          ['POST', '/api/teams', { name: 'evil' }],
          ['PUT', '/api/teams/vision/members/mallory', { role: 'admin' }],
        ] as const)
          assert.equal((await h.call(method, url, adminRead, body)).status, 403, `${method} ${url}`);
        assert.equal((await h.call('GET', '/api/whoami', victim.token as string)).status, 200, 'the victim token still works');
      });
    });

    it('shows team members only to members and hub admins', async () => {
      const h = await hub();
      const t = await twoTeams(h);
      const teams = async (token: string) =>
        Object.fromEntries(
          ((await h.call('GET', '/api/teams', token)).json as unknown as { name: string; members?: { user: string }[] }[]).map((x) => [
            x.name,
            x.members?.map((m) => m.user) ?? null,
          ]),
        );
      assert.deepEqual(await teams(t.mallory), { fraud: ['mallory'], partner: null, vision: null });
      assert.deepEqual(await teams(t.pat), { fraud: null, partner: ['admin', 'pat'], vision: null });
      assert.deepEqual(await teams(t.root), { fraud: ['mallory'], partner: ['admin', 'pat'], vision: ['alice'] });
    });

    it('signs a browser in with an HttpOnly, SameSite=Strict cookie whose writes need the CSRF token and the same origin', async () => {
      const h = await hub();
      const t = await twoTeams(h);
      const signIn = await h.call('POST', '/api/session', null, { token: t.aliceWrite });
      assert.equal(signIn.status, 201);
      const set = cookieOf(signIn);
      assert.match(set, /^pretext_session=[A-Za-z0-9_-]{43};/);
      assert.match(set, /HttpOnly/);
      assert.match(set, /SameSite=Strict/);
      assert.match(set, /Path=\//);
      assert.ok(!set.includes(t.aliceWrite.slice(4)), 'the cookie is not the token');
      const cookie = set.split(';')[0]!;
      const csrf = signIn.json!.csrf as string;
      const me = await h.call('GET', '/api/session', null, undefined, { cookie });
      assert.deepEqual([me.json!.user, me.json!.csrf], ['alice', csrf]);
      assert.equal((await h.call('GET', '/api/whoami', null, undefined, { cookie })).json!.user, 'alice', 'reads need no CSRF token');
      const write = (headers: Record<string, string>) =>
        h.call('POST', '/api/teams', null, { name: `t${Math.random()}`.replace('.', '') }, headers);
      const noCsrf = await write({ cookie });
      assert.equal(noCsrf.status, 403);
      assert.match(String(noCsrf.json!.error), /X-CSRF-Token/);
      // a token one character off (never the same character: the token may end in 'A')
      const wrong = `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`;
      assert.notEqual(wrong, csrf);
      assert.equal((await write({ cookie, 'x-csrf-token': wrong })).status, 403);
      assert.equal((await write({ cookie, 'x-csrf-token': csrf, origin: 'https://evil.example' })).status, 403);
      assert.equal((await write({ cookie, 'x-csrf-token': csrf, origin: 'http://localhost:80' })).status, 201, 'same origin');
      assert.equal((await write({ cookie, 'x-csrf-token': csrf })).status, 201);
      // Sign-out ends the session on the server, not only in the browser.
      assert.equal((await h.call('DELETE', '/api/session', null, undefined, { cookie, 'x-csrf-token': csrf })).status, 204);
      assert.equal((await h.call('GET', '/api/session', null, undefined, { cookie })).status, 401);
      const stale = await h.call('GET', '/api/models', null, undefined, { cookie });
      assert.equal(stale.status, 200, 'a dead session reads as anonymous');
      assert.match(cookieOf(stale), /pretext_session=;.*Expires=Thu, 01 Jan 1970/, 'and is cleared');
      // Ended sessions are deleted by the sweep a day after they ended.
      await h.hub.db.run('UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NOT NULL', ['2000-01-01T00:00:00.000Z']);
      const before = Number((await h.hub.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM sessions'))!.n);
      await h.hub.sweep();
      const after = Number((await h.hub.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM sessions'))!.n);
      assert.deepEqual([before, after], [1, 0]);
    });

    it('sends security headers on every response, and artifacts as attachments', async () => {
      const h = await hub();
      const t = await twoTeams(h);
      const bytes = Buffer.from('<html><script>alert(1)</script></html>');
      await h.upload(t.alice, bytes);
      await h.call('POST', '/api/models/vision/page/versions', t.alice, {
        files: [{ path: 'report.html', sha256: sha(bytes), size: bytes.length }],
        visibility: 'public',
      });
      for (const url of [
        '/',
        '/api/models',
        '/api/models/vision/nothing',
        '/openapi.json',
        '/api/models/vision/page/versions/v1/files/report.html',
      ]) {
        const r = await h.call('GET', url);
        const csp = String(r.headers['content-security-policy']);
        assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, url);
        assert.match(csp, /frame-ancestors 'none'/, url);
        assert.match(csp, /object-src 'none'/, url);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
        assert.equal(r.headers['referrer-policy'], 'no-referrer', url);
        assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN', url);
      }
      const file = await h.call('GET', '/api/models/vision/page/versions/v1/files/report.html');
      assert.equal(file.headers['content-type'], 'application/octet-stream');
      assert.equal(file.headers['content-disposition'], 'attachment; filename="report.html"');
    });

    it('sweeps uploads no version uses on a schedule, keeping referenced and recent ones', async () => {
      const h = await hub({ unreferencedGraceMs: 300, sweepIntervalMs: 100 });
      const t = await twoTeams(h);
      const used = Buffer.from('used by a version');
      const orphan = Buffer.from('uploaded, never pushed');
      await h.upload(t.alice, used);
      await h.upload(t.alice, orphan);
      await h.call('POST', '/api/models/vision/kept/versions', t.alice, {
        files: [{ path: 'w.bin', sha256: sha(used), size: used.length }],
      });
      assert.equal(h.hub.blobs.has(sha(orphan)), true, 'within the grace period');
      for (let i = 0; i < 50 && h.hub.blobs.has(sha(orphan)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(h.hub.blobs.has(sha(orphan)), false, 'swept without a restart');
      assert.equal(h.hub.blobs.has(sha(used)), true);
      assert.equal((await h.call('HEAD', `/api/blobs/${sha(orphan)}`, t.alice)).status, 404, 'its upload record went too');
      assert.deepEqual(readdirSync(join(h.dir, 'blobs', 'tmp')), []);
    });

    it('caps the bytes of unused uploads per user with a clear 429, and frees the room once a version uses them', async () => {
      const h = await hub({ maxUnreferencedBytes: 1000, sweepIntervalMs: 0 });
      const t = await twoTeams(h);
      const a = Buffer.alloc(600, 1);
      const b = Buffer.alloc(600, 2);
      assert.equal((await h.upload(t.alice, a)).status, 201);
      const over = await h.upload(t.alice, b);
      assert.equal(over.status, 429);
      assert.match(String(over.json!.error), /600 bytes of uploads that no version uses \(limit 1000\)/);
      assert.equal(over.headers['retry-after'], '3600');
      assert.equal(h.hub.blobs.has(sha(b)), false, 'nothing kept of the refused upload');
      assert.equal((await h.upload(t.mallory, b)).status, 201, 'the cap is per user');
      await h.call('POST', '/api/models/vision/a/versions', t.alice, { files: [{ path: 'a.bin', sha256: sha(a), size: a.length }] });
      assert.equal((await h.upload(t.alice, b)).status, 201, 'room again once a version uses the first upload');
    });
  });

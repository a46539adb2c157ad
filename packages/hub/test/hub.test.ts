import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, parseRange, versionDigest } from '../src/index.js';
import { databaseFor, freshHub, serveInProcess, sha, stopPostgres } from './fixtures/hub.js';

describe('hub: accounts, tokens and access', () => {
  let h: Awaited<ReturnType<typeof freshHub>>;
  let admin: string;
  let alice: string; // vision team, write
  let bob: string; // nlp team, write
  let aliceRead: string;

  before(async () => {
    h = await freshHub();
    admin = h.hub.adminToken!;
    assert.match(admin, /^ptx_/);
    for (const u of ['alice', 'bob']) assert.equal((await h.call('POST', '/api/users', admin, { name: u })).status, 201);
    const tok = async (user: string, scope: string) =>
      (await h.call('POST', '/api/tokens', admin, { name: `${user}-${scope}`, scope, user })).json!.token as string;
    alice = await tok('alice', 'admin');
    bob = await tok('bob', 'write');
    aliceRead = await tok('alice', 'read');
    assert.equal((await h.call('POST', '/api/teams', alice, { name: 'vision' })).status, 201);
    assert.equal((await h.call('POST', '/api/teams', bob, { name: 'nlp' })).status, 201);
  });
  after(() => h.hub.app.close());

  it('shows a token once and stores only its hash', async () => {
    const list = (await h.call('GET', '/api/tokens', alice)).json as unknown as { prefix: string; scope: string }[];
    assert.deepEqual(list.map((t) => t.scope).sort(), ['admin', 'read']);
    assert.ok(list.every((t) => !('token' in t) && !('hash' in t)));
    const db = readFileSync(join(h.dir, 'hub.db'));
    const wal = existsSync(join(h.dir, 'hub.db-wal')) ? readFileSync(join(h.dir, 'hub.db-wal')) : Buffer.alloc(0);
    for (const t of [admin, alice, bob]) {
      assert.ok(!db.includes(t) && !wal.includes(t), 'no token is stored in the clear');
      assert.ok(db.includes(sha(t)) || wal.includes(sha(t)), 'its sha256 is');
    }
    assert.equal((await h.call('GET', '/api/whoami', alice)).json!.user, 'alice');
  });

  it('refuses unknown, malformed, revoked and expired tokens, and writes without the scope', async () => {
    assert.equal((await h.call('GET', '/api/whoami', `ptx_${'A'.repeat(43)}`)).status, 401);
    assert.equal((await h.call('GET', '/api/whoami', null, undefined, { authorization: 'Basic abc' })).status, 401);
    const t = (await h.call('POST', '/api/tokens', bob, { name: 'short', scope: 'read', expiresInDays: 1 })).json!;
    assert.equal((await h.call('GET', '/api/whoami', t.token as string)).status, 200);
    assert.equal((await h.call('DELETE', `/api/tokens/${String(t.id)}`, bob)).status, 204);
    assert.equal((await h.call('GET', '/api/whoami', t.token as string)).status, 401);
    const e = (await h.call('POST', '/api/tokens', bob, { name: 'old', scope: 'read' })).json!;
    await h.hub.db.run('UPDATE tokens SET expires_at = ? WHERE id = ?', ['2000-01-01T00:00:00.000Z', e.id]);
    assert.equal((await h.call('GET', '/api/whoami', e.token as string)).status, 401);
    // Scope: a read token cannot write, a write token cannot mint an admin token.
    assert.equal((await h.call('POST', '/api/models/vision/x', aliceRead, {})).status, 403);
    assert.equal((await h.call('POST', '/api/tokens', bob, { name: 'up', scope: 'admin' })).status, 403);
    assert.equal((await h.call('POST', '/api/models/vision/x', null, {})).status, 401);
    assert.equal((await h.call('POST', '/api/users', bob, { name: 'eve' })).status, 403);
  });

  it("answers 404, not 403, for another team's private model, and follows visibility and grants", async () => {
    assert.equal((await h.call('POST', '/api/models/vision/secret', alice, { visibility: 'private' })).status, 201);
    assert.equal((await h.call('POST', '/api/models/vision/shared', alice, { visibility: 'internal' })).status, 201);
    assert.equal((await h.call('POST', '/api/models/vision/open', alice, { visibility: 'public', tags: ['fashion'] })).status, 201);
    const hidden = await h.call('GET', '/api/models/vision/secret', bob);
    const missing = await h.call('GET', '/api/models/vision/sekret', bob);
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.json, { statusCode: 404, error: "no model 'vision/secret'" });
    assert.deepEqual(
      missing.json,
      { statusCode: 404, error: "no model 'vision/sekret'" },
      'the same answer as for a model that does not exist',
    );
    assert.equal((await h.call('GET', '/api/models/vision/shared', bob)).status, 200, 'internal: any signed-in user');
    assert.equal((await h.call('GET', '/api/models/vision/shared', null)).status, 404, 'internal: not anonymous');
    assert.equal((await h.call('GET', '/api/models/vision/open', null)).status, 200, 'public: anyone');
    const names = async (t: string | null): Promise<string[]> =>
      ((await h.call('GET', '/api/models', t)).json as unknown as { name: string }[]).map((m) => m.name).sort();
    assert.deepEqual(await names(bob), ['open', 'shared']);
    assert.deepEqual(await names(null), ['open']);
    assert.equal((await h.call('PUT', '/api/models/vision/secret/grants/nlp', alice)).status, 200);
    assert.equal((await h.call('GET', '/api/models/vision/secret', bob)).status, 200, 'granted to nlp');
    assert.equal((await h.call('PATCH', '/api/models/vision/secret', bob, { card: 'mine now' })).status, 403, 'a grant is read access');
    assert.deepEqual(await names(bob), ['open', 'secret', 'shared']);
    assert.deepEqual(
      ((await h.call('GET', '/api/models?tag=fashion', null)).json as unknown as { name: string }[]).map((m) => m.name),
      ['open'],
    );
  });

  it('validates names, paths, bodies and content types with messages', async () => {
    const bad = await h.call('POST', `/api/models/vision/${'a'.repeat(65)}`, alice, {});
    assert.equal(bad.status, 400);
    assert.match(String(bad.json!.error), /must NOT have more than 64 characters/);
    // Traversal never reaches a handler: the router or the name rule refuses it.
    for (const p of ['..', '%2E%2E', 'a%2F..%2Fb', '.hidden']) {
      const r = await h.call('POST', `/api/models/vision/${p}`, alice, {});
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
    }
    assert.ok(
      ((await h.call('GET', '/api/models', alice)).json as unknown as { name: string }[]).every((m) =>
        /^[a-z0-9][a-z0-9._-]*$/.test(m.name),
      ),
    );
    assert.equal((await h.call('POST', '/api/models/vision/Caps', alice, {})).status, 400);
    const malformed = await h.call('POST', '/api/teams', alice, '{"name": ', { 'content-type': 'application/json' });
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.json!.error), /JSON/);
    const wrongType = await h.call('POST', '/api/teams', alice, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(wrongType.status, 400);
    assert.match(String(wrongType.json!.error), /unsupported content type/);
    const extra = await h.call('POST', '/api/teams', alice, { name: 'ok', admin: true });
    assert.equal(extra.status, 400);
    assert.match(String(extra.json!.error), /must NOT have additional properties/);
    const data = Buffer.from('weights');
    await h.upload(alice, data);
    const traversal = await h.call('POST', '/api/models/vision/open/versions', alice, {
      files: [{ path: '../etc/passwd', sha256: sha(data), size: data.length }],
    });
    assert.equal(traversal.status, 400);
    assert.match(String(traversal.json!.error), /not valid/);
  });

  it('never writes a token into its logs', async () => {
    await h.call('GET', '/api/whoami', alice);
    await h.call('GET', '/api/whoami', `ptx_${'B'.repeat(43)}`);
    const text = h.logs.join('');
    assert.ok(text.includes('"url":"/api/whoami"'), 'requests are logged');
    for (const t of [admin, alice, bob, aliceRead]) assert.ok(!text.includes(t) && !text.includes(t.slice(4)));
    assert.ok(!text.includes('B'.repeat(43)));
  });

  it('keeps an audit log of every write, for hub admins', async () => {
    const log = (await h.call('GET', '/api/audit', admin)).json as unknown as { action: string; actor: string }[];
    const actions = new Set(log.map((e) => e.action));
    for (const a of ['hub.bootstrap', 'user.create', 'token.create', 'token.revoke', 'team.create', 'model.create', 'model.grant'])
      assert.ok(actions.has(a), a);
    assert.equal((await h.call('GET', '/api/audit', alice)).status, 403);
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const doc = (await h.call('GET', '/openapi.json')).json as unknown as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const p of ['/api/models/{team}/{name}/versions', '/api/blobs/{sha256}', '/api/leaderboards/{task}', '/api/tokens'])
      assert.ok(p in doc.paths, p);
  });
});

after(stopPostgres);

for (const engine of ['sqlite', 'postgres'] as const)
  describe(`hub on ${engine}: versions, artifacts, aliases, evaluations`, () => {
    let h: Awaited<ReturnType<typeof freshHub>>;
    let t: string;
    before(async () => {
      h = await freshHub({ maxBlobBytes: 4096, database: await databaseFor(engine, 'versions') });
      assert.equal(h.hub.db.engine, engine);
      t = h.hub.adminToken!;
      await h.call('POST', '/api/teams', t, { name: 'vision' });
    });
    after(() => h.hub.app.close());

    const push = async (files: Record<string, Buffer>, extra: Record<string, unknown> = {}) => {
      for (const b of Object.values(files)) assert.equal((await h.upload(t, b)).status, 201);
      return h.call('POST', '/api/models/vision/enc/versions', t, {
        files: Object.entries(files).map(([path, b]) => ({ path, sha256: sha(b), size: b.length })),
        ...extra,
      });
    };

    it('names versions by content: the same files again are a no-op, new files a new version', async () => {
      const w1 = Buffer.from('first weights');
      const r1 = await push(
        { 'encoder.safetensors': w1, 'encoder.json': Buffer.from('{}') },
        { metrics: { knn: 0.85 }, lineage: { recipe: 'simclr' } },
      );
      assert.equal(r1.status, 201);
      const v1 = r1.json!.version as { seq: number; digest: string };
      assert.equal(v1.seq, 1);
      assert.equal(
        v1.digest,
        versionDigest([
          { path: 'encoder.json', sha256: sha('{}'), size: 2 },
          { path: 'encoder.safetensors', sha256: sha(w1), size: w1.length },
        ]),
      );
      const again = await push({ 'encoder.json': Buffer.from('{}'), 'encoder.safetensors': w1 });
      assert.equal(again.status, 200);
      assert.deepEqual([again.json!.created, (again.json!.version as { seq: number }).seq], [false, 1]);
      const r2 = await push({ 'encoder.safetensors': Buffer.from('second weights'), 'encoder.json': Buffer.from('{}') });
      assert.equal((r2.json!.version as { seq: number }).seq, 2);
      const model = (await h.call('GET', '/api/models/vision/enc', t)).json!;
      assert.equal(model.latest, 2);
      assert.equal(model.visibility, 'private', 'a first push creates a private model');
      assert.equal(((await h.call('GET', '/api/models/vision/enc/versions/v1', t)).json!.metrics as { knn: number }).knn, 0.85);
      assert.equal((await h.call('GET', `/api/models/vision/enc/versions/${v1.digest.slice(0, 10)}`, t)).json!.seq, 1);
    });

    it('checks sha256 and size on upload, refuses oversized blobs, and keeps nothing of a refused one', async () => {
      const data = Buffer.from('some bytes');
      const wrong = await h.upload(t, data, sha('other bytes'));
      assert.equal(wrong.status, 400);
      assert.match(String(wrong.json!.error), /content sha256 is/);
      assert.equal((await h.call('HEAD', `/api/blobs/${sha('other bytes')}`, t)).status, 404);
      const big = Buffer.alloc(5000, 1);
      assert.equal((await h.upload(t, big)).status, 413);
      assert.deepEqual(readdirSync(join(h.dir, 'blobs', 'tmp')), [], 'no partial file left');
      const missing = await h.call('POST', '/api/models/vision/enc/versions', t, {
        files: [{ path: 'a.bin', sha256: sha('never sent'), size: 10 }],
      });
      assert.equal(missing.status, 409);
      assert.match(String(missing.json!.error), /was not uploaded/);
    });

    it('downloads files whole or by HTTP Range, with their digest', async () => {
      const body = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
      await push({ 'encoder.safetensors': body, 'encoder.json': Buffer.from('{"v":3}') });
      const url = '/api/models/vision/enc/versions/latest/files/encoder.safetensors';
      const whole = await h.call('GET', url, t);
      assert.equal(whole.status, 200);
      assert.ok(whole.raw.equals(body));
      assert.equal(whole.headers['x-content-sha256'], sha(body));
      const part = await h.call('GET', url, t, undefined, { range: 'bytes=100-149' });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], 'bytes 100-149/300');
      assert.ok(part.raw.equals(body.subarray(100, 150)));
      assert.ok((await h.call('GET', url, t, undefined, { range: 'bytes=250-' })).raw.equals(body.subarray(250)));
      assert.equal((await h.call('GET', url, t, undefined, { range: 'bytes=400-500' })).status, 416);
      assert.deepEqual(parseRange('bytes=-10', 300), { start: 290, end: 299 });
      assert.equal((await h.call('GET', '/api/models/vision/enc/versions/latest/files/nope.bin', t)).status, 404);
    });

    it('moves aliases on request, latest by itself, and records every move', async () => {
      assert.equal((await h.call('PUT', '/api/models/vision/enc/aliases/production', t, { version: 'v1' })).status, 200);
      assert.equal((await h.call('PUT', '/api/models/vision/enc/aliases/production', t, { version: 'v2' })).status, 200);
      assert.equal((await h.call('PUT', '/api/models/vision/enc/aliases/latest', t, { version: 'v1' })).status, 400);
      assert.equal((await h.call('GET', '/api/models/vision/enc/versions/production', t)).json!.seq, 2);
      const hist = (await h.call('GET', '/api/models/vision/enc/aliases/history', t)).json as unknown as {
        alias: string;
        from: number | null;
        to: number;
      }[];
      assert.deepEqual(
        hist.filter((e) => e.alias === 'production').map((e) => [e.from, e.to]),
        [
          [null, 1],
          [1, 2],
        ],
      );
      assert.deepEqual(
        hist.filter((e) => e.alias === 'latest').map((e) => e.to),
        [1, 2, 3],
      );
    });

    it('ranks versions on a task leaderboard from reported evaluations', async () => {
      const report = (ref: string, value: number) =>
        h.call('POST', `/api/models/vision/enc/versions/${ref}/evals`, t, {
          task: 'fashion-10',
          dataset: 'sha256:abc',
          metric: 'accuracy',
          value,
          protocol: 'linear',
          labelBudget: '1%',
        });
      assert.equal((await report('v1', 0.8)).status, 201);
      assert.equal((await report('v2', 0.83)).status, 201);
      assert.equal((await report('v2', 0.81)).status, 201);
      const board = (await h.call('GET', '/api/leaderboards/fashion-10?metric=accuracy', t)).json as unknown as {
        version: number;
        value: number;
      }[];
      assert.deepEqual(
        board.map((r) => [r.version, r.value]),
        [
          [2, 0.83],
          [1, 0.8],
        ],
      );
      const bad = await h.call('POST', '/api/models/vision/enc/versions/v1/evals', t, { task: 'x' });
      assert.equal(bad.status, 400);
      assert.match(String(bad.json!.error), /must have required property/);
    });

    it('serializes concurrent pushes to one model into distinct versions', async () => {
      const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`concurrent ${i}`));
      for (const b of bodies) await h.upload(t, b);
      const results = await Promise.all(
        bodies.map((b) =>
          h.call('POST', '/api/models/vision/race/versions', t, { files: [{ path: 'w.bin', sha256: sha(b), size: b.length }] }),
        ),
      );
      assert.deepEqual(
        results.map((r) => [r.status, r.json?.error]).filter(([s]) => s !== 201),
        [],
      );
      const seqs = results.map((r) => (r.json!.version as { seq: number }).seq).sort((a, b) => a - b);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal((await h.call('GET', '/api/models/vision/race', t)).json!.latest, 8);
    });
  });

describe('hub: crashes and restarts', () => {
  it('drops an upload cut off mid-stream, and sweeps partial files and orphan blobs at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-crash-'));
    const first = await createHub({ dataDir: dir, logLevel: false, unreferencedGraceMs: 0 });
    const token = first.adminToken!;
    await first.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (first.app.server.address() as { port: number }).port;
    const data = Buffer.alloc(200_000, 7);
    // Announce 200 kB, send 50 kB, then cut the connection.
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `/api/blobs/${sha(data)}`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': data.length },
      });
      req.on('error', () => resolve());
      req.write(data.subarray(0, 50_000), () => setTimeout(() => (req.destroy(), resolve()), 100));
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(first.blobs.has(sha(data)), false, 'no blob from a cut upload');
    // A blob uploaded but never made part of a version, and a stray partial file, as a kill -9 leaves them.
    const orphan = Buffer.from('uploaded, never pushed');
    const up = await first.app.inject({
      method: 'PUT',
      url: `/api/blobs/${sha(orphan)}`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      payload: orphan,
    });
    assert.equal(up.statusCode, 201);
    writeFileSync(join(dir, 'blobs', 'tmp', 'x.part'), 'half');
    await first.app.close();
    const second = await createHub({ dataDir: dir, logLevel: false, unreferencedGraceMs: 0 });
    assert.equal(second.adminToken, null, 'bootstrap happens once');
    assert.deepEqual(second.swept, { partial: 1, orphans: [sha(orphan)] });
    assert.equal(second.blobs.has(sha(orphan)), false);
    assert.equal(
      (await second.app.inject({ method: 'GET', url: '/api/whoami', headers: { authorization: `Bearer ${token}` } })).statusCode,
      200,
    );
    await second.app.close();
    mkdirSync(join(dir, 'unrelated'), { recursive: true });
  });

  it('survives SIGKILL of the server in the middle of an upload: no version, no blob, swept at restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-kill-'));
    const serve = () => serveInProcess(dir);
    const first = await serve();
    const token = first.token!;
    const auth = { authorization: `Bearer ${token}` };
    await fetch(`${first.url}/api/teams`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'vision' }),
    });
    const data = Buffer.alloc(4_000_000, 3);
    const port = Number(new URL(first.url).port);
    // Send half of the announced body, wait until the part file exists, then kill -9 the hub.
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: `/api/blobs/${sha(data)}`,
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': data.length },
    });
    req.on('error', () => undefined);
    req.write(data.subarray(0, 2_000_000));
    for (let i = 0; i < 100 && readdirSync(join(dir, 'blobs', 'tmp')).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(readdirSync(join(dir, 'blobs', 'tmp')).length, 1, 'the upload is in flight');
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    req.destroy();
    const second = await serve();
    try {
      assert.equal(second.swept.partial, 1, 'the half-written upload is removed at start');
      assert.deepEqual(readdirSync(join(dir, 'blobs', 'tmp')), []);
      const head = await fetch(`${second.url}/api/blobs/${sha(data)}`, { method: 'HEAD', headers: auth });
      assert.equal(head.status, 404);
      const versions = await fetch(`${second.url}/api/models`, { headers: auth });
      assert.deepEqual(await versions.json(), [], 'no model or version appeared');
    } finally {
      second.proc.kill('SIGKILL');
    }
  });
});

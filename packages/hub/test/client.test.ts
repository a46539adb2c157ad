// The hub client: resumable, verified transfers; refusing file paths from a hostile hub; and
// a report sent after a long, event-loop-blocking job that outlives the server's keep-alive.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Hub } from '../src/index.js';
import { HubCallError, HubClient, safeJoin } from '../src/client.js';
import { serveInProcess, sha } from './fixtures/hub.js';

describe('hub client transfers', () => {
  let hub: Hub;
  let client: HubClient;
  const body = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251));
  const path = '/api/models/vision/enc/versions/v1/files/encoder.safetensors';
  const seen: (string | null)[] = [];
  const realFetch = globalThis.fetch;

  before(async () => {
    hub = await createHub({ dataDir: mkdtempSync(join(tmpdir(), 'hubc-')), logLevel: false });
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(hub.app.server.address() as { port: number }).port}`;
    client = new HubClient({ url, token: hub.adminToken! });
    await client.call('POST', '/api/teams', { name: 'vision' });
    const file = join(mkdtempSync(join(tmpdir(), 'hubc-up-')), 'encoder.safetensors');
    writeFileSync(file, body);
    let sent = 0;
    await client.uploadFile(file, sha(body), (n) => (sent += n));
    assert.equal(sent, body.length, 'upload progress counts every byte');
    await client.call('POST', '/api/models/vision/enc/versions', {
      files: [{ path: 'encoder.safetensors', sha256: sha(body), size: body.length }],
    });
    globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get('range'));
      return realFetch(input, init);
    };
  });
  after(async () => {
    globalThis.fetch = realFetch;
    await hub.app.close();
  });

  it('resumes an interrupted download from its .part file with a Range request', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'hubc-down-')), 'encoder.safetensors');
    writeFileSync(`${dest}.part`, body.subarray(0, 40_000));
    seen.length = 0;
    let got = 0;
    await client.download(path, dest, sha(body), body.length, (n) => (got += n));
    assert.deepEqual(seen, ['bytes=40000-']);
    assert.equal(got, body.length, 'progress counts the resumed part too');
    assert.ok(readFileSync(dest).equals(body));
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('refuses a result whose sha256 does not match, and removes the bad partial file', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'hubc-bad-')), 'encoder.safetensors');
    writeFileSync(`${dest}.part`, Buffer.alloc(40_000, 9));
    await assert.rejects(
      () => client.download(path, dest, sha(body), body.length),
      (e: unknown) => e instanceof HubCallError && /does not match/.test(e.message),
    );
    assert.equal(existsSync(`${dest}.part`), false);
    assert.equal(existsSync(dest), false);
    await client.download(path, dest, sha(body), body.length);
    assert.ok(readFileSync(dest).equals(body), 'a second pull starts over and succeeds');
  });

  it('pulls a version into a folder, sub-folders included', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hubc-pull-')), 'enc');
    const r = await client.pull({ team: 'vision', name: 'enc', version: 'latest' }, () => out);
    assert.equal(r.seq, 1);
    assert.deepEqual(readdirSync(out), ['encoder.safetensors']);
    assert.ok(readFileSync(join(out, 'encoder.safetensors')).equals(body));
  });
});

describe('hub client against a hostile hub', () => {
  let server: Server;
  let url: string;
  let files: { path: string; sha256: string; size: number }[] = [];
  before(async () => {
    // Answers every version request with whatever file list the test sets, and any file with "pwned".
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url!.includes('/files/')) {
        res.setHeader('content-type', 'application/octet-stream');
        return res.end('pwned');
      }
      res.end(JSON.stringify({ seq: 1, files }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const bad of [
    '../escape.txt',
    '/tmp/absolute.txt',
    'a/../../escape.txt',
    'ok/../../escape.txt',
    '..',
    '.ssh/authorized_keys',
    'a\\..\\b',
    'a//b',
    '',
  ])
    it(`refuses the path ${JSON.stringify(bad)} and writes nothing`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'hubc-evil-'));
      const out = join(root, 'out');
      files = [
        { path: 'encoder.json', sha256: sha('pwned'), size: 5 },
        { path: bad, sha256: sha('pwned'), size: 5 },
      ];
      await assert.rejects(
        () => new HubClient({ url }).pull({ team: 'a', name: 'b', version: 'latest' }, () => out),
        (e: unknown) => e instanceof HubCallError && /outside/.test(e.message),
      );
      assert.deepEqual(readdirSync(root), [], 'not even the harmless file was written');
    });

  it('joins safe relative paths inside the folder', () => {
    assert.equal(safeJoin('/data/out', 'sub/encoder.json'), '/data/out/sub/encoder.json');
    assert.throws(() => safeJoin('/data/out', '../out2/x'), /outside/);
  });
});

/** Team vision with model enc v1 (one small file), as a report's target. */
async function publishVisionEnc(client: HubClient): Promise<void> {
  await client.call('POST', '/api/teams', { name: 'vision' });
  const w = Buffer.from('weights');
  const f = join(mkdtempSync(join(tmpdir(), 'hubc-w-')), 'w.bin');
  writeFileSync(f, w);
  await client.uploadFile(f, sha(w));
  await client.call('POST', '/api/models/vision/enc/versions', { files: [{ path: 'w.bin', sha256: sha(w), size: w.length }] });
}

const report = { task: 't', dataset: 'd', metric: 'accuracy', value: 0.9, protocol: 'linear', labelBudget: '1%' };

describe('a report after a job that outlived the keep-alive', () => {
  it('reaches the hub, once, even though the pooled connection was closed while the event loop was blocked', async () => {
    // The reported failure: `pretext eval --push` computed for minutes in libtorch (blocking
    // the event loop), the server closed the idle kept-alive socket meanwhile, and the POST
    // went out on that dead socket: "fetch failed", the result lost.
    const hub = await serveInProcess(mkdtempSync(join(tmpdir(), 'hubc-ka-')), 150);
    try {
      const client = new HubClient({ url: hub.url, token: hub.token! }, { retryDelayMs: 20 });
      await publishVisionEnc(client);
      for (let round = 0; round < 3; round++) {
        await client.call('GET', '/api/models/vision/enc'); // leaves a kept-alive socket in the pool
        const until = Date.now() + 600; // a synchronous job, 4x the server's keep-alive
        while (Date.now() < until) {
          /* busy, as libtorch keeps the thread */
        }
        const r = await client.callWithStatus('POST', '/api/models/vision/enc/versions/v1/evals', report, {
          idempotencyKey: `report-${round}-abcdef`,
        });
        assert.equal(r.status, 201);
        // The same report again (as after a lost answer) is recognized, not added twice.
        const again = await client.callWithStatus('POST', '/api/models/vision/enc/versions/v1/evals', report, {
          idempotencyKey: `report-${round}-abcdef`,
        });
        assert.equal(again.status, 200);
      }
      const evals = await client.call<unknown[]>('GET', '/api/models/vision/enc/evals');
      assert.equal(evals.length, 3, 'one report per round, none lost, none doubled');
      const conflict = await client
        .callWithStatus(
          'POST',
          '/api/models/vision/enc/versions/v1/evals',
          { ...report, value: 0.1 },
          { idempotencyKey: 'report-0-abcdef' },
        )
        .catch((e: HubCallError) => e.status);
      assert.equal(conflict, 409, 'a key reused for a different result is refused');
    } finally {
      hub.proc.kill('SIGKILL');
    }
  });
});

/** A TCP proxy to `port` that, when armed, lets the next POST reach the server and then cuts the connection before its answer. */
async function answerDroppingProxy(port: number): Promise<{ url: string; dropNextAnswer: () => void; close: () => Promise<void> }> {
  let armed = false;
  const open = new Set<Socket>();
  const server: TcpServer = createTcpServer((c) => {
    const up = connect(port, '127.0.0.1');
    open.add(c).add(up);
    let cut = false;
    c.on('data', (d: Buffer) => {
      if (armed && d.toString('latin1').startsWith('POST ')) {
        armed = false;
        cut = true;
      }
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      if (cut) {
        c.destroy();
        up.destroy();
      } else c.write(d);
    });
    for (const s of [c, up]) s.on('error', () => undefined);
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    dropNextAnswer: () => (armed = true),
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('a report whose answer is lost', () => {
  it('is sent again with its idempotency key and recorded once; without a key it is not repeated blindly', async () => {
    const hub = await createHub({ dataDir: mkdtempSync(join(tmpdir(), 'hubc-lost-')), logLevel: false });
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    const proxy = await answerDroppingProxy((hub.app.server.address() as { port: number }).port);
    try {
      const client = new HubClient({ url: proxy.url, token: hub.adminToken! }, { retryDelayMs: 20 });
      await publishVisionEnc(client);
      proxy.dropNextAnswer();
      const r = await client.callWithStatus('POST', '/api/models/vision/enc/versions/v1/evals', report, {
        idempotencyKey: 'lost-answer-1',
      });
      assert.equal(r.status, 200, 'the retry found the first report already recorded');
      assert.equal((await client.call<unknown[]>('GET', '/api/models/vision/enc/evals')).length, 1);
      proxy.dropNextAnswer();
      await assert.rejects(
        () => client.call('POST', '/api/models/vision/enc/versions/v1/evals', report),
        (e: unknown) => e instanceof HubCallError && e.status === 0 && /cannot reach the hub/.test(e.message),
      );
      assert.equal((await client.call<unknown[]>('GET', '/api/models/vision/enc/evals')).length, 2, 'sent once, not repeated');
    } finally {
      await proxy.close();
      await hub.app.close();
    }
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Hub } from '@pretext/hub';
import { ProgressBar } from '@pretext/ssl';
import { HubCallError, HubClient } from '../src/hub.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

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
    const quiet = new ProgressBar({ total: 1, label: 'up', stream: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream });
    await client.uploadFile(file, sha(body), quiet);
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

  const bar = (): ProgressBar =>
    new ProgressBar({ total: 1, label: 'down', stream: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream });

  it('resumes an interrupted download from its .part file with a Range request', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'hubc-down-')), 'encoder.safetensors');
    writeFileSync(`${dest}.part`, body.subarray(0, 40_000));
    seen.length = 0;
    await client.download(path, dest, sha(body), body.length, bar());
    assert.deepEqual(seen, ['bytes=40000-']);
    assert.ok(readFileSync(dest).equals(body));
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('refuses a result whose sha256 does not match, and removes the bad partial file', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'hubc-bad-')), 'encoder.safetensors');
    writeFileSync(`${dest}.part`, Buffer.alloc(40_000, 9));
    await assert.rejects(
      () => client.download(path, dest, sha(body), body.length, bar()),
      (e: unknown) => e instanceof HubCallError && /does not match/.test(e.message),
    );
    assert.equal(existsSync(`${dest}.part`), false);
    assert.equal(existsSync(dest), false);
    await client.download(path, dest, sha(body), body.length, bar());
    assert.ok(readFileSync(dest).equals(body), 'a second pull starts over and succeeds');
  });
});

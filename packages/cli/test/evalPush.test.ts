// `pretext eval --push` keeps its result when the hub cannot take it: the result is saved
// beside the pulled encoder first, and sending it again neither re-evaluates nor doubles it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Hub } from '@pretext/hub';
import { HubCallError, HubClient } from '@pretext/hub/client';
import { loadSavedEvals, pushSavedEvals, saveEvals } from '../src/hub.js';

describe('saved evaluation results', () => {
  let hub: Hub;
  let client: HubClient;
  before(async () => {
    hub = await createHub({ dataDir: mkdtempSync(join(tmpdir(), 'evalpush-')), logLevel: false });
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    client = new HubClient({ url: `http://127.0.0.1:${(hub.app.server.address() as { port: number }).port}`, token: hub.adminToken! });
    await client.call('POST', '/api/teams', { name: 'vision' });
    const w = join(mkdtempSync(join(tmpdir(), 'evalpush-w-')), 'w.bin');
    writeFileSync(w, 'weights');
    const digest = createHash('sha256').update('weights').digest('hex');
    await client.uploadFile(w, digest);
    await client.call('POST', '/api/models/vision/enc/versions', { files: [{ path: 'w.bin', sha256: digest, size: 7 }] });
  });
  after(() => hub.app.close());

  it('survives an unreachable hub, then lands once however often it is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evalpush-dir-'));
    const results = [
      { task: 'fashion-mnist', dataset: 'fashion-mnist/test', metric: 'knn-accuracy', value: 0.87, protocol: 'knn', labelBudget: '100%' },
      {
        task: 'fashion-mnist',
        dataset: 'fashion-mnist/test',
        metric: 'linear-accuracy',
        value: 0.91,
        protocol: 'linear',
        labelBudget: '100%',
      },
    ];
    const path = saveEvals(dir, {
      model: 'vision/enc',
      version: 1,
      dataset: 'fashion-mnist',
      evaluatedAt: '2026-12-04T00:00:00Z',
      scores: { knn: 0.87, linear: 0.91 },
      results,
    });
    assert.equal(loadSavedEvals(dir, 'fashion-mnist')!.results.length, 2);
    const down = new HubClient({ url: 'http://127.0.0.1:9', token: hub.adminToken! }, { retries: 1, retryDelayMs: 10 });
    await assert.rejects(
      () => pushSavedEvals(path, down),
      (e: unknown) => e instanceof HubCallError && e.message.includes(`the result is saved in ${path}`),
    );
    assert.ok(existsSync(path));
    const before = readFileSync(path, 'utf8');
    assert.deepEqual(await pushSavedEvals(path, client), { added: 2, already: 0 });
    assert.deepEqual(await pushSavedEvals(path, client), { added: 0, already: 2 });
    assert.equal(readFileSync(path, 'utf8'), before, 'the saved result is kept as it was');
    const evals = await client.call<{ metric: string; value: number; version: number }[]>('GET', '/api/models/vision/enc/evals');
    assert.deepEqual(
      evals.map((e) => [e.metric, e.value, e.version]),
      [
        ['knn-accuracy', 0.87, 1],
        ['linear-accuracy', 0.91, 1],
      ],
    );
  });
});

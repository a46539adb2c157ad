// A federation hosted by the hub, through its routes: rounds that close when every site is in
// or when the timeout passes with a quorum, the threats the issue names (another site's slot,
// a replayed or late update, a NaN or oversized update, a non-member reading), and a hub
// restarted mid-round that resumes with the updates already in.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWeights, encodeWeights } from '../src/federation/tensors.js';
import { flattenWeights, SecAggSite, secAggParams, type UnmaskRequest } from '../src/federation/secagg.js';
import { freshHub, type Reply } from './fixtures/hub.js';

const octet = { 'content-type': 'application/octet-stream' };
const plan = (o: Record<string, unknown> = {}) => ({
  sites: ['north', 'south'],
  rounds: 2,
  localEpochs: 1,
  strategy: { name: 'fedavg', share: 'all', aggregation: { kind: 'mean' }, optimizer: { name: 'sgd', lr: 1 } },
  plainKeys: ['bn.mean'],
  recipe: 'name: hosted\nseed: 0\n',
  ...o,
});
const initial = () =>
  encodeWeights(
    new Map([
      ['w', Float32Array.of(1, 2, 3, 4)],
      ['bn.mean', Float32Array.of(0)],
    ]),
    {},
    new Map([['w', [2, 2]]]),
  );
const update = (w: number[], bn: number, examples: number) =>
  encodeWeights(
    new Map([
      ['w', Float32Array.from(w)],
      ['bn.mean', Float32Array.of(bn)],
    ]),
    { examples: String(examples) },
    new Map(w.length === 4 ? [['w', [2, 2]]] : []),
  );

describe('a hub-hosted federation', () => {
  let h: Awaited<ReturnType<typeof freshHub>>;
  /** The hub's folder (kept across the restart below). */
  let dataDir: string;
  const t: Record<string, string> = {};
  const ok = async (r: Promise<Reply>, status = 201): Promise<Reply> => {
    const x = await r;
    assert.equal(x.status, status, x.body);
    return x;
  };

  before(async () => {
    h = await freshHub({ logLevel: false, federationTickMs: 50 });
    dataDir = h.dir;
    const root = h.hub.adminToken!;
    for (const u of ['owner', 'nadia', 'sam', 'eve', 'erin']) await ok(h.call('POST', '/api/users', root, { name: u }));
    for (const [u, team] of [
      ['owner', 'lab'],
      ['nadia', 'north'],
      ['sam', 'south'],
      ['eve', 'outsiders'],
      ['erin', 'east'],
    ] as const) {
      t[u] = (await ok(h.call('POST', '/api/tokens', root, { name: u, scope: 'admin', user: u }))).json!.token as string;
      await ok(h.call('POST', '/api/teams', t[u], { name: team }));
    }
  });
  after(async () => h.hub.app.close());

  const submit = (who: string, fed: string, round: number, site: string, body: Buffer) =>
    h.call('PUT', `/api/federations/lab/${fed}/rounds/${round}/updates/${site}`, t[who], body, octet);

  it('closes a round when every site is in: the global weights move by the example-weighted mean', async () => {
    await ok(h.call('POST', '/api/federations/lab/f1', t.owner, plan()));
    // Not started without weights, and no update before the start.
    assert.equal((await h.call('POST', '/api/federations/lab/f1/control', t.owner, { action: 'start' })).status, 409);
    await ok(h.call('PUT', '/api/federations/lab/f1/weights', t.owner, initial(), octet));
    assert.equal((await submit('nadia', 'f1', 1, 'north', update([0, 0, 0, 0], 0, 1))).status, 409);
    await ok(h.call('POST', '/api/federations/lab/f1/control', t.owner, { action: 'start' }), 200);
    // Initial weights are fixed once started.
    assert.equal((await h.call('PUT', '/api/federations/lab/f1/weights', t.owner, initial(), octet)).status, 409);

    const first = await ok(submit('nadia', 'f1', 1, 'north', update([1, 1, 1, 1], 2, 30)));
    assert.equal(first.json!.closed, null);
    const info = (await ok(h.call('GET', '/api/federations/lab/f1', t.sam), 200)).json!;
    assert.deepEqual(info.submitted, ['north']);
    assert.equal(info.round, 0);
    const second = await ok(submit('sam', 'f1', 1, 'south', update([-1, 3, 1, 1], 6, 10)));
    const closed = second.json!.closed as { round: number; sites: string[]; examples: number; closedBy: string };
    assert.deepEqual([closed.round, closed.sites, closed.examples, closed.closedBy], [1, ['north', 'south'], 40, 'all']);
    const g = await ok(h.call('GET', '/api/federations/lab/f1/weights', t.nadia), 200);
    assert.equal(g.headers['x-pretext-round'], '1');
    const { weights, shapes } = decodeWeights(g.raw);
    // (30 * [1,1,1,1] + 10 * [-1,3,1,1]) / 40 = [0.5, 1.5, 1, 1], added to [1,2,3,4]; running statistics likewise.
    assert.deepEqual([...weights.get('w')!], [1.5, 3.5, 4, 5]);
    assert.deepEqual([...weights.get('bn.mean')!], [3]);
    assert.deepEqual(shapes.get('w'), [2, 2]);
    // The owner records what it measured after round 1; a site may not, and round 2 has not completed.
    const m = await ok(h.call('POST', '/api/federations/lab/f1/rounds/1/metrics', t.owner, { metrics: { valKnn: 0.61 } }), 200);
    assert.deepEqual(m.json!.metrics, { '1': { valKnn: 0.61 } });
    assert.equal((await h.call('POST', '/api/federations/lab/f1/rounds/1/metrics', t.nadia, { metrics: { valKnn: 0.9 } })).status, 403);
    assert.equal((await h.call('POST', '/api/federations/lab/f1/rounds/2/metrics', t.owner, { metrics: { valKnn: 0.7 } })).status, 409);
  });

  it('refuses another site slot, a stale or repeated round, NaN and oversized updates, and keeps the round going', async () => {
    // f1 is in round 2 now.
    const r = (x: Promise<Reply>) => x.then((y) => `${y.status} ${String(y.json?.error ?? '')}`);
    assert.match(await r(submit('nadia', 'f1', 2, 'south', update([0, 0, 0, 0], 0, 1))), /^403 only members of site team 'south'/);
    assert.match(await r(submit('nadia', 'f1', 2, 'outsiders', update([0, 0, 0, 0], 0, 1))), /^403 'outsiders' is not a site/);
    assert.match(await r(submit('nadia', 'f1', 1, 'north', update([0, 0, 0, 0], 0, 1))), /^409 .*round 1, but round 2 is open/);
    assert.match(await r(submit('nadia', 'f1', 2, 'north', update([NaN, 0, 0, 0], 0, 1))), /^400 .*'w' holds NaN/);
    assert.match(await r(submit('nadia', 'f1', 2, 'north', update([0, 0, 0], 0, 1))), /^400 /);
    assert.match(await r(submit('nadia', 'f1', 2, 'north', Buffer.alloc(3 * 1024 * 1024))), /^413 /);
    assert.match(await r(submit('nadia', 'f1', 2, 'north', update([0, 0, 0, 0], 0, 0))), /^400 .*examples/);
    await ok(submit('nadia', 'f1', 2, 'north', update([0, 0, 0, 0], 0, 5)));
    assert.match(await r(submit('nadia', 'f1', 2, 'north', update([0, 0, 0, 0], 0, 5))), /^409 .*already submitted/);
    const info = (await ok(h.call('GET', '/api/federations/lab/f1', t.owner), 200)).json!;
    assert.deepEqual(info.submitted, ['north']);
    // The last round closes the federation; nothing is taken after it.
    const last = await ok(submit('sam', 'f1', 2, 'south', update([0, 0, 0, 0], 0, 5)));
    assert.equal((last.json!.closed as { round: number }).round, 2);
    assert.equal((await ok(h.call('GET', '/api/federations/lab/f1', t.owner), 200)).json!.status, 'finished');
    assert.equal((await submit('sam', 'f1', 3, 'south', update([0, 0, 0, 0], 0, 5))).status, 409);
  });

  it('answers a non-member exactly as for a federation that does not exist', async () => {
    const seen = await h.call('GET', '/api/federations/lab/f1', t.eve);
    const missing = await h.call('GET', '/api/federations/lab/nothing-here', t.eve);
    assert.equal(seen.status, 404);
    assert.equal(seen.body.replace('f1', 'nothing-here'), missing.body);
    assert.equal((await h.call('GET', '/api/federations/lab/f1/weights', t.eve)).status, 404);
    const list = (await ok(h.call('GET', '/api/federations', t.eve), 200)).json!;
    assert.deepEqual(list, []);
    assert.deepEqual(
      ((await ok(h.call('GET', '/api/federations', t.sam), 200)).json! as { name: string }[]).map((f) => f.name),
      ['f1'],
    );
  });

  it('closes a round after its timeout once a quorum is in, with no site asking', async () => {
    await ok(h.call('POST', '/api/federations/lab/f2', t.owner, plan({ minSites: 1, roundTimeoutS: 0.2 })));
    await ok(h.call('PUT', '/api/federations/lab/f2/weights', t.owner, initial(), octet));
    await ok(h.call('POST', '/api/federations/lab/f2/control', t.owner, { action: 'start' }), 200);
    await ok(submit('sam', 'f2', 1, 'south', update([1, 1, 1, 1], 0, 4)));
    let round = 0;
    for (let i = 0; i < 40 && round === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const row = await h.hub.db.one<{ round: number }>("SELECT round FROM federations WHERE name = 'f2'");
      round = Number(row!.round);
    }
    assert.equal(round, 1);
    const info = (await ok(h.call('GET', '/api/federations/lab/f2', t.owner), 200)).json!;
    assert.equal((info.history as { closedBy: string }[])[0]!.closedBy, 'timeout');
    // A paused federation takes no update; resumed, it does.
    await ok(h.call('POST', '/api/federations/lab/f2/control', t.owner, { action: 'pause' }), 200);
    assert.equal((await submit('sam', 'f2', 2, 'south', update([1, 1, 1, 1], 0, 4))).status, 409);
    assert.equal((await h.call('POST', '/api/federations/lab/f2/control', t.nadia, { action: 'resume' })).status, 403);
    await ok(h.call('POST', '/api/federations/lab/f2/control', t.owner, { action: 'resume' }), 200);
    await ok(submit('sam', 'f2', 2, 'south', update([1, 1, 1, 1], 0, 4)));
  });

  it("keeps each site's account of the privacy it spent under DP-SGD, which only grows, and only from that site", async () => {
    const dp = { noise: 1.1, clip: 1, delta: 1e-5 };
    const created = (await ok(h.call('POST', '/api/federations/lab/private', t.owner, plan({ dp })))).json!;
    assert.deepEqual([created.dp, created.privacy], [dp, {}]);
    await ok(h.call('PUT', '/api/federations/lab/private/weights', t.owner, initial(), octet));
    await ok(h.call('POST', '/api/federations/lab/private/control', t.owner, { action: 'start' }), 200);
    const report = (who: string, site: string, round: number, epsilon: number) =>
      h.call('POST', `/api/federations/lab/private/privacy/${site}`, t[who], { round, epsilon });
    const r = (x: Promise<Reply>) => x.then((y) => `${y.status} ${String(y.json?.error ?? '')}`);
    await ok(report('nadia', 'north', 1, 0.8), 200);
    // The same report again (a restarted site) is taken; the hub keeps one figure per round.
    await ok(report('nadia', 'north', 1, 0.8), 200);
    assert.match(await r(report('nadia', 'north', 1, 0.9)), /^409 privacy spent only grows: north reported epsilon 0.8 after round 1/);
    assert.match(await r(report('nadia', 'north', 2, 1.2)), /^409 round 2 .* has not opened \(round 1 is the latest\)/);
    assert.match(await r(report('nadia', 'south', 1, 0.1)), /^403 only members of site team 'south'/);
    assert.match(await r(report('owner', 'north', 1, 0.1)), /^403 only members of site team 'north'/);
    assert.match(await r(report('nadia', 'outsiders', 1, 0.1)), /^403 'outsiders' is not a site/);
    assert.equal((await report('nadia', 'north', 1, -1)).status, 400);
    await ok(report('sam', 'south', 1, 0.6), 200);
    await ok(submit('nadia', 'private', 1, 'north', update([0, 0, 0, 0], 0, 1)));
    await ok(submit('sam', 'private', 1, 'south', update([0, 0, 0, 0], 0, 1)));
    assert.match(await r(report('nadia', 'north', 2, 0.7)), /^409 privacy spent only grows/);
    await ok(report('nadia', 'north', 2, 1.2), 200);
    const info = (await ok(h.call('GET', '/api/federations/lab/private', t.sam), 200)).json!;
    assert.deepEqual(info.privacy, { '1': { north: 0.8, south: 0.6 }, '2': { north: 1.2 } });
    // A federation without a DP policy has nothing to account for.
    assert.match(
      await r(h.call('POST', '/api/federations/lab/f1/privacy/north', t.nadia, { round: 1, epsilon: 1 })),
      /^409 .*runs no DP-SGD/,
    );
    assert.equal(
      (await h.call('POST', '/api/federations/lab/bad-dp', t.owner, plan({ dp: { noise: 0, clip: 1, delta: 1e-5 } }))).status,
      400,
    );
  });

  it("keeps each site's training loss by round, only from that site, and never under DP-SGD", async () => {
    await ok(h.call('POST', '/api/federations/lab/losses', t.owner, plan()));
    await ok(h.call('PUT', '/api/federations/lab/losses/weights', t.owner, initial(), octet));
    await ok(h.call('POST', '/api/federations/lab/losses/control', t.owner, { action: 'start' }), 200);
    const report = (who: string, site: string, round: number, loss: number) =>
      h.call('POST', `/api/federations/lab/losses/losses/${site}`, t[who], { round, loss });
    const r = (x: Promise<Reply>) => x.then((y) => `${y.status} ${String(y.json?.error ?? '')}`);
    await ok(report('nadia', 'north', 1, 2.5), 200);
    // A restarted site reports again; losses may be negative (BYOL's, SimSiam's).
    await ok(report('nadia', 'north', 1, -0.25), 200);
    await ok(report('sam', 'south', 1, 1.75), 200);
    assert.match(await r(report('nadia', 'north', 2, 1)), /^409 round 2 .* has not opened/);
    assert.match(await r(report('sam', 'north', 1, 1)), /^403 only members of site team 'north'/);
    assert.match(await r(report('owner', 'south', 1, 1)), /^403 only members of site team 'south'/);
    assert.equal((await h.call('POST', '/api/federations/lab/losses/losses/north', t.nadia, { round: 1, loss: 'NaN' })).status, 400);
    const info = (await ok(h.call('GET', '/api/federations/lab/losses', t.owner), 200)).json!;
    assert.deepEqual(info.losses, { '1': { north: -0.25, south: 1.75 } });
    // Under DP-SGD the loss, computed on the records without noise, is not taken.
    assert.match(
      await r(h.call('POST', '/api/federations/lab/private/losses/north', t.nadia, { round: 1, loss: 1 })),
      /^409 .*runs DP-SGD: an unnoised training loss would escape its privacy account/,
    );
  });

  it("takes each site's summary once, shows them to the owner alone, and fixes the merged preprocessing before the weights", async () => {
    await ok(h.call('POST', '/api/federations/lab/merged', t.owner, plan({ siteSummaries: { minCount: 5 } })));
    const r = (x: Promise<Reply>) => x.then((y) => `${y.status} ${String(y.json?.error ?? '')}`);
    const summary = (rows: number) => ({ format: 'pretext-table-summary/1', rows, minCount: 5, columns: [] });
    const send = (who: string, site: string, rows: number) =>
      h.call('PUT', `/api/federations/lab/merged/summaries/${site}`, t[who], summary(rows));
    await ok(send('nadia', 'north', 120), 200);
    // A restarted site sends the same summary again; a different one is refused.
    await ok(send('nadia', 'north', 120), 200);
    assert.match(await r(send('nadia', 'north', 121)), /^409 site 'north' has sent its summary .* and it differs/);
    assert.match(await r(send('nadia', 'south', 80)), /^403 only members of site team 'south'/);
    assert.match(await r(h.call('GET', '/api/federations/lab/merged/summaries', t.nadia)), /^403 only members of team 'lab'/);
    assert.deepEqual((await ok(h.call('GET', '/api/federations/lab/merged/summaries', t.owner), 200)).json, { north: summary(120) });
    assert.deepEqual((await ok(h.call('GET', '/api/federations/lab/merged', t.sam), 200)).json!.summarized, ['north']);
    // The model is built on the merged preprocessing, so weights cannot come first.
    assert.match(
      await r(h.call('PUT', '/api/federations/lab/merged/weights', t.owner, initial(), octet)),
      /^409 .*preprocessing merged from the site summaries: set that first/,
    );
    const features = { format: 'pretext-features/1', numeric: [], categorical: [], ignored: {} };
    await ok(h.call('PUT', '/api/federations/lab/merged/features', t.owner, { features, plainKeys: ['bn.mean'] }), 200);
    assert.match(await r(send('sam', 'south', 80)), /^409 the preprocessing of 'lab\/merged' is fixed/);
    await ok(h.call('PUT', '/api/federations/lab/merged/weights', t.owner, initial(), octet));
    assert.match(await r(h.call('PUT', '/api/federations/lab/merged/features', t.owner, { features })), /^409 .*has initial weights/);
    assert.deepEqual((await ok(h.call('GET', '/api/federations/lab/merged', t.nadia), 200)).json!.features, features);
    // A federation whose owner fits the preprocessing takes no summaries.
    await ok(h.call('POST', '/api/federations/lab/owned', t.owner, plan()));
    assert.match(
      await r(h.call('PUT', '/api/federations/lab/owned/summaries/north', t.nadia, summary(1))),
      /^409 .*takes its preprocessing from the owner/,
    );
  });

  it("keeps a wide table's preprocessing with the plan, past the hub's usual body limit", async () => {
    // 400 numeric columns with 256 quantiles each: about 1.9 MB of JSON.
    const numeric = Array.from({ length: 400 }, (_, c) => ({
      name: `c${c}`,
      quantiles: Array.from({ length: 256 }, (_, q) => c + q / 255 + 1e-9),
    }));
    const features = { format: 'pretext-features/1', numeric, categorical: [], ignored: {} };
    const size = JSON.stringify(features).length;
    assert.ok(size > 1024 ** 2, `${size} bytes`);
    const made = (await ok(h.call('POST', '/api/federations/lab/wide', t.owner, plan({ features })))).json!;
    assert.deepEqual(made.features, features);
  });

  it('resumes after a restart with the updates already in, to the same weights as without one', async () => {
    for (const fed of ['steady', 'restarted']) {
      await ok(h.call('POST', `/api/federations/lab/${fed}`, t.owner, plan({ rounds: 1 })));
      await ok(h.call('PUT', `/api/federations/lab/${fed}/weights`, t.owner, initial(), octet));
      await ok(h.call('POST', `/api/federations/lab/${fed}/control`, t.owner, { action: 'start' }), 200);
      await ok(submit('nadia', fed, 1, 'north', update([0.25, 0, 0, 1], 1, 3)));
    }
    await ok(submit('sam', 'steady', 1, 'south', update([1, 1, -1, 0], 2, 1)));
    // The hub goes down with north's update in for 'restarted', and comes back on the same folder.
    await h.hub.app.close();
    h = await freshHub({ logLevel: false, dataDir, federationTickMs: 50 });
    const info = (await ok(h.call('GET', '/api/federations/lab/restarted', t.owner), 200)).json!;
    assert.deepEqual([info.status, info.round, info.submitted], ['running', 0, ['north']]);
    assert.equal((await submit('nadia', 'restarted', 1, 'north', update([0.25, 0, 0, 1], 1, 3))).status, 409);
    await ok(submit('sam', 'restarted', 1, 'south', update([1, 1, -1, 0], 2, 1)));
    const a = decodeWeights((await ok(h.call('GET', '/api/federations/lab/steady/weights', t.owner), 200)).raw).weights;
    const b = decodeWeights((await ok(h.call('GET', '/api/federations/lab/restarted/weights', t.owner), 200)).raw).weights;
    assert.deepEqual([...b.get('w')!], [...a.get('w')!]);
    assert.deepEqual([...a.get('w')!], [1 + (0.75 + 1) / 4, 2 + 0.25, 3 - 0.25, 4 + 0.75]);
    // Closed rounds leave no update behind, in the database or on disk.
    const left = await h.hub.db.all(
      "SELECT u.file FROM federation_updates u JOIN federations f ON f.id = u.federation_id WHERE f.name IN ('steady', 'restarted')",
    );
    assert.deepEqual(left, []);
    const fid = await h.hub.db.one<{ id: number }>("SELECT id FROM federations WHERE name = 'restarted'");
    assert.deepEqual(
      readdirSync(join(dataDir, 'federations', String(fid!.id))).filter((f) => f.startsWith('update-')),
      [],
    );
  });

  it('securely aggregates: the hub holds only a sum of masked inputs, and a site that dies after sharing its keys is unmasked', async () => {
    const fed = '/api/federations/lab/vault';
    await ok(
      h.call(
        'POST',
        fed,
        t.owner,
        plan({ sites: ['north', 'south', 'east'], rounds: 1, minSites: 2, roundTimeoutS: 0.3, secureAggregation: { clip: 4 } }),
      ),
    );
    // Secure aggregation needs the mean and a majority quorum.
    assert.equal(
      (
        await h.call(
          'POST',
          '/api/federations/lab/vault-median',
          t.owner,
          plan({
            sites: ['north', 'south', 'east'],
            secureAggregation: { clip: 4 },
            strategy: { name: 'median', share: 'all', aggregation: { kind: 'median' }, optimizer: { name: 'sgd', lr: 1 } },
          }),
        )
      ).status,
      400,
    );
    assert.equal((await h.call('POST', '/api/federations/lab/vault-two', t.owner, plan({ secureAggregation: { clip: 4 } }))).status, 400);
    await ok(h.call('PUT', `${fed}/weights`, t.owner, initial(), octet));
    await ok(h.call('POST', `${fed}/control`, t.owner, { action: 'start' }), 200);
    assert.match((await submit('nadia', 'vault', 1, 'north', update([0, 0, 0, 0], 0, 1))).body, /secure aggregation/);

    const who: Record<string, string> = { north: 'nadia', south: 'sam', east: 'erin' };
    type View = {
      round: number;
      attempt: string;
      phase: string;
      context: string;
      roster: never[];
      boxes: never[];
      request: UnmaskRequest | null;
    };
    const view = async (site: string): Promise<View> =>
      (await ok(h.call('GET', `${fed}/secure/${site}`, t[who[site]!]), 200)).json as unknown as View;
    const step = (site: string, body: Record<string, unknown>) => h.call('POST', `${fed}/secure/${site}`, t[who[site]!], body);
    const v0 = await view('north');
    assert.equal(v0.phase, 'keys');
    // Another site's slot, and a stale attempt, are refused.
    const params = secAggParams(3, 4, v0.context);
    const sites = Object.fromEntries(['north', 'south', 'east'].map((s) => [s, new SecAggSite(s, params)]));
    assert.equal(
      (
        await h.call('POST', `${fed}/secure/south`, t.nadia, {
          step: 'keys',
          round: 1,
          attempt: v0.attempt,
          advertisement: sites.south!.advertise(),
        })
      ).status,
      403,
    );
    assert.equal((await step('north', { step: 'keys', round: 1, attempt: 'old', advertisement: sites.north!.advertise() })).status, 409);
    for (const [s, site] of Object.entries(sites))
      await ok(step(s, { step: 'keys', round: 1, attempt: v0.attempt, advertisement: site.advertise() }), 200);
    const v1 = await view('north');
    assert.deepEqual([v1.phase, v1.roster.length], ['shares', 3]);
    for (const [s, site] of Object.entries(sites))
      await ok(step(s, { step: 'shares', round: 1, attempt: v0.attempt, boxes: await site.shareKeys(v1.roster) }), 200);
    const deltas: Record<string, number[]> = { north: [1, 0.5, -6, 0], south: [-1, 2.5, 1, 3] };
    for (const s of ['north', 'south']) {
      const v = await view(s);
      assert.equal(v.phase, 'inputs');
      sites[s]!.receiveShares(v.boxes);
      const flat = flattenWeights(
        new Map([
          ['w', Float32Array.from(deltas[s]!)],
          ['bn.mean', Float32Array.of(s === 'north' ? 1 : 3)],
        ]),
        ['w', 'bn.mean'],
      );
      const { masked } = sites[s]!.maskedInput(flat, 1);
      await ok(
        h.call('PUT', `${fed}/secure/${s}/input?round=1&attempt=${v0.attempt}&weight=1`, t[who[s]!], Buffer.from(masked.buffer), octet),
        200,
      );
    }
    // east shared its keys and died. While the round is open, the hub's store holds no update.
    const fid = await h.hub.db.one<{ id: number }>("SELECT id FROM federations WHERE name = 'vault'");
    assert.deepEqual(await h.hub.db.all('SELECT * FROM federation_updates WHERE federation_id = ?', [fid!.id]), []);
    assert.deepEqual(readdirSync(join(dataDir, 'federations', String(fid!.id))), ['state-0.safetensors']);
    let v = await view('north');
    for (let i = 0; i < 40 && v.phase !== 'unmask'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      v = await view('north');
    }
    assert.deepEqual(v.request, { survivors: ['north', 'south'], dropped: ['east'] });
    for (const s of ['north', 'south'])
      await ok(step(s, { step: 'unmask', round: 1, attempt: v0.attempt, response: sites[s]!.unmask(v.request!) }), 200);
    const info = (await ok(h.call('GET', fed, t.owner), 200)).json!;
    assert.equal(info.status, 'finished');
    assert.deepEqual((info.history as { sites: string[] }[])[0]!.sites, ['north', 'south']);
    const w = decodeWeights((await ok(h.call('GET', `${fed}/weights`, t.owner), 200)).raw).weights;
    // initial + the mean of the two clipped updates ([-6 clipped to -4]), up to the quantization step.
    const want = [1 + 0, 2 + 1.5, 3 + (-4 + 1) / 2, 4 + 1.5];
    for (const [i, x] of [...w.get('w')!].entries()) assert.ok(Math.abs(x - want[i]!) < 1e-6, `w[${i}] = ${x}, expected ${want[i]}`);
    assert.ok(Math.abs(w.get('bn.mean')![0]! - 2) < 1e-6);
  });
});

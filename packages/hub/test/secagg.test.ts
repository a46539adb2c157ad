// Secure aggregation: the hub gets the exact sum of the quantized updates and nothing it could
// read one update from; dropped sites are unmasked from the survivors' shares; every request
// that would reveal more, and every tampered message, is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Coordinator,
  dequantizeSum,
  FederationRejected,
  quantize,
  SecAggServer,
  SecAggSite,
  secAggParams,
  SecureAggregationError,
  type SecAggParams,
} from '../src/client.js';

const LENGTH = 2000;
/** A site's update: values in [-0.5, 0.5] with a few beyond the clip range. */
const update = (k: number): Float32Array =>
  Float32Array.from({ length: LENGTH }, (_, i) => Math.sin(k * 1000 + i) * 0.5 + (i === k ? 3 : 0));

async function setUp(names: string[], p: SecAggParams): Promise<{ server: SecAggServer; sites: SecAggSite[] }> {
  const server = new SecAggServer(names, p, LENGTH);
  const sites = names.map((n) => new SecAggSite(n, p));
  for (const s of sites) server.advertise(s.advertise());
  for (const s of sites) server.relayShares(s.site, await s.shareKeys(server.roster()));
  for (const s of sites) s.receiveShares(server.deliveries(s.site));
  return { server, sites };
}

describe('secure aggregation', () => {
  const names = ['clinic-a', 'clinic-b', 'clinic-c', 'clinic-d', 'clinic-e'];
  const p = secAggParams(names.length, 1, 'test/fed#1');
  const weights = [1, 0.5, 0.25, 0.8, 0.6];

  it('derives an honest-majority threshold and a ring the sum cannot wrap', () => {
    assert.deepEqual([p.threshold, p.bits], [3, 29]);
    assert.throws(() => secAggParams(2, 1, 'x'), /at least 3 sites/);
    assert.ok(5 * (2 ** p.bits - 1) < 2 ** 32);
  });

  it('gives the hub the exact sum of the quantized updates, and the masked inputs look nothing like them', async () => {
    const { server, sites } = await setUp(names, p);
    const quantized = sites.map((_, k) => quantize(update(k), weights[k]!, p).q);
    for (const [k, s] of sites.entries()) {
      const { masked, clipped } = s.maskedInput(update(k), weights[k]!);
      assert.equal(clipped, 1, 'the one coordinate at 3 is clipped to 1');
      const same = masked.filter((v, i) => v === quantized[k]![i]).length;
      assert.ok(same < LENGTH / 100, `${same} coordinates of the masked input equal the quantized update`);
      server.submitMasked(s.site, masked, weights[k]!);
    }
    const req = server.unmaskRequest();
    assert.deepEqual(req, { survivors: names, dropped: [] });
    const out = await server.finish(sites.map((s) => s.unmask(req)));
    const exact = new Uint32Array(LENGTH);
    for (const q of quantized) for (let i = 0; i < LENGTH; i++) exact[i] = (exact[i]! + q[i]!) >>> 0;
    assert.deepEqual([...out.sum], [...dequantizeSum(exact, 5, p)]);
    // And that is the weighted sum of the clipped updates, up to rounding.
    const step = 2 / (2 ** p.bits - 1);
    for (let i = 0; i < LENGTH; i++) {
      const want = weights.reduce((a, w, k) => a + w * Math.max(-1, Math.min(1, update(k)[i]!)), 0);
      assert.ok(Math.abs(out.sum[i]! - want) <= 5 * step + 1e-6, `coordinate ${i}: ${out.sum[i]} vs ${want}`);
    }
    assert.ok(Math.abs(out.weight - 3.15) < 1e-12);
  });

  it('finishes the round when two sites die after sharing their keys: their pairwise masks come off', async () => {
    const { server, sites } = await setUp(names, p);
    const alive = [0, 2, 4];
    for (const k of alive) server.submitMasked(names[k]!, sites[k]!.maskedInput(update(k), weights[k]!).masked, weights[k]!);
    const req = server.unmaskRequest();
    assert.deepEqual(req, { survivors: ['clinic-a', 'clinic-c', 'clinic-e'], dropped: ['clinic-b', 'clinic-d'] });
    const out = await server.finish(alive.map((k) => sites[k]!.unmask(req)));
    const exact = new Uint32Array(LENGTH);
    for (const k of alive) {
      const q = quantize(update(k), weights[k]!, p).q;
      for (let i = 0; i < LENGTH; i++) exact[i] = (exact[i]! + q[i]!) >>> 0;
    }
    assert.deepEqual([...out.sum], [...dequantizeSum(exact, 3, p)]);
    assert.deepEqual(out.dropped, ['clinic-b', 'clinic-d']);
  });

  it('a site restored from its saved state masks as before, and still refuses to reveal twice', async () => {
    const { server, sites } = await setUp(names, p);
    // clinic-b restarts after receiving its shares: a fresh object from what it kept on disk.
    const saved = JSON.parse(JSON.stringify(sites[1]!.state())) as ReturnType<SecAggSite['state']>;
    const restored = new SecAggSite('clinic-b', p, saved);
    assert.deepEqual(restored.advertise(), sites[1]!.advertise());
    assert.deepEqual([...restored.maskedInput(update(1), 1).masked], [...sites[1]!.maskedInput(update(1), 1).masked]);
    const all = sites.map((s, k) => (k === 1 ? restored : s));
    for (const [k, s] of all.entries()) server.submitMasked(s.site, s.maskedInput(update(k), 1).masked, 1);
    const req = server.unmaskRequest();
    const answers = all.map((s) => s.unmask(req));
    // Revealing is remembered through a second restart.
    assert.throws(() => new SecAggSite('clinic-b', p, restored.state()).unmask(req), /already revealed/);
    const out = await server.finish(answers);
    const exact = new Uint32Array(LENGTH);
    for (const k of names.keys()) {
      const q = quantize(update(k), 1, p).q;
      for (let i = 0; i < LENGTH; i++) exact[i] = (exact[i]! + q[i]!) >>> 0;
    }
    assert.deepEqual([...out.sum], [...dequantizeSum(exact, 5, p)]);
    // A corrupted file is refused with a reason, not used.
    assert.throws(() => new SecAggSite('clinic-b', p, { ...saved, maskKey: 'AAAA' }), /saved key does not load/);
    assert.throws(() => new SecAggSite('clinic-b', p, { ...saved, seed: 'AAAA' }), /seed is 32 bytes/);
  });

  it('refuses to unmask below the threshold, to reveal both secrets of one site, twice, or with tampered shares', async () => {
    const { server, sites } = await setUp(names, p);
    for (const k of [0, 1]) server.submitMasked(names[k]!, sites[k]!.maskedInput(update(k), 1).masked, 1);
    assert.throws(() => server.unmaskRequest(), /fewer than the threshold 3/);
    assert.throws(() => sites[0]!.unmask({ survivors: names.slice(0, 2), dropped: names.slice(2) }), /below the threshold/);
    // A hub that lists a site as both survivor and dropped would get its seed and its key: refused.
    assert.throws(() => sites[0]!.unmask({ survivors: names.slice(0, 3), dropped: ['clinic-c'] }), /both submitted and dropped/);
    const honest = { survivors: names.slice(0, 3), dropped: names.slice(3) };
    sites[0]!.unmask(honest);
    assert.throws(() => sites[0]!.unmask(honest), /already revealed/);
    assert.throws(() => server.submitMasked('clinic-a', new Uint32Array(LENGTH), 1), /already sent its input/);
    assert.throws(() => server.submitMasked('clinic-c', new Uint32Array(5), 1), /5 values/);
    assert.throws(() => server.submitMasked('mallory', new Uint32Array(LENGTH), 1), SecureAggregationError);

    const fresh = await setUp(names.slice(0, 3), secAggParams(3, 1, 'test/fed#2'));
    const [a, b] = fresh.sites;
    const boxes = fresh.server.deliveries('clinic-b');
    const box = boxes[0]!;
    const flipped = Buffer.from(box.box, 'base64url');
    flipped[20]! ^= 1;
    assert.throws(() => b!.receiveShares([{ ...box, box: flipped.toString('base64url') }]), /do not open/);
    assert.throws(() => a!.receiveShares(boxes), /delivered to clinic-a/);
  });

  it('the coordinator refuses plain updates and robust aggregation under secure aggregation', () => {
    const plan = {
      sites: names,
      rounds: 1,
      minSites: 3,
      roundTimeoutMs: 1,
      aggregation: { kind: 'mean' as const },
      optimizer: { name: 'sgd' as const, lr: 1 },
      secureAggregation: { clip: 1 },
    };
    const c = new Coordinator(plan, new Map([['x', new Float32Array(2)]]));
    assert.throws(
      () => c.submit({ site: 'clinic-a', examples: 1, delta: new Map([['x', new Float32Array(2)]]) }, 0),
      (e: unknown) => e instanceof FederationRejected && /masked inputs/.test(e.message),
    );
    assert.throws(() => new Coordinator({ ...plan, aggregation: { kind: 'median' } }, new Map()), /cannot run under secure aggregation/);
    const r = c.closeWithMean(new Map([['x', Float32Array.from([0.5, -1])]]), {
      sites: names.slice(0, 3),
      examples: 30,
      bytesIn: 10,
      now: 5,
    });
    assert.equal(r.closedBy, 'timeout');
    assert.deepEqual([...c.global.get('x')!], [0.5, -1]);
    assert.deepEqual(r.norms, {}, 'no single update is seen, so none is measured');
  });
});

// The coordinator's arithmetic and rules, engine-free: combining updates, server optimizers,
// the checks every update passes, rounds that close on all sites or on a timeout with a quorum,
// refusals that leave the round as it was, a restart from the saved state, and the wire format.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkUpdate,
  combineUpdates,
  Coordinator,
  decodeWeights,
  encodeWeights,
  FederationRejected,
  ServerOptimizer,
  TensorFileError,
  UpdateRejected,
  type FederationPlan,
  type SiteUpdate,
  type Weights,
} from '../src/client.js';

const w = (entries: Record<string, number[]>): Weights => new Map(Object.entries(entries).map(([k, v]) => [k, Float32Array.from(v)]));
const upd = (site: string, examples: number, delta: Record<string, number[]>): SiteUpdate => ({ site, examples, delta: w(delta) });
const close = (a: ArrayLike<number>, b: number[], tol = 1e-6): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `at ${i}: ${a[i]} vs ${b[i]}`);
};

describe('combining updates', () => {
  const ups = [upd('a', 1, { x: [1, 10] }), upd('b', 3, { x: [5, -2] }), upd('c', 4, { x: [100, 0] })];
  it('weights the mean by examples', () => {
    close(combineUpdates(ups, { kind: 'mean' }).get('x')!, [(1 + 15 + 400) / 8, (10 - 6) / 8], 1e-4);
  });
  it('takes the coordinate-wise median, ignoring examples and an outlier', () => {
    close(combineUpdates(ups, { kind: 'median' }).get('x')!, [5, 0]);
    close(combineUpdates(ups.slice(0, 2), { kind: 'median' }).get('x')!, [3, 4]);
  });
  it('drops the extremes of each coordinate in a trimmed mean', () => {
    const five = [1, 2, 3, 4, 1000].map((v, i) => upd(`s${i}`, 1, { x: [v, -v] }));
    close(combineUpdates(five, { kind: 'trimmed-mean', beta: 0.2 }).get('x')!, [3, -3]);
    close(combineUpdates(five, { kind: 'trimmed-mean', beta: 0 }).get('x')!, [202, -202]);
    assert.throws(() => combineUpdates(five, { kind: 'trimmed-mean', beta: 0.5 }), RangeError);
  });
});

describe('server optimizers', () => {
  it('sgd at rate 1 is FedAvg: global plus the mean update', () => {
    const opt = new ServerOptimizer({ name: 'sgd', lr: 1 });
    close(opt.step(w({ x: [1, 2] }), w({ x: [0.5, -1] })).get('x')!, [1.5, 1]);
  });
  it('adam and yogi follow Reddi et al. for two rounds, and running statistics skip them', () => {
    for (const name of ['adam', 'yogi'] as const) {
      const spec = { name, lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
      const opt = new ServerOptimizer(spec);
      let g = w({ x: [0], bn: [1] });
      let m = 0;
      let v = spec.tau ** 2;
      let x = 0;
      for (const d of [0.2, -0.05]) {
        g = opt.step(g, w({ x: [d], bn: [d] }), new Set(['bn']));
        m = 0.9 * m + 0.1 * d;
        v = name === 'adam' ? 0.99 * v + 0.01 * d * d : v - 0.01 * d * d * Math.sign(v - d * d);
        x += (0.1 * m) / (Math.sqrt(v) + spec.tau);
        close(g.get('x')!, [x], 1e-5);
      }
      close(g.get('bn')!, [1.15], 1e-6);
      // The moments survive a checkpoint.
      const again = new ServerOptimizer(spec);
      again.loadState(opt.state());
      close(again.step(g, w({ x: [0.1], bn: [0] })).get('x')!, [opt.step(g, w({ x: [0.1], bn: [0] })).get('x')![0]!], 1e-7);
    }
  });
});

describe('update checks', () => {
  const global = w({ a: [0, 0], b: [0] });
  it('refuses what does not fit, with a message naming it', () => {
    assert.throws(() => checkUpdate(upd('s', 1, { a: [0, 0] }), global), /has no 'b'/);
    assert.throws(() => checkUpdate(upd('s', 1, { a: [0, 0], b: [0], c: [1] }), global), /'c', which the federation does not share/);
    assert.throws(() => checkUpdate(upd('s', 1, { a: [0, 0, 0], b: [0] }), global), /'a' has 3 values, the global weights 2/);
    assert.throws(() => checkUpdate(upd('s', 1, { a: [0, NaN], b: [0] }), global), /holds NaN at 1/);
    assert.throws(() => checkUpdate(upd('s', 1, { a: [0, Infinity], b: [0] }), global), UpdateRejected);
    assert.throws(() => checkUpdate(upd('s', 0, { a: [0, 0], b: [0] }), global), /claims 0 examples/);
    assert.throws(() => checkUpdate(upd('s', 1, { a: [3, 4], b: [0] }), global, { maxNorm: 4.9 }), /norm 5.000/);
    assert.doesNotThrow(() => checkUpdate(upd('s', 1, { a: [3, 4], b: [0] }), global, { maxNorm: 5 }));
  });
});

describe('the coordinator', () => {
  const plan: FederationPlan = {
    sites: ['a', 'b', 'c'],
    rounds: 2,
    minSites: 2,
    roundTimeoutMs: 1000,
    aggregation: { kind: 'mean' },
    optimizer: { name: 'sgd', lr: 1 },
    maxUpdateNorm: 100,
  };
  const rejects = (fn: () => void, reason: string): void =>
    assert.throws(fn, (e: unknown) => e instanceof FederationRejected && e.reason === reason);

  it('closes a round when every site is in, and refuses other slots, rounds, replays and bad updates without changing it', () => {
    const c = new Coordinator(plan, w({ x: [0, 0] }), new Set(), 0);
    c.submit(upd('a', 1, { x: [1, 1] }), 0);
    rejects(() => c.submit(upd('a', 1, { x: [9, 9] }), 0), 'replay');
    rejects(() => c.submit(upd('mallory', 1, { x: [9, 9] }), 0), 'not-a-site');
    rejects(() => c.submit(upd('b', 1, { x: [9, 9] }), 1), 'wrong-round');
    rejects(() => c.submit(upd('b', 1, { x: [NaN, 0] }), 0), 'bad-update');
    rejects(() => c.submit(upd('b', 1, { x: [1000, 0] }), 0), 'bad-update');
    assert.deepEqual(c.submitted, ['a']);
    assert.equal(c.closeIfReady(10), null);
    c.submit(upd('b', 1, { x: [3, 3] }), 0);
    c.submit(upd('c', 2, { x: [0, 6] }), 0);
    const r = c.closeIfReady(10)!;
    assert.equal(r.closedBy, 'all');
    assert.deepEqual(r.sites, ['a', 'b', 'c']);
    assert.equal(r.examples, 4);
    assert.equal(r.bytesIn, 3 * 8);
    assert.equal(r.bytesOut, 3 * 8);
    close(c.global.get('x')!, [1, 4]);
    assert.equal(c.round, 1);
    // A replay of an old round's update is refused in the new round.
    rejects(() => c.submit(upd('a', 1, { x: [1, 1] }), 0), 'wrong-round');
  });

  it('waits past the timeout below the quorum, closes at the timeout with it, and a dead site does not stall the federation', () => {
    const c = new Coordinator(plan, w({ x: [0] }), new Set(), 0);
    c.submit(upd('a', 1, { x: [2] }), 0);
    assert.equal(c.closeIfReady(999_999), null, 'one update is below the quorum of two');
    c.submit(upd('c', 1, { x: [4] }), 0);
    assert.equal(c.closeIfReady(500), null, 'two updates before the timeout: the third may still come');
    const r = c.closeIfReady(1_000_000)!;
    assert.equal(r.closedBy, 'timeout');
    assert.deepEqual(r.sites, ['a', 'c']);
    close(c.global.get('x')!, [3]);
    c.submit(upd('a', 1, { x: [1] }), 1);
    c.submit(upd('b', 1, { x: [1] }), 1);
    c.submit(upd('c', 1, { x: [1] }), 1);
    assert.ok(c.closeIfReady(1_000_001));
    assert.ok(c.done);
    rejects(() => c.submit(upd('a', 1, { x: [1] }), 2), 'finished');
  });

  it('restarts from its state at the last closed round and goes on exactly as without the restart', () => {
    const adam: FederationPlan = {
      ...plan,
      optimizer: { name: 'adam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
      maxUpdateNorm: undefined,
    };
    const feed = (c: Coordinator, round: number): void => {
      for (const [i, s] of ['a', 'b', 'c'].entries()) c.submit(upd(s, i + 1, { x: [0.1 * (i + 1) * (round + 1), -0.2] }), round);
      c.closeIfReady(0);
    };
    const straight = new Coordinator(adam, w({ x: [0, 1] }), new Set(), 0);
    feed(straight, 0);
    feed(straight, 1);
    const first = new Coordinator(adam, w({ x: [0, 1] }), new Set(), 0);
    feed(first, 0);
    const state = first.state();
    // What a restart reads back: the weights through the wire format.
    const global = decodeWeights(encodeWeights(state.global)).weights;
    const optimizer = decodeWeights(encodeWeights(state.optimizer)).weights;
    const resumed = Coordinator.restore(adam, { ...state, global, optimizer }, new Set(), 0);
    assert.equal(resumed.round, 1);
    feed(resumed, 1);
    assert.deepEqual([...resumed.global.get('x')!], [...straight.global.get('x')!]);
    assert.equal(resumed.history.length, 2);
  });
});

describe('the wire format', () => {
  it('round-trips float32 weights with shapes and metadata, 8-byte aligned', () => {
    const weights = w({ 'backbone.0.weight': [1, -2.5, 3, 4, 5, 6], b: [0.125] });
    const bytes = encodeWeights(weights, { round: '3', site: 'a' }, new Map([['backbone.0.weight', [2, 3]]]));
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
    const back = decodeWeights(bytes);
    assert.deepEqual(back.metadata, { round: '3', site: 'a' });
    assert.deepEqual(back.shapes.get('backbone.0.weight'), [2, 3]);
    assert.deepEqual([...back.weights.get('backbone.0.weight')!], [1, -2.5, 3, 4, 5, 6]);
    assert.deepEqual([...back.weights.get('b')!], [0.125]);
  });
  it('refuses truncated, oversized, non-float and lying files', () => {
    const bytes = encodeWeights(w({ a: [1, 2, 3] }));
    assert.throws(() => decodeWeights(bytes.subarray(0, bytes.length - 4)), TensorFileError);
    assert.throws(() => decodeWeights(bytes, { maxBytes: 10 }), /more than the 10 allowed/);
    assert.throws(() => decodeWeights(Buffer.alloc(4)), /too short/);
    const head = (h: object): Buffer => {
      const j = Buffer.from(JSON.stringify(h));
      const out = Buffer.alloc(8 + j.length + 8);
      out.writeBigUInt64LE(BigInt(j.length), 0);
      j.copy(out, 8);
      return out;
    };
    assert.throws(
      () => decodeWeights(head({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } })),
      /I64; federated weights are float32/,
    );
    assert.throws(() => decodeWeights(head({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } })), /shape does not match/);
    assert.throws(() => decodeWeights(head({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } })), /bad data offsets/);
  });
});

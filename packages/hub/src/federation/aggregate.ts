// A federation's server-side arithmetic, on plain typed arrays (no engine): checking a site's
// update, combining updates (weighted mean, coordinate-wise median, trimmed mean) and moving
// the global weights with a server optimizer (FedAvg's step, FedAdam, FedYogi after Reddi et
// al., ICLR 2021). Weights are flat Float32Arrays by state-dict key.

export type Weights = Map<string, Float32Array>;

/** What a site sends for a round: its shared weights minus the round's global weights. */
export interface SiteUpdate {
  site: string;
  /** Examples the site trained on this round (the weight of its update in a mean). */
  examples: number;
  delta: Weights;
}

/** How the updates of a round are combined into one. Median and trimmed mean see each update, so they cannot run under secure aggregation. */
export type Aggregation = { kind: 'mean' } | { kind: 'median' } | { kind: 'trimmed-mean'; beta: number };

/**
 * How the combined update moves the global weights. `sgd` with lr 1 is FedAvg's step (the new
 * global is the mean of the sites' weights). Adam and Yogi treat the negated update as a gradient.
 */
export type ServerOptimizerSpec =
  { name: 'sgd'; lr: number } | { name: 'adam' | 'yogi'; lr: number; beta1: number; beta2: number; tau: number };

export class UpdateRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateRejected';
  }
}

/** The L2 norm of an update over every key. */
export function updateNorm(delta: Weights): number {
  let s = 0;
  for (const v of delta.values()) for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * Refuses an update that does not fit the global weights (a missing, extra or resized key), holds a
 * non-finite value, is larger than `maxNorm`, or claims no examples. The message names the problem.
 */
export function checkUpdate(update: SiteUpdate, global: Weights, o: { maxNorm?: number } = {}): void {
  const from = `the update from ${update.site}`;
  if (!Number.isInteger(update.examples) || update.examples < 1)
    throw new UpdateRejected(`${from} claims ${update.examples} examples; it must be a positive whole number`);
  for (const key of global.keys()) if (!update.delta.has(key)) throw new UpdateRejected(`${from} has no '${key}'`);
  for (const [key, v] of update.delta) {
    const g = global.get(key);
    if (!g) throw new UpdateRejected(`${from} has '${key}', which the federation does not share`);
    if (v.length !== g.length) throw new UpdateRejected(`${from}: '${key}' has ${v.length} values, the global weights ${g.length}`);
    for (let i = 0; i < v.length; i++)
      if (!Number.isFinite(v[i]!)) throw new UpdateRejected(`${from}: '${key}' holds ${v[i]} at ${i}; updates must be finite`);
  }
  if (o.maxNorm !== undefined) {
    const norm = updateNorm(update.delta);
    if (norm > o.maxNorm) throw new UpdateRejected(`${from} has norm ${norm.toPrecision(4)}, above the federation's limit ${o.maxNorm}`);
  }
}

/** The example-weighted mean of the updates, key by key. */
function weightedMean(updates: SiteUpdate[], key: string, length: number): Float32Array {
  const total = updates.reduce((a, u) => a + u.examples, 0);
  const acc = new Float64Array(length);
  for (const u of updates) {
    const v = u.delta.get(key)!;
    const w = u.examples / total;
    for (let i = 0; i < length; i++) acc[i] = acc[i]! + w * v[i]!;
  }
  return Float32Array.from(acc);
}

/** Per coordinate: the updates' values sorted, `cut` dropped at each end, the rest averaged (cut 0 of an odd count's middle: the median). */
function orderStatistic(updates: SiteUpdate[], key: string, length: number, reduce: (sorted: Float64Array) => number): Float32Array {
  const vs = updates.map((u) => u.delta.get(key)!);
  const out = new Float32Array(length);
  const column = new Float64Array(vs.length);
  for (let i = 0; i < length; i++) {
    for (let s = 0; s < vs.length; s++) column[s] = vs[s]![i]!;
    column.sort();
    out[i] = reduce(column);
  }
  return out;
}

const median = (sorted: Float64Array): number => {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
};

/** Combines a round's updates (at least one) into one update over the same keys. */
export function combineUpdates(updates: SiteUpdate[], how: Aggregation): Weights {
  if (updates.length === 0) throw new RangeError('a round needs at least one update to combine');
  const out: Weights = new Map();
  for (const [key, first] of updates[0]!.delta) {
    if (how.kind === 'mean') out.set(key, weightedMean(updates, key, first.length));
    else if (how.kind === 'median') out.set(key, orderStatistic(updates, key, first.length, median));
    else {
      if (!(how.beta >= 0 && how.beta < 0.5)) throw new RangeError(`a trimmed mean drops a share in [0, 0.5) at each end, got ${how.beta}`);
      const cut = Math.floor(how.beta * updates.length);
      out.set(
        key,
        orderStatistic(updates, key, first.length, (sorted) => {
          let s = 0;
          for (let i = cut; i < sorted.length - cut; i++) s += sorted[i]!;
          return s / (sorted.length - 2 * cut);
        }),
      );
    }
  }
  return out;
}

/**
 * Moves the global weights by a combined update. Keys in `plainKeys` (running statistics such as
 * BatchNorm's) take the combined update as it is, whatever the optimizer: a moment estimate of a
 * variance makes no sense. The optimizer's moments are its state, checkpointed with the round.
 */
export class ServerOptimizer {
  private readonly m: Weights = new Map();
  private readonly v: Weights = new Map();
  constructor(readonly spec: ServerOptimizerSpec) {
    if (!(spec.lr > 0)) throw new RangeError(`a server learning rate must be positive, got ${spec.lr}`);
  }

  step(global: Weights, update: Weights, plainKeys: ReadonlySet<string> = new Set()): Weights {
    const next: Weights = new Map();
    for (const [key, g] of global) {
      const d = update.get(key);
      if (!d) throw new RangeError(`the combined update has no '${key}'`);
      const x = new Float32Array(g.length);
      const s = this.spec;
      if (plainKeys.has(key) || s.name === 'sgd') {
        const lr = plainKeys.has(key) ? 1 : s.lr;
        for (let i = 0; i < g.length; i++) x[i] = g[i]! + lr * d[i]!;
      } else {
        const m = this.m.get(key) ?? new Float32Array(g.length);
        // Reddi et al. start v at tau^2 so the first steps are not huge.
        const v = this.v.get(key) ?? new Float32Array(g.length).fill(s.tau * s.tau);
        for (let i = 0; i < g.length; i++) {
          const di = d[i]!;
          m[i] = s.beta1 * m[i]! + (1 - s.beta1) * di;
          const sq = di * di;
          v[i] = s.name === 'adam' ? s.beta2 * v[i]! + (1 - s.beta2) * sq : v[i]! - (1 - s.beta2) * sq * Math.sign(v[i]! - sq);
          x[i] = g[i]! + (s.lr * m[i]!) / (Math.sqrt(v[i]!) + s.tau);
        }
        this.m.set(key, m);
        this.v.set(key, v);
      }
      next.set(key, x);
    }
    return next;
  }

  /** Copies of the moments by `m.KEY` / `v.KEY`, for a checkpoint. */
  state(): Weights {
    const out: Weights = new Map();
    for (const [k, a] of this.m) out.set(`m.${k}`, a.slice());
    for (const [k, a] of this.v) out.set(`v.${k}`, a.slice());
    return out;
  }
  loadState(state: Weights): void {
    this.m.clear();
    this.v.clear();
    for (const [k, a] of state) {
      if (k.startsWith('m.')) this.m.set(k.slice(2), a.slice());
      else if (k.startsWith('v.')) this.v.set(k.slice(2), a.slice());
      else throw new RangeError(`server optimizer state has an unknown entry '${k}'`);
    }
  }
}

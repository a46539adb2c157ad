// How a federation's sites split one data set, for simulation and benchmarks: label skew by a
// Dirichlet draw (Hsu et al., 2019), pathological shards (McMahan et al., 2017), quantity skew,
// IID, or a natural id column (banks by region, hospitals by site). Seeded and engine-free; every
// partition carries its counts per site and class, which a federated run publishes.
import { seededPermutation, splitmix32 } from './splits.js';

export type PartitionSpec =
  | { kind: 'iid' }
  | { kind: 'dirichlet'; alpha: number }
  | { kind: 'shards'; perSite: number }
  | { kind: 'quantity'; alpha: number }
  | { kind: 'column'; column: string };

export interface Site {
  name: string;
  /** Example indices, ascending. */
  indices: Uint32Array;
}

export interface Partition {
  spec: string;
  seed: number;
  sites: Site[];
  /** counts[s][c]: examples of class c at site s (classes 0..K-1; one column when unlabeled). */
  counts: number[][];
}

export class PartitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionError';
  }
}

/** `iid`, `dirichlet:0.1`, `shards:2`, `quantity:0.5` or `column:addr_state`. */
export function parsePartition(text: string): PartitionSpec {
  const [kind, arg, ...rest] = text.split(':');
  const positive = (what: string): number => {
    const v = Number(arg);
    if (arg === undefined || arg === '' || !(v > 0) || !Number.isFinite(v) || rest.length > 0)
      throw new PartitionError(`partition '${text}': ${what} must be a positive number, e.g. ${kind}:${kind === 'shards' ? 2 : 0.5}`);
    return v;
  };
  if (kind === 'iid' && arg === undefined) return { kind: 'iid' };
  if (kind === 'dirichlet') return { kind, alpha: positive('alpha') };
  if (kind === 'quantity') return { kind, alpha: positive('alpha') };
  if (kind === 'shards') {
    const perSite = positive('the number of shards per site');
    if (!Number.isInteger(perSite)) throw new PartitionError(`partition '${text}': shards per site must be a whole number`);
    return { kind, perSite };
  }
  if (kind === 'column' && arg && rest.length === 0) return { kind, column: arg };
  throw new PartitionError(`unknown partition '${text}': use iid, dirichlet:ALPHA, shards:K, quantity:ALPHA or column:NAME`);
}

export function formatPartition(spec: PartitionSpec): string {
  switch (spec.kind) {
    case 'iid':
      return 'iid';
    case 'dirichlet':
    case 'quantity':
      return `${spec.kind}:${spec.alpha}`;
    case 'shards':
      return `shards:${spec.perSite}`;
    case 'column':
      return `column:${spec.column}`;
  }
}

/** Uniform draws in (0, 1), standard normals and Gamma variates from one seeded stream. */
class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = splitmix32(seed);
  }
  uniform(): number {
    return (this.next() + 0.5) / 0x1_0000_0000;
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
  /** Gamma(shape, 1): Marsaglia and Tsang (2000); below shape 1 through Gamma(shape + 1) * U^(1/shape). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }
  dirichlet(alpha: number, k: number): number[] {
    const g = Array.from({ length: k }, () => this.gamma(alpha));
    const sum = g.reduce((a, b) => a + b, 0);
    // Very small alphas can underflow every draw: the whole mass then goes to one site.
    if (!(sum > 0)) return g.map((_, i) => (i === Math.floor(this.uniform() * k) ? 1 : 0));
    return g.map((x) => x / sum);
  }
}

/** Splits `items` into consecutive pieces by proportions (largest remainders, so sizes add up). */
function splitBy(items: ArrayLike<number>, proportions: number[]): number[][] {
  const n = items.length;
  const exact = proportions.map((p) => p * n);
  const sizes = exact.map(Math.floor);
  let left = n - sizes.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (left-- <= 0) break;
    sizes[i]!++;
  }
  const out: number[][] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(Array.from({ length: size }, (_, j) => items[at + j]!));
    at += size;
  }
  return out;
}

export interface PartitionOptions {
  sites: number;
  seed: number;
  /** One class per example (0..K-1); needed by dirichlet and shards, and for the counts. */
  labels?: ArrayLike<number>;
  /** One key per example, for `column:NAME` (the column's values). */
  keys?: ArrayLike<string>;
  /** Fewest examples a site may get (Dirichlet and quantity draws are repeated until each has it; default 1). */
  minPerSite?: number;
  /** Examples in all (when there are no labels or keys). */
  count?: number;
}

/**
 * Splits examples among `sites` sites. Dirichlet: each class is divided among the sites by its
 * own Dir(alpha) draw (small alpha: each site sees few classes). Shards: the examples sorted by
 * class are cut into sites * K shards and each site gets K at random. Quantity: site sizes from
 * Dir(alpha), classes IID. Column: the `sites - 1` most frequent values are sites of their own,
 * the rest are pooled into a last site named `other` (or one site per value when there are fewer).
 */
export function partitionExamples(spec: PartitionSpec, o: PartitionOptions): Partition {
  const n = o.labels?.length ?? o.keys?.length ?? o.count;
  if (n === undefined) throw new PartitionError('a partition needs labels, keys or a count of examples');
  if (!Number.isInteger(o.sites) || o.sites < 1) throw new PartitionError(`a federation needs at least one site, got ${o.sites}`);
  if (o.sites > n) throw new PartitionError(`${n} examples cannot be split among ${o.sites} sites`);
  const minPerSite = o.minPerSite ?? 1;
  if (minPerSite * o.sites > n) throw new PartitionError(`${n} examples cannot give ${o.sites} sites ${minPerSite} each`);
  const needLabels = (): ArrayLike<number> => {
    if (!o.labels) throw new PartitionError(`partition ${formatPartition(spec)} splits by class and needs labels`);
    return o.labels;
  };
  const rng = new Random(o.seed);
  const byClass = (labels: ArrayLike<number>): number[][] => {
    const groups: number[][] = [];
    for (const i of seededPermutation(n, o.seed ^ 0x5eed)) {
      const c = labels[i]!;
      if (!Number.isInteger(c) || c < 0) throw new PartitionError(`example ${i} has label ${c}: partitions by class need labels 0..K-1`);
      (groups[c] ??= []).push(i);
    }
    return groups.map((g) => g ?? []);
  };
  const retrying = (draw: () => number[][], what: string): number[][] => {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const sites = draw();
      if (sites.every((s) => s.length >= minPerSite)) return sites;
    }
    throw new PartitionError(
      `${what}: 1,000 draws left a site with fewer than ${minPerSite} examples; raise alpha or lower the number of sites`,
    );
  };

  let members: number[][];
  let names: string[] = Array.from({ length: o.sites }, (_, s) => `site-${s + 1}`);
  switch (spec.kind) {
    case 'iid':
      members = splitBy(seededPermutation(n, o.seed), Array(o.sites).fill(1 / o.sites));
      break;
    case 'dirichlet': {
      const groups = byClass(needLabels());
      members = retrying(() => {
        const sites: number[][] = Array.from({ length: o.sites }, () => []);
        for (const g of groups) splitBy(g, rng.dirichlet(spec.alpha, o.sites)).forEach((part, s) => sites[s]!.push(...part));
        return sites;
      }, `dirichlet:${spec.alpha} over ${o.sites} sites`);
      break;
    }
    case 'quantity':
      members = retrying(
        () => splitBy(seededPermutation(n, o.seed), rng.dirichlet(spec.alpha, o.sites)),
        `quantity:${spec.alpha} over ${o.sites} sites`,
      );
      break;
    case 'shards': {
      const sorted = byClass(needLabels()).flat();
      const shards = splitBy(sorted, Array(o.sites * spec.perSite).fill(1 / (o.sites * spec.perSite)));
      const order = seededPermutation(shards.length, o.seed);
      members = Array.from({ length: o.sites }, (_, s) =>
        Array.from(order.subarray(s * spec.perSite, (s + 1) * spec.perSite)).flatMap((k) => shards[k]!),
      );
      break;
    }
    case 'column': {
      if (!o.keys) throw new PartitionError(`partition column:${spec.column} needs the column's values`);
      const groups = new Map<string, number[]>();
      for (let i = 0; i < n; i++) {
        const k = o.keys[i] ?? '';
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k)!.push(i);
      }
      const ranked = [...groups].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
      const own = ranked.length <= o.sites ? ranked : ranked.slice(0, o.sites - 1);
      const pooled = ranked.length <= o.sites ? [] : ranked.slice(o.sites - 1).flatMap(([, g]) => g);
      members = own.map(([, g]) => g);
      names = own.map(([k]) => k || '(empty)');
      if (pooled.length > 0) {
        members.push(pooled);
        names.push('other');
      }
      break;
    }
  }
  const classes = o.labels ? Math.max(0, ...Array.from(o.labels, (c) => (c >= 0 ? c + 1 : 0))) : 1;
  const sites = members.map((m, s) => ({ name: names[s]!, indices: Uint32Array.from(m).sort() }));
  const counts = sites.map((site) => {
    const row = Array<number>(Math.max(classes, 1)).fill(0);
    for (const i of site.indices) row[o.labels ? o.labels[i]! : 0]!++;
    return row;
  });
  const tooSmall = sites.find((s) => s.indices.length < minPerSite);
  if (tooSmall) throw new PartitionError(`site ${tooSmall.name} has ${tooSmall.indices.length} examples, fewer than ${minPerSite}`);
  return { spec: formatPartition(spec), seed: o.seed, sites, counts };
}

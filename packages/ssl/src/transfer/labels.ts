// Label budgets: how many labeled images a team has. Subsets are class-balanced and drawn
// by seed, so every arm of a comparison sees the same images; a validation part is held out
// of the budget itself (early stopping may not use labels the team does not have).

export type LabelBudget = { kind: 'fraction'; value: number } | { kind: 'per-class'; value: number };

export class LabelBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelBudgetError';
  }
}

/** `1%`, `0.01` (a fraction), `5/class` (labels per class). */
export function parseLabelBudget(text: string): LabelBudget {
  const s = text.trim();
  let m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m) {
    const v = Number(m[1]) / 100;
    if (v > 0 && v <= 1) return { kind: 'fraction', value: v };
  }
  m = /^(\d+)\s*(?:\/|per\s*)class$/.exec(s);
  if (m && Number(m[1]) >= 1) return { kind: 'per-class', value: Number(m[1]) };
  if (/^0?\.\d+$|^1\.0*$/.test(s) && Number(s) > 0) return { kind: 'fraction', value: Number(s) };
  throw new LabelBudgetError(
    `label budget '${text}' is not understood: use a percentage (1%), a fraction (0.01) or labels per class (5/class)`,
  );
}

export function budgetName(b: LabelBudget): string {
  return b.kind === 'fraction' ? `${Number((b.value * 100).toPrecision(6))}%` : `${b.value}/class`;
}

/** A small seeded generator (mulberry32): the same subsets on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `xs` in place (Fisher-Yates) with draws from `rand`, and returns it. */
export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export interface LabelSubset {
  /** Indices into the labeled pool used for training. */
  train: number[];
  /** Indices held out of the budget for early stopping (empty below 10 per class). */
  val: number[];
  perClass: number[];
}

/**
 * Draws a class-balanced subset of `labels` for `budget`: a fraction takes that share of the
 * pool spread evenly over the classes; k per class takes k of each (fewer where a class has
 * fewer). With at least 10 per class, a fifth of each class is validation; below that a
 * validation set of one or two images per class would pick epochs by noise, so there is none.
 * `stratified` makes a fraction keep the pool's class proportions instead (tables, where a
 * 5% minority class is the point and balancing it would change the task); at least 2 per class.
 */
export function labelSubset(
  labels: ArrayLike<number>,
  budget: LabelBudget,
  seed: number,
  valFraction = 0.2,
  o: { stratified?: boolean } = {},
): LabelSubset {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!byClass.has(y)) byClass.set(y, []);
    byClass.get(y)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const wanted =
    budget.kind === 'per-class' ? budget.value : Math.max(1, Math.round((budget.value * labels.length) / Math.max(1, classes.length)));
  const rand = seededRandom(seed);
  const train: number[] = [];
  const val: number[] = [];
  const perClass: number[] = [];
  for (const c of classes) {
    const pool = shuffle([...byClass.get(c)!], rand);
    const share = budget.kind === 'fraction' && o.stratified ? Math.max(2, Math.round(budget.value * pool.length)) : wanted;
    const take = budget.kind === 'fraction' && budget.value === 1 ? pool.length : Math.min(share, pool.length);
    const chosen = pool.slice(0, take);
    const nVal = take >= 10 ? Math.max(1, Math.floor(take * valFraction)) : 0;
    val.push(...chosen.slice(0, nVal));
    train.push(...chosen.slice(nVal));
    perClass.push(take);
  }
  return { train: shuffle(train, rand), val, perClass };
}

// A table's preprocessing fitted on rows that never meet: each site of a federation sends a
// summary of its training rows (per numeric column its values at evenly spaced probabilities,
// per categorical column its level counts), and whoever merges the summaries gets the feature
// schema that fitting on the pooled rows would have given, up to the summaries' resolution.
// What a summary shows is bounded by `minCount`: a level seen fewer times at a site is counted
// but not named, a numeric column with fewer values sends no points, and the points never go
// past the minCount-th smallest or largest value, so no single row's extreme is published.
import { DataFormatError } from './errors.js';
import {
  labelClasses,
  quantileOf,
  sortedPresent,
  type CategoricalFeature,
  type FeatureSchema,
  type FitOptions,
  type NumericFeature,
} from './features.js';
import type { Column, ColumnType, Table } from './table.js';

export type ColumnSummary =
  | {
      name: string;
      type: 'numeric' | 'date';
      /** Rows with a value. */
      present: number;
      /** Values at probabilities i / (points.length - 1), clamped inside the minCount-th extremes; empty below minCount values. */
      points: number[];
    }
  | {
      name: string;
      type: 'categorical' | 'boolean';
      present: number;
      /** Rows per level, for levels seen at least minCount times. */
      counts: Record<string, number>;
      /** Rows of the levels seen fewer times (not named). */
      suppressed: number;
    }
  | { name: string; type: 'text' };

export interface TableSummary {
  format: 'pretext-table-summary/1';
  rows: number;
  minCount: number;
  columns: ColumnSummary[];
  /** The label column and the classes this site's rows have. */
  label?: { name: string; classes: string[] };
}

export interface SummaryOptions {
  label?: string;
  /** The smallest count a summary names (default 5, as for the levels fitFeatures keeps). */
  minCount?: number;
  /** Points per numeric column (default 256). */
  quantiles?: number;
}

/** What a summary shows of some values: how many are present, and `quantiles` points (none below minCount values). */
export interface ValuePoints {
  present: number;
  /** Values at probabilities i / (points.length - 1), clamped inside the minCount-th extremes. */
  points: number[];
}

/** The points a summary shows of `values` (NaN: missing), never past the minCount-th smallest or largest. */
export function valuePoints(values: Float64Array, minCount: number, quantiles = 256): ValuePoints {
  const sorted = sortedPresent(values);
  const n = sorted.length;
  if (n < minCount || n === 0) return { present: n, points: [] };
  // The extremes a summary may show: the minCount-th value from each end (the median when fewer rows).
  const lo = sorted[Math.min(minCount - 1, Math.floor((n - 1) / 2))]!;
  const hi = sorted[Math.max(n - minCount, Math.ceil((n - 1) / 2))]!;
  const k = Math.min(quantiles, n);
  return {
    present: n,
    points: Array.from({ length: k }, (_, i) => Math.min(hi, Math.max(lo, quantileOf(sorted, k === 1 ? 0.5 : i / (k - 1))))),
  };
}

/** Checks points that came from another party: finite and in order. */
export function pointsProblem(p: ValuePoints): string | null {
  if (!count(p?.present)) return 'an impossible count';
  if (!Array.isArray(p.points) || !p.points.every(Number.isFinite)) return 'points that are not finite numbers';
  if (p.points.some((v, i) => i > 0 && v < p.points[i - 1]!)) return 'points out of order';
  return null;
}

/** The label's classes at this site: the levels its rows have (not every level the file declares), or numeric codes. */
function labelClassesOf(c: Column, source: string): string[] {
  if (c.type !== 'categorical' && c.type !== 'boolean') return labelClasses(c, source);
  const seen = new Set<number>();
  for (const v of c.values) if (v >= 0) seen.add(v);
  return c.levels.filter((_, k) => seen.has(k));
}

/** What one site shows of its training rows, for a preprocessing merged across sites. */
export function summarizeTable(table: Table, o: SummaryOptions = {}): TableSummary {
  const minCount = o.minCount ?? 5;
  const quantiles = o.quantiles ?? 256;
  if (!(Number.isInteger(minCount) && minCount >= 1)) throw new RangeError(`minCount must be a whole number, at least 1, got ${minCount}`);
  const summary: TableSummary = { format: 'pretext-table-summary/1', rows: table.rows, minCount, columns: [] };
  for (const c of table.columns) {
    if (c.name === o.label) {
      summary.label = { name: c.name, classes: labelClassesOf(c, table.source) };
      continue;
    }
    if (c.type === 'numeric' || c.type === 'date')
      summary.columns.push({ name: c.name, type: c.type, ...valuePoints(c.values, minCount, quantiles) });
    else if (c.type === 'categorical' || c.type === 'boolean')
      summary.columns.push({ name: c.name, type: c.type, ...levelCounts(c.values, c.levels, minCount) });
    else summary.columns.push({ name: c.name, type: 'text' });
  }
  if (o.label !== undefined && !summary.label)
    throw new DataFormatError(`${table.source}: no label column '${o.label}'; columns are ${table.columns.map((c) => c.name).join(', ')}`);
  return summary;
}

const count = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** What a summary shows of a categorical field: rows per level seen minCount times or more, the rest counted together. */
export interface LevelCounts {
  present: number;
  counts: Record<string, number>;
  suppressed: number;
}

/** The level counts a summary shows of codes into `levels` (-1: missing). */
export function levelCounts(codes: Int32Array, levels: readonly string[], minCount: number): LevelCounts {
  const counts = new Array<number>(levels.length).fill(0);
  for (const v of codes) if (v >= 0) counts[v]!++;
  const named: Record<string, number> = {};
  let suppressed = 0;
  counts.forEach((n, k) => {
    if (n >= minCount) named[levels[k]!] = n;
    else suppressed += n;
  });
  return { present: counts.reduce((a, b) => a + b, 0), counts: named, suppressed };
}

/** Checks level counts that came from another party: whole counts that add up. */
export function countsProblem(c: LevelCounts): string | null {
  if (!count(c?.present) || !count(c.suppressed) || typeof c.counts !== 'object' || c.counts === null) return 'no counts';
  const named = Object.values(c.counts);
  if (!named.every(count) || named.reduce((a, b) => a + b, 0) + c.suppressed !== c.present) return 'counts that do not add up';
  return null;
}

/** The levels counted at least minCount times over all the parts, sorted. */
export function mergedLevels(parts: LevelCounts[], minCount: number): string[] {
  const totals = new Map<string, number>();
  for (const p of parts) for (const [level, n] of Object.entries(p.counts)) totals.set(level, (totals.get(level) ?? 0) + n);
  return [...totals]
    .filter(([, n]) => n >= minCount)
    .map(([level]) => level)
    .sort();
}

/** Checks a summary that came from another party, so a malformed one is named rather than merged. */
function checkSummary(s: TableSummary, site: string): void {
  const bad = (what: string): never => {
    throw new DataFormatError(`the summary from site '${site}' ${what}`);
  };
  if (s?.format !== 'pretext-table-summary/1') bad(`is not a table summary (format ${JSON.stringify(s?.format)})`);
  if (!count(s.rows)) bad('has no row count');
  if (!Array.isArray(s.columns)) bad('has no columns');
  for (const c of s.columns) {
    if (typeof c?.name !== 'string') bad('has a column without a name');
    if (c.type === 'numeric' || c.type === 'date') {
      const problem = c.present > s.rows ? 'an impossible count' : pointsProblem(c);
      if (problem) bad(`gives column '${c.name}' ${problem}`);
    } else if (c.type === 'categorical' || c.type === 'boolean') {
      const problem = countsProblem(c);
      if (problem) bad(`gives column '${c.name}' ${problem}`);
    } else if (c.type !== 'text') bad(`gives column '${c.name}' an unknown type '${(c as { type: unknown }).type}'`);
  }
}

/** A site's empirical distribution function from its points (right-continuous; `before`: the limit from the left). */
function siteCdf(points: readonly number[], x: number, before: boolean): number {
  const k = points.length;
  if (k === 1) return x > points[0]! || (!before && x === points[0]) ? 1 : 0;
  // The last point at or below x (strictly below for the left limit).
  let lo = 0;
  let hi = k;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]! < x || (!before && points[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  const i = lo - 1;
  if (i < 0) return 0;
  if (i === k - 1) return 1;
  const p = i / (k - 1);
  const span = points[i + 1]! - points[i]!;
  return span > 0 ? p + (x - points[i]!) / span / (k - 1) : p;
}

/** Quantiles of the mixture of the sites' distributions, each weighted by its count of values (parts with points only). */
export function mergedQuantiles(parts: ValuePoints[], probabilities: number[]): number[] {
  const total = parts.reduce((a, s) => a + s.present, 0);
  const cdf = (x: number, before: boolean): number => parts.reduce((a, s) => a + (s.present / total) * siteCdf(s.points, x, before), 0);
  const xs = [...new Set(parts.flatMap((s) => s.points))].sort((a, b) => a - b);
  // The mixture at every breakpoint in one sweep per site (xs and each site's points are sorted).
  const at = new Float64Array(xs.length);
  for (const s of parts) {
    const k = s.points.length;
    const w = s.present / total;
    let i = -1;
    xs.forEach((x, n) => {
      while (i + 1 < k && s.points[i + 1]! <= x) i++;
      if (i < 0) return;
      const span = i + 1 < k ? s.points[i + 1]! - s.points[i]! : 0;
      const f = i === k - 1 ? 1 : (i + (span > 0 ? (x - s.points[i]!) / span : 0)) / (k - 1);
      at[n] = at[n]! + w * f;
    });
  }
  // Probabilities usually come in increasing order: the search goes on from the last one's place.
  let j = 0;
  let last = -Infinity;
  return probabilities.map((p) => {
    if (p < last) j = 0;
    last = p;
    while (j < xs.length - 1 && at[j]! < p - 1e-12) j++;
    if (j === 0) return xs[0]!;
    // Between two breakpoints the mixture is linear; a jump at xs[j] that covers p puts the quantile there.
    const left = cdf(xs[j]!, true);
    if (p > left + 1e-12 || left <= at[j - 1]!) return xs[j]!;
    return xs[j - 1]! + ((xs[j]! - xs[j - 1]!) * (p - at[j - 1]!)) / (left - at[j - 1]!);
  });
}

/** Class names from several sites, once each: in numeric order when all are numbers, else sorted. */
export function sortClasses(classes: Iterable<string>): string[] {
  const all = [...new Set(classes)];
  return all.every((c) => c.trim() !== '' && Number.isFinite(Number(c))) ? all.sort((a, b) => Number(a) - Number(b)) : all.sort();
}

/**
 * The feature schema of the sites' rows taken together, from their summaries: numeric
 * quantiles of the mixture of their distributions, the levels counted at least `minCount`
 * times over all sites, a missing-value indicator where any site had gaps. A column must have
 * one type at every site, and a column some site lacks is not an input.
 */
export function mergeTableSummaries(summaries: Record<string, TableSummary>, o: FitOptions = {}): FeatureSchema {
  const sites = Object.keys(summaries);
  if (sites.length === 0) throw new DataFormatError('no site summaries to merge');
  for (const s of sites) checkSummary(summaries[s]!, s);
  const scaling = o.scaling ?? 'quantile';
  const minCount = o.minCount ?? 5;
  const schema: FeatureSchema = { format: 'pretext-features/1', numeric: [], categorical: [], ignored: {} };
  const labelled = sites.filter((s) => summaries[s]!.label);
  const label = o.label ?? summaries[labelled[0]!]?.label?.name;
  if (label !== undefined && labelled.length > 0) {
    const other = labelled.find((s) => summaries[s]!.label!.name !== label);
    if (other) throw new DataFormatError(`site '${other}' labels by '${summaries[other]!.label!.name}', the federation by '${label}'`);
    schema.label = { name: label, classes: sortClasses(labelled.flatMap((s) => summaries[s]!.label!.classes)) };
  }
  const names = [...new Set(sites.flatMap((s) => summaries[s]!.columns.map((c) => c.name)))].filter((n) => n !== label);
  for (const name of names) {
    const cols = sites.map((s) => ({ site: s, c: summaries[s]!.columns.find((c) => c.name === name) }));
    const missing = cols.filter((x) => !x.c).map((x) => x.site);
    if (missing.length) {
      schema.ignored[name] = `not in the table of site${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
      continue;
    }
    const types = new Set(cols.map((x) => x.c!.type));
    if (types.size > 1)
      throw new DataFormatError(
        `column '${name}' has different types at the sites (${cols.map((x) => `${x.site}: ${x.c!.type}`).join(', ')}); give its type in the recipe's data.types so every site reads it alike`,
      );
    const type = [...types][0] as ColumnType;
    if (type === 'numeric' || type === 'date') {
      const parts = cols.map((x) => x.c as Extract<ColumnSummary, { points: number[] }>);
      const shown = parts.filter((p) => p.points.length > 0);
      if (shown.length === 0) {
        schema.ignored[name] = `fewer than ${minCount} values at every site`;
        continue;
      }
      const n = shown.reduce((a, p) => a + p.present, 0);
      const k = Math.min(o.quantiles ?? 256, n);
      const probabilities = Array.from({ length: k }, (_, i) => (k === 1 ? 0 : i / (k - 1)));
      const [q1, median, q3] = mergedQuantiles(shown, [0.25, 0.5, 0.75]) as [number, number, number];
      const quantiles = mergedQuantiles(shown, probabilities);
      const f: NumericFeature = {
        name,
        kind: type,
        scaling,
        ...(scaling === 'quantile' ? { quantiles } : {}),
        median,
        scale: q3 - q1 || quantiles[quantiles.length - 1]! - quantiles[0]! || 1,
        indicator: sites.some((s) => parts[sites.indexOf(s)]!.present < summaries[s]!.rows),
      };
      schema.numeric.push(f);
    } else if (type === 'categorical' || type === 'boolean') {
      const levels = mergedLevels(
        cols.map((x) => x.c as Extract<ColumnSummary, { counts: unknown }>),
        minCount,
      );
      const f: CategoricalFeature = {
        name,
        kind: type,
        levels: type === 'boolean' ? ['false', 'true'].filter((l) => levels.includes(l)) : levels,
      };
      schema.categorical.push(f);
    } else schema.ignored[name] = 'free text: not an input of a tabular encoder';
  }
  return schema;
}

// Preprocessing for tables, learned on the training split only and saved with the encoder
// (features.json), so that a team that pulls the encoder turns its own rows into the same
// inputs. Numeric and date columns: a quantile map to a standard normal (or median/IQR
// scaling), missing values filled with the median plus a missing-value indicator where the
// training data had gaps. Categorical and boolean columns: codes into the training levels,
// with slot 0 for missing, slot 1 for unknown and folded rare levels. Unseen levels and
// missing cells never fail; a missing column or one of the wrong kind is an error naming it.
import { DataFormatError } from './errors.js';
import type { Column, ColumnType, Table } from './table.js';

export type NumericScaling = 'quantile' | 'robust';

export interface NumericFeature {
  name: string;
  kind: 'numeric' | 'date';
  scaling: NumericScaling;
  /** Training values at evenly spaced probabilities (quantile scaling). */
  quantiles?: number[];
  median: number;
  /** Interquartile range (robust scaling). */
  scale: number;
  /** Whether a missing-value indicator follows the numeric block. */
  indicator: boolean;
}

export interface CategoricalFeature {
  name: string;
  kind: 'categorical' | 'boolean';
  /** Kept levels; level k has code k + 2 (0 missing, 1 unknown or rare). */
  levels: string[];
}

export interface FeatureSchema {
  format: 'pretext-features/1';
  numeric: NumericFeature[];
  categorical: CategoricalFeature[];
  /** The label column and its classes, when the training table had one. */
  label?: { name: string; classes: string[] };
  /** Columns of the training table that were not used, with the reason. */
  ignored: Record<string, string>;
}

/** Codes reserved in front of every categorical feature's levels. */
export const MISSING_CODE = 0;
export const UNKNOWN_CODE = 1;

export interface FitOptions {
  /** The column to predict (kept out of the inputs). */
  label?: string;
  scaling?: NumericScaling;
  /** Levels seen fewer times in training are folded into the unknown slot (default 5). */
  minCount?: number;
  /** Quantile reference points (default 256). */
  quantiles?: number;
}

/** The column types a table encoder expects, to read rows by (so codes like '1','2' stay categories). */
export function expectedTypes(schema: FeatureSchema): Record<string, ColumnType> {
  return Object.fromEntries([...schema.numeric.map((f) => [f.name, f.kind]), ...schema.categorical.map((f) => [f.name, f.kind])]);
}

/** A matrix of model inputs, row-major. */
export interface FeatureMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** The values that are present (not NaN), in increasing order. */
export const sortedPresent = (v: Float64Array): Float64Array => v.filter((x) => !Number.isNaN(x)).sort();

/** The value at probability p of sorted values, interpolated between neighbours (0 when there are none). */
export function quantileOf(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Learns the preprocessing from a training table. */
export function fitFeatures(table: Table, o: FitOptions = {}): FeatureSchema {
  const scaling = o.scaling ?? 'quantile';
  const minCount = o.minCount ?? 5;
  const schema: FeatureSchema = { format: 'pretext-features/1', numeric: [], categorical: [], ignored: {} };
  if (o.label !== undefined && !table.columns.some((c) => c.name === o.label))
    throw new DataFormatError(`${table.source}: no label column '${o.label}'; columns are ${table.columns.map((c) => c.name).join(', ')}`);
  for (const c of table.columns) {
    if (c.name === o.label) {
      schema.label = { name: c.name, classes: labelClasses(c, table.source) };
      continue;
    }
    if (c.type === 'numeric' || c.type === 'date') {
      const sorted = sortedPresent(c.values);
      if (sorted.length === 0) {
        schema.ignored[c.name] = 'no values in the training rows';
        continue;
      }
      const k = Math.min(o.quantiles ?? 256, sorted.length);
      const q1 = quantileOf(sorted, 0.25);
      const q3 = quantileOf(sorted, 0.75);
      const spread = q3 - q1 || sorted[sorted.length - 1]! - sorted[0]! || 1;
      schema.numeric.push({
        name: c.name,
        kind: c.type,
        scaling,
        ...(scaling === 'quantile'
          ? { quantiles: Array.from({ length: k }, (_, i) => quantileOf(sorted, k === 1 ? 0 : i / (k - 1))) }
          : {}),
        median: quantileOf(sorted, 0.5),
        scale: spread,
        indicator: sorted.length < c.values.length,
      });
    } else if (c.type === 'categorical' || c.type === 'boolean') {
      const counts = new Array<number>(c.levels.length).fill(0);
      for (const v of c.values) if (v >= 0) counts[v]!++;
      schema.categorical.push({ name: c.name, kind: c.type, levels: c.levels.filter((_, k) => counts[k]! >= minCount) });
    } else schema.ignored[c.name] = 'free text: not an input of a tabular encoder';
  }
  return schema;
}

/** Class names of a label column: its levels, or the distinct values of a numeric code. */
export function labelClasses(c: Column, source: string): string[] {
  if (c.type === 'categorical' || c.type === 'boolean') return c.levels;
  if (c.type === 'numeric') {
    const distinct = [...new Set(sortedPresent(c.values))];
    if (distinct.length <= 100 && distinct.every(Number.isInteger)) return distinct.map(String);
  }
  throw new DataFormatError(`${source}: label column '${c.name}' is ${c.type} with many values; classification needs classes`);
}

/** Class index per row of the label column (-1 where the label is missing or unknown). */
export function labelCodes(table: Table, schema: FeatureSchema): Int32Array {
  if (!schema.label) throw new DataFormatError(`${table.source}: the features were fitted without a label column`);
  const c = findColumn(table, schema.label.name);
  const index = new Map(schema.label.classes.map((k, i) => [k, i]));
  if (c.type === 'categorical' || c.type === 'boolean')
    return Int32Array.from(c.values, (v) => (v < 0 ? -1 : (index.get(c.levels[v]!) ?? -1)));
  if (c.type === 'numeric') return Int32Array.from(c.values, (v) => (Number.isNaN(v) ? -1 : (index.get(String(v)) ?? -1)));
  throw new DataFormatError(`${table.source}: label column '${c.name}' is ${c.type}, not classes`);
}

/** The rows with a known label (their indices) and those labels: what can be trained or scored on. */
export function labeledRows(table: Table, schema: FeatureSchema): { idx: number[]; y: Int32Array } {
  const codes = labelCodes(table, schema);
  const idx = Array.from(codes.keys()).filter((i) => codes[i]! >= 0);
  return { idx, y: Int32Array.from(idx, (i) => codes[i]!) };
}

/** A table's column by name, or a DataFormatError listing the columns it has. */
export function findColumn(table: Table, name: string): Column {
  const c = table.columns.find((x) => x.name === name);
  if (!c) throw new DataFormatError(`${table.source}: column '${name}' is missing (it has ${table.columns.map((x) => x.name).join(', ')})`);
  return c;
}

/** Width of the encoder input: numeric values, then indicators, then categorical codes. */
export function featureLayout(s: FeatureSchema): { numeric: number; indicators: number; cardinalities: number[] } {
  return {
    numeric: s.numeric.length,
    indicators: s.numeric.filter((f) => f.indicator).length,
    cardinalities: s.categorical.map((f) => f.levels.length + 2),
  };
}

/** Columns of an encoded row (what `encodeFeatures` writes): numeric values, their indicators, one code per categorical feature. */
export function encodedWidth(s: FeatureSchema): number {
  const { numeric, indicators, cardinalities } = featureLayout(s);
  return numeric + indicators + cardinalities.length;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const poly = (k: number[], x: number): number => k.reduce((acc, v) => acc * x + v, 0);
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** Where v falls among the reference quantiles, as a probability (ties take their middle). */
function quantileRank(q: readonly number[], v: number): number {
  const n = q.length;
  if (n === 1) return 0.5;
  if (v <= q[0]!) return v < q[0]! ? 0 : lastIndexLe(q, v) / 2 / (n - 1);
  if (v >= q[n - 1]!) return v > q[n - 1]! ? 1 : (firstIndexGe(q, v) + n - 1) / 2 / (n - 1);
  const first = firstIndexGe(q, v);
  if (q[first] === v) return (first + lastIndexLe(q, v)) / 2 / (n - 1);
  const lo = first - 1;
  return (lo + (v - q[lo]!) / (q[first]! - q[lo]!)) / (n - 1);
}

/** The first index whose value is >= v (or > v when `strict`): a binary search of the sorted quantiles. */
function firstIndexGe(q: readonly number[], v: number, strict = false): number {
  let lo = 0;
  let hi = q.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (q[mid]! < v || (strict && q[mid] === v)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const lastIndexLe = (q: readonly number[], v: number): number => firstIndexGe(q, v, true) - 1;

/** The value a numeric feature gives the encoder. */
export function scaleNumeric(f: NumericFeature, v: number): number {
  if (Number.isNaN(v)) v = f.median;
  if (f.scaling === 'quantile' && f.quantiles) {
    const p = Math.min(Math.max(quantileRank(f.quantiles, v), 1e-4), 1 - 1e-4);
    return normalQuantile(p);
  }
  return Math.max(-5, Math.min(5, (v - f.median) / f.scale));
}

function numericValues(table: Table, f: NumericFeature): Float64Array {
  const c = findColumn(table, f.name);
  if (c.type === 'numeric' || c.type === 'date') return c.values;
  throw new DataFormatError(`${table.source}: column '${f.name}' is ${c.type}; the encoder expects ${f.kind}`);
}

/** Codes of a categorical feature per row: 0 missing, 1 unknown or rare, k + 2 for level k. */
function categoricalCodes(table: Table, f: CategoricalFeature): Int32Array {
  const c = findColumn(table, f.name);
  const index = new Map(f.levels.map((l, k) => [l, k + 2]));
  if (c.type === 'categorical' || c.type === 'boolean')
    return Int32Array.from(c.values, (v) => (v < 0 ? MISSING_CODE : (index.get(c.levels[v]!) ?? UNKNOWN_CODE)));
  if (c.type === 'numeric')
    return Int32Array.from(c.values, (v) => (Number.isNaN(v) ? MISSING_CODE : (index.get(String(v)) ?? UNKNOWN_CODE)));
  throw new DataFormatError(`${table.source}: column '${f.name}' is ${c.type}; the encoder expects ${f.kind}`);
}

/** Encoder inputs: [rows, numeric + indicators + categorical] (codes as floats). */
export function encodeFeatures(table: Table, s: FeatureSchema): FeatureMatrix {
  const { numeric, indicators } = featureLayout(s);
  const cols = encodedWidth(s);
  const data = new Float32Array(table.rows * cols);
  let ind = numeric;
  s.numeric.forEach((f, j) => {
    const v = numericValues(table, f);
    for (let i = 0; i < table.rows; i++) {
      data[i * cols + j] = scaleNumeric(f, v[i]!);
      if (f.indicator) data[i * cols + ind] = Number.isNaN(v[i]!) ? 1 : 0;
    }
    if (f.indicator) ind++;
  });
  s.categorical.forEach((f, j) => {
    const codes = categoricalCodes(table, f);
    for (let i = 0; i < table.rows; i++) data[i * cols + numeric + indicators + j] = codes[i]!;
  });
  return { rows: table.rows, cols, data };
}

/** The encoded inputs with categorical codes one-hot (what logistic regression is fitted on). */
export function oneHotFeatures(m: FeatureMatrix, s: FeatureSchema): FeatureMatrix {
  const { numeric, indicators, cardinalities } = featureLayout(s);
  const dense = numeric + indicators;
  const cols = dense + cardinalities.reduce((a, b) => a + b, 0);
  const data = new Float32Array(m.rows * cols);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < dense; j++) data[i * cols + j] = m.data[i * m.cols + j]!;
    let offset = dense;
    cardinalities.forEach((card, j) => {
      data[i * cols + offset + m.data[i * m.cols + dense + j]!] = 1;
      offset += card;
    });
  }
  return { rows: m.rows, cols, data };
}

/**
 * The columns as a gradient-boosted tree sees them: numbers and dates as they are, missing
 * as NaN; categorical columns as level codes (NaN missing). The same columns as the encoder.
 */
export function rawFeatures(table: Table, s: FeatureSchema): FeatureMatrix {
  const cols = s.numeric.length + s.categorical.length;
  const data = new Float32Array(table.rows * cols);
  s.numeric.forEach((f, j) => {
    const v = numericValues(table, f);
    for (let i = 0; i < table.rows; i++) data[i * cols + j] = v[i]!;
  });
  s.categorical.forEach((f, j) => {
    const codes = categoricalCodes(table, f);
    for (let i = 0; i < table.rows; i++) data[i * cols + s.numeric.length + j] = codes[i] === MISSING_CODE ? NaN : codes[i]!;
  });
  return { rows: table.rows, cols, data };
}

/** The rows of a table at `idx`, in that order. */
export function takeRows(table: Table, idx: ArrayLike<number>, what = 'rows'): Table {
  const pick = <T extends Float64Array | Int32Array>(v: T): T => {
    const out = new (v.constructor as new (n: number) => T)(idx.length);
    for (let i = 0; i < idx.length; i++) out[i] = v[idx[i]!]!;
    return out;
  };
  const columns = table.columns.map((c): Column => {
    if (c.type === 'text') return { ...c, values: Array.from(idx as ArrayLike<number>, (i) => c.values[i] ?? null) };
    if (c.type === 'numeric' || c.type === 'date') return { ...c, values: pick(c.values) };
    return { ...c, values: pick(c.values) };
  });
  return { source: `${table.source} (${what})`, rows: idx.length, columns };
}

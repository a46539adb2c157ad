// Histories as model inputs, with the preprocessing learned on the training entities and saved
// with the encoder (events.json) so another team's histories become the same inputs:
// categorical fields as codes (0 missing or padding, 1 unknown or rare, k + 2 for level k),
// numeric fields scaled by median and interquartile range per event type (a cholesterol value
// and a blood pressure share a column but not a scale) with a present flag, the log time since
// the previous event and until the history's end. The hand-made aggregates tree and logistic
// baselines read (counts per type, mean/last/min/max per numeric field, recency) come from the
// same histories.
import type { FeatureMatrix } from '../features.js';
import type { Histories } from './histories.js';

export interface Scale {
  median: number;
  scale: number;
}

export interface EventSchema {
  format: 'pretext-events/1';
  timeUnit: 'days' | 'units';
  /** Longest history the encoder reads (the latest events). */
  maxLength: number;
  /** Kept levels per categorical field. */
  categorical: { name: string; levels: string[] }[];
  /** The categorical field that says what kind of event it is (numeric scales and aggregates per type), if any. */
  typeField: string | null;
  /** Per numeric field: a scale per event type (when there is a type field) and one for all events. */
  numeric: { name: string; all: Scale; byType: Record<string, Scale> }[];
  /** Scale of log(1 + time gap). */
  gap: Scale;
  label?: { classes: string[] };
}

/** Channels of an encoded event: codes, (value, present) per numeric field, gap, time to end, valid. */
export interface EventLayout {
  cardinalities: number[];
  numeric: number;
  channels: number;
}

/** The column types an event file is read with under `s` (so codes like '1', '2' stay categories). */
export function eventFieldTypes(s: EventSchema): Record<string, 'categorical' | 'numeric'> {
  return Object.fromEntries([
    ...s.categorical.map((c) => [c.name, 'categorical' as const]),
    ...s.numeric.map((c) => [c.name, 'numeric' as const]),
  ]);
}

export const eventLayout = (s: EventSchema): EventLayout => ({
  cardinalities: s.categorical.map((c) => c.levels.length + 2),
  numeric: s.numeric.length,
  channels: s.categorical.length + 2 * s.numeric.length + 3,
});

const median = (v: number[]): number => {
  if (!v.length) return 0;
  const s = Float64Array.from(v).sort();
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function scaleOf(v: number[]): Scale {
  if (!v.length) return { median: 0, scale: 1 };
  const s = Float64Array.from(v).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
  const iqr = q(0.75) - q(0.25);
  const spread = iqr > 0 ? iqr : q(0.95) - q(0.05);
  return { median: median(v), scale: spread > 0 ? spread : 1 };
}

/** The time-gap feature: log(1 + gap), a negative gap counted as none. */
export const logGap = (dt: number): number => Math.log1p(Math.max(dt, 0));

export interface EventFitOptions {
  maxLength: number;
  /** The event-type field (default the first categorical field; null for none). */
  typeField?: string | null;
  /** Levels seen fewer times are folded into the unknown code (default 5). */
  minCount?: number;
}

/** Learns the event preprocessing from the training histories. */
export function fitEvents(h: Histories, o: EventFitOptions): EventSchema {
  const minCount = o.minCount ?? 5;
  const categorical = h.categorical.map((c) => {
    const counts = new Int32Array(c.levels.length);
    for (const v of c.codes) if (v >= 0) counts[v]!++;
    return { name: c.name, levels: c.levels.filter((_, k) => counts[k]! >= minCount) };
  });
  const typeField = o.typeField === undefined ? (h.categorical[0]?.name ?? null) : o.typeField;
  const type = typeField === null ? undefined : h.categorical.find((c) => c.name === typeField);
  if (typeField !== null && !type) throw new TypeError(`${h.source}: no categorical event field '${typeField}' to use as the event type`);
  const numeric = h.numeric.map((f) => {
    const all: number[] = [];
    const byType = new Map<string, number[]>();
    f.values.forEach((v, j) => {
      if (Number.isNaN(v)) return;
      all.push(v);
      if (type && type.codes[j]! >= 0) {
        const t = type.levels[type.codes[j]!]!;
        if (!byType.has(t)) byType.set(t, []);
        byType.get(t)!.push(v);
      }
    });
    const scales: Record<string, Scale> = {};
    for (const [t, v] of byType) if (v.length >= minCount) scales[t] = scaleOf(v);
    return { name: f.name, all: scaleOf(all), byType: scales };
  });
  const gaps: number[] = [];
  for (let i = 0; i < h.entities.length; i++)
    for (let j = h.offsets[i]! + 1; j < h.offsets[i + 1]!; j++) gaps.push(logGap(h.time[j]! - h.time[j - 1]!));
  return {
    format: 'pretext-events/1',
    timeUnit: h.timeUnit,
    maxLength: o.maxLength,
    categorical,
    typeField,
    numeric,
    gap: scaleOf(gaps),
    ...(h.classes ? { label: { classes: h.classes } } : {}),
  };
}

/** Per categorical field of the schema, each event's code; unknown values are counted. */
export function schemaCodes(h: Histories, s: EventSchema): { codes: Int32Array[]; unknown: number } {
  let unknown = 0;
  const codes = s.categorical.map((f) => {
    const field = h.categorical.find((c) => c.name === f.name);
    if (!field) throw new TypeError(`${h.source}: the encoder expects a categorical event field '${f.name}'`);
    const index = new Map(f.levels.map((l, k) => [l, k + 2]));
    const map = Int32Array.from(field.levels, (l) => index.get(l) ?? 1);
    return Int32Array.from(field.codes, (v) => {
      if (v < 0) return 0;
      if (map[v] === 1) unknown++;
      return map[v]!;
    });
  });
  return { codes, unknown };
}

function numericFields(h: Histories, s: EventSchema): Float64Array[] {
  return s.numeric.map((f) => {
    const field = h.numeric.find((c) => c.name === f.name);
    if (!field) throw new TypeError(`${h.source}: the encoder expects a numeric event field '${f.name}'`);
    return field.values;
  });
}

export interface EncodedHistories {
  /** [entities, length, channels], row-major; padding after each history's events. */
  data: Float32Array;
  entities: number;
  length: number;
  channels: number;
  /** Events whose category the schema does not know (coded unknown). */
  unknown: number;
}

/** Histories as padded event tensors under a schema (the latest maxLength events of each). */
export function encodeHistories(h: Histories, s: EventSchema): EncodedHistories {
  const layout = eventLayout(s);
  const C = layout.channels;
  const n = h.entities.length;
  let L = 1;
  for (let i = 0; i < n; i++) L = Math.max(L, Math.min(s.maxLength, h.offsets[i + 1]! - h.offsets[i]!));
  const { codes, unknown } = schemaCodes(h, s);
  const values = numericFields(h, s);
  const typeAt = s.typeField === null ? -1 : s.categorical.findIndex((c) => c.name === s.typeField);
  const type = typeAt < 0 ? undefined : s.categorical[typeAt];
  const data = new Float32Array(n * L * C);
  for (let i = 0; i < n; i++) {
    const hi = h.offsets[i + 1]!;
    const lo = Math.max(h.offsets[i]!, hi - s.maxLength);
    for (let j = lo; j < hi; j++) {
      const at = (i * L + (j - lo)) * C;
      codes.forEach((c, f) => (data[at + f] = c[j]!));
      const t = type && codes[typeAt]![j]! >= 2 ? type.levels[codes[typeAt]![j]! - 2]! : undefined;
      s.numeric.forEach((f, k) => {
        const v = values[k]![j]!;
        if (Number.isNaN(v)) return;
        const sc = (t !== undefined ? f.byType[t] : undefined) ?? f.all;
        data[at + s.categorical.length + 2 * k] = Math.max(-5, Math.min(5, (v - sc.median) / sc.scale));
        data[at + s.categorical.length + 2 * k + 1] = 1;
      });
      const gap = j > h.offsets[i]! ? logGap(h.time[j]! - h.time[j - 1]!) : 0;
      data[at + C - 3] = (gap - s.gap.median) / s.gap.scale;
      data[at + C - 2] = logGap(h.end[i]! - h.time[j]!) / (s.gap.median + s.gap.scale);
      data[at + C - 1] = 1;
    }
  }
  return { data, entities: n, length: L, channels: C, unknown };
}

/**
 * Hand-made features per entity, as pytorch-lifestream's baseline builds them: event count,
 * span, recency, mean gap; counts and shares of each level of each categorical field; for each
 * numeric field mean, last, min, max and std over all events and, per event type, mean, last,
 * min and max. NaN where an entity has nothing to aggregate.
 */
export function aggregateFeatures(h: Histories, s: EventSchema): { names: string[]; matrix: FeatureMatrix } {
  const { codes } = schemaCodes(h, s);
  const values = numericFields(h, s);
  const names: string[] = ['events', 'span', 'recency', 'mean_gap'];
  s.categorical.forEach((f) => {
    for (const l of ['(unknown)', ...f.levels]) names.push(`count:${f.name}=${l}`, `share:${f.name}=${l}`);
  });
  const typeAt = s.typeField === null ? -1 : s.categorical.findIndex((c) => c.name === s.typeField);
  const typeLevels = typeAt < 0 ? [] : s.categorical[typeAt]!.levels;
  s.numeric.forEach((f) => {
    for (const stat of ['mean', 'last', 'min', 'max', 'std']) names.push(`${stat}:${f.name}`);
    for (const t of typeLevels) for (const stat of ['mean', 'last', 'min', 'max']) names.push(`${stat}:${f.name}|${t}`);
  });
  const cols = names.length;
  const n = h.entities.length;
  const data = new Float32Array(n * cols).fill(NaN);
  for (let i = 0; i < n; i++) {
    const lo = h.offsets[i]!;
    const hi = h.offsets[i + 1]!;
    const row = i * cols;
    const count = hi - lo;
    data[row] = count;
    if (count) {
      data[row + 1] = h.time[hi - 1]! - h.time[lo]!;
      data[row + 2] = h.end[i]! - h.time[hi - 1]!;
      if (count > 1) data[row + 3] = (h.time[hi - 1]! - h.time[lo]!) / (count - 1);
    }
    let at = row + 4;
    s.categorical.forEach((f, k) => {
      const width = f.levels.length + 1;
      for (let q = 0; q < width; q++) {
        data[at + 2 * q] = 0;
        if (count) data[at + 2 * q + 1] = 0;
      }
      for (let j = lo; j < hi; j++) {
        const c = codes[k]![j]!;
        if (c === 0) continue;
        data[at + 2 * (c - 1)]!++;
      }
      if (count) for (let q = 0; q < width; q++) data[at + 2 * q + 1] = data[at + 2 * q]! / count;
      at += 2 * width;
    });
    s.numeric.forEach((_, k) => {
      const stats = (pick: (j: number) => boolean, withStd: boolean): void => {
        let m = 0;
        let sq = 0;
        let c = 0;
        let last = NaN;
        let min = Infinity;
        let max = -Infinity;
        for (let j = lo; j < hi; j++) {
          const v = values[k]![j]!;
          if (Number.isNaN(v) || !pick(j)) continue;
          c++;
          m += v;
          sq += v * v;
          last = v;
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        if (c) {
          data[at] = m / c;
          data[at + 1] = last;
          data[at + 2] = min;
          data[at + 3] = max;
          if (withStd && c > 1) data[at + 4] = Math.sqrt(Math.max(sq / c - (m / c) ** 2, 0));
        }
        at += withStd ? 5 : 4;
      };
      stats(() => true, true);
      typeLevels.forEach((_, t) => stats((j) => codes[typeAt]![j] === t + 2, false));
    });
  }
  return { names, matrix: { rows: n, cols, data } };
}

// Event histories: one table of dated events (an entity id, a time, categorical and numeric
// fields) grouped per entity and sorted by time, with what grouping had to fix reported
// rather than hidden: events without an entity or a time, entities whose events were out of
// order in the file, events sharing a timestamp, exact duplicates, histories cut to a
// maximum length (the oldest events go; the cut is recorded per entity), and entities a
// label table names that have no events at all (they keep an empty history).
import { DataFormatError } from '../errors.js';
import { findColumn } from '../features.js';
import { tableFromRecords, type Column, type ColumnType, type Table } from '../table.js';

const DAY_MS = 86_400_000;

/** Which columns of an event table are what. */
export interface EventSpec {
  /** The entity id column (patient, client, sensor). */
  entity: string;
  /** The time column: numbers (any unit) or dates (read as days). */
  time: string;
  /** Categorical event fields; the first is the event type (default: every categorical or boolean column left). */
  categorical?: string[];
  /** Numeric event fields (default: every numeric column left). */
  numeric?: string[];
  /** Columns that are not inputs (ids, leaks). */
  drop?: string[];
}

export interface CategoricalField {
  name: string;
  levels: string[];
  /** Per event: an index into levels, -1 when missing. */
  codes: Int32Array;
}

export interface NumericField {
  name: string;
  /** Per event; NaN when missing. */
  values: Float64Array;
}

export interface HistoryReport {
  /** Events kept. */
  events: number;
  entities: number;
  /** Events without an entity or a time, left out. */
  missingKey: number;
  /** Events after the observation cut-off, left out. */
  afterCut: number;
  /** Entities whose events were not in time order in the file (sorted here). */
  unsorted: number;
  /** Events sharing their entity's timestamp with an earlier one (kept, in file order). */
  tiedTimes: number;
  /** Exact repeats of an event (same entity, time and fields), left out. */
  duplicates: number;
  /** Entities cut to the maximum length, and the oldest events cut from them. */
  cutEntities: number;
  cutEvents: number;
  /** Entities with no events (kept with an empty history). */
  empty: number;
}

/** Every entity's events in time order, fields as columns over all events (CSR by entity). */
export interface Histories {
  source: string;
  /** Entity ids as text. */
  entities: string[];
  /** Entity i's events are [offsets[i], offsets[i + 1]). */
  offsets: Int32Array;
  /** Event times: days for date columns, the column's own unit otherwise. */
  time: Float64Array;
  timeUnit: 'days' | 'units';
  /** The time each entity's observation ends (the cut-off, or its last event). */
  end: Float64Array;
  categorical: CategoricalField[];
  numeric: NumericField[];
  /** Events cut from each entity's start. */
  cut: Int32Array;
  /** Per entity class codes (-1 unlabeled) when labels were attached. */
  labels?: Int32Array;
  classes?: string[];
  report: HistoryReport;
}

export interface GroupOptions {
  /** Longest history kept (the most recent events); default unlimited. */
  maxLength?: number;
  /** Events after this time are left out and every history ends here. */
  cutoff?: number;
  /** The entities, in this order (entities without events get empty histories; events of others are left out). */
  entities?: readonly string[];
}

function cellKeys(c: Column): (i: number) => string | null {
  if (c.type === 'text') return (i) => c.values[i] ?? null;
  if (c.type === 'numeric' || c.type === 'date') return (i) => (Number.isNaN(c.values[i]!) ? null : String(c.values[i]));
  return (i) => (c.values[i]! < 0 ? null : c.levels[c.values[i]!]!);
}

function timeValues(c: Column, source: string): { values: Float64Array; unit: 'days' | 'units' } {
  if (c.type === 'date') return { values: Float64Array.from(c.values, (v) => v / DAY_MS), unit: 'days' };
  if (c.type === 'numeric') return { values: c.values, unit: 'units' };
  throw new DataFormatError(`${source}: the time column '${c.name}' is ${c.type}; it must hold numbers or dates`);
}

/** The fields an event spec names, or every usable column that is not the entity, time or dropped. */
export function eventFields(table: Table, spec: EventSpec): { categorical: string[]; numeric: string[] } {
  const taken = new Set([spec.entity, spec.time, ...(spec.drop ?? [])]);
  for (const name of [spec.entity, spec.time, ...(spec.categorical ?? []), ...(spec.numeric ?? [])]) findColumn(table, name);
  const left = table.columns.filter((c) => !taken.has(c.name));
  const categorical = spec.categorical ?? left.filter((c) => c.type === 'categorical' || c.type === 'boolean').map((c) => c.name);
  const numeric = spec.numeric ?? left.filter((c) => c.type === 'numeric').map((c) => c.name);
  for (const name of categorical) {
    const c = findColumn(table, name);
    if (c.type !== 'categorical' && c.type !== 'boolean' && c.type !== 'numeric')
      throw new DataFormatError(`${table.source}: the categorical field '${name}' is ${c.type}`);
  }
  for (const name of numeric) {
    const c = findColumn(table, name);
    if (c.type !== 'numeric' && c.type !== 'boolean')
      throw new DataFormatError(`${table.source}: the numeric field '${name}' is ${c.type}; give it as categorical or drop it`);
  }
  return { categorical, numeric };
}

/** Groups an event table into per-entity histories sorted by time. */
export function groupEvents(table: Table, spec: EventSpec, o: GroupOptions = {}): Histories {
  const src = table.source;
  const entityOf = cellKeys(findColumn(table, spec.entity));
  const { values: times, unit } = timeValues(findColumn(table, spec.time), src);
  const fields = eventFields(table, spec);
  const catCols = fields.categorical.map((name) => {
    const c = findColumn(table, name);
    if (c.type === 'numeric') {
      const levels = [...new Set(Array.from(c.values).filter((v) => !Number.isNaN(v)))].sort((a, b) => a - b);
      const index = new Map(levels.map((v, k) => [v, k]));
      return { name, levels: levels.map(String), codes: Int32Array.from(c.values, (v) => (Number.isNaN(v) ? -1 : index.get(v)!)) };
    }
    const cc = c as Extract<Column, { levels: string[] }>;
    return { name, levels: cc.levels, codes: cc.values };
  });
  const numCols = fields.numeric.map((name) => {
    const c = findColumn(table, name);
    return {
      name,
      values:
        c.type === 'numeric' ? c.values : Float64Array.from((c as Extract<Column, { levels: string[] }>).values, (v) => (v < 0 ? NaN : v)),
    };
  });
  const report: HistoryReport = {
    events: 0,
    entities: 0,
    missingKey: 0,
    afterCut: 0,
    unsorted: 0,
    tiedTimes: 0,
    duplicates: 0,
    cutEntities: 0,
    cutEvents: 0,
    empty: 0,
  };
  const byEntity = new Map<string, number[]>();
  const fixed = o.entities !== undefined;
  for (const e of o.entities ?? []) if (!byEntity.has(e)) byEntity.set(e, []);
  for (let i = 0; i < table.rows; i++) {
    const e = entityOf(i);
    if (e === null || Number.isNaN(times[i]!)) {
      report.missingKey++;
      continue;
    }
    if (o.cutoff !== undefined && times[i]! > o.cutoff) {
      report.afterCut++;
      continue;
    }
    let list = byEntity.get(e);
    if (!list) {
      if (fixed) continue;
      byEntity.set(e, (list = []));
    }
    list.push(i);
  }
  const signature = (i: number): string =>
    `${times[i]}|${catCols.map((c) => c.codes[i]).join(',')}|${numCols.map((c) => c.values[i]).join(',')}`;
  const entities = [...byEntity.keys()];
  const order: number[] = [];
  const offsets = new Int32Array(entities.length + 1);
  const cut = new Int32Array(entities.length);
  const end = new Float64Array(entities.length);
  entities.forEach((e, k) => {
    let rows = byEntity.get(e)!;
    if (rows.length === 0) report.empty++;
    if (rows.some((r, j) => j > 0 && times[r]! < times[rows[j - 1]!]!)) report.unsorted++;
    // A stable sort: events at the same time keep their file order.
    rows = rows
      .map((r, j) => [r, j] as const)
      .sort((a, b) => times[a[0]]! - times[b[0]]! || a[1] - b[1])
      .map(([r]) => r);
    const seen = new Set<string>();
    rows = rows.filter((r) => {
      const s = signature(r);
      if (seen.has(s)) {
        report.duplicates++;
        return false;
      }
      seen.add(s);
      return true;
    });
    for (let j = 1; j < rows.length; j++) if (times[rows[j]!] === times[rows[j - 1]!]) report.tiedTimes++;
    end[k] = o.cutoff ?? (rows.length ? times[rows[rows.length - 1]!]! : 0);
    if (o.maxLength !== undefined && rows.length > o.maxLength) {
      cut[k] = rows.length - o.maxLength;
      report.cutEntities++;
      report.cutEvents += cut[k]!;
      rows = rows.slice(cut[k]);
    }
    order.push(...rows);
    offsets[k + 1] = order.length;
  });
  report.events = order.length;
  report.entities = entities.length;
  const take = <T extends Float64Array | Int32Array>(v: T): T => {
    const out = new (v.constructor as new (n: number) => T)(order.length);
    order.forEach((r, j) => (out[j] = v[r]!));
    return out;
  };
  return {
    source: src,
    entities,
    offsets,
    time: take(times),
    timeUnit: unit,
    end,
    categorical: catCols.map((c) => ({ name: c.name, levels: c.levels, codes: take(c.codes) })),
    numeric: numCols.map((c) => ({ name: c.name, values: take(c.values) })),
    cut,
    report,
  };
}

/** A per-entity label table (entity id, label) attached to histories; unlisted entities stay unlabeled (-1). */
export function attachLabels(h: Histories, table: Table, o: { entity: string; label: string }): Histories {
  const entityOf = cellKeys(findColumn(table, o.entity));
  const labelOf = cellKeys(findColumn(table, o.label));
  const byEntity = new Map<string, string>();
  for (let i = 0; i < table.rows; i++) {
    const e = entityOf(i);
    const y = labelOf(i);
    if (e === null || y === null) continue;
    const before = byEntity.get(e);
    if (before !== undefined && before !== y)
      throw new DataFormatError(`${table.source}: entity '${e}' has two labels ('${before}' and '${y}')`);
    byEntity.set(e, y);
  }
  const classes = [...new Set(byEntity.values())].sort();
  const index = new Map(classes.map((c, k) => [c, k]));
  const labels = Int32Array.from(h.entities, (e) => {
    const y = byEntity.get(e);
    return y === undefined ? -1 : index.get(y)!;
  });
  return { ...h, labels, classes };
}

/** The histories of entities `idx`, in that order. */
export function takeHistories(h: Histories, idx: ArrayLike<number>, what = 'entities'): Histories {
  const n = idx.length;
  const offsets = new Int32Array(n + 1);
  const events: number[] = [];
  for (let k = 0; k < n; k++) {
    const e = idx[k]!;
    for (let j = h.offsets[e]!; j < h.offsets[e + 1]!; j++) events.push(j);
    offsets[k + 1] = events.length;
  }
  const take = <T extends Float64Array | Int32Array>(v: T, at: ArrayLike<number>): T => {
    const out = new (v.constructor as new (n: number) => T)(at.length);
    for (let j = 0; j < at.length; j++) out[j] = v[at[j]!]!;
    return out;
  };
  return {
    ...h,
    source: `${h.source} (${what})`,
    entities: Array.from(idx as ArrayLike<number>, (e) => h.entities[e]!),
    offsets,
    time: take(h.time, events),
    end: take(h.end, idx),
    categorical: h.categorical.map((c) => ({ ...c, codes: take(c.codes, events) })),
    numeric: h.numeric.map((c) => ({ ...c, values: take(c.values, events) })),
    cut: take(h.cut, idx),
    ...(h.labels ? { labels: take(h.labels, idx) } : {}),
  };
}

/** Entities with a label, and their class codes. */
export function labeledEntities(h: Histories): { idx: number[]; y: number[] } {
  if (!h.labels) throw new TypeError(`${h.source} has no labels`);
  const idx = Array.from(h.labels.keys()).filter((i) => h.labels![i]! >= 0);
  return { idx, y: idx.map((i) => h.labels![i]!) };
}

/** What grouping did, in a line or two a user reads before training. */
export function describeHistories(h: Histories): string {
  const r = h.report;
  const lengths = Array.from({ length: h.entities.length }, (_, i) => h.offsets[i + 1]! - h.offsets[i]!).sort((a, b) => a - b);
  const median = lengths.length ? lengths[lengths.length >> 1]! : 0;
  const notes = [
    r.missingKey && `${r.missingKey} events without an entity or time left out`,
    r.afterCut && `${r.afterCut} events after the cut-off left out`,
    r.unsorted && `${r.unsorted} entities' events were out of time order (sorted)`,
    r.tiedTimes && `${r.tiedTimes} events share a timestamp (kept in file order)`,
    r.duplicates && `${r.duplicates} duplicate events left out`,
    r.cutEntities && `${r.cutEntities} histories cut to their latest events (${r.cutEvents} older events left out)`,
    r.empty && `${r.empty} entities have no events`,
  ].filter(Boolean);
  const fields = [...h.categorical.map((c) => `${c.name} (${c.levels.length} levels)`), ...h.numeric.map((c) => `${c.name} (numeric)`)];
  const events = h.offsets[h.entities.length]!;
  return (
    `${h.source}: ${h.entities.length} entities, ${events} events (median ${median} per entity); fields: ${fields.join(', ') || 'none'}, time in ${h.timeUnit}` +
    (notes.length ? `\n  grouping the ${r.entities} entities of the file: ${notes.join('; ')}` : '')
  );
}

/**
 * Histories from events given as objects, one list per entity: `time` a number in the unit the
 * encoder was trained in, fields by name (an absent field is missing). What a service or a web
 * page hands an encoder; the entities are named by their position.
 */
export function historiesFromEventLists(
  lists: readonly (readonly Record<string, unknown>[])[],
  fields: { categorical: readonly string[]; numeric: readonly string[] },
  o: { maxLength: number; source?: string },
): Histories {
  const records = lists.flatMap((events, i) => events.map((e) => ({ ...e, __entity: i, __time: e.time })));
  const types: Record<string, ColumnType> = {
    __entity: 'numeric',
    __time: 'numeric',
    ...Object.fromEntries(fields.categorical.map((c) => [c, 'categorical' as const])),
    ...Object.fromEntries(fields.numeric.map((c) => [c, 'numeric' as const])),
  };
  const table = tableFromRecords(records, types, o.source ?? 'events', { absentIsMissing: true });
  return groupEvents(
    table,
    { entity: '__entity', time: '__time', categorical: [...fields.categorical], numeric: [...fields.numeric] },
    { maxLength: o.maxLength, entities: lists.map((_, i) => String(i)) },
  );
}

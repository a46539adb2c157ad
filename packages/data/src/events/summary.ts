// Event preprocessing fitted on histories that never meet: each site of a federation sends a
// summary of its training histories (level counts per categorical field, points of each numeric
// field's values overall and per event type, points of the log time gaps), under the same rule
// as a table summary (nothing seen fewer than minCount times is named, no single extreme value is
// shown), and the merge gives the event schema fitting on the pooled histories would have given,
// up to the summaries' resolution.
import { DataFormatError } from '../errors.js';
import {
  countsProblem,
  levelCounts,
  mergedLevels,
  mergedQuantiles,
  pointsProblem,
  sortClasses,
  valuePoints,
  type LevelCounts,
  type ValuePoints,
} from '../featureSummary.js';
import { logGap, type EventSchema, type Scale } from './encode.js';
import type { Histories } from './histories.js';

export interface HistorySummary {
  format: 'pretext-history-summary/1';
  entities: number;
  events: number;
  minCount: number;
  timeUnit: Histories['timeUnit'];
  typeField: string | null;
  categorical: ({ name: string } & LevelCounts)[];
  /** Per numeric field: points of all its values, and per event type named in the type field's counts. */
  numeric: { name: string; all: ValuePoints; byType: Record<string, ValuePoints> }[];
  /** Points of log(1 + time gap) between consecutive events of an entity. */
  gap: ValuePoints;
  classes?: string[];
}

/** What one site shows of its training histories, for an event preprocessing merged across sites. */
export function summarizeHistories(h: Histories, o: { typeField?: string | null; minCount?: number }): HistorySummary {
  const minCount = o.minCount ?? 5;
  if (!(Number.isInteger(minCount) && minCount >= 1)) throw new RangeError(`minCount must be a whole number, at least 1, got ${minCount}`);
  const typeField = o.typeField === undefined ? (h.categorical[0]?.name ?? null) : o.typeField;
  const type = typeField === null ? undefined : h.categorical.find((c) => c.name === typeField);
  if (typeField !== null && !type) throw new TypeError(`${h.source}: no categorical event field '${typeField}' to use as the event type`);
  const categorical = h.categorical.map((c) => ({ name: c.name, ...levelCounts(c.codes, c.levels, minCount) }));
  const named = new Set(Object.keys(categorical.find((c) => c.name === typeField)?.counts ?? {}));
  const numeric = h.numeric.map((f) => {
    const byType: Record<string, number[]> = {};
    if (type)
      f.values.forEach((v, j) => {
        const t = type.levels[type.codes[j]!];
        if (t !== undefined && named.has(t) && !Number.isNaN(v)) (byType[t] ??= []).push(v);
      });
    const shown: Record<string, ValuePoints> = {};
    for (const [t, v] of Object.entries(byType)) {
      const p = valuePoints(Float64Array.from(v), minCount);
      if (p.points.length) shown[t] = p;
    }
    return { name: f.name, all: valuePoints(f.values, minCount), byType: shown };
  });
  const gaps: number[] = [];
  for (let i = 0; i < h.entities.length; i++)
    for (let j = h.offsets[i]! + 1; j < h.offsets[i + 1]!; j++) gaps.push(logGap(h.time[j]! - h.time[j - 1]!));
  return {
    format: 'pretext-history-summary/1',
    entities: h.entities.length,
    events: h.time.length,
    minCount,
    timeUnit: h.timeUnit,
    typeField,
    categorical,
    numeric,
    gap: valuePoints(Float64Array.from(gaps), minCount),
    ...(h.classes ? { classes: [...h.classes] } : {}),
  };
}

/** A median and a spread from merged points, as fitEvents measures them on values. */
function mergedScale(parts: ValuePoints[]): Scale {
  const shown = parts.filter((p) => p.points.length > 0);
  if (!shown.length) return { median: 0, scale: 1 };
  const [q05, q25, median, q75, q95] = mergedQuantiles(shown, [0.05, 0.25, 0.5, 0.75, 0.95]) as [number, number, number, number, number];
  const spread = q75 - q25 > 0 ? q75 - q25 : q95 - q05;
  return { median, scale: spread > 0 ? spread : 1 };
}

function checkSummary(s: HistorySummary, site: string): void {
  const bad = (what: string): never => {
    throw new DataFormatError(`the history summary from site '${site}' ${what}`);
  };
  if (s?.format !== 'pretext-history-summary/1') bad(`is not a history summary (format ${JSON.stringify(s?.format)})`);
  if (!Array.isArray(s.categorical) || !Array.isArray(s.numeric)) bad('has no fields');
  for (const c of s.categorical) {
    const problem = countsProblem(c);
    if (problem) bad(`gives field '${c.name}' ${problem}`);
  }
  for (const f of s.numeric)
    for (const [what, p] of [['', f.all] as const, ...Object.entries(f.byType ?? {}).map(([t, p]) => [` for type '${t}'`, p] as const)]) {
      const problem = pointsProblem(p);
      if (problem) bad(`gives field '${f.name}'${what} ${problem}`);
    }
  const problem = pointsProblem(s.gap);
  if (problem) bad(`gives the time gaps ${problem}`);
}

/**
 * The event schema of the sites' histories taken together, from their summaries: levels counted
 * at least minCount times over all sites, scales of the mixture of the sites' values (per event
 * type where the type is named), the time-gap scale likewise. Every site must read time in the
 * same unit and type events by the same field; a field some site lacks is left out.
 */
export function mergeHistorySummaries(
  summaries: Record<string, HistorySummary>,
  o: { maxLength: number; minCount?: number },
): { schema: EventSchema; leftOut: string[] } {
  const sites = Object.keys(summaries);
  if (sites.length === 0) throw new DataFormatError('no site summaries to merge');
  for (const s of sites) checkSummary(summaries[s]!, s);
  const all = sites.map((s) => summaries[s]!);
  const minCount = o.minCount ?? 5;
  const agree = <T>(what: string, of: (s: HistorySummary) => T): T => {
    const values = new Set(all.map((s) => JSON.stringify(of(s))));
    if (values.size > 1)
      throw new DataFormatError(
        `the sites differ in ${what} (${sites.map((s) => `${s}: ${JSON.stringify(of(summaries[s]!))}`).join(', ')}); give it in the recipe's data section so every site reads its events alike`,
      );
    return of(all[0]!);
  };
  const timeUnit = agree('their time unit', (s) => s.timeUnit);
  const typeField = agree('the field that types events', (s) => s.typeField);
  const everywhere = <T extends { name: string }>(of: (s: HistorySummary) => T[]): string[] =>
    of(all[0]!)
      .map((f) => f.name)
      .filter((n) => all.every((s) => of(s).some((f) => f.name === n)));
  const categoricalNames = everywhere((s) => s.categorical);
  const numericNames = everywhere((s) => s.numeric);
  const kept = new Set([...categoricalNames, ...numericNames]);
  const leftOut = [...new Set(all.flatMap((s) => [...s.categorical, ...s.numeric].map((f) => f.name)))].filter((n) => !kept.has(n));
  if (typeField !== null && !categoricalNames.includes(typeField))
    throw new DataFormatError(`the event type field '${typeField}' is not in every site's events`);
  const schema: EventSchema = {
    format: 'pretext-events/1',
    timeUnit,
    maxLength: o.maxLength,
    categorical: categoricalNames.map((name) => ({
      name,
      levels: mergedLevels(
        all.map((s) => s.categorical.find((c) => c.name === name)!),
        minCount,
      ),
    })),
    typeField,
    numeric: numericNames.map((name) => {
      const fields = all.map((s) => s.numeric.find((f) => f.name === name)!);
      const types = [...new Set(fields.flatMap((f) => Object.keys(f.byType ?? {})))].sort();
      return {
        name,
        all: mergedScale(fields.map((f) => f.all)),
        byType: Object.fromEntries(types.map((t) => [t, mergedScale(fields.flatMap((f) => (f.byType?.[t] ? [f.byType[t]] : [])))])),
      };
    }),
    gap: mergedScale(all.map((s) => s.gap)),
  };
  const classes = all.flatMap((s) => s.classes ?? []);
  if (all.some((s) => s.classes)) schema.label = { classes: sortClasses(classes) };
  return { schema, leftOut };
}

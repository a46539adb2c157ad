// Where an event recipe's histories come from: a benchmark history set (fetched, verified,
// with its fixed stratified test fifth of entities) or a team's own event table (CSV, TSV,
// Parquet, ARFF, R data) with an optional per-entity label table, whose labeled entities give
// a fixed stratified fifth as the test split. Unlabeled histories pretrain and are not scored.
import { attachLabels, groupEvents, holdOutHistories, loadSequenceSet, readTableFile, type Histories, type TestSplit } from '@pretext/data';
import type { Recipe } from '../../recipe/schema.js';

export type EventDataSpec = Extract<Recipe['data'], { dataset: 'events' }>;

export interface EventData {
  /** Lineage name: the benchmark's name or `events-file:PATH`. */
  name: string;
  train: Histories;
  test: TestSplit<Histories> | null;
  /** The event-type field (numeric scales and aggregates per type); null for none. */
  typeField: string | null | undefined;
  maxLength: number;
}

export async function loadEventData(spec: EventDataSpec): Promise<EventData> {
  if (spec.name !== undefined) {
    const s = loadSequenceSet(spec.name);
    return { name: spec.name, train: s.train, test: s.test, typeField: spec.typeField ?? s.set.typeField, maxLength: spec.maxLength };
  }
  const table = await readTableFile(spec.path!, { drop: spec.drop, types: spec.types, object: spec.object });
  const labelTable = spec.labels ? await readTableFile(spec.labels.path, { types: { [spec.labels.label]: 'categorical' } }) : null;
  let h = groupEvents(
    table,
    { entity: spec.entity!, time: spec.time!, categorical: spec.categorical, numeric: spec.numeric, drop: spec.drop },
    { cutoff: spec.cutoff, maxLength: spec.maxLength },
  );
  const name = `events-file:${spec.path}`;
  if (!labelTable || !spec.labels) return { name, train: h, test: null, typeField: spec.typeField, maxLength: spec.maxLength };
  // Labeled entities without events keep an empty history (reported), so none is silently lost.
  const entityColumn = spec.labels.entity ?? spec.entity!;
  const labeledIds = labelTable.columns.find((c) => c.name === entityColumn);
  if (labeledIds) {
    const extra = new Set<string>();
    const known = new Set(h.entities);
    for (let i = 0; i < labelTable.rows; i++) {
      const v =
        labeledIds.type === 'text'
          ? labeledIds.values[i]
          : 'levels' in labeledIds
            ? labeledIds.levels[labeledIds.values[i]!]
            : String(labeledIds.values[i]);
      if (v !== null && v !== undefined && !known.has(v)) extra.add(v);
    }
    if (extra.size)
      h = groupEvents(
        table,
        { entity: spec.entity!, time: spec.time!, categorical: spec.categorical, numeric: spec.numeric, drop: spec.drop },
        { cutoff: spec.cutoff, maxLength: spec.maxLength, entities: [...h.entities, ...extra] },
      );
  }
  h = attachLabels(h, labelTable, { entity: entityColumn, label: spec.labels.label });
  return { name, ...holdOutHistories(h), typeField: spec.typeField, maxLength: spec.maxLength };
}

// Benchmark histories, real and offline, from Debian's R packages (pinned by sha256 like the
// tables), each with a per-entity label defined so the history cannot give it away:
//   nafld     NAFLD cohort (Olmsted County): dated lab measurements (nafld2) and diagnoses
//             (nafld3) per patient. A patient's history ends when follow-up ends, by death or
//             censoring, so its end and length would predict death: every history is cut at
//             day 730 after entry, only patients still followed then are kept, and the label
//             is death after that day (nafld1's status).
//   storms    Atlantic storms (NOAA, dplyr): six-hourly position and pressure; the label is
//             whether the storm ever became a hurricane, from its first 48 hours of readings.
//             Wind speed, status, category and the wind-force diameters are dropped (the
//             label is computed from wind).
//   movielens MovieLens small (GroupLens, via dslabs): each user's ratings in time order. The
//             history is the earlier half of a user's ratings; the label, whether most of the
//             later half are dramas, comes only from ratings after it. GroupLens's terms allow
//             research use only and forbid redistribution: the data is fetched from Debian on
//             the user's machine and never shipped or pushed.
// Each comes with a fixed stratified fifth of its entities as the test split.
import type { DebianFetchOptions } from '../debian.js';
import { rBundleObject, R_BUNDLES } from '../rPackages.js';
import { findColumn } from '../features.js';
import { holdOutHistories, type TestSplit } from '../splits.js';
import type { Column, Table } from '../table.js';
import { attachLabels, groupEvents, type Histories } from './histories.js';

export interface SequenceSet {
  name: string;
  field: string;
  /** What the label is and how leakage is kept out. */
  label: string;
  /** Event fields left out, with the reason. */
  drop: Record<string, string>;
  /** Longest history kept (latest events). */
  maxLength: number;
  /** The categorical field naming the kind of event, if any. */
  typeField: string | null;
}

/** Day after entry at which NAFLD histories are cut; the label is death after it. */
export const NAFLD_CUTOFF_DAY = 730;
/** Hours of a storm's readings its label is predicted from. */
export const STORM_HOURS = 48;

export const SEQUENCE_SETS: Record<string, SequenceSet> = {
  nafld: {
    name: 'nafld',
    field: 'health: NAFLD cohort, lab measurements and diagnoses per patient',
    label: `death after day ${NAFLD_CUTOFF_DAY} of follow-up; histories end at day ${NAFLD_CUTOFF_DAY}, patients no longer followed then are left out`,
    drop: {},
    maxLength: 128,
    typeField: 'type',
  },
  storms: {
    name: 'storms',
    field: 'weather: Atlantic storms, six-hourly readings',
    label: `became a hurricane, from the first ${STORM_HOURS} hours of readings`,
    drop: {
      wind: 'the label is computed from wind speed',
      status: 'the per-reading form of the label',
      category: 'the Saffir-Simpson category, computed from wind speed',
      tropicalstorm_force_diameter: 'extent of tropical-storm-force winds, measured from wind',
      hurricane_force_diameter: 'extent of hurricane-force winds, non-zero only for hurricanes',
    },
    maxLength: 16,
    typeField: null,
  },
  movielens: {
    name: 'movielens',
    field: 'retail-like behaviour: MovieLens small, ratings per user (research-only terms, never redistributed)',
    label: 'most of the later half of the ratings are dramas; the history is the earlier half',
    drop: { title: 'free text, the movie id stands for it' },
    maxLength: 128,
    typeField: 'genre',
  },
};

const numeric = (name: string, values: Float64Array): Column => ({ name, type: 'numeric', values });
const values = (t: Table, name: string): Float64Array => {
  const c = findColumn(t, name);
  if (c.type !== 'numeric') throw new TypeError(`${t.source}: '${name}' is ${c.type}, expected numbers`);
  return c.values;
};
const levelsOf = (t: Table, name: string): Extract<Column, { levels: string[] }> => {
  const c = findColumn(t, name);
  if (c.type !== 'categorical' && c.type !== 'boolean') throw new TypeError(`${t.source}: '${name}' is ${c.type}, expected a factor`);
  return c;
};

function nafld(o: DebianFetchOptions): Histories {
  const patients = rBundleObject(R_BUNDLES.survival, 'nafld1', o);
  const tests = rBundleObject(R_BUNDLES.survival, 'nafld2', o);
  const diagnoses = rBundleObject(R_BUNDLES.survival, 'nafld3', o);
  const test = levelsOf(tests, 'test');
  const event = levelsOf(diagnoses, 'event');
  // One event table: a measurement is its test's name and value, a diagnosis its name alone.
  const levels = [...test.levels, ...event.levels];
  const n = tests.rows + diagnoses.rows;
  const type = new Int32Array(n);
  type.set(test.values);
  type.set(
    event.values.map((v) => (v < 0 ? -1 : v + test.levels.length)),
    tests.rows,
  );
  const cat = (a: Float64Array, b: Float64Array): Float64Array => {
    const out = new Float64Array(n);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const events: Table = {
    source: 'nafld (r-cran-survival nafld2 + nafld3)',
    rows: n,
    columns: [
      numeric('id', cat(values(tests, 'id'), values(diagnoses, 'id'))),
      numeric('days', cat(values(tests, 'days'), values(diagnoses, 'days'))),
      { name: 'type', type: 'categorical', values: type, levels },
      numeric('value', cat(values(tests, 'value'), new Float64Array(diagnoses.rows).fill(NaN))),
    ],
  };
  const id = values(patients, 'id');
  const futime = values(patients, 'futime');
  const status = values(patients, 'status');
  const kept = Array.from(id.keys()).filter((i) => futime[i]! > NAFLD_CUTOFF_DAY);
  const labels: Table = {
    source: 'nafld1',
    rows: kept.length,
    columns: [
      numeric(
        'id',
        Float64Array.from(kept, (i) => id[i]!),
      ),
      { name: 'death', type: 'categorical', values: Int32Array.from(kept, (i) => (status[i] === 1 ? 1 : 0)), levels: ['alive', 'death'] },
    ],
  };
  const h = groupEvents(
    events,
    { entity: 'id', time: 'days', categorical: ['type'], numeric: ['value'] },
    { cutoff: NAFLD_CUTOFF_DAY, maxLength: SEQUENCE_SETS.nafld!.maxLength, entities: kept.map((i) => String(id[i])) },
  );
  return attachLabels(h, labels, { entity: 'id', label: 'death' });
}

function storms(o: DebianFetchOptions): Histories {
  const t = rBundleObject(R_BUNDLES.dplyr, 'storms', o, { drop: Object.keys(SEQUENCE_SETS.storms!.drop).filter((c) => c !== 'status') });
  const name = levelsOf(t, 'name');
  const year = values(t, 'year');
  const [month, day, hour] = ['month', 'day', 'hour'].map((c) => values(t, c)) as [Float64Array, Float64Array, Float64Array];
  const status = levelsOf(t, 'status');
  const storm = Array.from({ length: t.rows }, (_, i) => `${name.levels[name.values[i]!]}-${year[i]}`);
  const hours = Float64Array.from({ length: t.rows }, (_, i) => Date.UTC(year[i]!, month[i]! - 1, day[i]!, hour[i]!) / 3_600_000);
  const first = new Map<string, number>();
  const hurricane = new Map<string, boolean>();
  storm.forEach((s, i) => {
    first.set(s, Math.min(first.get(s) ?? Infinity, hours[i]!));
    hurricane.set(s, (hurricane.get(s) ?? false) || status.levels[status.values[i]!] === 'hurricane');
  });
  const early = Array.from(storm.keys()).filter((i) => hours[i]! - first.get(storm[i]!)! <= STORM_HOURS);
  const events: Table = {
    source: 'storms (r-cran-dplyr)',
    rows: early.length,
    columns: [
      { name: 'storm', type: 'text', values: early.map((i) => storm[i]!) },
      numeric(
        'hours',
        Float64Array.from(early, (i) => hours[i]! - first.get(storm[i]!)!),
      ),
      numeric(
        'lat',
        Float64Array.from(early, (i) => values(t, 'lat')[i]!),
      ),
      numeric(
        'long',
        Float64Array.from(early, (i) => values(t, 'long')[i]!),
      ),
      numeric(
        'pressure',
        Float64Array.from(early, (i) => values(t, 'pressure')[i]!),
      ),
      {
        name: 'month',
        type: 'categorical',
        values: Int32Array.from(early, (i) => month[i]! - 1),
        levels: Array.from({ length: 12 }, (_, m) => String(m + 1)),
      },
    ],
  };
  const ids = [...hurricane.keys()];
  const labels: Table = {
    source: 'storms (status)',
    rows: ids.length,
    columns: [
      { name: 'storm', type: 'text', values: ids },
      { name: 'hurricane', type: 'categorical', values: Int32Array.from(ids, (s) => (hurricane.get(s) ? 1 : 0)), levels: ['no', 'yes'] },
    ],
  };
  const h = groupEvents(
    events,
    { entity: 'storm', time: 'hours', categorical: ['month'], numeric: ['lat', 'long', 'pressure'] },
    { maxLength: SEQUENCE_SETS.storms!.maxLength },
  );
  return attachLabels(h, labels, { entity: 'storm', label: 'hurricane' });
}

function movielens(o: DebianFetchOptions): Histories {
  const t = rBundleObject(R_BUNDLES.dslabs, 'movielens', o, { drop: ['title'] });
  const user = values(t, 'userId');
  const stamp = values(t, 'timestamp');
  const genres = levelsOf(t, 'genres');
  const byUser = new Map<number, number[]>();
  for (let i = 0; i < t.rows; i++) {
    if (!byUser.has(user[i]!)) byUser.set(user[i]!, []);
    byUser.get(user[i]!)!.push(i);
  }
  const isDrama = (i: number): boolean => genres.values[i]! >= 0 && genres.levels[genres.values[i]!]!.split('|').includes('Drama');
  const early: number[] = [];
  const ids: string[] = [];
  const drama: number[] = [];
  for (const [u, rows] of byUser) {
    rows.sort((a, b) => stamp[a]! - stamp[b]! || a - b);
    const half = Math.floor(rows.length / 2);
    early.push(...rows.slice(0, half));
    const later = rows.slice(half);
    ids.push(String(u));
    drama.push(later.filter(isDrama).length * 2 >= later.length ? 1 : 0);
  }
  const first = [...new Set(genres.levels.map((g) => g.split('|')[0]!))].sort();
  const firstOf = Int32Array.from(genres.levels, (g) => first.indexOf(g.split('|')[0]!));
  const movie = values(t, 'movieId');
  const movies = [...new Set(early.map((i) => movie[i]!))].sort((a, b) => a - b);
  const movieCode = new Map(movies.map((m, k) => [m, k]));
  const events: Table = {
    source: 'movielens (r-cran-dslabs, research-only terms)',
    rows: early.length,
    columns: [
      numeric(
        'user',
        Float64Array.from(early, (i) => user[i]!),
      ),
      numeric(
        'day',
        Float64Array.from(early, (i) => stamp[i]! / 86_400),
      ),
      {
        name: 'genre',
        type: 'categorical',
        values: Int32Array.from(early, (i) => (genres.values[i]! < 0 ? -1 : firstOf[genres.values[i]!]!)),
        levels: first,
      },
      { name: 'movie', type: 'categorical', values: Int32Array.from(early, (i) => movieCode.get(movie[i]!)!), levels: movies.map(String) },
      numeric(
        'rating',
        Float64Array.from(early, (i) => values(t, 'rating')[i]!),
      ),
      numeric(
        'year',
        Float64Array.from(early, (i) => values(t, 'year')[i]!),
      ),
    ],
  };
  const labels: Table = {
    source: 'movielens (later ratings)',
    rows: ids.length,
    columns: [
      { name: 'user', type: 'text', values: ids },
      { name: 'drama', type: 'categorical', values: Int32Array.from(drama), levels: ['other', 'drama'] },
    ],
  };
  const h = groupEvents(
    events,
    { entity: 'user', time: 'day', categorical: ['genre', 'movie'], numeric: ['rating', 'year'] },
    { maxLength: SEQUENCE_SETS.movielens!.maxLength, entities: ids },
  );
  return attachLabels(h, labels, { entity: 'user', label: 'drama' });
}

/** A benchmark's histories with labels, fetched and verified, and its fixed test split. */
export function loadSequenceSet(
  name: string,
  o: DebianFetchOptions = {},
): { set: SequenceSet; train: Histories; test: TestSplit<Histories>; all: Histories } {
  const set = SEQUENCE_SETS[name];
  if (!set) throw new RangeError(`unknown history set '${name}'; expected one of ${Object.keys(SEQUENCE_SETS).join(', ')}`);
  const all = name === 'nafld' ? nafld(o) : name === 'storms' ? storms(o) : movielens(o);
  return { set, all, ...holdOutHistories(all) };
}

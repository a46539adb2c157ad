import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateFeatures,
  attachLabels,
  encodeHistories,
  eventLayout,
  fitEvents,
  groupEvents,
  holdOutHistories,
  loadSequenceSet,
  NAFLD_CUTOFF_DAY,
  parseCsv,
  takeHistories,
  type Histories,
} from '../src/index.js';

const events = parseCsv(
  Buffer.from(
    [
      'id,t,kind,value',
      'a,5,lab,10', // out of order for a
      'a,1,lab,20',
      'a,5,visit,', // tied with the first
      'a,1,lab,20', // exact duplicate
      'b,2,visit,',
      ',3,lab,1', // no entity
      'b,,lab,1', // no time
      'b,9,lab,40',
      'b,12,lab,50',
      'b,30,lab,60', // after the cut-off
    ].join('\n'),
  ),
  'events.csv',
);
const events2Entities = (h: Histories, i: number): number[] => Array.from(h.time.subarray(h.offsets[i]!, h.offsets[i + 1]!));

describe('event histories', () => {
  it('groups, sorts, drops and reports what it fixed', () => {
    const h = groupEvents(events, { entity: 'id', time: 't' }, { cutoff: 20, maxLength: 2, entities: ['a', 'b', 'c'] });
    assert.deepEqual(h.entities, ['a', 'b', 'c']);
    assert.deepEqual(
      { ...h.report },
      {
        events: 4,
        entities: 3,
        missingKey: 2,
        afterCut: 1,
        unsorted: 1,
        tiedTimes: 1,
        duplicates: 1,
        cutEntities: 2,
        cutEvents: 2,
        empty: 1,
      },
    );
    // The latest two events of each: a keeps t=5 lab then t=5 visit (file order), b keeps 9 and 12.
    assert.deepEqual(events2Entities(h, 0), [5, 5]);
    assert.deepEqual(events2Entities(h, 1), [9, 12]);
    assert.deepEqual(events2Entities(h, 2), []);
    const kind = h.categorical[0]!;
    assert.deepEqual(
      Array.from(kind.codes.subarray(0, 2), (c) => kind.levels[c]),
      ['lab', 'visit'],
    );
    assert.deepEqual(Array.from(h.cut), [1, 1, 0]);
    assert.deepEqual(Array.from(h.end), [20, 20, 20]);
  });

  it('attaches labels, refuses conflicting ones, and holds out a stratified fifth', () => {
    const h = groupEvents(events, { entity: 'id', time: 't' });
    const labels = parseCsv(Buffer.from('id,y\na,churn\nb,stay\nzz,stay\n'), 'labels.csv');
    const l = attachLabels(h, labels, { entity: 'id', label: 'y' });
    assert.deepEqual(l.classes, ['churn', 'stay']);
    assert.deepEqual(Array.from(l.labels!), [0, 1]);
    const bad = parseCsv(Buffer.from('id,y\na,churn\na,stay\n'), 'labels.csv');
    assert.throws(() => attachLabels(h, bad, { entity: 'id', label: 'y' }), /entity 'a' has two labels \('churn' and 'stay'\)/);
    assert.throws(() => groupEvents(events, { entity: 'patient', time: 't' }), /column 'patient' is missing/);
  });

  it('encodes events by the training schema and aggregates them', () => {
    const h = groupEvents(events, { entity: 'id', time: 't' }, { cutoff: 20 });
    const s = fitEvents(h, { maxLength: 8, minCount: 1 });
    assert.equal(s.typeField, 'kind');
    // lab values before the cut-off: 10, 20 (its duplicate dropped), 40, 50.
    assert.deepEqual(s.numeric[0]!.byType.lab, { median: 30, scale: 30 });
    const e = encodeHistories(h, s);
    assert.deepEqual([e.entities, e.length, e.channels], [2, 3, eventLayout(s).channels]);
    assert.equal(e.channels, 6);
    // a's first event: lab (code 2), value 20 -> (20 - 30) / 30, present, no gap, valid.
    const first = Array.from(e.data.subarray(0, 6));
    assert.equal(first[0], 2);
    assert.ok(Math.abs(first[1]! + 1 / 3) < 1e-6);
    assert.equal(first[2], 1);
    assert.equal(first[3], Math.fround((0 - s.gap.median) / s.gap.scale));
    assert.equal(first[5], 1);
    // a's third event is the visit: no value, not present.
    const visit = Array.from(e.data.subarray(2 * 6, 3 * 6));
    assert.deepEqual([visit[0], visit[1], visit[2], visit[5]], [3, 0, 0, 1]);

    const other = groupEvents(parseCsv(Buffer.from('id,t,kind,value\nq,1,call,3\nq,2,lab,40\n'), 'x.csv'), { entity: 'id', time: 't' });
    const o = encodeHistories(other, s);
    assert.equal(o.unknown, 1, 'an unseen kind is coded unknown and counted');
    assert.equal(o.data[0], 1);

    const { names, matrix } = aggregateFeatures(h, s);
    const at = (row: number, name: string): number => matrix.data[row * matrix.cols + names.indexOf(name)]!;
    assert.equal(at(0, 'events'), 3);
    assert.equal(at(0, 'span'), 4);
    assert.equal(at(0, 'recency'), 15);
    assert.equal(at(0, 'count:kind=lab'), 2);
    assert.equal(at(0, 'share:kind=visit'), Math.fround(1 / 3));
    assert.equal(at(1, 'mean:value'), 45, 'b: 40 and 50 (its visit has no value)');
    assert.equal(at(1, 'last:value|lab'), 50);
    assert.equal(at(1, 'min:value|lab'), 40);
    assert.ok(Number.isNaN(at(1, 'mean:value|visit')), 'b has no visit with a value');
  });
});

describe('benchmark histories', () => {
  it('nafld: patients followed past day 730, nothing after it, death as the label', () => {
    const { all, train, test } = loadSequenceSet('nafld');
    assert.equal(all.entities.length, 15_239);
    assert.equal(all.labels!.filter((y) => y === 1).length, 1_036);
    assert.deepEqual(all.classes, ['alive', 'death']);
    assert.ok(
      all.time.every((t) => t <= NAFLD_CUTOFF_DAY),
      'no event after the cut-off',
    );
    assert.ok(
      all.end.every((t) => t === NAFLD_CUTOFF_DAY),
      'every history ends at the cut-off, not at death or censoring',
    );
    assert.equal(all.categorical[0]!.levels.length, 16);
    assert.equal(train.entities.length + 3048, all.entities.length);
    assert.equal(test.source, `${all.source}/test`);
  });

  it('movielens: the earlier half of each user ratings, the label from the later half', () => {
    const { all } = loadSequenceSet('movielens');
    assert.equal(all.entities.length, 671);
    assert.deepEqual(all.classes, ['drama', 'other']);
    assert.equal(all.labels!.filter((y) => y === 0).length, 248);
    // 100,004 ratings, each user's earlier half (rounded down) kept: 35,094 + 14,744 cut to 128.
    assert.equal(all.report.events + all.report.cutEvents, 49_838);
    assert.deepEqual(
      all.categorical.map((c) => c.name),
      ['genre', 'movie'],
    );
  });

  it('storms: the first 48 hours, wind and its derivatives dropped', () => {
    const { all } = loadSequenceSet('storms');
    assert.equal(all.entities.length, 512);
    assert.equal(all.labels!.filter((y) => y === 1).length, 246);
    const fields = [...all.categorical.map((c) => c.name), ...all.numeric.map((c) => c.name)];
    assert.deepEqual(fields.sort(), ['lat', 'long', 'month', 'pressure']);
    assert.ok(all.time.every((t) => t <= 48));
    const some = takeHistories(all, [0, 1]);
    assert.equal(some.entities.length, 2);
    assert.throws(() => holdOutHistories(groupEvents(events, { entity: 'id', time: 't' })), /has no labels/);
  });
});

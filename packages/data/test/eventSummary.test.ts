// Event preprocessing merged from site summaries: one site's summary gives what fitting on its
// histories gives, three sites' summaries give the pooled histories' scales closely, and a type
// no site sees minCount times is neither a level nor a scale.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitEvents,
  groupEvents,
  mergeHistorySummaries,
  parseCsv,
  summarizeHistories,
  takeHistories,
  type EventSchema,
  type Histories,
} from '../src/index.js';

/** Entities of three kinds of client: site k's amounts are about 10^k and its visits come k times as often. */
function histories(): Histories {
  let s = 17;
  const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const lines = ['id,t,kind,amount'];
  for (let e = 0; e < 300; e++) {
    const site = e % 3;
    let t = 0;
    for (let j = 0; j < 12; j++) {
      t += Math.ceil((rand() * 10) / (site + 1));
      const kind = rand() < 0.6 ? 'purchase' : 'refund';
      lines.push(`c${e},${t},${kind},${(10 ** site * (1 + rand() * 3)).toFixed(2)}`);
    }
    // A kind only the first three clients of each site have, once each.
    if (e < 9) lines.push(`c${e},${t + 1},chargeback,5`);
  }
  return groupEvents(parseCsv(Buffer.from(lines.join('\n')), 'events.csv'), { entity: 'id', time: 't' });
}

const close = (a: { median: number; scale: number }, b: { median: number; scale: number }, tol: number, what: string): void => {
  assert.ok(Math.abs(a.median - b.median) <= tol * b.scale, `${what} median ${a.median} vs ${b.median}`);
  assert.ok(Math.abs(a.scale - b.scale) <= tol * b.scale, `${what} scale ${a.scale} vs ${b.scale}`);
};

function sameAsFitted(merged: EventSchema, fitted: EventSchema, tol: number): void {
  assert.deepEqual(merged.categorical, fitted.categorical);
  assert.equal(merged.typeField, fitted.typeField);
  assert.equal(merged.timeUnit, fitted.timeUnit);
  assert.deepEqual(Object.keys(merged.numeric[0]!.byType).sort(), Object.keys(fitted.numeric[0]!.byType).sort());
  close(merged.numeric[0]!.all, fitted.numeric[0]!.all, tol, 'amount');
  for (const t of Object.keys(fitted.numeric[0]!.byType))
    close(merged.numeric[0]!.byType[t]!, fitted.numeric[0]!.byType[t]!, tol, `amount of ${t}`);
  close(merged.gap, fitted.gap, tol, 'gap');
}

describe('event preprocessing merged from site summaries', () => {
  const h = histories();

  it("one site's summary with nothing suppressed gives the schema fitted on its histories", () => {
    const fitted = fitEvents(h, { maxLength: 16, minCount: 1 });
    const { schema, leftOut } = mergeHistorySummaries({ a: summarizeHistories(h, { minCount: 1 }) }, { maxLength: 16, minCount: 1 });
    assert.deepEqual(leftOut, []);
    sameAsFitted(schema, fitted, 0.02);
  });

  it("three sites' summaries give the pooled histories' scales within a few percent of a spread", () => {
    const sites = [0, 1, 2].map((k) =>
      takeHistories(
        h,
        h.entities.flatMap((_, e) => (e % 3 === k ? [e] : [])),
      ),
    );
    const summaries = Object.fromEntries(sites.map((x, k) => [`site${k}`, summarizeHistories(x, {})]));
    const { schema } = mergeHistorySummaries(summaries, { maxLength: 16 });
    const fitted = fitEvents(h, { maxLength: 16 });
    // chargeback: 3 events at each site, 9 in all: fitting on the pooled events keeps it, no site names it.
    assert.deepEqual(fitted.categorical[0]!.levels, ['chargeback', 'purchase', 'refund']);
    assert.deepEqual(schema.categorical[0]!.levels, ['purchase', 'refund']);
    assert.equal(schema.numeric[0]!.byType.chargeback, undefined);
    assert.deepEqual(summaries.site0!.categorical[0]!.counts.chargeback, undefined);
    sameAsFitted(
      schema,
      {
        ...fitted,
        categorical: schema.categorical,
        numeric: [
          {
            ...fitted.numeric[0]!,
            byType: {
              purchase: fitted.numeric[0]!.byType.purchase!,
              refund: fitted.numeric[0]!.byType.refund!,
            },
          },
        ],
      },
      0.05,
    );
  });

  it('refuses sites that type events by different fields, and names a malformed summary', () => {
    const a = summarizeHistories(h, {});
    const b = summarizeHistories(h, { typeField: null });
    assert.throws(
      () => mergeHistorySummaries({ a, b }, { maxLength: 8 }),
      /the sites differ in the field that types events \(a: "kind", b: null\)/,
    );
    const bad = structuredClone(a);
    bad.gap.points.reverse();
    assert.throws(() => mergeHistorySummaries({ a, east: bad }, { maxLength: 8 }), /site 'east' gives the time gaps points out of order/);
  });
});

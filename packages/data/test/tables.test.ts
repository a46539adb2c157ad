// Table readers: CSV/TSV through csv-parse with inferred types, ARFF with declared ones; and
// like the safetensors reader, random and mutated bytes give a clear error naming the file,
// never a crash or a hang.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataFormatError, inferType, parseArff, parseCsv, column, type Column, type Table } from '../src/index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const values = (t: Table, name: string): Column['values'] => column(t, name).values;

const DIABETES_LIKE = `% a weka-style file
@relation 'pima diabetes'
@attribute preg numeric
@attribute 'plas glucose' real
@attribute insu integer
@attribute class {tested_negative, 'tested_positive'}
@attribute note string
@attribute seen date

@data
6,148,0,tested_positive,'said "hi", left',2026-01-02
1,85,?,tested_negative,?,?
% a comment between rows
{0 3, 3 tested_positive, 4 'sparse row'}
`;

describe('ARFF', () => {
  it('reads declared types, quoted names and values, missing cells and sparse rows', () => {
    const t = parseArff(enc(DIABETES_LIKE), 'diabetes.arff');
    assert.equal(t.rows, 3);
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.type]),
      [
        ['preg', 'numeric'],
        ['plas glucose', 'numeric'],
        ['insu', 'numeric'],
        ['class', 'categorical'],
        ['note', 'text'],
        ['seen', 'date'],
      ],
    );
    assert.deepEqual([...(values(t, 'preg') as Float64Array)], [6, 1, 3]);
    assert.deepEqual([...(values(t, 'insu') as Float64Array)], [0, NaN, 0], 'missing is NaN; sparse omits zeros');
    const cls = column(t, 'class') as Extract<Column, { levels: string[] }>;
    assert.deepEqual(cls.levels, ['tested_negative', 'tested_positive'], 'declared order kept');
    assert.deepEqual([...cls.values], [1, 0, 1]);
    assert.deepEqual(values(t, 'note'), ['said "hi", left', null, 'sparse row']);
    assert.equal((values(t, 'seen') as Float64Array)[0], Date.parse('2026-01-02'));
  });

  it("ignores trailing comments outside quotes, as weka's own files have them", () => {
    const t = parseArff(
      enc("@relation r\n@attribute total { low, high} % low < 100\n@attribute s string\n@data\nlow,'50% off' % a sale\n"),
      'c.arff',
    );
    assert.deepEqual((column(t, 'total') as Extract<Column, { levels: string[] }>).levels, ['low', 'high']);
    assert.deepEqual(values(t, 's'), ['50% off']);
  });

  it('drops columns on request', () => {
    const t = parseArff(enc(DIABETES_LIKE), 'd.arff', { drop: ['note', 'seen'] });
    assert.deepEqual(
      t.columns.map((c) => c.name),
      ['preg', 'plas glucose', 'insu', 'class'],
    );
    assert.throws(() => parseArff(enc(DIABETES_LIKE), 'd.arff', { drop: ['nope'] }), /no attribute 'nope' to drop/);
  });

  for (const [what, text, error] of [
    [
      'a row with too few values',
      '@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1\n',
      /r\.arff:5: 1 values, but 2 attributes/,
    ],
    [
      'a value outside a nominal set',
      '@relation r\n@attribute c {x, y}\n@data\nz\n',
      /column 'c', row 1: 'z' is not one of its declared values/,
    ],
    ['a non-number in a numeric column', '@relation r\n@attribute a numeric\n@data\nabc\n', /'abc' is not a number/],
    ['an unknown type', '@relation r\n@attribute a complex\n@data\n', /r\.arff:2: 'a' has unknown type 'complex'/],
    ['no @relation', '@attribute a numeric\n@data\n1\n', /r\.arff:1: @attribute before @relation/],
    ['an open quote', "@relation r\n@attribute a string\n@data\n'abc\n", /r\.arff:4: a quote is not closed/],
    ['a sparse index past the attributes', '@relation r\n@attribute a numeric\n@data\n{3 1}\n', /sparse index 3 is past the 1 attributes/],
  ] as const)
    it(`refuses ${what}, naming the file and line`, () => {
      assert.throws(
        () => parseArff(enc(text), 'r.arff'),
        (e: unknown) => e instanceof DataFormatError && error.test(e.message),
      );
    });
});

describe('CSV and TSV', () => {
  it('infers numeric, boolean, date, categorical and text columns, and reads quoted fields', () => {
    const rows = ['id,amount,late,opened,grade,comment'];
    for (let i = 0; i < 120; i++)
      rows.push(
        `${i},${(i * 1.5).toFixed(1)},${i % 2 ? 'yes' : 'no'},2026-0${1 + (i % 9)}-1${i % 10},${'ABC'[i % 3]},"note ${i}, with a comma"`,
      );
    rows.push('120,NA,,2026-01-01,,');
    const t = parseCsv(enc(`\ufeff${rows.join('\r\n')}\n`), 'loans.csv', { drop: ['id'] });
    assert.equal(t.rows, 121);
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.type]),
      [
        ['amount', 'numeric'],
        ['late', 'boolean'],
        ['opened', 'date'],
        ['grade', 'categorical'],
        ['comment', 'text'],
      ],
    );
    assert.ok(Number.isNaN((values(t, 'amount') as Float64Array)[120]!));
    assert.deepEqual((column(t, 'grade') as Extract<Column, { levels: string[] }>).levels, ['A', 'B', 'C']);
    assert.equal((values(t, 'grade') as Int32Array)[120], -1);
    assert.equal((values(t, 'comment') as (string | null)[])[3], 'note 3, with a comma');
  });

  it('takes tabs for .tsv files and given types over inferred ones', () => {
    const t = parseCsv(enc('zip\tclass\n02134\t1\n10001\t0\n'), 'a.tsv', { types: { zip: 'categorical', class: 'boolean' } });
    assert.deepEqual((column(t, 'zip') as Extract<Column, { levels: string[] }>).levels, ['02134', '10001']);
    assert.throws(() => parseCsv(enc('a,b\n1,2\n'), 'x.csv', { types: { c: 'numeric' } }), /x\.csv: no column 'c' \(it has a, b\)/);
  });

  it('refuses ragged rows, duplicate or empty header names, and binary data, naming the file', () => {
    assert.throws(() => parseCsv(enc('a,b\n1,2\n3\n'), 'r.csv'), /r\.csv: .*(column|record)/i);
    assert.throws(() => parseCsv(enc('a,a\n1,2\n'), 'r.csv'), /r\.csv: column 'a' appears twice/);
    assert.throws(() => parseCsv(enc('a,\n1,2\n'), 'r.csv'), /r\.csv: header column 2 has no name/);
    assert.throws(() => parseCsv(Uint8Array.from([0x61, 0x00, 0x62]), 'r.csv'), /r\.csv: binary data/);
    assert.throws(() => parseCsv(enc(''), 'r.csv'), /r\.csv: empty/);
  });

  it('infers by the values, with few distinct strings as categories', () => {
    assert.equal(inferType(['1', '2.5', '-3e2', 'NA']), 'numeric');
    assert.equal(inferType(['true', 'False', '']), 'boolean');
    assert.equal(inferType(['2026-01-01', '2026-02-03T10:00:00Z']), 'date');
    assert.equal(inferType(['a', 'b', 'a']), 'categorical');
    assert.equal(
      inferType(
        Array.from({ length: 100 }, (_, i) => `free text ${i}`),
        10,
      ),
      'text',
    );
  });
});

describe('table readers under fuzzing', () => {
  const valid = enc(DIABETES_LIKE);
  const csv = enc('a,b,c\n1,x,2026-01-01\n2,y,2026-01-02\n');
  const onlyClearErrors = (read: () => unknown, file: string): void => {
    try {
      read();
    } catch (e) {
      assert.ok(e instanceof DataFormatError, `${file}: not a DataFormatError: ${String(e)}`);
      assert.ok((e as Error).message.includes(file), `the message names the file: ${(e as Error).message}`);
    }
  };
  it('answers random bytes with a result or a clear error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        onlyClearErrors(() => parseArff(bytes, 'random.arff'), 'random.arff');
        onlyClearErrors(() => parseCsv(bytes, 'random.csv'), 'random.csv');
      }),
      { numRuns: 400, seed: 1204 },
    );
  });
  it('answers mutated files with a result or a clear error', () => {
    const mutate = (base: Uint8Array) =>
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
        const b = Uint8Array.from(base);
        for (const [i, v] of edits) b[i] = v;
        return b;
      });
    fc.assert(
      fc.property(mutate(valid), (b) => onlyClearErrors(() => parseArff(b, 'mutated.arff'), 'mutated.arff')),
      { numRuns: 400, seed: 1205 },
    );
    fc.assert(
      fc.property(mutate(csv), (b) => onlyClearErrors(() => parseCsv(b, 'mutated.csv'), 'mutated.csv')),
      { numRuns: 400, seed: 1206 },
    );
  });
});

// R's saved data: a data frame written here in R's XDR serialization (version 2 and 3, with
// the ALTREP forms R 3.5+ writes) comes back as the table R would show, through every
// container and compression R uses; random and mutated bytes, compressed or not, give a
// DataFormatError naming the file, never a crash, a huge allocation or a hang.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { lzma2, xz } from '@napi-rs/lzma';
import { DataFormatError, column, readRData, unserialize, type Column } from '../src/index.js';

const NA_INT = -2147483648;

/** A minimal writer of R's XDR serialization, enough for data frames. */
class RWriter {
  private parts: Buffer[] = [];
  int(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  double(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    this.parts.push(b);
    return this;
  }
  char(s: string | null): this {
    if (s === null) return this.int(9).int(-1);
    const b = Buffer.from(s, 'utf8');
    this.int(9 | (8 << 12)).int(b.length);
    this.parts.push(b);
    return this;
  }
  /** A pairlist of attributes: name -> writer of the value. */
  attrs(a: [string, (w: RWriter) => void][]): this {
    for (const [name, f] of a) {
      this.int(2 | (1 << 10)); // LISTSXP with a tag
      this.int(1).char(name); // SYMSXP
      f(this);
    }
    return this.int(254);
  }
  strs(xs: (string | null)[], attr?: [string, (w: RWriter) => void][]): this {
    this.int(16 | (attr ? 1 << 9 : 0)).int(xs.length);
    for (const x of xs) this.char(x);
    return attr ? this.attrs(attr) : this;
  }
  ints(type: 10 | 13, xs: number[], attr?: [string, (w: RWriter) => void][]): this {
    this.int(type | (attr ? 1 << 9 : 0)).int(xs.length);
    for (const x of xs) this.int(x);
    return attr ? this.attrs(attr) : this;
  }
  reals(xs: number[], attr?: [string, (w: RWriter) => void][]): this {
    this.int(14 | (attr ? 1 << 9 : 0)).int(xs.length);
    for (const x of xs) this.double(x);
    return attr ? this.attrs(attr) : this;
  }
  header(version: 2 | 3): this {
    this.parts.push(Buffer.from('X\n'));
    this.int(version).int(0x40300).int(0x20300);
    if (version === 3) this.int(5).parts.push(Buffer.from('UTF-8'));
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const cls =
  (...c: string[]) =>
  (w: RWriter) =>
    void w.strs(c);

/** A patient-style data frame: numeric with NA, factor with NA, logical with NA, Date, text. */
function patients(version: 2 | 3): Buffer {
  const w = new RWriter().header(version);
  w.int(19 | (1 << 8) | (1 << 9)).int(5); // VECSXP, object, attributes
  w.reals([61.5, NaN, 47]);
  w.ints(
    13,
    [2, 1, NA_INT],
    [
      ['levels', (x) => void x.strs(['F', 'M'])],
      ['class', cls('factor')],
    ],
  );
  w.ints(10, [1, NA_INT, 0]);
  w.reals([19000, 19001, NaN], [['class', cls('Date')]]);
  w.ints(13, [3, NA_INT, 7]);
  w.attrs([
    ['names', (x) => void x.strs(['age', 'sex', 'smoker', 'seen', 'visits'])],
    ['class', cls('data.frame')],
    [
      'row.names',
      version === 3
        ? // ALTREP compact_intseq 1:3, as R 3.5+ writes row names
          (x) => {
            x.int(238);
            x.int(2).int(1).char('compact_intseq').int(2).int(1).char('base').int(2).ints(13, [13]).int(254);
            x.reals([3, 1, 1]);
            x.int(254);
          }
        : (x) => void x.ints(13, [NA_INT, -3]),
    ],
  ]);
  return w.bytes();
}

function rda(name: string, body: Buffer): Buffer {
  const w = new RWriter();
  w.int(2 | (1 << 10))
    .int(1)
    .char(name);
  // the object's serialization without its own header, then the end of the pairlist
  const head = body.indexOf(Buffer.from('X\n')) === 0 ? (body.readInt32BE(2) === 3 ? 2 + 12 + 4 + 5 : 2 + 12) : 0;
  return Buffer.concat([Buffer.from('RDX3\n'), body.subarray(0, head), w.bytes(), body.subarray(head), Buffer.from([0, 0, 0, 254])]);
}

function checkPatients(t: ReturnType<typeof readRData>): void {
  assert.equal(t.rows, 3);
  assert.deepEqual(
    t.columns.map((c) => [c.name, c.type]),
    [
      ['age', 'numeric'],
      ['sex', 'categorical'],
      ['smoker', 'boolean'],
      ['seen', 'date'],
      ['visits', 'numeric'],
    ],
  );
  assert.deepEqual(Array.from(column(t, 'age').values as Float64Array), [61.5, NaN, 47]);
  const sex = column(t, 'sex') as Extract<Column, { levels: string[] }>;
  assert.deepEqual(
    [sex.levels, Array.from(sex.values)],
    [
      ['F', 'M'],
      [1, 0, -1],
    ],
  );
  assert.deepEqual(Array.from(column(t, 'smoker').values as Int32Array), [1, -1, 0]);
  assert.equal(new Date((column(t, 'seen').values as Float64Array)[0]!).toISOString().slice(0, 10), '2022-01-08');
  assert.deepEqual(Array.from(column(t, 'visits').values as Float64Array), [3, NaN, 7]);
}

const dir = mkdtempSync(join(tmpdir(), 'rdata-'));
const file = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe('R saved data', () => {
  it('reads a data frame from .rds and .rda, versions 2 and 3, plain, gzip and xz', () => {
    for (const v of [2, 3] as const) {
      const body = patients(v);
      checkPatients(readRData(file(`p${v}.rds`, body)));
      checkPatients(readRData(file(`p${v}.gz.rds`, gzipSync(body))));
      checkPatients(readRData(file(`p${v}.rda`, xz.compressSync(rda('patients', body)))));
    }
  });

  it('reads bzip2 files and lazy-load bundles compressed with zlib, bzip2, raw LZMA2 or stored', () => {
    const body = patients(3);
    checkPatients(readRData(file('p.bz2.rds', bzip2(body))));
    const schemes: [string, number | boolean, (b: Buffer) => Buffer][] = [
      ['zlib', true, (b) => deflateSync(b)],
      ['lzma2', 3, (b) => Buffer.concat([Buffer.from('Z'), lzma2.compressSync(b)])],
      ['bzip2', 2, (b) => Buffer.concat([Buffer.from('2'), bzip2(b).subarray(0)])],
      ['stored', 3, (b) => Buffer.concat([Buffer.from('0'), b])],
    ];
    for (const [name, scheme, pack] of schemes) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      const filler = Buffer.from('unrelated object bytes');
      const obj = Buffer.concat([len, pack(body)]);
      const rdb = file(`${name}.rdb`, Buffer.concat([filler, obj]));
      file(`${name}.rdx`, gzipSync(index(filler.length, obj.length, scheme)));
      const t = readRData(rdb, { object: 'patients', drop: ['visits'] });
      assert.deepEqual(
        t.columns.map((c) => c.name),
        ['age', 'sex', 'smoker', 'seen'],
        name,
      );
      assert.throws(() => readRData(rdb), /name the object to read; it holds patients/);
      assert.throws(() => readRData(rdb, { object: 'cars' }), /no object 'cars'; it holds patients/);
    }
  });

  it('names what it cannot read: not a data frame, a missing column to drop, code objects', () => {
    const vec = new RWriter().header(2).reals([1, 2]).bytes();
    assert.throws(() => readRData(file('vec.rds', vec)), /vec\.rds: an R double, not a data frame/);
    assert.throws(() => readRData(file('df.rds', patients(2)), { drop: ['weight'] }), /no column 'weight' to drop/);
    const code = new RWriter().header(2).int(22).bytes();
    assert.throws(() => readRData(file('ptr.rds', code)), /code or a pointer/);
    assert.throws(() => unserialize(Buffer.from('A\n1\n'), 'ascii.rds'), /ASCII serialization is not supported/);
  });

  it('fuzz: random and mutated bytes give a DataFormatError naming the file, in every container', () => {
    const real = patients(3);
    const containers: [string, (b: Uint8Array) => Uint8Array][] = [
      ['x.rds', (b) => b],
      ['x.gz.rds', (b) => gzipSync(b)],
      ['x.rda', (b) => xz.compressSync(Buffer.concat([Buffer.from('RDX3\n'), b]))],
    ];
    const check = (name: string, bytes: Uint8Array): boolean => {
      try {
        readRData(file(name, bytes));
      } catch (e) {
        assert.ok(e instanceof DataFormatError, `${name}: ${(e as Error).name}: ${(e as Error).message}`);
        assert.ok((e as Error).message.startsWith(join(dir, name)), (e as Error).message);
      }
      return true;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check('random.rds', b)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.constantFrom(...containers),
        (edits, cut, [name, wrap]) => {
          const b = Buffer.from(real);
          for (const [at, v] of edits) b[at % b.length] = v;
          const packed = Buffer.from(wrap(b.subarray(0, b.length - (cut % 8))));
          // mutate the compressed bytes too, past the magic number
          if (packed.length > 12) packed[6 + (cut % (packed.length - 6))]! ^= 0x5a;
          return check(name, cut % 2 ? packed : wrap(b));
        },
      ),
      { numRuns: 400 },
    );
  });
});

function bzip2(b: Uint8Array): Buffer {
  const r = spawnSync('python3', ['-c', 'import sys,bz2; sys.stdout.buffer.write(bz2.compress(sys.stdin.buffer.read()))'], { input: b });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

/** A lazy-load index (.rdx): list(variables = list(patients = c(offset, length)), references = list(), compressed = scheme). */
function index(offset: number, length: number, scheme: number | boolean): Buffer {
  const w = new RWriter().header(2);
  w.int(19 | (1 << 9)).int(3);
  w.int(19 | (1 << 9))
    .int(1)
    .ints(13, [offset, length])
    .attrs([['names', (x) => void x.strs(['patients'])]]);
  w.int(19).int(0);
  if (typeof scheme === 'boolean') w.ints(10, [scheme ? 1 : 0]);
  else w.ints(13, [scheme]);
  w.attrs([['names', (x) => void x.strs(['variables', 'references', 'compressed'])]]);
  return w.bytes();
}

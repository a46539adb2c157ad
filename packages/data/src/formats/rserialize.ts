// R's serialization format (what saveRDS, save and lazy-load bundles write), XDR flavour,
// versions 2 and 3: a stream of items, each a flags word (type, object bit, attribute and
// tag bits) followed by its payload. Reads the data a data set holds (vectors, lists,
// pairlists, attributes, symbols, the compact ALTREP forms); code objects (closures, byte
// code, external pointers) are refused by name. Every read is bounds-checked and every
// declared length is checked against the bytes left, so hostile input is a DataFormatError
// naming the source and the offset, never a crash, a huge allocation or a hang.
import { DataFormatError } from '../errors.js';

export type RAttributes = Map<string, RValue>;

export type RValue =
  | { kind: 'null' }
  | { kind: 'symbol'; name: string }
  | { kind: 'logical' | 'integer'; values: Int32Array; attributes: RAttributes }
  | { kind: 'double'; values: Float64Array; attributes: RAttributes }
  | { kind: 'string'; values: (string | null)[]; attributes: RAttributes }
  | { kind: 'list'; values: RValue[]; attributes: RAttributes }
  | { kind: 'pairlist'; items: { tag: string | null; value: RValue }[]; attributes: RAttributes }
  | { kind: 'raw'; values: Uint8Array; attributes: RAttributes }
  | { kind: 'environment' }
  /** Something a data set does not hold (code, external pointers); kept as its type name. */
  | { kind: 'unsupported'; what: string };

/** R's integer NA. */
export const R_NA_INTEGER = -2147483648;

const NULL: RValue = { kind: 'null' };
const SXP = {
  NIL: 0,
  SYM: 1,
  LIST: 2,
  CLO: 3,
  ENV: 4,
  PROM: 5,
  LANG: 6,
  SPECIAL: 7,
  BUILTIN: 8,
  CHAR: 9,
  LGL: 10,
  INT: 13,
  REAL: 14,
  CPLX: 15,
  STR: 16,
  DOT: 17,
  VEC: 19,
  EXPR: 20,
  BCODE: 21,
  EXTPTR: 22,
  WEAKREF: 23,
  RAW: 24,
  S4: 25,
  ALTREP: 238,
  ATTRLIST: 239,
  ATTRLANG: 240,
  BASEENV: 241,
  EMPTYENV: 242,
  BCREPREF: 243,
  BCREPDEF: 244,
  GENERICREF: 245,
  CLASSREF: 246,
  PERSIST: 247,
  PACKAGE: 248,
  NAMESPACE: 249,
  BASENAMESPACE: 250,
  MISSINGARG: 251,
  UNBOUNDVALUE: 252,
  GLOBALENV: 253,
  NILVALUE: 254,
  REF: 255,
} as const;

/** Nesting deeper than this is refused (real data nests a handful of levels). */
const MAX_DEPTH = 512;

class XdrReader {
  private pos = 0;
  readonly refs: RValue[] = [];
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(what: string): never {
    throw new DataFormatError(`${this.source}: ${what} (at byte ${this.pos} of the R serialization)`);
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.bytes.length) this.fail(`${what} runs past the end of the data`);
  }
  int(): number {
    this.need(4, 'an integer');
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  double(): number {
    this.need(8, 'a number');
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A vector length (long lengths as two words), checked against the bytes left at `each` bytes per element. */
  length(each: number, what: string): number {
    let n = this.int();
    if (n === -1) {
      const hi = this.int();
      const lo = this.int() >>> 0;
      n = hi * 2 ** 32 + lo;
    }
    if (n < 0) this.fail(`a negative length for ${what}`);
    if (n * each > this.bytes.length - this.pos) this.fail(`${what} declares ${n} elements, more than the data holds`);
    return n;
  }
  get offset(): number {
    return this.pos;
  }
}

/** Reads one serialized R object from `bytes` (starting at the `X\n` format mark). */
export function unserialize(bytes: Uint8Array, source: string): RValue {
  const r = new XdrReader(bytes, source);
  const mark = r.take(2, 'the format mark');
  if (mark[0] !== 0x58 || mark[1] !== 0x0a) {
    const kind = mark[0] === 0x41 ? 'ASCII' : mark[0] === 0x42 ? 'native binary' : null;
    r.fail(kind ? `R's ${kind} serialization is not supported; save with the default (XDR)` : 'not an R serialization (no X mark)');
  }
  const version = r.int();
  r.int(); // the R version that wrote it
  r.int(); // the oldest R version that reads it
  if (version === 3) r.take(r.length(1, 'the native encoding'), 'the native encoding');
  else if (version !== 2) r.fail(`serialization version ${version}; only 2 and 3 are read`);
  return readItem(r, 0);
}

function flagsOf(flags: number): { type: number; hasAttr: boolean; hasTag: boolean; levels: number } {
  return { type: flags & 0xff, hasAttr: (flags & (1 << 9)) !== 0, hasTag: (flags & (1 << 10)) !== 0, levels: flags >>> 12 };
}

/** Attributes as a map from a pairlist (names are the tags). */
function attributesOf(v: RValue, r: XdrReader): RAttributes {
  const out: RAttributes = new Map();
  if (v.kind === 'null') return out;
  if (v.kind !== 'pairlist') r.fail('attributes that are not a pairlist');
  for (const { tag, value } of v.items) if (tag !== null) out.set(tag, value);
  return out;
}

function charsxp(r: XdrReader, flags: number): string | null {
  const { type, levels } = flagsOf(flags);
  if (type !== SXP.CHAR) r.fail(`a string element of type ${type}, not a CHARSXP`);
  const n = r.int();
  if (n === -1) return null;
  if (n < 0) r.fail('a negative string length');
  const bytes = r.take(n, 'a string');
  // levels bit 2 (LATIN1) marks Latin-1; UTF-8, ASCII and native are read as UTF-8.
  return (levels & 4) !== 0 ? new TextDecoder('latin1').decode(bytes) : new TextDecoder('utf-8').decode(bytes);
}

function stringVector(r: XdrReader): string[] {
  if (r.int() !== 0) r.fail('a package or namespace name that is not a plain string vector');
  const n = r.length(4, 'a name vector');
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(charsxp(r, r.int()) ?? 'NA');
  return out;
}

function readItem(r: XdrReader, depth: number): RValue {
  return readWithFlags(r, r.int(), depth);
}

function readWithFlags(r: XdrReader, flags: number, depth: number): RValue {
  if (depth > MAX_DEPTH) r.fail(`objects nested more than ${MAX_DEPTH} deep`);
  const { type, hasAttr } = flagsOf(flags);
  switch (type) {
    case SXP.NILVALUE:
      return NULL;
    case SXP.EMPTYENV:
    case SXP.BASEENV:
    case SXP.GLOBALENV:
    case SXP.BASENAMESPACE:
      return { kind: 'environment' };
    case SXP.UNBOUNDVALUE:
    case SXP.MISSINGARG:
      return { kind: 'unsupported', what: type === SXP.MISSINGARG ? 'missing argument' : 'unbound value' };
    case SXP.REF: {
      let index = flags >>> 8;
      if (index === 0) index = r.int();
      const v = r.refs[index - 1];
      if (v === undefined) r.fail(`a reference to object ${index}, which was not read before`);
      return v;
    }
    case SXP.PERSIST: {
      const names = stringVector(r);
      const v: RValue = { kind: 'unsupported', what: `persistent reference ${names.join('/')}` };
      r.refs.push(v);
      return v;
    }
    case SXP.PACKAGE:
    case SXP.NAMESPACE: {
      stringVector(r);
      const v: RValue = { kind: 'environment' };
      r.refs.push(v);
      return v;
    }
    case SXP.SYM: {
      const name = charsxp(r, r.int()) ?? 'NA';
      const v: RValue = { kind: 'symbol', name };
      r.refs.push(v);
      return v;
    }
    case SXP.ENV: {
      const v: RValue = { kind: 'environment' };
      r.refs.push(v);
      r.int(); // locked
      readItem(r, depth + 1); // enclosure
      readItem(r, depth + 1); // frame
      readItem(r, depth + 1); // hash table
      readItem(r, depth + 1); // attributes
      return v;
    }
    case SXP.LIST:
    case SXP.LANG:
    case SXP.CLO:
    case SXP.PROM:
    case SXP.DOT:
    case SXP.ATTRLIST:
    case SXP.ATTRLANG:
      return pairlist(r, flags, depth);
    case SXP.SPECIAL:
    case SXP.BUILTIN: {
      const n = r.length(1, 'a builtin name');
      r.take(n, 'a builtin name');
      return { kind: 'unsupported', what: 'builtin function' };
    }
    case SXP.CHAR:
      return { kind: 'string', values: [charsxp(r, flags)], attributes: new Map() };
    case SXP.LGL:
    case SXP.INT: {
      const n = r.length(4, 'an integer vector');
      const values = new Int32Array(n);
      for (let i = 0; i < n; i++) values[i] = r.int();
      return withAttributes(r, { kind: type === SXP.LGL ? 'logical' : 'integer', values, attributes: new Map() }, hasAttr, depth);
    }
    case SXP.REAL: {
      const n = r.length(8, 'a numeric vector');
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = r.double();
      return withAttributes(r, { kind: 'double', values, attributes: new Map() }, hasAttr, depth);
    }
    case SXP.CPLX: {
      const n = r.length(16, 'a complex vector');
      r.take(16 * n, 'a complex vector');
      withAttributes(r, NULL, hasAttr, depth);
      return { kind: 'unsupported', what: 'complex vector' };
    }
    case SXP.STR: {
      const n = r.length(4, 'a character vector');
      const values: (string | null)[] = new Array<string | null>(n);
      for (let i = 0; i < n; i++) values[i] = charsxp(r, r.int());
      return withAttributes(r, { kind: 'string', values, attributes: new Map() }, hasAttr, depth);
    }
    case SXP.VEC:
    case SXP.EXPR: {
      const n = r.length(4, 'a list');
      const values: RValue[] = [];
      for (let i = 0; i < n; i++) values.push(readItem(r, depth + 1));
      return withAttributes(r, { kind: 'list', values, attributes: new Map() }, hasAttr, depth);
    }
    case SXP.RAW: {
      const n = r.length(1, 'a raw vector');
      const values = r.take(n, 'a raw vector').slice();
      return withAttributes(r, { kind: 'raw', values, attributes: new Map() }, hasAttr, depth);
    }
    case SXP.ALTREP:
      return altrep(r, depth);
    case SXP.S4: {
      const v = withAttributes(r, { kind: 'list', values: [], attributes: new Map() }, hasAttr, depth);
      return { ...v, kind: 'list' };
    }
    case SXP.BCODE:
    case SXP.EXTPTR:
    case SXP.WEAKREF:
    case SXP.BCREPDEF:
    case SXP.BCREPREF:
    case SXP.CLASSREF:
    case SXP.GENERICREF:
      r.fail(`an R object of type ${type} (code or a pointer), which a data set does not hold`);
    // falls through: fail() never returns
    default:
      r.fail(`unknown R object type ${type}`);
  }
}

function withAttributes<T extends RValue>(r: XdrReader, v: T, hasAttr: boolean, depth: number): T {
  if (!hasAttr) return v;
  const attributes = attributesOf(readItem(r, depth + 1), r);
  return 'attributes' in v ? { ...v, attributes } : v;
}

/** A pairlist-like chain, read along its CDRs in a loop (long pairlists do not recurse). */
function pairlist(r: XdrReader, firstFlags: number, depth: number): RValue {
  const items: { tag: string | null; value: RValue }[] = [];
  let attributes: RAttributes = new Map();
  let flags = firstFlags;
  let first = true;
  const kind = flagsOf(flags).type;
  for (;;) {
    const f = flagsOf(flags);
    const attrs = f.hasAttr ? attributesOf(readItem(r, depth + 1), r) : null;
    if (first && attrs) attributes = attrs;
    let tag: string | null = null;
    if (f.hasTag) {
      const t = readItem(r, depth + 1);
      tag = t.kind === 'symbol' ? t.name : t.kind === 'string' ? (t.values[0] ?? null) : null;
    }
    items.push({ tag, value: readItem(r, depth + 1) });
    first = false;
    // The CDR: another cell of the chain continues the loop; anything else (a closure's
    // body, a dotted pair's tail) is read and ends it.
    const next = r.int();
    const nt = next & 0xff;
    if (nt === SXP.NILVALUE) break;
    if ((kind === SXP.LIST || kind === SXP.ATTRLIST || kind === SXP.DOT) && (nt === SXP.LIST || nt === SXP.ATTRLIST)) {
      flags = next;
      continue;
    }
    readWithFlags(r, next, depth + 1);
    break;
  }
  if (kind !== SXP.LIST && kind !== SXP.ATTRLIST && kind !== SXP.DOT) {
    return { kind: 'unsupported', what: 'R code (a function, promise or call)' };
  }
  return { kind: 'pairlist', items, attributes };
}

/** The ALTREP classes R writes for data: compact sequences, wrappers and deferred strings. */
function altrep(r: XdrReader, depth: number): RValue {
  const info = readItem(r, depth + 1);
  const state = readItem(r, depth + 1);
  const attr = readItem(r, depth + 1);
  const cls = info.kind === 'pairlist' && info.items[0]?.value.kind === 'symbol' ? info.items[0].value.name : '?';
  const attributes = attributesOf(attr, r);
  const seq = (values: ArrayLike<number>): { n: number; start: number; step: number } => {
    const [n = NaN, start = NaN, step = NaN] = Array.from(values);
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 || !Number.isFinite(start) || !Number.isFinite(step))
      r.fail(`a compact sequence with bad parameters`);
    return { n, start, step };
  };
  switch (cls) {
    case 'compact_intseq': {
      if (state.kind !== 'double' && state.kind !== 'integer') r.fail('a compact integer sequence without its parameters');
      const { n, start, step } = seq(state.values);
      return { kind: 'integer', values: Int32Array.from({ length: n }, (_, i) => start + i * step), attributes };
    }
    case 'compact_realseq': {
      if (state.kind !== 'double') r.fail('a compact numeric sequence without its parameters');
      const { n, start, step } = seq(state.values);
      return { kind: 'double', values: Float64Array.from({ length: n }, (_, i) => start + i * step), attributes };
    }
    case 'wrap_integer':
    case 'wrap_logical':
    case 'wrap_real':
    case 'wrap_string':
    case 'wrap_list': {
      const inner = state.kind === 'list' ? state.values[0] : undefined;
      if (!inner || !('attributes' in inner)) r.fail(`an ALTREP ${cls} without its vector`);
      return { ...inner, attributes: attributes.size ? attributes : inner.attributes } as RValue;
    }
    case 'deferred_string': {
      const inner = state.kind === 'pairlist' ? state.items[0]?.value : undefined;
      if (!inner || (inner.kind !== 'integer' && inner.kind !== 'double')) r.fail('a deferred string without its numbers');
      const values = Array.from(inner.values, (x) =>
        inner.kind === 'integer' ? (x === R_NA_INTEGER ? null : String(x)) : Number.isNaN(x) ? null : String(x),
      );
      return { kind: 'string', values, attributes };
    }
    default:
      r.fail(`an ALTREP object of class '${cls}', which is not read`);
  }
}

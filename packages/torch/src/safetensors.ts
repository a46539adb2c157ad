// safetensors, the weights format of the Hugging Face ecosystem: an 8-byte little-endian
// header length N, N bytes of JSON describing each tensor, then the raw little-endian data.
// Writing follows the reference implementation's layout; reading validates as it does, so a
// file is either read exactly or rejected with a reason, never half-read.
import { readFileSync, renameSync, writeFileSync, openSync, closeSync, fsyncSync } from 'node:fs';
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode, dtypeSize, type DType } from './dtype.js';

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** The reference reader's limit on the JSON header. */
export const MAX_HEADER_BYTES = 100_000_000;

const toFormat: Readonly<Record<DType, string>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const fromFormat = new Map<string, DType>(Object.entries(toFormat).map(([d, f]) => [f, d as DType]));
/** The reference's dtype order; tensors are written largest-first so each starts aligned. */
const formatOrder = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

export type TensorMap = Map<string, Tensor> | Record<string, Tensor>;

/** Serializes tensors (and string metadata) to safetensors bytes. */
export function serialize(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors : Object.entries(tensors))];
  const names = new Set<string>();
  for (const [name] of entries) {
    if (name === '__metadata__') throw new SafetensorsError("'__metadata__' is reserved and cannot name a tensor");
    if (names.has(name)) throw new SafetensorsError(`duplicate tensor name '${name}'`);
    names.add(name);
  }
  const prepared = entries.map(([name, t]) => ({
    name,
    format: toFormat[t.dtype],
    shape: t.shape,
    bytes: new Uint8Array(native.toBuffer(t.h)),
  }));
  prepared.sort(
    (a, b) => formatOrder.indexOf(b.format) - formatOrder.indexOf(a.format) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata value for '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const p of prepared) {
    header[p.name] = { dtype: p.format, shape: p.shape, data_offsets: [offset, offset + p.bytes.byteLength] };
    offset += p.bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) json = Buffer.concat([json, Buffer.alloc(padded - json.byteLength, 0x20)]);
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const p of prepared) {
    out.set(p.bytes, at);
    at += p.bytes.byteLength;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export interface Header {
  metadata: Record<string, string> | null;
  entries: Entry[];
  dataStart: number;
}

/** Reads and validates the header of safetensors bytes (no tensor is created). */
export function readHeader(bytes: Uint8Array): Header {
  if (bytes.byteLength < 8) throw new SafetensorsError(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(n);
  if (8 + headerLength > bytes.byteLength) {
    throw new SafetensorsError(`header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file (truncated?)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw new SafetensorsError("header does not start with '{'");
  const parsed = parseStrictJson(text.trimEnd());
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SafetensorsError('header is not a JSON object');
  let metadata: Record<string, string> | null = null;
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(value);
      continue;
    }
    entries.push(checkEntry(name, value));
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin !== expected) {
      throw new SafetensorsError(
        e.begin < expected
          ? `tensor '${e.name}' overlaps the previous tensor (offset ${e.begin} < ${expected})`
          : `gap before tensor '${e.name}' (offset ${e.begin}, expected ${expected})`,
      );
    }
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (e.end - e.begin !== numel * dtypeSize[e.dtype]) {
      throw new SafetensorsError(
        `tensor '${e.name}' spans ${e.end - e.begin} bytes but shape [${e.shape.join(', ')}] of ${e.dtype} needs ${numel * dtypeSize[e.dtype]}`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataLength) {
    throw new SafetensorsError(`the data section is ${dataLength} bytes but the tensors cover ${expected} (truncated or trailing bytes)`);
  }
  return { metadata, entries, dataStart };
}

function checkMetadata(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new SafetensorsError('__metadata__ must be an object of strings');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(`__metadata__ value for '${k}' is not a string`);
  }
  // A plain object again (the parser builds prototype-less ones so "__proto__" stays data).
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkEntry(name: string, value: unknown): Entry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SafetensorsError(`entry '${name}' is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new SafetensorsError(`entry '${name}' has no dtype`);
  const d = fromFormat.get(dtype);
  if (d === undefined) {
    throw new SafetensorsError(
      `entry '${name}' has dtype '${dtype}', which Pretext does not read (supported: ${[...fromFormat.keys()].join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw new SafetensorsError(`entry '${name}' has an invalid shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw new SafetensorsError(`entry '${name}' has invalid data_offsets (need [begin, end])`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsError(`entry '${name}' has data_offsets end ${end} before begin ${begin}`);
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(numel * dtypeSize[d])) throw new SafetensorsError(`entry '${name}' has a shape too large to address`);
  return { name, dtype: d, shape: shape as number[], begin, end };
}

export interface Loaded {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string> | null;
}

/** Parses safetensors bytes into tensors (one copy each), in the file's header order. */
export function deserialize(bytes: Uint8Array): Loaded {
  const header = readHeader(bytes);
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of header.entries) {
      const view = bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end);
      if (e.dtype === 'bool' && view.some((b) => b > 1))
        throw new SafetensorsError(`bool tensor '${e.name}' holds bytes other than 0 and 1`);
      tensors.set(e.name, new Tensor(native.fromBuffer(view, dtypeCode[e.dtype], e.shape)));
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata: header.metadata };
}

/** Writes a safetensors file atomically: a crash leaves the old file or the new one, never half. */
export function saveFile(path: string, tensors: TensorMap, metadata?: Record<string, string>): void {
  const bytes = serialize(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function loadFile(path: string): Loaded {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new SafetensorsError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return deserialize(bytes);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new SafetensorsError(`${path}: ${err.message}`);
    throw err;
  }
}

// ---- a strict JSON parser: JSON.parse keeps the last of duplicate keys silently --------

function parseStrictJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SafetensorsError(`header is not valid JSON: ${what} at character ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('invalid string');
    }
  };
  const value = (depth: number): unknown => {
    if (depth > 64) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      const keys = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = str();
        if (keys.has(key)) throw new SafetensorsError(`header has the key '${key}' twice`);
        keys.add(key);
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// Weights on the wire and on disk without an engine: the safetensors layout (8-byte little-endian
// header length, a JSON header, then the raw bytes), float32 only, which is all a federation
// sends. A file the engine writes with float32 tensors reads here, and the other way round.
import type { Weights } from './aggregate.js';

export class TensorFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TensorFileError';
  }
}

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes flat float32 arrays (shapes as given, else 1-D) with string metadata. */
export function encodeWeights(weights: Weights, metadata: Record<string, string> = {}, shapes: Map<string, number[]> = new Map()): Buffer {
  const header: Record<string, Entry | Record<string, string>> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [key, v] of weights) {
    const shape = shapes.get(key) ?? [v.length];
    if (shape.reduce((a, b) => a * b, 1) !== v.length)
      throw new TensorFileError(`'${key}': shape [${shape}] does not hold ${v.length} values`);
    header[key] = { dtype: 'F32', shape, data_offsets: [offset, offset + v.byteLength] };
    offset += v.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json);
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const v of weights.values()) {
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, at);
    at += v.byteLength;
  }
  return out;
}

/** Decodes what `encodeWeights` (or the engine, for float32 tensors) wrote; anything malformed is refused. */
export function decodeWeights(
  bytes: Uint8Array,
  limits: { maxBytes?: number } = {},
): {
  weights: Weights;
  shapes: Map<string, number[]>;
  metadata: Record<string, string>;
} {
  if (limits.maxBytes !== undefined && bytes.length > limits.maxBytes)
    throw new TensorFileError(`${bytes.length} bytes is more than the ${limits.maxBytes} allowed`);
  if (bytes.length < 8) throw new TensorFileError('too short for a safetensors header');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const headLen = Number(buf.readBigUInt64LE(0));
  if (headLen > bytes.length - 8)
    throw new TensorFileError(`the header claims ${headLen} bytes, the file has ${bytes.length - 8} after it`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new TensorFileError('the header is not JSON');
  }
  const body = 8 + headLen;
  const weights: Weights = new Map();
  const shapes = new Map<string, number[]>();
  let metadata: Record<string, string> = {};
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as Entry;
    if (e.dtype !== 'F32') throw new TensorFileError(`'${key}' is ${e.dtype}; federated weights are float32 (F32)`);
    const [a, b] = e.data_offsets ?? [];
    if (!Number.isInteger(a) || !Number.isInteger(b) || a! < 0 || b! < a! || body + b! > bytes.length || (b! - a!) % 4 !== 0)
      throw new TensorFileError(`'${key}' has bad data offsets`);
    const n = (b! - a!) / 4;
    if (!Array.isArray(e.shape) || e.shape.reduce((x, y) => x * y, 1) !== n)
      throw new TensorFileError(`'${key}': shape does not match its bytes`);
    // Copied so the array is aligned and owns its memory.
    const v = new Float32Array(n);
    Buffer.from(v.buffer).set(buf.subarray(body + a!, body + b!));
    weights.set(key, v);
    shapes.set(key, e.shape);
  }
  return { weights, shapes, metadata };
}

// IDX files (the MNIST family's format): two zero bytes, a type code, the number of
// dimensions, each dimension as a big-endian uint32, then the data, big-endian.
import { gunzipSync } from 'node:zlib';

import { DataFormatError } from '../errors.js';
import { readDataFile } from '../files.js';

const types = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;

export interface IdxArray {
  dtype: (typeof types)[keyof typeof types]['name'];
  shape: number[];
  /** Elements in host byte order. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Parses IDX bytes (gzipped or raw); `source` names the file in errors. */
export function parseIdx(raw: Uint8Array, source: string): IdxArray {
  let bytes = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (err) {
      throw new DataFormatError(`${source}: corrupt gzip data (${(err as Error).message}); delete the file to download it again`);
    }
  }
  if (bytes.length < 4) throw new DataFormatError(`${source}: ${bytes.length} bytes, too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw new DataFormatError(`${source}: not an IDX file (magic number must start with two zero bytes)`);
  const type = types[bytes[2] as keyof typeof types];
  if (type === undefined) throw new DataFormatError(`${source}: unknown IDX element type 0x${bytes[2]!.toString(16)}`);
  const ndim = bytes[3]!;
  if (ndim === 0) throw new DataFormatError(`${source}: IDX file declares zero dimensions`);
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) throw new DataFormatError(`${source}: truncated header (${ndim} dimensions need ${headerBytes} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.size;
  if (bytes.length !== expected) {
    throw new DataFormatError(
      `${source}: shape [${shape.join(', ')}] of ${type.name} needs ${expected} bytes, the file has ${bytes.length}${bytes.length < expected ? ' (truncated)' : ' (trailing bytes)'}`,
    );
  }
  const body = bytes.subarray(headerBytes);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'uint8':
      data = Uint8Array.from(body);
      break;
    case 'int8':
      data = Int8Array.from(body, (b) => (b << 24) >> 24);
      break;
    default: {
      const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type.name];
      data = new Ctor(count);
      const get = { int16: 'getInt16', int32: 'getInt32', float32: 'getFloat32', float64: 'getFloat64' }[type.name] as 'getInt16';
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let i = 0; i < count; i++) data[i] = dv[get](i * type.size, false);
    }
  }
  return { dtype: type.name, shape, data };
}

export function readIdx(path: string): IdxArray {
  return parseIdx(readDataFile(path), path);
}

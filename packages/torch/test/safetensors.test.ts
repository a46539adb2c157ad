import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as torch from '../src/index.js';
import { SafetensorsError, deserialize, serialize, readHeader, saveFile, loadFile } from '../src/safetensors.js';
import { values } from './helpers.js';

const { tensor, tidy } = torch;

/** Builds a file from a header object and a data section, for malformed-file tests. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sample(): Map<string, torch.Tensor> {
  return new Map([
    ['layer.weight', torch.arange(6).reshape(2, 3).float()],
    ['layer.bias', tensor([0.5, -0.5], { dtype: 'float64' })],
    ['steps', tensor(new BigInt64Array([7n]), { shape: [] })],
    ['mask', tensor([true, false, true])],
    ['bytes', tensor(new Uint8Array([1, 2, 255]))],
    ['half', tensor([1.5, -2], { dtype: 'float32' }).to('float16')],
    ['brain', tensor([1.5, -2], { dtype: 'float32' }).to('bfloat16')],
    ['ints', tensor(new Int32Array([-1, 2]))],
    ['shorts', tensor(new Int16Array([-3, 4]))],
    ['tiny', tensor(new Int8Array([-5]))],
    ['empty', torch.zeros([0, 4])],
  ]);
}

describe('safetensors writer', () => {
  it('round-trips every supported dtype, scalars and empty tensors', () => {
    const src = sample();
    const { tensors, metadata } = deserialize(serialize(src, { format: 'pt', note: 'ünïcode' }));
    assert.deepEqual(metadata, { format: 'pt', note: 'ünïcode' });
    assert.deepEqual(new Set(tensors.keys()), new Set(src.keys()));
    for (const [k, t] of src) {
      const back = tensors.get(k)!;
      assert.equal(back.dtype, t.dtype, k);
      assert.deepEqual(back.shape, t.shape, k);
      assert.deepEqual(Array.from(back.data() as ArrayLike<unknown>), Array.from(t.data() as ArrayLike<unknown>), k);
    }
  });

  it('lays the file out as the reference: padded header, alignment order, contiguous offsets', () => {
    const bytes = serialize(sample());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    assert.match(text, /^\{.*\} *$/);
    const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const order = Object.entries(header).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
    assert.deepEqual(
      order.map(([k]) => k),
      ['steps', 'layer.bias', 'ints', 'layer.weight', 'brain', 'half', 'shorts', 'tiny', 'bytes', 'mask', 'empty'].sort((a, b) => {
        const rank = ['I64', 'F64', 'F32', 'I32', 'BF16', 'F16', 'I16', 'I8', 'U8', 'BOOL'];
        return rank.indexOf(header[a]!.dtype) - rank.indexOf(header[b]!.dtype) || (a < b ? -1 : 1);
      }),
    );
    // Largest dtypes first means every tensor starts at a multiple of its element size.
    const sizes: Record<string, number> = { I64: 8, F64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1 };
    for (const [, e] of order) assert.equal(e.data_offsets[0] % sizes[e.dtype]!, 0);
  });

  it('writes and reads the smallest valid file', () => {
    const bytes = serialize(new Map());
    assert.deepEqual(Array.from(bytes), [8, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{}      ')]);
    assert.equal(deserialize(bytes).tensors.size, 0);
  });

  it('refuses reserved and duplicate names and non-string metadata', () => {
    assert.throws(() => serialize({ __metadata__: torch.zeros([1]) }), /reserved/);
    assert.throws(() => serialize({ a: torch.zeros([1]) }, { n: 1 as unknown as string }), /must be a string/);
  });

  it('saves atomically and reports unreadable paths', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'model.safetensors');
    saveFile(path, { w: torch.ones([2]) });
    saveFile(path, { w: torch.zeros([3]) });
    assert.deepEqual(values(loadFile(path).tensors.get('w')!), [0, 0, 0]);
    assert.throws(() => loadFile(join(dir, 'missing.safetensors')), /cannot read .*missing\.safetensors/);
    writeFileSync(join(dir, 'bad.safetensors'), Buffer.from([1, 2, 3]));
    assert.throws(() => loadFile(join(dir, 'bad.safetensors')), /bad\.safetensors: file is 3 bytes/);
  });
});

describe('safetensors reader rejects malformed files', () => {
  const f32 = (n: number): Uint8Array => new Uint8Array(4 * n);
  const cases: [string, Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', new Uint8Array(5), /shorter than the 8-byte header length/],
    [
      'a header past the end (truncated)',
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(2)).subarray(0, 20),
      /runs past the end/,
    ],
    [
      'truncated data',
      rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(3)),
      /data section is 12 bytes but the tensors cover 16/,
    ],
    [
      'trailing bytes',
      rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)),
      /data section is 8 bytes but the tensors cover 4/,
    ],
    ['a huge header length', rawFile({}, new Uint8Array(0), 200_000_000n), /exceeds the 100000000-byte limit/],
    [
      'overlapping tensors',
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)),
      /overlaps the previous tensor/,
    ],
    [
      'a gap between tensors',
      rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)),
      /gap before tensor 'b'/,
    ],
    [
      'a size that does not match the shape',
      rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)),
      /spans 8 bytes but shape \[3\] of float32 needs 12/,
    ],
    [
      'an unknown dtype',
      rawFile({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, f32(2)),
      /dtype 'C64', which Pretext does not read/,
    ],
    [
      'a duplicate key',
      rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)),
      /key 'a' twice/,
    ],
    ['invalid JSON', rawFile('{"a": [1, 2', new Uint8Array(0)), /not valid JSON/],
    ['a header that is not an object', rawFile('[1]', new Uint8Array(0)), /does not start with '\{'/],
    ['non-string metadata', rawFile({ __metadata__: { n: 1 } }), /__metadata__ value for 'n' is not a string/],
    ['negative offsets', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32(1)), /invalid data_offsets/],
    ['fractional shapes', rawFile({ a: { dtype: 'F32', shape: [0.5], data_offsets: [0, 2] } }, f32(1)), /invalid shape/],
    ['reversed offsets', rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /end 0 before begin 4/],
    [
      'bool bytes other than 0 and 1',
      rawFile({ a: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, new Uint8Array([1, 7])),
      /holds bytes other than 0 and 1/,
    ],
    ['a header that is not UTF-8', rawFile('{"\u00ff"}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => deserialize(bytes),
        (err: unknown) => err instanceof SafetensorsError && message.test(err.message),
      );
    });
  }

  it('frees the tensors it already made when a later one is bad', () => {
    const before = torch.memoryStats().liveTensors;
    const bad = rawFile(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'BOOL', shape: [1], data_offsets: [4, 5] } },
      new Uint8Array([0, 0, 0, 0, 9]),
    );
    assert.throws(() => deserialize(bad), /bool tensor 'b'/);
    assert.equal(torch.memoryStats().liveTensors, before);
  });
});

/** Each read either matches the bytes the header points at, or is refused with a SafetensorsError. */
function readFaithfullyOrReject(bytes: Uint8Array): void {
  let header;
  try {
    header = readHeader(bytes);
  } catch (err) {
    assert.ok(err instanceof SafetensorsError, `unexpected ${String(err)}`);
    return;
  }
  tidy(() => {
    let loaded: ReturnType<typeof deserialize>;
    try {
      loaded = deserialize(bytes);
    } catch (err) {
      assert.ok(err instanceof SafetensorsError, `unexpected ${String(err)}`);
      return;
    }
    for (const e of header.entries) {
      const t = loaded.tensors.get(e.name)!;
      assert.deepEqual(t.shape, e.shape);
      const expected = bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end);
      const actual = new Uint8Array((t.data() as Uint8Array).buffer);
      assert.deepEqual(Buffer.from(actual), Buffer.from(expected));
    }
  });
}

describe('safetensors reader under random input (fast-check)', () => {
  it('never crashes on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => readFaithfullyOrReject(bytes)),
      { numRuns: 500 },
    );
  });

  it('never crashes on random headers with plausible structure', () => {
    const entry = fc.record({
      dtype: fc.constantFrom('F32', 'F64', 'I64', 'BOOL', 'U8', 'BF16', 'XX'),
      shape: fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }),
      data_offsets: fc.tuple(fc.integer({ min: -2, max: 40 }), fc.integer({ min: -2, max: 40 })),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 4 }), fc.uint8Array({ maxLength: 64 }), (header, data) =>
        readFaithfullyOrReject(rawFile(header, data)),
      ),
      { numRuns: 500 },
    );
  });

  it('reads or rejects every mutation of a valid file: flipped, cut and inserted bytes', () => {
    const valid = tidy(() => serialize(sample(), { a: 'b' }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(valid.length)),
        fc.option(fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 }))),
        (flips, cut, insert) => {
          let bytes = Uint8Array.from(valid);
          for (const [at, v] of flips) bytes[at] = v;
          if (insert !== null) bytes = Uint8Array.from([...bytes.subarray(0, insert[0]), ...insert[1], ...bytes.subarray(insert[0])]);
          if (cut !== null) bytes = bytes.subarray(0, cut);
          readFaithfullyOrReject(bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

const python = '/usr/bin/python3';

describe('safetensors interoperates with PyTorch', () => {
  it('a file written here loads in PyTorch with the same values, and a PyTorch file loads here', () => {
    assert.ok(existsSync(python), 'Debian python3 is needed for the interop test (installed by scripts/setup.sh)');
    const dir = mkdtempSync(join(tmpdir(), 'st-py-'));
    const ours = join(dir, 'ours.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    torch.manualSeed(5);
    const w = torch.randn([3, 4]);
    const i = torch.arange(5);
    const h = torch.randn([2]).to('bfloat16');
    saveFile(ours, { w, i, h }, { who: 'pretext' });
    // A reader written from the format description (Debian has no safetensors package):
    // it loads our file, checks values, and writes its own for the reverse direction.
    const script = `
import json, struct, sys, torch
DT = {"F32": torch.float32, "I64": torch.int64, "BF16": torch.bfloat16}
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    return meta, {k: torch.frombuffer(bytearray(data[v["data_offsets"][0]:v["data_offsets"][1]]), dtype=DT[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}
meta, t = load(sys.argv[1])
print(json.dumps({"meta": meta, "w": t["w"].tolist(), "i": t["i"].tolist(), "h": t["h"].float().tolist()}))
out = {"x": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, "n": torch.tensor([-3, 9], dtype=torch.int64)}
header, blobs, off = {}, [], 0
for k, v in out.items():
    b = v.numpy().tobytes(); header[k] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}; blobs.append(b); off += len(b)
js = json.dumps(header).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
`;
    const seen = JSON.parse(execFileSync(python, ['-c', script, ours, theirs], { encoding: 'utf8' })) as {
      meta: unknown;
      w: number[][];
      i: number[];
      h: number[];
    };
    assert.deepEqual(seen.meta, { who: 'pretext' });
    assert.deepEqual(seen.w, w.toArray());
    assert.deepEqual(seen.i, [0, 1, 2, 3, 4]);
    assert.deepEqual(seen.h, h.toArray());
    const back = deserialize(readFileSync(theirs)).tensors;
    assert.deepEqual(back.get('x')!.toArray(), [
      [0, 0.25, 0.5],
      [0.75, 1, 1.25],
    ]);
    assert.deepEqual(values(back.get('n')!), [-3, 9]);
  });
});

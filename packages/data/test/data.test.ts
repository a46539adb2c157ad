import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  parseIdx,
  readIdx,
  DataFormatError,
  download,
  DownloadError,
  readFashionMnist,
  formatBytes,
  ProgressBar,
  FASHION_MNIST_FILES,
} from '../src/index.js';

function idx(type: number, shape: number[], body: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const dv = new DataView(header.buffer);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((s, i) => dv.setUint32(4 + 4 * i, s, false));
  return Uint8Array.from([...header, ...body]);
}

describe('IDX reader', () => {
  it('reads uint8 images and big-endian wider types, gzipped or raw', () => {
    const u8 = idx(
      0x08,
      [2, 2, 3],
      Uint8Array.from({ length: 12 }, (_, i) => i * 20),
    );
    const a = parseIdx(gzipSync(u8), 'u8.gz');
    assert.equal(a.dtype, 'uint8');
    assert.deepEqual(a.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(a.data), [0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220]);
    const be = new Uint8Array(8);
    new DataView(be.buffer).setInt32(0, -5, false);
    new DataView(be.buffer).setFloat32(4, 1.5, false);
    assert.deepEqual(Array.from(parseIdx(idx(0x0c, [1], be.subarray(0, 4)), 'i32').data), [-5]);
    assert.deepEqual(Array.from(parseIdx(idx(0x0d, [1], be.subarray(4)), 'f32').data), [1.5]);
    assert.deepEqual(Array.from(parseIdx(idx(0x09, [2], Uint8Array.from([255, 1])), 'i8').data), [-1, 1]);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['a bad magic number', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]), /not an IDX file/],
    ['an unknown type', Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]), /unknown IDX element type 0x42/],
    ['a truncated header', Uint8Array.from([0, 0, 8, 3, 0, 0]), /truncated header/],
    ['truncated data', idx(0x08, [4], Uint8Array.from([1, 2])), /needs 12 bytes, the file has 10 \(truncated\)/],
    ['trailing bytes', idx(0x08, [1], Uint8Array.from([1, 2])), /\(trailing bytes\)/],
    ['corrupt gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]), /corrupt gzip data/],
    ['zero dimensions', Uint8Array.from([0, 0, 8, 0]), /zero dimensions/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what}, naming the file`, () => {
      assert.throws(
        () => parseIdx(bytes, 'broken.idx'),
        (e: unknown) => e instanceof DataFormatError && e.message.startsWith('broken.idx:') && message.test(e.message),
      );
    });
  }

  it('names a missing file', () => {
    assert.throws(() => readIdx('/nonexistent/x.idx'), /cannot read \/nonexistent\/x\.idx/);
  });
});

describe('downloads', () => {
  let server: Server;
  let base = '';
  let flaky = 0;
  const payload = gzipSync(idx(0x08, [3], Uint8Array.from([7, 8, 9])));
  const md5 = createHash('md5').update(payload).digest('hex');
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/flaky' && flaky++ < 2) {
        res.writeHead(500).end();
        return;
      }
      if (req.url === '/missing') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': payload.length }).end(payload);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => server.close());

  it('retries transient failures and verifies the checksum', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dl-')), 'a', 'file.gz');
    await download(`${base}/flaky`, dest, { md5, backoffMs: 5, quiet: true });
    assert.deepEqual(readFileSync(dest), payload);
    assert.equal(flaky, 3);
  });

  it('refuses a file whose checksum does not match and leaves nothing behind', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dl-')), 'file.gz');
    await assert.rejects(download(`${base}/ok`, dest, { md5: '0'.repeat(32), quiet: true }), /checksum mismatch/);
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('gives up after its retries with the cause', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dl-')), 'file.gz');
    await assert.rejects(
      download(`${base}/missing`, dest, { retries: 1, backoffMs: 5, quiet: true }),
      (e: unknown) => e instanceof DownloadError && /after 2 attempts: GET .* HTTP 404/.test(e.message),
    );
  });
});

describe('Fashion-MNIST source', () => {
  it('loads the Debian copy, verified, as image bytes and labels', async () => {
    const test = await readFashionMnist('test', { cacheDir: mkdtempSync(join(tmpdir(), 'cache-')), download: false });
    assert.deepEqual(test.shape, [10000, 28, 28]);
    assert.equal(test.images.length, 10000 * 28 * 28);
    assert.ok(test.images instanceof Uint8Array);
    assert.deepEqual([...test.labels.subarray(0, 5)], [9, 2, 1, 1, 6]);
    // 1,000 test images per class.
    const counts = new Array(10).fill(0);
    for (const v of test.labels) counts[v]++;
    assert.deepEqual(counts, new Array(10).fill(1000));
  });

  it('refuses a cached copy whose content does not match', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    const dir = join(cache, 'fashion-mnist');
    await import('node:fs').then((fs) => fs.mkdirSync(dir, { recursive: true }));
    writeFileSync(join(dir, FASHION_MNIST_FILES['test-labels'].file), gzipSync(idx(0x08, [2], Uint8Array.from([1, 2]))));
    await assert.rejects(readFashionMnist('test', { cacheDir: cache, download: false }), /content checksum mismatch.*delete it/);
  });

  it('says where it looked when no copy exists and downloading is off', async () => {
    await assert.rejects(
      readFashionMnist('train', { cacheDir: '/nonexistent-cache', systemDirs: [], download: false }),
      /not found in \/nonexistent-cache.*downloading is off/,
    );
  });
});

describe('progress bar', () => {
  it('shows count, rate, ETA and the final time', () => {
    const out: string[] = [];
    const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar({ total: 4, label: 'train', unit: 'steps', stream, logEverySeconds: 0 });
    bar.tick(1, 'loss 1.0');
    bar.tick(1);
    bar.finish('done');
    assert.match(out[0]!, /^train █{6}░{18} 1\/4 [\d.]+ steps\/s ETA \d\d:\d\d loss 1\.0\n$/);
    assert.match(out.at(-1)!, /^train █{12}░{12} 2\/4 [\d.]+ steps\/s in 00:00 done\n$/);
  });

  it('shows byte counts in human units', () => {
    assert.deepEqual([512, 108_711, 2_100_000, 1_250_000_000].map(formatBytes), ['512 B', '108.7 kB', '2.10 MB', '1.25 GB']);
    const out: string[] = [];
    const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar({ total: 108_711, label: 'pushing', bytes: true, stream, logEverySeconds: 0 });
    bar.tick(50_000);
    assert.match(out[0]!, /^pushing █+░+ 50\.0 kB\/108\.7 kB [\d.]+ [kMG]?B\/s ETA/);
  });
});

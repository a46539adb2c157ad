// Artifacts as content-addressed files: blobs/ab/cd/<sha256>. An upload streams into a
// temporary file while it is hashed and counted, and becomes visible only by an atomic
// rename once its digest matches the one announced; a killed upload leaves only a temporary
// file, which the next start removes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class BlobError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}

export const SHA256 = /^[0-9a-f]{64}$/;

export class BlobStore {
  private readonly tmp: string;
  constructor(readonly root: string) {
    this.tmp = join(root, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
  }

  path(sha: string): string {
    if (!SHA256.test(sha)) throw new BlobError(`'${sha}' is not a sha256 digest`, 400);
    return join(this.root, sha.slice(0, 2), sha.slice(2, 4), sha);
  }

  has(sha: string): boolean {
    return existsSync(this.path(sha));
  }

  size(sha: string): number {
    return statSync(this.path(sha)).size;
  }

  /**
   * Streams `body` in; refuses it (and keeps nothing) when longer than `maxBytes` or when its
   * sha256 is not `expected`. Storing an existing blob again is a no-op.
   */
  async put(body: Readable, expected: string, maxBytes: number): Promise<{ sha256: string; size: number; created: boolean }> {
    const final = this.path(expected);
    const part = join(this.tmp, `${expected}.${randomBytes(6).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new BlobError(`upload is larger than the ${maxBytes}-byte limit`, 413));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(part, { flags: 'wx' }));
      const got = hash.digest('hex');
      if (got !== expected) throw new BlobError(`content sha256 is ${got}, not the announced ${expected}`, 400);
      if (existsSync(final)) {
        rmSync(part, { force: true });
        return { sha256: got, size, created: false };
      }
      mkdirSync(join(this.root, expected.slice(0, 2), expected.slice(2, 4)), { recursive: true });
      renameSync(part, final);
      return { sha256: got, size, created: true };
    } catch (err) {
      rmSync(part, { force: true });
      throw err;
    }
  }

  /** A read stream over bytes [start, end] (inclusive) of a blob. */
  open(sha: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(sha), range ? { start: range.start, end: range.end } : {});
  }

  /** Digests of every stored blob. */
  list(): string[] {
    const out: string[] = [];
    for (const a of readdirSync(this.root)) {
      if (a === 'tmp' || a.length !== 2) continue;
      for (const b of readdirSync(join(this.root, a))) for (const f of readdirSync(join(this.root, a, b))) if (SHA256.test(f)) out.push(f);
    }
    return out;
  }

  /**
   * Removes unfinished uploads older than `partialAgeMs` (0: all of them, as at start-up, when
   * none can be in flight) and every blob for which `keep(sha, modifiedMs)` is false; returns
   * what it removed.
   */
  sweep(keep: (sha: string, modifiedMs: number) => boolean, partialAgeMs = 0): { partial: number; orphans: string[] } {
    const cutoff = Date.now() - partialAgeMs;
    let partial = 0;
    for (const f of readdirSync(this.tmp)) {
      const p = join(this.tmp, f);
      const modified = statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (partialAgeMs > 0 && modified >= cutoff) continue;
      rmSync(p, { recursive: true, force: true });
      partial++;
    }
    const orphans: string[] = [];
    for (const sha of this.list()) {
      const st = statSync(this.path(sha), { throwIfNoEntry: false });
      if (!st || keep(sha, st.mtimeMs)) continue;
      rmSync(this.path(sha), { force: true });
      orphans.push(sha);
    }
    return { partial, orphans };
  }

  /** Removes one blob (an upload refused after it was stored). */
  remove(sha: string): void {
    rmSync(this.path(sha), { force: true });
  }
}

/** Parses one `bytes=a-b` / `bytes=a-` / `bytes=-n` range; null when absent; throws 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new BlobError(`unsupported Range '${header}' (one bytes=start-end range)`, 416);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw new BlobError(`range ${header} is outside the ${size}-byte file`, 416);
  return { start, end };
}

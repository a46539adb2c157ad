// Downloads with retries, a progress bar and checksum verification. A file is written to
// `<dest>.part` and renamed only once verified, so an interrupted or corrupt download never
// looks like a good file.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProgressBar } from './progress.js';

export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadOptions {
  /** Expected MD5 of the downloaded bytes, hex (what data sets publish). */
  md5?: string;
  retries?: number;
  /** First retry delay; doubles each time. */
  backoffMs?: number;
  timeoutMs?: number;
  quiet?: boolean;
}

async function attempt(url: string, part: string, o: DownloadOptions): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs ?? 120_000) });
  if (!res.ok || res.body === null) throw new DownloadError(`GET ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const bar = o.quiet ? null : new ProgressBar({ total: Math.max(total, 1), label: `downloading ${url.split('/').pop()}`, unit: 'B' });
  const md5 = createHash('md5');
  const out = createWriteStream(part);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      md5.update(chunk);
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      bar?.tick(chunk.byteLength);
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  bar?.finish();
  return md5.digest('hex');
}

/** Downloads `url` to `dest`, retrying transient failures; throws a DownloadError naming the cause. */
export async function download(url: string, dest: string, o: DownloadOptions = {}): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = o.retries ?? 3;
  let lastError: unknown;
  for (let i = 0; i <= retries; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, (o.backoffMs ?? 1000) * 2 ** (i - 1)));
    try {
      const md5 = await attempt(url, part, o);
      if (o.md5 !== undefined && md5 !== o.md5) {
        rmSync(part, { force: true });
        throw new DownloadError(`${url}: checksum mismatch (md5 ${md5}, expected ${o.md5})`);
      }
      renameSync(part, dest);
      return;
    } catch (err) {
      rmSync(part, { force: true });
      lastError = err;
      if (err instanceof DownloadError && err.message.includes('checksum mismatch')) break;
    }
  }
  const why = lastError instanceof Error ? lastError.message : String(lastError);
  throw new DownloadError(`could not download ${url} after ${retries + 1} attempts: ${why}`);
}

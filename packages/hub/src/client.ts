// The hub's HTTP client (`@pretext/hub/client`): what the CLI and the library use to reach a
// hub. It imports no server code (no Fastify, no database), only Node's fetch, streams and
// crypto. Transfers report bytes through a callback, resume from a .part file with an HTTP
// Range request, and are checked against their sha256 before they are renamed into place.
// Everything the server sends is untrusted: file paths are refused unless they stay inside
// the destination folder.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { validFilePath } from './auth.js';
import type { VersionFile } from './types.js';

export type { EvalInput, Gallery, VersionFile } from './types.js';
// A federation's arithmetic and wire format (no server code): sites and the simulator use the coordinator's own.
export * from './federation/aggregate.js';
export * from './federation/coordinator.js';
export * from './federation/tensors.js';
export * from './federation/secagg.js';
export * from './federation/wire.js';

export interface HubConfig {
  url: string;
  token?: string;
}

/** A call the hub answered with an error status, or (status 0) a hub that could not be reached. */
export class HubCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'HubCallError';
  }
}

export interface ModelRef {
  team: string;
  name: string;
  version: string;
}

/** `team/name`, `team/name@v3` or `team/name@production`. */
export function parseModelRef(ref: string): ModelRef {
  const m = /^([a-z0-9][a-z0-9._-]{0,63})\/([a-z0-9][a-z0-9._-]{0,63})(?:@([A-Za-z0-9._-]{1,64}))?$/.exec(ref);
  if (!m) throw new HubCallError(`'${ref}' is not a model reference: expected team/name, team/name@v3 or team/name@production`, 400);
  return { team: m[1]!, name: m[2]!, version: m[3] ?? 'latest' };
}

/**
 * `dir/rel` when `rel` is a file path a hub may send (relative, no '..', no hidden or empty
 * parts) and the result stays inside `dir`; otherwise a HubCallError, so a malicious or
 * spoofed hub cannot write outside the folder.
 */
export function safeJoin(dir: string, rel: string): string {
  const inside = resolve(dir, rel);
  const r = relative(resolve(dir), inside);
  if (!validFilePath(rel) || isAbsolute(rel) || r === '' || r.startsWith(`..${sep}`) || r === '..' || isAbsolute(r))
    throw new HubCallError(`the hub sent the file path ${JSON.stringify(rel)}, which would land outside ${dir}; refused`, 502);
  return inside;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** A pass-through stream that reports the bytes flowing through it. */
function byteMeter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/** Network failures (a refused or reset connection, a kept-alive socket the server had closed), not HTTP errors. */
function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err as { name?: string }).name === 'SocketError';
}

function describeError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return [e.message, e.cause?.code ?? e.cause?.message].filter(Boolean).join(': ');
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export interface ClientOptions {
  /** Further attempts after a network failure, for idempotent calls and calls with an idempotency key (default 3). */
  retries?: number;
  /** Wait before the first retry; doubles each time (default 250 ms). */
  retryDelayMs?: number;
}

export class HubClient {
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(
    readonly cfg: HubConfig,
    o: ClientOptions = {},
  ) {
    this.retries = o.retries ?? 3;
    this.retryDelayMs = o.retryDelayMs ?? 250;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.cfg.token ? { authorization: `Bearer ${this.cfg.token}` } : {}), ...extra };
  }

  /**
   * A fetch that survives a dropped connection. A process that kept its event loop busy (a
   * long evaluation in libtorch) can come back to a pooled socket the server closed long ago;
   * the request then fails before any answer. Calls that are safe to repeat (idempotent
   * methods, or a POST with an idempotency key the server deduplicates) are sent again on a
   * new connection; others fail with the cause.
   */
  private async fetchRetrying(url: string, init: RequestInit, retry: boolean): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url, init);
      } catch (err) {
        if (!isNetworkError(err) || !retry || attempt >= this.retries)
          throw new HubCallError(`cannot reach the hub at ${this.cfg.url}: ${describeError(err)}`, 0);
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  /** A JSON call; `idempotencyKey` makes a POST safe to retry (the hub answers a repeat with the first result). */
  async call<T>(method: string, path: string, body?: unknown, o: { idempotencyKey?: string } = {}): Promise<T> {
    return (await this.callWithStatus<T>(method, path, body, o)).body;
  }

  /** `call`, also giving the success status (201 created, 200 already there). */
  async callWithStatus<T>(
    method: string,
    path: string,
    body?: unknown,
    o: { idempotencyKey?: string } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await this.fetchRetrying(
      `${this.cfg.url}${path}`,
      {
        method,
        headers: this.headers({
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}),
        }),
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      IDEMPOTENT.has(method) || o.idempotencyKey !== undefined,
    );
    const text = await res.text();
    let json: T & { error?: string };
    try {
      json = text ? (JSON.parse(text) as T & { error?: string }) : ({} as T & { error?: string });
    } catch {
      throw new HubCallError(`${method} ${path}: ${res.status}, and the answer is not JSON: ${text.slice(0, 200)}`, res.status || 502);
    }
    if (!res.ok) throw new HubCallError(`${method} ${path}: ${res.status} ${json.error ?? res.statusText}`, res.status);
    return { status: res.status, body: json };
  }

  /** Whether this token may reference the blob in a push without sending its bytes. */
  async hasBlob(sha: string): Promise<boolean> {
    const res = await this.fetchRetrying(`${this.cfg.url}/api/blobs/${sha}`, { method: 'HEAD', headers: this.headers() }, true);
    return res.status === 200;
  }

  /** Streams a file up. */
  async uploadFile(path: string, sha: string, onBytes: (n: number) => void = () => undefined): Promise<void> {
    const body = Readable.toWeb(createReadStream(path).pipe(byteMeter(onBytes))) as ReadableStream;
    const res = await this.fetchRetrying(
      `${this.cfg.url}/api/blobs/${sha}`,
      {
        method: 'PUT',
        headers: this.headers({ 'content-type': 'application/octet-stream', 'content-length': String(statSync(path).size) }),
        body,
        duplex: 'half',
      } as RequestInit,
      false,
    );
    if (!res.ok) throw new HubCallError(`upload of ${basename(path)}: ${res.status} ${errorText(await res.text())}`, res.status);
  }

  /** Sends or fetches raw bytes (a federation's weights and updates); a failure carries the hub's message. */
  async bytes(method: 'GET' | 'PUT', path: string, body?: Uint8Array): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const res = await this.fetchRetrying(
      `${this.cfg.url}${path}`,
      {
        method,
        headers: this.headers(body ? { 'content-type': 'application/octet-stream' } : {}),
        ...(body ? { body: body as unknown as BodyInit } : {}),
      },
      true,
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw new HubCallError(`${method} ${path}: ${res.status} ${errorText(bytes.toString('utf8'))}`, res.status);
    return { status: res.status, bytes, headers: res.headers };
  }

  /** Downloads into `dest`, resuming from `dest.part`; verifies sha256 before the rename. */
  async download(path: string, dest: string, sha: string, size: number, onBytes: (n: number) => void = () => undefined): Promise<void> {
    const part = `${dest}.part`;
    let have = existsSync(part) ? statSync(part).size : 0;
    if (have > size) {
      rmSync(part);
      have = 0;
    }
    onBytes(have);
    if (have < size) {
      const res = await this.fetchRetrying(
        `${this.cfg.url}${path}`,
        { headers: this.headers(have > 0 ? { range: `bytes=${have}-` } : {}) },
        true,
      );
      if (!(res.status === 200 || res.status === 206)) throw new HubCallError(`download of ${basename(dest)}: ${res.status}`, res.status);
      if (res.status === 200 && have > 0) {
        rmSync(part);
        have = 0;
      }
      await pipeline(Readable.fromWeb(res.body as never), byteMeter(onBytes), createWriteStream(part, { flags: have > 0 ? 'a' : 'w' }));
    }
    const got = await sha256File(part);
    if (got !== sha) {
      rmSync(part);
      throw new HubCallError(
        `${basename(dest)}: sha256 ${got} does not match the hub's ${sha}; the partial file was removed, pull again`,
        502,
      );
    }
    renameSync(part, dest);
  }

  /**
   * Downloads version `ref` into `dir` (resuming, skipping files already there and intact).
   * `onStart` learns the version and total bytes before the first byte arrives.
   */
  async pull(
    ref: ModelRef,
    dir: (seq: number) => string,
    progress: { onStart?: (seq: number, totalBytes: number) => void; onBytes?: (n: number) => void } = {},
  ): Promise<{ dir: string; seq: number; files: VersionFile[] }> {
    const v = await this.call<{ seq: number; files: VersionFile[] }>('GET', `/api/models/${ref.team}/${ref.name}/versions/${ref.version}`);
    const out = dir(v.seq);
    // Every path is checked before anything is written.
    const targets = v.files.map((f) => ({ f, dest: safeJoin(out, f.path) }));
    progress.onStart?.(
      v.seq,
      v.files.reduce((a, f) => a + f.size, 0),
    );
    for (const { f, dest } of targets) {
      mkdirSync(dirname(dest), { recursive: true });
      if (existsSync(dest) && statSync(dest).size === f.size && (await sha256File(dest)) === f.sha256) {
        progress.onBytes?.(f.size);
        continue;
      }
      await this.download(
        `/api/models/${ref.team}/${ref.name}/versions/v${v.seq}/files/${f.path}`,
        dest,
        f.sha256,
        f.size,
        progress.onBytes,
      );
    }
    return { dir: out, seq: v.seq, files: v.files };
  }
}

/** The hub's error message from a response body (JSON `{error}`), else the text itself. */
function errorText(text: string): string {
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text;
  }
}

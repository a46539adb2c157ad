// The hub from the command line: serve, login, push, pull, models, and team/user/token
// administration. Transfers stream with a progress bar; a download resumes from its .part
// file with an HTTP Range request and is verified against its sha256 before it is renamed.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { createHub } from '@pretext/hub';
import { ProgressBar, readEncoderMeta, type EncoderMeta } from '@pretext/ssl';
import { UsageError } from './errors.js';

export const HUB_HELP: Record<string, string> = {
  hub: `Usage: pretext hub <serve | team create NAME | user create NAME | token create> [options]

  serve [--data DIR] [--port N] [--host H] [--database URL]
        run the hub: SQLite and artifacts under DIR (default ./hub-data), or PostgreSQL
        with --database postgres://...; on an empty hub prints the admin token once
  team create NAME               create a team (you become its admin)
  team add TEAM USER [--admin]   add a member
  user create NAME [--admin]     create a user (hub admins)
  token create [--user U] [--scope read|write|admin] [--name N] [--days N]
                                 create an API token (shown once)`,
  login: `Usage: pretext login --token TOKEN [--hub URL]

Checks the token against the hub and saves both in ~/.config/pretext/hub.json (mode 600).
PRETEXT_HUB_URL and PRETEXT_HUB_TOKEN override the saved values.`,
  push: `Usage: pretext push <run dir> <team/name> [--alias NAME] [--visibility private|internal|public]
                    [--license ID] [--json]

Publishes a pretraining run: encoder weights and config, metrics, scores, recipe, reports
and plots when present, and a model card (Markdown with Hugging Face-style YAML front
matter) generated from the run. Identical content is not uploaded twice; the same files
pushed again make no new version.`,
  pull: `Usage: pretext pull <team/name[@version|@alias]> [--out DIR] [--json]

Downloads a version (default @latest) into DIR (default ./<team>-<name>-v<N>), resuming an
interrupted download and checking every file's sha256. The folder works with pretext eval,
finetune and report.`,
  models: `Usage: pretext models ls [--team T] [--tag T] [--method M] [--json]
       pretext models search <query> [--json]`,
};

interface HubConfig {
  url: string;
  token?: string;
}

const configPath = (): string => join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'pretext', 'hub.json');

export function hubConfig(): HubConfig {
  const saved = existsSync(configPath()) ? (JSON.parse(readFileSync(configPath(), 'utf8')) as HubConfig) : { url: 'http://127.0.0.1:8080' };
  return { url: process.env.PRETEXT_HUB_URL ?? saved.url, token: process.env.PRETEXT_HUB_TOKEN ?? saved.token };
}

/** A pass-through stream that advances `bar` by the megabytes flowing through it. */
function megabyteMeter(bar: ProgressBar): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, done) {
      bar.tick(chunk.length / 1e6);
      done(null, chunk);
    },
  });
}

export class HubClient {
  constructor(readonly cfg: HubConfig) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.cfg.token ? { authorization: `Bearer ${this.cfg.token}` } : {}), ...extra };
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.cfg.url}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new UsageError(`cannot reach the hub at ${this.cfg.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as T & { error?: string }) : ({} as T & { error?: string });
    if (!res.ok) throw new HubCallError(`${method} ${path}: ${res.status} ${json.error ?? res.statusText}`, res.status);
    return json;
  }

  async hasBlob(sha: string): Promise<boolean> {
    const res = await fetch(`${this.cfg.url}/api/blobs/${sha}`, { method: 'HEAD', headers: this.headers() });
    return res.status === 200;
  }

  /** Streams a file up, advancing `bar` by megabytes sent. */
  async uploadFile(path: string, sha: string, bar: ProgressBar): Promise<void> {
    const meter = megabyteMeter(bar);
    const body = Readable.toWeb(createReadStream(path).pipe(meter)) as ReadableStream;
    const res = await fetch(`${this.cfg.url}/api/blobs/${sha}`, {
      method: 'PUT',
      headers: this.headers({ 'content-type': 'application/octet-stream', 'content-length': String(statSync(path).size) }),
      body,
      duplex: 'half',
    } as RequestInit);
    if (!res.ok)
      throw new HubCallError(
        `upload of ${basename(path)}: ${res.status} ${((await res.json()) as { error?: string }).error ?? ''}`,
        res.status,
      );
  }

  /** Downloads into `dest`, resuming from `dest.part`; verifies sha256 before the rename. */
  async download(path: string, dest: string, sha: string, size: number, bar: ProgressBar): Promise<void> {
    const part = `${dest}.part`;
    let have = existsSync(part) ? statSync(part).size : 0;
    if (have > size) {
      rmSync(part);
      have = 0;
    }
    bar.tick(have / 1e6);
    if (have < size) {
      const res = await fetch(`${this.cfg.url}${path}`, { headers: this.headers(have > 0 ? { range: `bytes=${have}-` } : {}) });
      if (!(res.status === 200 || res.status === 206)) throw new HubCallError(`download of ${basename(dest)}: ${res.status}`, res.status);
      if (res.status === 200 && have > 0) {
        rmSync(part);
        have = 0;
      }
      const meter = megabyteMeter(bar);
      await pipeline(Readable.fromWeb(res.body as never), meter, createWriteStream(part, { flags: have > 0 ? 'a' : 'w' }));
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
}

export class HubCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'HubCallError';
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

function parseModelRef(ref: string): { team: string; name: string; version: string } {
  const m = /^([a-z0-9][a-z0-9._-]{0,63})\/([a-z0-9][a-z0-9._-]{0,63})(?:@([A-Za-z0-9._-]{1,64}))?$/.exec(ref);
  if (!m) throw new UsageError(`'${ref}' is not a model reference: expected team/name, team/name@v3 or team/name@production`);
  return { team: m[1]!, name: m[2]!, version: m[3] ?? 'latest' };
}

/** A Hugging Face-compatible model card for a pretraining run. */
export function modelCard(ref: string, meta: EncoderMeta, scores: Record<string, number>, o: { license?: string } = {}): string {
  const dataset = meta.dataset.startsWith('image-folder:') ? 'image-folder' : meta.dataset;
  const metrics = [
    ...(scores.knn === undefined ? [] : [{ type: 'accuracy', name: 'kNN accuracy (k=200)', value: Number((100 * scores.knn).toFixed(2)) }]),
    ...(scores.linear === undefined
      ? []
      : [{ type: 'accuracy', name: 'linear probe accuracy', value: Number((100 * scores.linear).toFixed(2)) }]),
  ];
  const front = {
    license: o.license ?? 'other',
    library_name: 'pretext',
    tags: ['self-supervised', meta.method, meta.encoder.type, 'image-feature-extraction'],
    datasets: [dataset],
    pipeline_tag: 'image-feature-extraction',
    ...(metrics.length
      ? {
          'model-index': [
            {
              name: ref,
              results: [
                {
                  task: { type: 'image-classification', name: 'frozen-feature evaluation' },
                  dataset: { name: dataset, type: dataset, split: 'test' },
                  metrics,
                },
              ],
            },
          ],
        }
      : {}),
  };
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.encoder.type} encoder (${meta.outDim}-dimensional features) pretrained with ${meta.method} on ${meta.dataset} by Pretext.\n\n| | |\n|---|---|\n| recipe | ${meta.recipe} |\n| input | ${meta.inputShape.join(' x ')}, normalized with mean ${JSON.stringify(meta.inputNorm.mean)} and std ${JSON.stringify(meta.inputNorm.std)} |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n| data fingerprint | ${meta.dataFingerprint} |\n${metrics.map((m) => `| ${m.name} | ${m.value}% |`).join('\n')}\n\nUse it with \`pretext pull ${ref}\`, then \`pretext finetune --encoder <folder> --labels 1%\`.\n`;
}

const PUSHED =
  /^(encoder\.(safetensors|json)|metrics\.jsonl|scores\.json|recipe\.yaml|diagnostics\.json|transfer\.json|report\.(html|md)|[a-z-]+\.(png|svg))$/;

function codeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(new URL(import.meta.url).pathname), '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    return `pretext ${pkg.version}`;
  } catch {
    return 'pretext';
  }
}

export async function pushCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      alias: { type: 'string' },
      visibility: { type: 'string' },
      license: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(HUB_HELP.push), 0);
  if (positionals.length !== 2) throw new UsageError(`pretext push needs a run folder and team/name\n\n${HUB_HELP.push}`);
  const [dir, ref] = positionals as [string, string];
  const { team, name } = parseModelRef(ref);
  if (values.visibility && !['private', 'internal', 'public'].includes(values.visibility))
    throw new UsageError(`--visibility must be private, internal or public`);
  const meta = readEncoderMeta(dir);
  const scores = existsSync(join(dir, 'scores.json'))
    ? (JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as Record<string, number>)
    : {};
  const card = modelCard(`${team}/${name}`, meta, scores, { license: values.license });
  writeFileSync(join(dir, 'card.md'), card);
  const files = readdirSync(dir).filter((f) => PUSHED.test(f) || f === 'card.md');
  const client = new HubClient(hubConfig());
  const entries = [];
  for (const f of files.sort()) entries.push({ path: f, sha256: await sha256File(join(dir, f)), size: statSync(join(dir, f)).size });
  const missing = [];
  for (const e of entries) if (!(await client.hasBlob(e.sha256))) missing.push(e);
  const total = missing.reduce((a, e) => a + e.size, 0) / 1e6;
  const bar = new ProgressBar({
    total: Number(total.toFixed(2)),
    label: `pushing ${team}/${name}`,
    unit: 'MB',
    stream: values.json ? undefined : process.stderr,
  });
  for (const e of missing) await client.uploadFile(join(dir, e.path), e.sha256, bar);
  bar.finish(`${missing.length} of ${entries.length} files uploaded`);
  const r = await client.call<{ version: { seq: number; digest: string }; created: boolean }>(
    'POST',
    `/api/models/${team}/${name}/versions`,
    {
      files: entries,
      card,
      visibility: values.visibility,
      metrics: { ...scores, trainSeconds: meta.trainSeconds, trainSteps: meta.trainSteps },
      lineage: {
        recipe: meta.recipe,
        method: meta.method,
        dataset: meta.dataset,
        dataFingerprint: meta.dataFingerprint,
        codeVersion: codeVersion(),
        parentRun: basename(dir),
        createdAt: meta.createdAt,
      },
    },
  );
  await client.call('PATCH', `/api/models/${team}/${name}`, {
    method: meta.method,
    modality: 'image',
    tags: ['self-supervised', meta.method, meta.encoder.type],
  });
  if (values.alias) await client.call('PUT', `/api/models/${team}/${name}/aliases/${values.alias}`, { version: `v${r.version.seq}` });
  const out = {
    model: `${team}/${name}`,
    version: r.version.seq,
    digest: r.version.digest,
    created: r.created,
    uploaded: missing.length,
    files: entries.length,
  };
  if (values.json) console.log(JSON.stringify(out));
  else
    console.log(
      `${r.created ? 'pushed' : 'unchanged:'} ${team}/${name} v${r.version.seq} (${r.version.digest.slice(0, 12)})${values.alias ? `, alias ${values.alias}` : ''}`,
    );
  return 0;
}

/** Downloads a version into `out` (resuming); returns the folder and version number. */
export async function pullModel(
  ref: string,
  out?: string,
  quiet = false,
): Promise<{ dir: string; seq: number; team: string; name: string }> {
  const { team, name, version } = parseModelRef(ref);
  const client = new HubClient(hubConfig());
  const v = await client.call<{ seq: number; files: { path: string; sha256: string; size: number }[] }>(
    'GET',
    `/api/models/${team}/${name}/versions/${version}`,
  );
  const dir = out ?? `${team}-${name}-v${v.seq}`;
  mkdirSync(dir, { recursive: true });
  const total = v.files.reduce((a, f) => a + f.size, 0) / 1e6;
  const bar = new ProgressBar({ total: Number(total.toFixed(2)), label: `pulling ${team}/${name} v${v.seq}`, unit: 'MB' });
  for (const f of v.files) {
    const dest = join(dir, f.path);
    if (existsSync(dest) && statSync(dest).size === f.size && (await sha256File(dest)) === f.sha256) {
      bar.tick(f.size / 1e6);
      continue;
    }
    await client.download(`/api/models/${team}/${name}/versions/v${v.seq}/files/${f.path}`, dest, f.sha256, f.size, bar);
  }
  if (!quiet) bar.finish(`${v.files.length} files`);
  return { dir, seq: v.seq, team, name };
}

export async function pullCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) return (void console.log(HUB_HELP.pull), 0);
  if (positionals.length !== 1) throw new UsageError(`pretext pull needs one model reference\n\n${HUB_HELP.pull}`);
  const r = await pullModel(positionals[0]!, values.out, values.json);
  if (values.json) console.log(JSON.stringify(r));
  else console.log(`${r.team}/${r.name} v${r.seq} in ${r.dir}`);
  return 0;
}

/** An --encoder argument: a run folder, or a hub reference pulled into the cache first. */
export async function resolveEncoderArg(arg: string): Promise<string> {
  if (existsSync(join(arg, 'encoder.json'))) return arg;
  if (!/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9._-]+)?$/.test(arg)) return arg;
  const cache = join(process.env.PRETEXT_CACHE ?? join(homedir(), '.cache', 'pretext'), 'hub', arg.replace('@', '/'));
  return (await pullModel(arg, cache, true)).dir;
}

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      team: { type: 'string' },
      tag: { type: 'string' },
      method: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(HUB_HELP.models), 0);
  const [sub, ...rest] = positionals;
  if (sub !== 'ls' && sub !== 'search') throw new UsageError(`pretext models needs 'ls' or 'search'\n\n${HUB_HELP.models}`);
  const q = new URLSearchParams();
  if (sub === 'search') {
    if (rest.length === 0) throw new UsageError('pretext models search needs a query');
    q.set('q', rest.join(' '));
  }
  for (const k of ['team', 'tag', 'method'] as const) if (values[k]) q.set(k, values[k]);
  const models = await new HubClient(hubConfig()).call<
    { team: string; name: string; latest: number | null; visibility: string; method: string | null; tags: string[] }[]
  >('GET', `/api/models${q.size ? `?${q.toString()}` : ''}`);
  if (values.json) for (const m of models) console.log(JSON.stringify(m));
  else {
    console.log(`${'model'.padEnd(36)}${'latest'.padEnd(8)}${'visibility'.padEnd(11)}${'method'.padEnd(14)}tags`);
    for (const m of models)
      console.log(
        `${`${m.team}/${m.name}`.padEnd(36)}${(m.latest ? `v${m.latest}` : '-').padEnd(8)}${m.visibility.padEnd(11)}${(m.method ?? '-').padEnd(14)}${m.tags.join(', ')}`,
      );
  }
  return 0;
}

export async function loginCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { token: { type: 'string' }, hub: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) return (void console.log(HUB_HELP.login), 0);
  if (!values.token) throw new UsageError(`pretext login needs --token\n\n${HUB_HELP.login}`);
  const cfg = { url: (values.hub ?? hubConfig().url).replace(/\/$/, ''), token: values.token };
  const who = await new HubClient(cfg).call<{ user: string; scope: string }>('GET', '/api/whoami');
  mkdirSync(dirname(configPath()), { recursive: true });
  writeFileSync(configPath(), `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  console.log(`logged in to ${cfg.url} as ${who.user} (${who.scope} token); saved in ${configPath()}`);
  return 0;
}

/** Reports an evaluation of a pulled or pushed version back to the hub. */
export async function pushEval(
  ref: string,
  e: { task: string; dataset: string; metric: string; value: number; protocol: string; labelBudget: string },
): Promise<void> {
  const { team, name, version } = parseModelRef(ref);
  await new HubClient(hubConfig()).call('POST', `/api/models/${team}/${name}/versions/${version}/evals`, e);
}

export async function hubCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const client = (): HubClient => new HubClient(hubConfig());
  if (sub === 'serve') {
    const { values } = parseArgs({
      args: rest,
      options: {
        data: { type: 'string', default: 'hub-data' },
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        database: { type: 'string' },
      },
    });
    const hub = await createHub({ dataDir: values.data, database: values.database });
    if (hub.adminToken) {
      process.stderr.write(
        `\nA new hub. The admin token (shown this once; store it now):\n\n  ${hub.adminToken}\n\n  pretext login --hub http://${values.host}:${values.port} --token ${hub.adminToken}\n\n`,
      );
    }
    if (hub.swept.partial || hub.swept.orphans.length)
      process.stderr.write(`removed ${hub.swept.partial} unfinished upload(s) and ${hub.swept.orphans.length} orphan blob(s)\n`);
    await hub.app.listen({ port: Number(values.port), host: values.host });
    const stop = (): void => void hub.app.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return new Promise<number>(() => undefined);
  }
  if (sub === 'team' && rest[0] === 'create' && rest[1])
    return (void console.log(JSON.stringify(await client().call('POST', '/api/teams', { name: rest[1] }))), 0);
  if (sub === 'team' && rest[0] === 'add' && rest[1] && rest[2]) {
    const role = rest.includes('--admin') ? 'admin' : 'member';
    return (void console.log(JSON.stringify(await client().call('PUT', `/api/teams/${rest[1]}/members/${rest[2]}`, { role }))), 0);
  }
  if (sub === 'user' && rest[0] === 'create' && rest[1])
    return (
      void console.log(JSON.stringify(await client().call('POST', '/api/users', { name: rest[1], admin: rest.includes('--admin') }))),
      0
    );
  if (sub === 'token' && rest[0] === 'create') {
    const { values } = parseArgs({
      args: rest.slice(1),
      options: {
        user: { type: 'string' },
        scope: { type: 'string', default: 'read' },
        name: { type: 'string', default: 'cli' },
        days: { type: 'string' },
      },
    });
    const body = {
      name: values.name,
      scope: values.scope,
      ...(values.user ? { user: values.user } : {}),
      ...(values.days ? { expiresInDays: Number(values.days) } : {}),
    };
    return (void console.log(JSON.stringify(await client().call('POST', '/api/tokens', body))), 0);
  }
  throw new UsageError(HUB_HELP.hub!);
}

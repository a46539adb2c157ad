// The hub from the command line: serve, login, push, pull, models, and team/user/token
// administration, over the hub's client (@pretext/hub/client), with progress bars.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createHub } from '@pretext/hub';
import {
  HubCallError,
  HubClient,
  parseModelRef as parseRef,
  sha256File,
  type EvalInput,
  type HubConfig,
  type ModelRef,
} from '@pretext/hub/client';
import { prepareImageTextSearch, preparePublication, prepareTryIt, ProgressBar } from '@pretext/ssl';
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
                    [--license ID] [--no-try-it] [--json]

Publishes a pretraining run: encoder weights and config, metrics, scores, recipe, reports
and plots when present, and a model card (Markdown with Hugging Face-style YAML front
matter) generated from the run. A fine-tuned classifier folder (pretext finetune) is
published the same way, its lineage.baseModel naming the encoder version it came from when
that encoder was pulled from or pushed to the hub. An image-text model (pretext image-text
train) is published as one model: both towers, the vocabulary and image-text.json.
Unless --no-try-it, an image encoder adds its ONNX export and a gallery of training images
(the model page embeds a visitor's image in the browser and shows the nearest ones), and an
image-text model adds its text tower as ONNX beside its gallery (the page finds the gallery
images nearest a typed sentence). Identical content is not uploaded twice; the same files
pushed again make no new version.`,
  pull: `Usage: pretext pull <team/name[@version|@alias]> [--out DIR] [--json]

Downloads a version (default @latest) into DIR (default ./<team>-<name>-v<N>), resuming an
interrupted download and checking every file's sha256. The folder works with pretext eval,
finetune and report.`,
  models: `Usage: pretext models ls [--team T] [--tag T] [--method M] [--json]
       pretext models search <query> [--json]`,
};

const configPath = (): string => join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'pretext', 'hub.json');

export function hubConfig(): HubConfig {
  const saved = existsSync(configPath()) ? (JSON.parse(readFileSync(configPath(), 'utf8')) as HubConfig) : { url: 'http://127.0.0.1:8080' };
  return { url: process.env.PRETEXT_HUB_URL ?? saved.url, token: process.env.PRETEXT_HUB_TOKEN ?? saved.token };
}

/** A progress bar over bytes (shown as kB/MB/GB); silent when `quiet`. */
function transferBar(label: string, totalBytes: number, quiet = false): { bar: ProgressBar; onBytes: (n: number) => void } {
  const silent = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
  const bar = new ProgressBar({ total: totalBytes, label, bytes: true, stream: quiet ? silent : process.stderr });
  return { bar, onBytes: (n) => bar.tick(n) };
}

function parseModelRef(ref: string): ModelRef {
  try {
    return parseRef(ref);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

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
      'no-try-it': { type: 'boolean', default: false },
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
  if (!values['no-try-it'] && !existsSync(join(dir, 'finetune.json')) && !existsSync(join(dir, 'image-text.json'))) {
    // Encoders publish an ONNX export and a gallery, so their hub page can run them in the browser.
    try {
      const added = await prepareTryIt(dir);
      if (added.length && !values.json) console.error(`for the hub page's try-it panel: ${added.join(', ')}`);
    } catch (err) {
      console.error(`pretext push: no try-it panel for this version (${(err as Error).message.split('\n')[0]})`);
    }
  }
  if (!values['no-try-it'] && existsSync(join(dir, 'image-text.json'))) {
    // Image-text runs with a gallery publish their text tower as ONNX: the page searches the gallery by a sentence.
    try {
      const added = await prepareImageTextSearch(dir);
      if (added.length && !values.json) console.error(`for the hub page's sentence search: ${added.join(', ')}`);
    } catch (err) {
      console.error(`pretext push: no sentence search for this version (${(err as Error).message.split('\n')[0]})`);
    }
  }
  const pub = preparePublication(dir, `${team}/${name}`, {
    license: values.license,
    codeVersion: codeVersion(),
    baseModel: baseModelOf(dir),
  });
  const client = new HubClient(hubConfig());
  const entries = [];
  for (const f of pub.files) entries.push({ path: f, sha256: await sha256File(join(dir, f)), size: statSync(join(dir, f)).size });
  const missing = [];
  for (const e of entries) if (!(await client.hasBlob(e.sha256))) missing.push(e);
  const up = transferBar(
    `pushing ${team}/${name}`,
    missing.reduce((a, e) => a + e.size, 0),
    values.json,
  );
  for (const e of missing) await client.uploadFile(join(dir, e.path), e.sha256, up.onBytes);
  up.bar.finish(`${missing.length} of ${entries.length} files uploaded`);
  const r = await client.call<{ version: { seq: number; digest: string }; created: boolean }>(
    'POST',
    `/api/models/${team}/${name}/versions`,
    {
      files: entries,
      card: pub.card,
      visibility: values.visibility,
      metrics: pub.metrics,
      lineage: pub.lineage,
    },
  );
  await client.call('PATCH', `/api/models/${team}/${name}`, pub.model);
  writeFileSync(join(dir, PUSHED), `${JSON.stringify({ model: `${team}/${name}`, version: r.version.seq, digest: r.version.digest })}\n`);
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

/** Where a pulled folder records which version it holds. */
const PULLED = 'pulled.json';

/** Downloads a version into `out` (resuming); returns the folder and version number. */
export async function pullModel(
  ref: string,
  out?: string,
  quiet = false,
): Promise<{ dir: string; seq: number; team: string; name: string }> {
  const r = parseModelRef(ref);
  let down: ReturnType<typeof transferBar> | null = null;
  const got = await new HubClient(hubConfig()).pull(r, (seq) => out ?? `${r.team}-${r.name}-v${seq}`, {
    onStart: (seq, total) => (down = transferBar(`pulling ${r.team}/${r.name} v${seq}`, total, quiet)),
    onBytes: (n) => down?.onBytes(n),
  });
  (down as ReturnType<typeof transferBar> | null)?.bar.finish(`${got.files.length} files`);
  writeFileSync(
    join(got.dir, PULLED),
    `${JSON.stringify({ model: `${r.team}/${r.name}`, version: got.seq, pulledAt: new Date().toISOString() })}\n`,
  );
  return { dir: got.dir, seq: got.seq, team: r.team, name: r.name };
}

/** Where a pushed folder records the version it became. */
const PUSHED = 'pushed.json';

/**
 * For a fine-tuned classifier folder: the hub version its encoder was pulled from or pushed
 * as ("team/name@vN"), or undefined when the encoder never met the hub.
 */
function baseModelOf(dir: string): string | undefined {
  const path = join(dir, 'finetune.json');
  if (!existsSync(path)) return undefined;
  const encoder = (JSON.parse(readFileSync(path, 'utf8')) as { encoder?: string }).encoder;
  if (!encoder) return undefined;
  for (const file of [PULLED, PUSHED]) {
    const p = join(encoder, file);
    if (existsSync(p)) {
      const v = JSON.parse(readFileSync(p, 'utf8')) as { model: string; version: number };
      return `${v.model}@v${v.version}`;
    }
  }
  return undefined;
}

/** The hub version a pulled folder holds, or null for a folder that was not pulled. */
export function pulledVersion(dir: string): { model: string; version: number } | null {
  const p = join(dir, PULLED);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { model: string; version: number }) : null;
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
  if (existsSync(join(arg, 'encoder.json')) || existsSync(join(arg, 'image-text.json'))) return arg;
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

/** A result to report: the hub's own wire type. */
export type EvalResult = EvalInput;

/** An evaluation of one hub version, kept beside the pulled encoder until (and after) it reached the hub. */
export interface SavedEvals {
  model: string;
  version: number;
  dataset: string;
  evaluatedAt: string;
  /** Everything the evaluation measured (the results below are what the hub gets). */
  scores: Record<string, number>;
  /** Each result with the idempotency key the hub deduplicates retries by. */
  results: (EvalResult & { key: string })[];
}

export const savedEvalsPath = (dir: string, dataset: string): string => join(dir, `eval-${dataset.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);

/** Writes the results (atomically) before anything is sent, so a failed push never costs the evaluation. */
export function saveEvals(dir: string, s: Omit<SavedEvals, 'results'> & { results: EvalResult[] }): string {
  const path = savedEvalsPath(dir, s.dataset);
  const body: SavedEvals = { ...s, results: s.results.map((r) => ({ ...r, key: randomUUID() })) };
  writeFileSync(`${path}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

export function loadSavedEvals(dir: string, dataset: string): SavedEvals | null {
  const path = savedEvalsPath(dir, dataset);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SavedEvals) : null;
}

/**
 * Sends saved results to the version they were measured on. Each carries its idempotency key,
 * so sending again (after a lost answer, or by running the command twice) adds nothing twice.
 */
export async function pushSavedEvals(path: string, client = new HubClient(hubConfig())): Promise<{ added: number; already: number }> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as SavedEvals;
  const { team, name } = parseModelRef(s.model);
  let added = 0;
  for (const r of s.results) {
    const { key, ...e } = r;
    try {
      const res = await client.callWithStatus('POST', `/api/models/${team}/${name}/versions/v${s.version}/evals`, e, {
        idempotencyKey: key,
      });
      if (res.status === 201) added++;
    } catch (err) {
      if (!(err instanceof HubCallError)) throw err;
      throw new HubCallError(
        `${err.message}\nthe result is saved in ${path}: run the same command again to send it without evaluating again`,
        err.status,
      );
    }
  }
  return { added, already: s.results.length - added };
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

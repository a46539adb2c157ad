// A federation hosted by a real hub with two real site processes, as the issue asks: one run
// without faults, and a twin run in which a site is killed with SIGKILL mid-round and restarted,
// and the hub itself is killed and restarted; both must end at the same global weights (same
// seed). Then the owner saves the global encoder as a run folder the other commands read.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureSchema } from '@pretext/data';
import { decodeWeights } from '@pretext/hub/client';
import { bin, historyRecipe, runPretext, shoppingHistories, tinyImageRecipe, transactions } from './fixtures/cli.js';

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

/** `pretext hub serve` on a fixed port; resolves once it listens (and with the admin token on a new hub). */
function startHub(dataDir: string, port: number): Promise<{ server: ChildProcess; token: string | null }> {
  const server = spawn(process.execPath, [bin, 'hub', 'serve', '--data', dataDir, '--port', String(port)]);
  let out = '';
  return new Promise((resolve, reject) => {
    const seen = (d: Buffer): void => {
      out += d.toString();
      if (/Server listening at/.test(out)) resolve({ server, token: /(ptx_[A-Za-z0-9_-]+)/.exec(out)?.[1] ?? null });
    };
    server.stdout.on('data', seen);
    server.stderr.on('data', seen);
    server.on('exit', (code) => reject(new Error(`hub exited ${code}: ${out}`)));
  });
}

interface Agent {
  proc: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; out: string }>;
}

function join_(env: Record<string, string>, ...args: string[]): Agent {
  const proc = spawn(process.execPath, [bin, 'federate', 'join', ...args], { env: { ...process.env, ...env } });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, done: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, out }))) };
}

describe('pretext federate host / join against pretext hub serve', () => {
  let dir: string;
  let port: number;
  let hub: ChildProcess;
  let url: string;
  const env: Record<string, Record<string, string>> = {};

  const api = async (token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }).catch((e: Error) => {
      throw new Error(`${method} ${path}: ${e.message} (${String((e.cause as Error | undefined)?.message ?? e.cause)})`);
    });
    const json = (await r.json()) as Record<string, unknown>;
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pretext-hosted-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const started = await startHub(join(dir, 'hub'), port);
    hub = started.server;
    const root = started.token!;
    for (const [user, team] of [
      ['olga', 'lab'],
      ['nina', 'north'],
      ['sven', 'south'],
      ['emil', 'east'],
    ] as const) {
      await api(root, 'POST', '/api/users', { name: user });
      const token = (await api(root, 'POST', '/api/tokens', { name: user, scope: 'admin', user })).token as string;
      await api(token, 'POST', '/api/teams', { name: team });
      env[team] = { PRETEXT_HUB_URL: url, PRETEXT_HUB_TOKEN: token };
    }
    writeFileSync(
      join(dir, 'recipe.yaml'),
      tinyImageRecipe('hosted', '{ width: 8, depth: 2, readoutNorm: true }').replace('limit: 512', 'limit: 2048'),
    );
    // What DP-SGD can bound: a loss that is a mean over images, and no BatchNorm.
    writeFileSync(
      join(dir, 'private.yaml'),
      tinyImageRecipe('hosted-dp', '{ width: 8, depth: 2, norm: group }').replace(
        'name: simclr\n  config: { hiddenDim: 32, projDim: 16 }',
        'name: rotation\n  config: { hiddenDim: 32, headNorm: layer }',
      ),
    );
  });
  after(() => {
    hub.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const host = (name: string): void => {
    const r = runPretext(
      env.lab!,
      'federate',
      'host',
      `lab/${name}`,
      join(dir, 'recipe.yaml'),
      '--sites',
      'north,south',
      '--rounds',
      '3',
      '--local-epochs',
      '2',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const f = JSON.parse(r.stdout) as { status: string; sites: string[]; rounds: number };
    assert.deepEqual([f.status, f.sites, f.rounds], ['running', ['north', 'south'], 3]);
  };
  const site = (name: string, team: 'north' | 'south' | 'east'): Agent =>
    join_(
      env[team]!,
      `lab/${name}`,
      '--site',
      team,
      '--shard',
      `dirichlet:0.5:${['north', 'south', 'east'].indexOf(team)}/${team === 'east' || name === 'vault' ? 3 : 2}`,
      '--state',
      join(dir, `${name}-${team}`),
      '--poll',
      '0.1',
    );
  /** north and south join lab/`name`, each with its own recipe (its own data), and both take part in rounds 1 and 2. */
  const ownDataSites = async (name: string, recipe: (team: string) => string): Promise<void> => {
    const agents = (['north', 'south'] as const).map((team) =>
      join_(env[team]!, `lab/${name}`, '--site', team, '--data', recipe(team), '--state', join(dir, `${name}-${team}`), '--poll', '0.1'),
    );
    for (const a of agents) {
      const done = await a.done;
      assert.equal(done.code, 0, done.out);
      assert.match(done.out, /federation finished; updates in rounds 1, 2/);
    }
  };
  const globalWeights = async (name: string): Promise<Map<string, Float32Array>> => {
    const r = await fetch(`${url}/api/federations/lab/${name}/weights`, {
      headers: { authorization: `Bearer ${env.lab!.PRETEXT_HUB_TOKEN}` },
    });
    assert.equal(r.status, 200);
    return decodeWeights(new Uint8Array(await r.arrayBuffer())).weights;
  };
  const status = async (name: string) =>
    (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', `/api/federations/lab/${name}`)) as {
      status: string;
      round: number;
      history: { sites: string[] }[];
    };

  /**
   * `federate host` with --site-summaries in the background (it waits for the sites' summaries);
   * resolves once the federation exists, with a promise of how the host ends (wrapped, so that
   * awaiting this does not wait for the host).
   */
  const hostWithSummaries = async (
    name: string,
    recipe: string,
  ): Promise<{ done: Promise<{ code: number | null; out: string; err: string }> }> => {
    const args = ['federate', 'host', `lab/${name}`, recipe, '--sites', 'north,south', '--site-summaries', '--poll', '0.1', '--json'];
    const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env.lab! } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
      proc.on('exit', (code) => resolve({ code, out, err })),
    );
    const headers = { authorization: `Bearer ${env.north!.PRETEXT_HUB_TOKEN}` };
    for (let i = 0; (await fetch(`${url}/api/federations/lab/${name}`, { headers })).status === 404; i++) {
      assert.ok(i < 300, `lab/${name} was not created: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { done };
  };

  it('two sites finish a federation; a site killed mid-round and a killed hub, both restarted, end at the same weights', async () => {
    host('calm');
    const calm = [site('calm', 'north'), site('calm', 'south')];
    for (const a of calm) {
      const r = await a.done;
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /federation finished; updates in rounds 1, 2, 3/);
    }
    const fault = await status('calm');
    assert.equal(fault.status, 'finished');
    assert.ok(fault.history.every((r) => r.sites.length === 2));
    // Each site reported its training loss for every round; status prints them by round.
    const { losses } = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/calm')) as {
      losses: Record<string, Record<string, number>>;
    };
    assert.deepEqual(Object.keys(losses).sort(), ['1', '2', '3']);
    for (const bySite of Object.values(losses)) {
      assert.deepEqual(Object.keys(bySite).sort(), ['north', 'south']);
      assert.ok(
        Object.values(bySite).every((l) => Number.isFinite(l) && l > 0),
        JSON.stringify(losses),
      );
    }
    const calmStatus = runPretext(env.lab!, 'federate', 'status', 'lab/calm');
    assert.match(
      calmStatus.stdout,
      new RegExp(`round 3: .*; training loss north ${losses['3']!.north!.toFixed(3)}, south ${losses['3']!.south!.toFixed(3)}`),
    );

    host('stormy');
    const north = site('stormy', 'north');
    const south = site('stormy', 'south');
    // Once round 1 has closed the sites are training round 2: kill south there, then the hub.
    for (let i = 0; i < 600 && (await status('stormy')).round < 1; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 150));
    south.proc.kill('SIGKILL');
    assert.equal((await south.done).signal, 'SIGKILL');
    // Killed mid-round: south's update for round 2 never reached the hub.
    const killed = (await status('stormy')) as unknown as { round: number; submitted: string[] };
    assert.equal(killed.round, 1);
    assert.ok(!killed.submitted.includes('south'), JSON.stringify(killed));
    hub.kill('SIGKILL');
    await new Promise((r) => hub.on('exit', r));
    hub = (await startHub(join(dir, 'hub'), port)).server;
    const south2 = site('stormy', 'south');
    for (const a of [north, south2]) {
      const r = await a.done;
      assert.equal(r.code, 0, r.out);
    }
    const stormy = await status('stormy');
    assert.equal(stormy.status, 'finished');
    assert.deepEqual(
      stormy.history.map((r) => [...r.sites].sort()),
      [
        ['north', 'south'],
        ['north', 'south'],
        ['north', 'south'],
      ],
    );
    const a = await globalWeights('calm');
    const b = await globalWeights('stormy');
    assert.deepEqual([...b.keys()], [...a.keys()]);
    let maxDiff = 0;
    for (const [k, v] of a) {
      const w = b.get(k)!;
      for (let i = 0; i < v.length; i++) maxDiff = Math.max(maxDiff, Math.abs(v[i]! - w[i]!));
    }
    assert.ok(maxDiff <= 1e-6, `the faulty run differs from the calm one by ${maxDiff}`);
    // The weights moved: they are not the initial ones.
    assert.ok(stormy.history.length === 3);
  });

  it('saves the global encoder as a run the other commands read, and refuses a site it was not invited as', async () => {
    const out = join(dir, 'saved');
    const r = runPretext(env.lab!, 'federate', 'save', 'lab/calm', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(out, 'encoder.json')));
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      federated: { mode: string; rounds: number; sites: { name: string }[] };
      inputNorm: { mean: number; std: number };
    };
    assert.deepEqual([meta.federated.mode, meta.federated.rounds, meta.federated.sites.map((s) => s.name)], ['hub', 3, ['north', 'south']]);
    // Every site normalized its images by the owner's figures, which the hub kept with the plan.
    const plan = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/calm')) as {
      features: { format: string; mean: number; std: number };
    };
    assert.equal(plan.features.format, 'pretext-input-norm/1');
    assert.ok(
      plan.features.mean > 0.2 && plan.features.mean < 0.4 && plan.features.std > 0.2 && plan.features.std < 0.5,
      JSON.stringify(plan),
    );
    assert.deepEqual(meta.inputNorm, { mean: plan.features.mean, std: plan.features.std });
    // The owner's evaluator records the finished federation's validation kNN for its page.
    const w = runPretext(env.lab!, 'federate', 'watch', 'lab/calm');
    assert.equal(w.code, 0, w.stderr);
    const knn = Number(/round 3: validation kNN ([\d.]+)%/.exec(w.stdout)?.[1]);
    assert.ok(knn > 20 && knn <= 100, w.stdout);
    const calm = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/calm')) as {
      metrics: Record<string, { valKnn: number }>;
    };
    assert.ok(Math.abs(calm.metrics['3']!.valKnn * 100 - knn) < 0.01);
    const d = runPretext({}, 'diagnose', '--encoder', out, '--json');
    assert.equal(d.code, 0, d.stderr);
    const wrong = runPretext(
      env.north!,
      'federate',
      'join',
      'lab/calm',
      '--site',
      'east',
      '--shard',
      'iid:0/2',
      '--state',
      join(dir, 'east'),
    );
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /'east' is not a site of lab\/calm/);
    const outsider = runPretext({ ...env.north!, PRETEXT_HUB_TOKEN: env.north!.PRETEXT_HUB_TOKEN! }, 'federate', 'stop', 'lab/calm');
    assert.notEqual(outsider.code, 0);
    assert.match(outsider.stderr, /only members of team 'lab' may steer/);
  });

  it('runs DP-SGD at every site: each reports the epsilon it spent, which the hub shows and the saved encoder records', async () => {
    const dp = ['--dp-noise', '1.2', '--dp-clip', '1'];
    // A recipe DP-SGD cannot bound is refused before the federation exists.
    const refused = runPretext(env.lab!, 'federate', 'host', 'lab/leaky', join(dir, 'recipe.yaml'), '--sites', 'north,south', ...dp);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /simclr's loss compares examples with each other/);
    const r = await fetch(`${url}/api/federations/lab/leaky`, { headers: { authorization: `Bearer ${env.lab!.PRETEXT_HUB_TOKEN}` } });
    assert.equal(r.status, 404);

    const h = runPretext(
      env.lab!,
      'federate',
      'host',
      'lab/private',
      join(dir, 'private.yaml'),
      '--sites',
      'north,south',
      '--rounds',
      '2',
      ...dp,
      '--json',
    );
    assert.equal(h.code, 0, h.stderr);
    assert.deepEqual((JSON.parse(h.stdout) as { dp: unknown }).dp, { noise: 1.2, clip: 1, delta: 1e-5 });
    const agents = (['north', 'south'] as const).map((t) => site('private', t));
    for (const a of agents) {
      const done = await a.done;
      assert.equal(done.code, 0, done.out);
      assert.match(done.out, /federation finished; updates in rounds 1, 2/);
    }
    const f = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/private')) as {
      privacy: Record<string, Record<string, number>>;
      losses: Record<string, Record<string, number>>;
    };
    assert.deepEqual(Object.keys(f.privacy).sort(), ['1', '2']);
    // Under DP-SGD no site sends its (unnoised) training loss.
    assert.deepEqual(f.losses, {});
    for (const s of ['north', 'south']) {
      const [e1, e2] = [f.privacy['1']![s]!, f.privacy['2']![s]!];
      // Privacy spent grows with the steps taken, and at this noise stays finite.
      assert.ok(e1 > 0 && e2 > e1 && Number.isFinite(e2), `${s}: ${e1}, ${e2}`);
    }
    const st = runPretext(env.lab!, 'federate', 'status', 'lab/private');
    assert.equal(st.code, 0, st.stderr);
    assert.match(
      st.stdout,
      new RegExp(
        `DP-SGD: clip 1, noise 1.2; epsilon at delta 0.00001: north ${f.privacy['2']!.north!.toFixed(2)}, south ${f.privacy['2']!.south!.toFixed(2)}`,
      ),
    );
    const out = join(dir, 'private-saved');
    const saved = runPretext(env.lab!, 'federate', 'save', 'lab/private', '--out', out);
    assert.equal(saved.code, 0, saved.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      federated: { epsilon: Record<string, number>; dp: { noise: number; clip: number; delta: number; sampling: string } };
    };
    assert.deepEqual(meta.federated.epsilon, f.privacy['2']);
    assert.deepEqual(meta.federated.dp, { noise: 1.2, clip: 1, delta: 1e-5, sampling: 'poisson' });
  });

  it("federates a table: the owner fixes the preprocessing, each site trains on its own file, and the saved encoder embeds a site's rows", async () => {
    // The owner holds a labeled copy; each site its own transactions, south with a merchant nobody else has.
    writeFileSync(join(dir, 'lab.csv'), transactions(400, 1));
    writeFileSync(join(dir, 'north.csv'), transactions(300, 2));
    writeFileSync(join(dir, 'south.csv'), transactions(300, 3, ['grocery', 'fuel', 'pharmacy']));
    for (const party of ['lab', 'north', 'south'])
      writeFileSync(
        join(dir, `${party}.yaml`),
        `name: dae-ledger
data: { dataset: table, path: ${join(dir, `${party}.csv`)}, label: fraud, drop: [id] }
encoder: { type: tabular-mlp, config: { hidden: [32, 32] } }
method: { name: dae }
train: { epochs: 2, batchSize: 64, optimizer: { name: adamw, lr: 0.001 } }
`,
      );
    const h = runPretext(env.lab!, 'federate', 'host', 'lab/ledger', join(dir, 'lab.yaml'), '--sites', 'north,south', '--json');
    assert.equal(h.code, 0, h.stderr);
    const hosted = JSON.parse(h.stdout) as { rounds: number; features: FeatureSchema };
    assert.equal(hosted.rounds, 2);
    // The preprocessing is the owner's: fitted on its rows, the label kept out of the inputs.
    assert.deepEqual(hosted.features.label, { name: 'fraud', classes: ['false', 'true'] });
    assert.deepEqual(hosted.features.categorical.find((c) => c.name === 'merchant')!.levels.sort(), [
      'fuel',
      'grocery',
      'online',
      'travel',
    ]);
    await ownDataSites('ledger', (team) => join(dir, `${team}.yaml`));
    const f = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/ledger')) as {
      history: { sites: string[]; examples: number }[];
    };
    assert.deepEqual(
      f.history.map((r) => [...r.sites].sort()),
      [
        ['north', 'south'],
        ['north', 'south'],
      ],
    );
    // The owner's evaluator scores the table encoder by validation AUROC on its own labeled rows.
    const w = runPretext(env.lab!, 'federate', 'watch', 'lab/ledger');
    assert.equal(w.code, 0, w.stderr);
    const auroc = Number(/round 2: validation AUROC ([\d.]+)/.exec(w.stdout)?.[1]);
    assert.ok(auroc > 0.5 && auroc <= 1, w.stdout);
    const m = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/ledger')) as {
      metrics: Record<string, { valAuroc: number }>;
    };
    assert.ok(Math.abs(m.metrics['2']!.valAuroc - auroc) < 1e-4);
    const out = join(dir, 'ledger-saved');
    const saved = runPretext(env.lab!, 'federate', 'save', 'lab/ledger', '--out', out);
    assert.equal(saved.code, 0, saved.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      modality: string;
      federated: { mode: string; rounds: number };
    };
    assert.deepEqual([meta.modality, meta.federated.mode, meta.federated.rounds], ['tabular', 'hub', 2]);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'features.json'), 'utf8')), hosted.features);
    // A site embeds its own rows, the merchant the owner never saw included, with the saved encoder.
    const emb = runPretext({}, 'embed', '--encoder', out, '--table', join(dir, 'south.csv'), '--out', join(dir, 'south-emb.csv'), '--json');
    assert.equal(emb.code, 0, emb.stderr);
    assert.deepEqual(JSON.parse(emb.stdout), { out: join(dir, 'south-emb.csv'), rows: 300, dim: 32 });
  });

  it("merges a table's preprocessing from the sites' summaries: the owner reads no rows, and the sites' levels are the inputs", async () => {
    writeFileSync(join(dir, 'north-m.csv'), transactions(300, 4));
    writeFileSync(join(dir, 'south-m.csv'), transactions(300, 5, ['grocery', 'fuel', 'pharmacy']));
    const recipe = (file: string): string => `name: dae-merged
data: { dataset: table, path: ${file}, label: fraud, drop: [id] }
encoder: { type: tabular-mlp, config: { hidden: [32, 32] } }
method: { name: dae }
train: { epochs: 2, batchSize: 64, optimizer: { name: adamw, lr: 0.001 } }
`;
    // The owner's recipe names a file it does not have: with --site-summaries it is never read.
    writeFileSync(join(dir, 'merged.yaml'), recipe(join(dir, 'no-such-owner-file.csv')));
    for (const team of ['north', 'south']) writeFileSync(join(dir, `${team}-m.yaml`), recipe(join(dir, `${team}-m.csv`)));
    const hosting = await hostWithSummaries('merged', join(dir, 'merged.yaml'));
    await ownDataSites('merged', (team) => join(dir, `${team}-m.yaml`));
    const hosted = await hosting.done;
    assert.equal(hosted.code, 0, hosted.err);
    assert.match(hosted.err, /summaries from 0 of 2 sites; waiting/);
    assert.match(hosted.err, /preprocessing merged from north, south: 2 numeric and 2 categorical inputs/);
    const f = JSON.parse(hosted.out) as { features: FeatureSchema; siteSummaries: { minCount: number }; summarized: string[] };
    assert.deepEqual([f.siteSummaries, f.summarized], [{ minCount: 5 }, ['north', 'south']]);
    assert.deepEqual(f.features.label, { name: 'fraud', classes: ['false', 'true'] });
    // south's pharmacy is an input level although neither the owner nor north has one.
    assert.deepEqual(f.features.categorical.find((c) => c.name === 'merchant')!.levels, [
      'fuel',
      'grocery',
      'online',
      'pharmacy',
      'travel',
    ]);
    // Each summary is of the site's training rows (its test fifth held out), and only the owner reads them.
    const summaries = (await api(env.lab!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/merged/summaries')) as Record<
      string,
      { rows: number; minCount: number }
    >;
    assert.deepEqual(
      Object.entries(summaries).map(([s, x]) => [s, x.rows, x.minCount]),
      [
        ['north', 240, 5],
        ['south', 240, 5],
      ],
    );
    const denied = await fetch(`${url}/api/federations/lab/merged/summaries`, {
      headers: { authorization: `Bearer ${env.north!.PRETEXT_HUB_TOKEN}` },
    });
    assert.equal(denied.status, 403);
  });

  it('federates histories: the owner fixes the event preprocessing, each site trains on its own clients, and the saved encoder embeds theirs', async () => {
    // Three banks' clients: the owner's labeled copy and each site's own event and label files.
    for (const [k, party] of ['lab', 'north', 'south'].entries()) {
      shoppingHistories(join(dir, `${party}-events.csv`), join(dir, `${party}-status.csv`), 120, 11 + k);
      writeFileSync(
        join(dir, `${party}-events.yaml`),
        historyRecipe('coles-clients', join(dir, `${party}-events.csv`), join(dir, `${party}-status.csv`), 2),
      );
    }
    const h = runPretext(env.lab!, 'federate', 'host', 'lab/clients', join(dir, 'lab-events.yaml'), '--sites', 'north,south', '--json');
    assert.equal(h.code, 0, h.stderr);
    const hosted = JSON.parse(h.stdout) as {
      features: { format: string; categorical: { name: string; levels: string[] }[]; maxLength: number };
    };
    assert.equal(hosted.features.format, 'pretext-events/1');
    assert.deepEqual(hosted.features.categorical, [{ name: 'merchant', levels: ['grocery', 'online', 'store'] }]);
    await ownDataSites('clients', (team) => join(dir, `${team}-events.yaml`));
    const w = runPretext(env.lab!, 'federate', 'watch', 'lab/clients');
    assert.equal(w.code, 0, w.stderr);
    const auroc = Number(/round 2: validation AUROC ([\d.]+)/.exec(w.stdout)?.[1]);
    assert.ok(auroc >= 0 && auroc <= 1, w.stdout);
    const out = join(dir, 'clients-saved');
    const saved = runPretext(env.lab!, 'federate', 'save', 'lab/clients', '--out', out);
    assert.equal(saved.code, 0, saved.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      modality: string;
      inputShape: number[];
      federated: { mode: string };
    };
    assert.deepEqual([meta.modality, meta.federated.mode, meta.inputShape[0]], ['sequence', 'hub', 32]);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'events.json'), 'utf8')), hosted.features);
    const emb = runPretext(
      {},
      'embed',
      '--encoder',
      out,
      '--events',
      join(dir, 'south-events.csv'),
      '--entity',
      'client',
      '--time',
      'day',
      '--out',
      join(dir, 'south-clients.csv'),
      '--json',
    );
    assert.equal(emb.code, 0, emb.stderr);
    assert.deepEqual(JSON.parse(emb.stdout), { out: join(dir, 'south-clients.csv'), rows: 120, dim: 32 });
  });

  it("merges histories' event preprocessing from the sites' summaries: a merchant only south's clients use is a level", async () => {
    for (const [k, party] of ['north', 'south'].entries()) {
      shoppingHistories(
        join(dir, `${party}-ev-m.csv`),
        join(dir, `${party}-st-m.csv`),
        120,
        21 + k,
        party === 'south' ? 'pharmacy' : undefined,
      );
      writeFileSync(
        join(dir, `${party}-ev-m.yaml`),
        historyRecipe('coles-merged', join(dir, `${party}-ev-m.csv`), join(dir, `${party}-st-m.csv`), 2),
      );
    }
    // The owner's recipe names files it does not have.
    writeFileSync(join(dir, 'ev-merged.yaml'), historyRecipe('coles-merged', join(dir, 'none.csv'), join(dir, 'none-status.csv'), 2));
    const hosting = await hostWithSummaries('clients-merged', join(dir, 'ev-merged.yaml'));
    await ownDataSites('clients-merged', (team) => join(dir, `${team}-ev-m.yaml`));
    const hosted = await hosting.done;
    assert.equal(hosted.code, 0, hosted.err);
    assert.match(hosted.err, /preprocessing merged from north, south: 1 numeric and 1 categorical inputs/);
    const f = JSON.parse(hosted.out) as {
      features: { format: string; categorical: { name: string; levels: string[] }[]; numeric: { byType: object }[]; maxLength: number };
    };
    assert.equal(f.features.format, 'pretext-events/1');
    assert.deepEqual(f.features.categorical, [{ name: 'merchant', levels: ['grocery', 'online', 'pharmacy', 'store'] }]);
    assert.deepEqual(Object.keys(f.features.numeric[0]!.byType).sort(), ['grocery', 'online', 'pharmacy', 'store']);
    assert.equal(f.features.maxLength, 32);
    const out = join(dir, 'clients-merged-saved');
    const saved = runPretext(env.lab!, 'federate', 'save', 'lab/clients-merged', '--out', out);
    assert.equal(saved.code, 0, saved.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as { federated: { preprocessing: unknown } };
    assert.deepEqual(meta.federated.preprocessing, { from: 'site-summaries', minCount: 5, sites: ['north', 'south'] });
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'events.json'), 'utf8')), f.features);
  });

  it('runs a securely aggregated federation of three site processes to the end, a site killed after sharing its keys included', async () => {
    const r = runPretext(
      env.lab!,
      'federate',
      'host',
      'lab/vault',
      join(dir, 'recipe.yaml'),
      '--sites',
      'north,south,east',
      '--rounds',
      '2',
      '--secure-aggregation',
      '--clip',
      '1',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { secureAggregation: unknown }).secureAggregation, { clip: 1 });
    const agents = (['north', 'south', 'east'] as const).map((t) => site('vault', t));
    // south is killed in round 1 as soon as it has kept its keys and shares on disk (before its
    // masked input can follow a poll later), then restarted: it must go on with the keys the
    // other sites hold, and round 1 must include it.
    const saved = join(dir, 'vault-south', 'secagg.json');
    const sharedYet = (): boolean => existsSync(saved) && (JSON.parse(readFileSync(saved, 'utf8')) as { shared: boolean }).shared;
    for (let i = 0; i < 12_000 && !sharedYet(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(sharedYet(), 'south never shared its keys');
    agents[1]!.proc.kill('SIGKILL');
    assert.equal((await agents[1]!.done).signal, 'SIGKILL');
    assert.equal(statSync(saved).mode & 0o777, 0o600, 'the keys file is readable by the site only');
    const view = (await api(env.south!.PRETEXT_HUB_TOKEN!, 'GET', '/api/federations/lab/vault/secure/south')) as {
      round: number;
      phase: string;
      done: boolean;
    };
    assert.equal(view.round, 1);
    assert.ok(!(view.phase === 'inputs' && view.done), `south's masked input reached the hub before the kill: ${JSON.stringify(view)}`);
    agents[1] = site('vault', 'south');
    for (const a of agents) {
      const done = await a.done;
      assert.equal(done.code, 0, done.out);
      assert.match(done.out, /federation finished; updates in rounds 1, 2/);
    }
    assert.match((await agents[1]!.done).out, /resuming secure aggregation with the keys it advertised/);
    assert.ok(!existsSync(saved), 'the keys file outlived the federation');
    const f = await status('vault');
    assert.deepEqual(
      f.history.map((h) => [...h.sites].sort()),
      [
        ['east', 'north', 'south'],
        ['east', 'north', 'south'],
      ],
    );
    // Nothing of any site's update stayed on the hub's disk: only the rounds' global weights.
    const folders = readdirSync(join(dir, 'hub', 'federations'));
    for (const d of folders)
      assert.deepEqual(
        readdirSync(join(dir, 'hub', 'federations', d)).filter((x) => x.startsWith('update-')),
        [],
      );
  });
});

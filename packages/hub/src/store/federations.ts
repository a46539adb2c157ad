// Hub-hosted federations: who may see and steer one, the coordinator behind it, and what it
// keeps on disk so a restarted hub resumes at the last completed round. A federation belongs to
// its owner team (only its writers create, start, pause and stop it); invited site teams submit
// one update per round, each only for its own slot. Anyone else, hub admins aside, is told the
// federation does not exist. Global weights and pending updates live as float32 safetensors
// under <dataDir>/federations/<id>/, written to a temporary name, synced and renamed; the
// database says which round is current, so a crash between the two leaves the older round in
// force and the round closes again from the same updates.
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { NAME } from '../auth.js';
import type { Db, Row } from '../db.js';
import {
  Coordinator,
  FederationRejected,
  type CoordinatorState,
  type FederationPlan,
  type RejectReason,
  type RoundRecord,
} from '../federation/coordinator.js';
import type { Weights } from '../federation/aggregate.js';
import type { DpPolicy, FederationInput, LossReport, PrivacyReport, SecurePhase, SecureView } from '../federation/wire.js';

export type { FederationInput } from '../federation/wire.js';
import { decodeWeights, encodeWeights, TensorFileError } from '../federation/tensors.js';
import {
  SecAggServer,
  secAggParams,
  SecureAggregationError,
  unflattenWeights,
  type Advertisement,
  type SealedShares,
  type UnmaskRequest,
  type UnmaskResponse,
} from '../federation/secagg.js';
import { audit, HubError, need, NAME_RULE, now, num, requireScope, type Actor } from './access.js';

export type FederationStatus = 'created' | 'running' | 'paused' | 'stopped' | 'finished';

/** The plan as stored: what the owner gave, with the defaults filled in. */
interface StoredPlan {
  sites: string[];
  rounds: number;
  localEpochs: number;
  minSites: number;
  roundTimeoutS: number;
  maxUpdateNorm: number | null;
  strategy: FederationInput['strategy'];
  plainKeys: string[];
  secureAggregation: { clip: number } | null;
  dp: DpPolicy | null;
  features: Record<string, unknown> | null;
  siteSummaries: { minCount: number } | null;
}

export interface FederationInfo extends Omit<StoredPlan, 'plainKeys'> {
  team: string;
  name: string;
  status: FederationStatus;
  recipe: string;
  /** Rounds completed; the open round is round + 1. */
  round: number;
  /** Sites whose update for the open round is in. */
  submitted: string[];
  /** Sites whose summary for a merged preprocessing is in (empty unless siteSummaries). */
  summarized: string[];
  hasWeights: boolean;
  history: RoundRecord[];
  /** What the owner measured on the global weights after a round, by round (1-based). */
  metrics: Record<string, Record<string, number>>;
  /** Under DP-SGD: epsilon each site reported at the policy's delta, by round (1-based) and site. */
  privacy: Record<string, Record<string, number>>;
  /** Each site's mean training loss, by round (1-based) and site (not under DP-SGD). */
  losses: Record<string, Record<string, number>>;
  createdAt: string;
  updatedAt: string;
}

type FederationRow = Row & {
  id: number;
  team_id: number;
  team: string;
  name: string;
  plan: string;
  recipe: string;
  status: FederationStatus;
  round: number;
  history: string;
  metrics: string;
  privacy: string;
  losses: string;
  created_at: string;
  updated_at: string;
};

const REJECT_STATUS: Record<RejectReason, number> = {
  'not-a-site': 403,
  'wrong-round': 409,
  replay: 409,
  finished: 409,
  'bad-update': 400,
};

/** A file written whole or not at all: a temporary name, fsync, rename. */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const part = `${path}.part`;
  const fd = openSync(part, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(part, path);
}

/** One promise chain per federation: its rounds change one request at a time. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

interface Live {
  coordinator: Coordinator;
  shapes: Map<string, number[]>;
  /** Bytes of the global weights file: the size an update may not exceed by much. */
  weightBytes: number;
}

interface SecureRound {
  round: number;
  attempt: string;
  phase: SecurePhase;
  openedAt: number;
  server: SecAggServer;
  threshold: number;
  request: UnmaskRequest | null;
  responses: Map<string, UnmaskResponse>;
}

export type SecureStep =
  | { step: 'keys'; round: number; attempt: string; advertisement: Advertisement }
  | { step: 'shares'; round: number; attempt: string; boxes: SealedShares[] }
  | { step: 'unmask'; round: number; attempt: string; response: UnmaskResponse };

export class Federations {
  private readonly live = new Map<number, Live>();
  private readonly secure = new Map<number, SecureRound>();
  private readonly serial = new Map<number, Serial>();

  constructor(
    private readonly db: Db,
    private readonly dir: string,
  ) {}

  private folder(id: number): string {
    return join(this.dir, String(id));
  }

  private lane(id: number): Serial {
    let s = this.serial.get(id);
    if (!s) this.serial.set(id, (s = new Serial()));
    return s;
  }

  /** The federation row when `actor` is in it (owner team, a site team or a hub admin); otherwise 404, as for one that does not exist. */
  private async row(actor: Actor | null, team: string, name: string): Promise<FederationRow & { siteIds: number[] }> {
    const f = await this.db.one<FederationRow>(
      'SELECT f.*, t.name AS team FROM federations f JOIN teams t ON t.id = f.team_id WHERE t.name = ? AND f.name = ?',
      [team, name],
    );
    const siteIds = f
      ? (await this.db.all<{ team_id: number }>('SELECT team_id FROM federation_sites WHERE federation_id = ?', [f.id])).map((r) =>
          num(r.team_id),
        )
      : [];
    const member = !!actor && (actor.isAdmin || actor.teams.has(num(f?.team_id)) || siteIds.some((s) => actor.teams.has(s)));
    need(f && member, 404, `no federation '${team}/${name}'`);
    return { ...f, siteIds };
  }

  private plan(f: FederationRow): StoredPlan {
    return JSON.parse(f.plan) as StoredPlan;
  }

  private coordinatorPlan(p: StoredPlan): FederationPlan {
    return {
      sites: p.sites,
      rounds: p.rounds,
      minSites: p.minSites,
      roundTimeoutMs: p.roundTimeoutS * 1000,
      aggregation: p.strategy.aggregation,
      optimizer: p.strategy.optimizer,
      ...(p.maxUpdateNorm === null ? {} : { maxUpdateNorm: p.maxUpdateNorm }),
      ...(p.secureAggregation ? { secureAggregation: p.secureAggregation } : {}),
    };
  }

  private statePath(id: number, round: number): string {
    return join(this.folder(id), `state-${round}.safetensors`);
  }

  private writeState(id: number, round: number, global: Weights, optimizer: Weights, shapes: Map<string, number[]>): number {
    mkdirSync(this.folder(id), { recursive: true });
    const all: Weights = new Map(global);
    for (const [k, v] of optimizer) all.set(`optimizer.${k}`, v);
    const bytes = encodeWeights(all, { round: String(round) }, shapes);
    writeAtomic(this.statePath(id, round), bytes);
    return bytes.length;
  }

  /** The coordinator of a started federation, from memory or rebuilt from the last completed round and the updates in for the open one. */
  private async coordinator(f: FederationRow): Promise<Live> {
    const cached = this.live.get(num(f.id));
    if (cached && cached.coordinator.round === num(f.round)) return cached;
    const p = this.plan(f);
    const path = this.statePath(num(f.id), num(f.round));
    need(existsSync(path), 409, `federation '${f.team}/${f.name}' has no global weights for round ${num(f.round)}`);
    const { weights, shapes } = decodeWeights(readFileSync(path));
    const global: Weights = new Map();
    const optimizer: Weights = new Map();
    for (const [k, v] of weights) {
      if (k.startsWith('optimizer.')) optimizer.set(k.slice('optimizer.'.length), v);
      else global.set(k, v);
    }
    const state: CoordinatorState = { round: num(f.round), history: JSON.parse(f.history) as RoundRecord[], global, optimizer };
    const coordinator = Coordinator.restore(this.coordinatorPlan(p), state, new Set(p.plainKeys));
    const pending = await this.db.all<{ site: string; examples: number; bytes: number; file: string }>(
      'SELECT site, examples, bytes, file FROM federation_updates WHERE federation_id = ? AND round = ? ORDER BY created_at, site',
      [f.id, f.round],
    );
    for (const u of pending) {
      const { weights: delta } = decodeWeights(readFileSync(join(this.folder(num(f.id)), u.file)));
      coordinator.submit({ site: u.site, examples: num(u.examples), delta }, num(f.round), num(u.bytes));
    }
    let weightBytes = 0;
    for (const v of global.values()) weightBytes += v.byteLength;
    const live = { coordinator, shapes, weightBytes };
    this.live.set(num(f.id), live);
    return live;
  }

  async create(actor: Actor | null, team: string, name: string, o: FederationInput): Promise<FederationInfo> {
    need(NAME.test(name), 400, `federation name '${name}' is not valid (${NAME_RULE})`);
    need(o.sites.length > 0, 400, 'a federation needs at least one site');
    need(new Set(o.sites).size === o.sites.length, 400, 'a site is listed twice');
    const minSites = o.minSites ?? o.sites.length;
    need(
      Number.isInteger(minSites) && minSites >= 1 && minSites <= o.sites.length,
      400,
      `minSites must be between 1 and ${o.sites.length}`,
    );
    const agg = o.strategy.aggregation;
    need(
      agg.kind === 'mean' || agg.kind === 'median' || (agg.kind === 'trimmed-mean' && agg.beta >= 0 && agg.beta < 0.5),
      400,
      'strategy.aggregation must be mean, median, or trimmed-mean with beta in [0, 0.5)',
    );
    if (o.secureAggregation) {
      need(agg.kind === 'mean', 400, `${agg.kind} must see each update, so it cannot run under secure aggregation; use the mean`);
      let threshold: number;
      try {
        threshold = secAggParams(o.sites.length, o.secureAggregation.clip, 'check').threshold;
      } catch (e) {
        throw new HubError((e as Error).message, 400);
      }
      need(
        minSites >= threshold,
        400,
        `under secure aggregation a round needs at least ${threshold} sites (a majority); minSites is ${minSites}`,
      );
    }
    const a = await this.db.tx(async (db) => {
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
      need(t, 404, `no team '${team}'`);
      const a = requireScope(actor, 'write');
      need(a.isAdmin || a.teams.has(num(t.id)), 403, `only members of team '${team}' may create its federations`);
      need(
        !(await db.one('SELECT id FROM federations WHERE team_id = ? AND name = ?', [t.id, name])),
        409,
        `federation '${team}/${name}' exists`,
      );
      const siteIds: number[] = [];
      for (const s of o.sites) {
        const st = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [s]);
        need(st, 404, `no team '${s}' to invite as a site`);
        siteIds.push(num(st.id));
      }
      const plan: StoredPlan = {
        sites: o.sites,
        rounds: o.rounds,
        localEpochs: o.localEpochs,
        minSites,
        roundTimeoutS: o.roundTimeoutS ?? 600,
        maxUpdateNorm: o.maxUpdateNorm ?? null,
        strategy: o.strategy,
        plainKeys: o.plainKeys ?? [],
        secureAggregation: o.secureAggregation ?? null,
        dp: o.dp ?? null,
        features: o.features ?? null,
        siteSummaries: o.siteSummaries ?? null,
      };
      const row = await db.one<{ id: number }>(
        'INSERT INTO federations (team_id, name, plan, recipe, status, round, history, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [t.id, name, JSON.stringify(plan), o.recipe, 'created', 0, '[]', a.userId, now(), now()],
      );
      for (const s of siteIds) await db.run('INSERT INTO federation_sites (federation_id, team_id) VALUES (?, ?)', [row!.id, s]);
      await audit(db, a, 'federation.create', `${team}/${name}`, { sites: o.sites, rounds: o.rounds, strategy: o.strategy.name });
      return a;
    });
    return this.describe(await this.row(a, team, name));
  }

  private async describe(f: FederationRow): Promise<FederationInfo> {
    const p = this.plan(f);
    const submitted = await this.db.all<{ site: string }>(
      'SELECT site FROM federation_updates WHERE federation_id = ? AND round = ? ORDER BY created_at, site',
      [f.id, f.round],
    );
    const summarized = await this.db.all<{ site: string }>('SELECT site FROM federation_summaries WHERE federation_id = ? ORDER BY site', [
      f.id,
    ]);
    return {
      team: f.team,
      name: f.name,
      status: f.status,
      sites: p.sites,
      rounds: p.rounds,
      localEpochs: p.localEpochs,
      minSites: p.minSites,
      roundTimeoutS: p.roundTimeoutS,
      maxUpdateNorm: p.maxUpdateNorm,
      secureAggregation: p.secureAggregation ?? null,
      dp: p.dp ?? null,
      features: p.features ?? null,
      siteSummaries: p.siteSummaries ?? null,
      strategy: p.strategy,
      recipe: f.recipe,
      round: num(f.round),
      submitted: submitted.map((s) => s.site),
      summarized: summarized.map((s) => s.site),
      hasWeights: existsSync(this.statePath(num(f.id), 0)),
      history: JSON.parse(f.history) as RoundRecord[],
      metrics: JSON.parse(f.metrics ?? '{}') as Record<string, Record<string, number>>,
      privacy: JSON.parse(f.privacy ?? '{}') as Record<string, Record<string, number>>,
      losses: JSON.parse(f.losses ?? '{}') as Record<string, Record<string, number>>,
      createdAt: f.created_at,
      updatedAt: f.updated_at,
    };
  }

  async list(actor: Actor | null): Promise<FederationInfo[]> {
    const a = requireScope(actor, 'read');
    const teams = [...a.teams.keys()];
    const list = teams.length ? teams.map(() => '?').join(', ') : 'NULL';
    const rows = await this.db.all<FederationRow>(
      `SELECT f.*, t.name AS team FROM federations f JOIN teams t ON t.id = f.team_id
       WHERE ${a.isAdmin ? '1 = 1' : `(f.team_id IN (${list}) OR EXISTS (SELECT 1 FROM federation_sites s WHERE s.federation_id = f.id AND s.team_id IN (${list})))`}
       ORDER BY t.name, f.name`,
      a.isAdmin ? [] : [...teams, ...teams],
    );
    return Promise.all(rows.map((r) => this.describe(r)));
  }

  /** The federation as its members see it; a running round that is ready closes first. */
  async get(actor: Actor | null, team: string, name: string): Promise<FederationInfo> {
    const f = await this.row(actor, team, name);
    await this.lane(num(f.id)).run(() => this.closeIfReady(num(f.id)));
    return this.describe(await this.row(actor, team, name));
  }

  /** Only the owner team's writers (or a hub admin) steer a federation; a site team sees it but may not. */
  private owner(actor: Actor | null, f: FederationRow & { siteIds: number[] }): Actor {
    const a = requireScope(actor, 'write');
    need(a.isAdmin || a.teams.has(num(f.team_id)), 403, `only members of team '${f.team}' may steer federation '${f.team}/${f.name}'`);
    return a;
  }

  /** Refuses, before any byte is read, an initial-weights upload the actor may not make. */
  async assertOwner(actor: Actor | null, team: string, name: string): Promise<void> {
    this.owner(actor, await this.row(actor, team, name));
  }

  /** The owner's initial global weights (before the federation starts). */
  async setInitialWeights(actor: Actor | null, team: string, name: string, bytes: Buffer): Promise<{ tensors: number; bytes: number }> {
    const f = await this.row(actor, team, name);
    const a = this.owner(actor, f);
    need(f.status === 'created', 409, `federation '${team}/${name}' has started: its initial weights are fixed`);
    let decoded: ReturnType<typeof decodeWeights>;
    try {
      decoded = decodeWeights(bytes);
    } catch (e) {
      throw new HubError(`the initial weights are not a float32 safetensors file: ${(e as TensorFileError).message}`, 400);
    }
    need(decoded.weights.size > 0, 400, 'the initial weights hold no tensor');
    for (const [k, v] of decoded.weights) need(v.every(Number.isFinite), 400, `initial weight '${k}' has a non-finite value`);
    const p = this.plan(f);
    need(
      !p.siteSummaries || p.features,
      409,
      `federation '${team}/${name}' builds its model on the preprocessing merged from the site summaries: set that first`,
    );
    for (const k of p.plainKeys) need(decoded.weights.has(k), 400, `plainKeys names '${k}', which the weights lack`);
    return this.lane(num(f.id)).run(async () => {
      this.writeState(num(f.id), 0, decoded.weights, new Map(), decoded.shapes);
      this.live.delete(num(f.id));
      await audit(this.db, a, 'federation.weights', `${team}/${name}`, { tensors: decoded.weights.size, bytes: bytes.length });
      return { tensors: decoded.weights.size, bytes: bytes.length };
    });
  }

  /**
   * A site's summary of its own rows for a preprocessing merged across sites: once per site,
   * before the preprocessing is fixed. The same summary again (a restarted site) is taken; a
   * different one is refused, so what the owner merged is what each site sent.
   */
  async submitSummary(
    actor: Actor | null,
    team: string,
    name: string,
    site: string,
    summary: Record<string, unknown>,
  ): Promise<{ site: string; bytes: number }> {
    const f = await this.row(actor, team, name);
    const a = await this.siteWriter(actor, f, site);
    const p = this.plan(f);
    need(p.siteSummaries, 409, `federation '${team}/${name}' takes its preprocessing from the owner, not from site summaries`);
    const text = JSON.stringify(summary);
    return this.lane(num(f.id)).run(async () => {
      const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, f.id]);
      const before = await this.db.one<{ summary: string }>(
        'SELECT summary FROM federation_summaries WHERE federation_id = ? AND site = ?',
        [f.id, site],
      );
      if (before) {
        need(before.summary === text, 409, `site '${site}' has sent its summary to '${team}/${name}' already, and it differs`);
        return { site, bytes: text.length };
      }
      need(
        g!.status === 'created' && !this.plan(g!).features,
        409,
        `the preprocessing of '${team}/${name}' is fixed: summaries are no longer taken`,
      );
      await this.db.run('INSERT INTO federation_summaries (federation_id, site, summary, created_at) VALUES (?, ?, ?, ?)', [
        f.id,
        site,
        text,
        now(),
      ]);
      await audit(this.db, a, 'federation.summary', `${team}/${name}`, { site, bytes: text.length });
      return { site, bytes: text.length };
    });
  }

  /** The sites' summaries, by site: the owner team's writers (and hub admins) only, never another site. */
  async summaries(actor: Actor | null, team: string, name: string): Promise<Record<string, unknown>> {
    const f = await this.row(actor, team, name);
    this.owner(actor, f);
    const rows = await this.db.all<{ site: string; summary: string }>(
      'SELECT site, summary FROM federation_summaries WHERE federation_id = ? ORDER BY site',
      [f.id],
    );
    return Object.fromEntries(rows.map((r) => [r.site, JSON.parse(r.summary) as unknown]));
  }

  /**
   * The owner fixes the preprocessing every site applies (merged from the summaries), before the
   * initial weights, with the shared keys of the model built on it that are running statistics.
   */
  async setFeatures(
    actor: Actor | null,
    team: string,
    name: string,
    features: Record<string, unknown>,
    plainKeys: string[],
  ): Promise<FederationInfo> {
    const f = await this.row(actor, team, name);
    const a = this.owner(actor, f);
    await this.lane(num(f.id)).run(async () => {
      const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, f.id]);
      need(g!.status === 'created', 409, `federation '${team}/${name}' has started: its preprocessing is fixed`);
      need(!existsSync(this.statePath(num(f.id), 0)), 409, `federation '${team}/${name}' has initial weights built on its preprocessing`);
      const p: StoredPlan = { ...this.plan(g!), features, plainKeys };
      await this.db.run('UPDATE federations SET plan = ?, updated_at = ? WHERE id = ?', [JSON.stringify(p), now(), f.id]);
      await audit(this.db, a, 'federation.features', `${team}/${name}`, { bytes: JSON.stringify(features).length });
    });
    return this.describe(await this.row(actor, team, name));
  }

  /** start (needs initial weights), pause, resume or stop; a stopped or finished federation stays so. */
  async control(actor: Actor | null, team: string, name: string, action: 'start' | 'pause' | 'resume' | 'stop'): Promise<FederationInfo> {
    const f = await this.row(actor, team, name);
    const a = this.owner(actor, f);
    const from = f.status;
    const next: FederationStatus | null =
      action === 'start' && from === 'created'
        ? 'running'
        : action === 'pause' && from === 'running'
          ? 'paused'
          : action === 'resume' && from === 'paused'
            ? 'running'
            : action === 'stop' && (from === 'created' || from === 'running' || from === 'paused')
              ? 'stopped'
              : null;
    need(next, 409, `cannot ${action} federation '${team}/${name}': it is ${from}`);
    if (action === 'start') need(existsSync(this.statePath(num(f.id), 0)), 409, `federation '${team}/${name}' has no initial weights yet`);
    await this.lane(num(f.id)).run(async () => {
      await this.db.run('UPDATE federations SET status = ?, updated_at = ? WHERE id = ?', [next, now(), f.id]);
      await audit(this.db, a, `federation.${action}`, `${team}/${name}`, { from, to: next });
    });
    return this.describe(await this.row(actor, team, name));
  }

  /** The owner's measurements of the global weights after a completed round (merged into what is there). */
  async recordMetrics(
    actor: Actor | null,
    team: string,
    name: string,
    round: number,
    metrics: Record<string, number>,
  ): Promise<FederationInfo> {
    const f = await this.row(actor, team, name);
    const a = this.owner(actor, f);
    need(round >= 1 && round <= num(f.round), 409, `round ${round} of '${team}/${name}' has not completed (${num(f.round)} have)`);
    for (const [k, v] of Object.entries(metrics)) need(Number.isFinite(v), 400, `metric '${k}' is not a finite number`);
    await this.lane(num(f.id)).run(async () => {
      const g = await this.db.one<{ metrics: string }>('SELECT metrics FROM federations WHERE id = ?', [f.id]);
      const all = JSON.parse(g?.metrics ?? '{}') as Record<string, Record<string, number>>;
      all[String(round)] = { ...all[String(round)], ...metrics };
      await this.db.run('UPDATE federations SET metrics = ?, updated_at = ? WHERE id = ?', [JSON.stringify(all), now(), f.id]);
      await audit(this.db, a, 'federation.metrics', `${team}/${name}`, { round, metrics });
    });
    return this.describe(await this.row(actor, team, name));
  }

  /** The global weights of the open round (after the initial ones: the last completed round's). */
  async weights(actor: Actor | null, team: string, name: string): Promise<{ bytes: Buffer; round: number }> {
    const f = await this.row(actor, team, name);
    need(existsSync(this.statePath(num(f.id), num(f.round))), 404, `federation '${team}/${name}' has no weights yet`);
    return this.lane(num(f.id)).run(async () => {
      await this.closeIfReady(num(f.id));
      const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, f.id]);
      const path = this.statePath(num(f.id), num(g!.round));
      const { weights, shapes, metadata } = decodeWeights(readFileSync(path));
      const global: Weights = new Map([...weights].filter(([k]) => !k.startsWith('optimizer.')));
      return { bytes: encodeWeights(global, { ...metadata, federation: `${team}/${name}` }, shapes), round: num(g!.round) };
    });
  }

  /** A writer of site team `site`, which the federation invited: only they act for its slot. */
  private async siteWriter(actor: Actor | null, f: FederationRow & { siteIds: number[] }, site: string): Promise<Actor> {
    const a = requireScope(actor, 'write');
    const slot = await this.db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [site]);
    need(slot && f.siteIds.includes(num(slot.id)), 403, `'${site}' is not a site of federation '${f.team}/${f.name}'`);
    need(a.teams.has(num(slot.id)), 403, `only members of site team '${site}' act for it`);
    return a;
  }

  /**
   * A site's account of the privacy it has spent under the federation's DP-SGD policy: epsilon at
   * the policy's delta after training `round` (a round up to the open one). Privacy spent only
   * grows, so a report below one the site made for an earlier or the same round is refused; the
   * same report again (a restarted site) is taken.
   */
  async reportPrivacy(
    actor: Actor | null,
    team: string,
    name: string,
    site: string,
    report: PrivacyReport,
  ): Promise<{ site: string; round: number; epsilon: number }> {
    need(Number.isFinite(report.epsilon) && report.epsilon >= 0, 400, 'epsilon must be a finite number, at least 0');
    await this.siteFigure(actor, team, name, site, report.round, 'privacy', report.epsilon, (p, earlier) => {
      need(p.dp, 409, `federation '${team}/${name}' runs no DP-SGD: there is no privacy to account for`);
      for (const [r, before] of earlier)
        need(
          !(r <= report.round && before > report.epsilon) && !(r >= report.round && before < report.epsilon),
          409,
          `privacy spent only grows: ${site} reported epsilon ${before} after round ${r}`,
        );
    });
    return { site, round: report.round, epsilon: report.epsilon };
  }

  /**
   * A site's mean training loss over a round (its own examples, its own objective), for the
   * federation's page. Refused under DP-SGD: a loss computed on the site's records without noise
   * is outside what its epsilon accounts for. A report again for the same round replaces it.
   */
  async reportLoss(
    actor: Actor | null,
    team: string,
    name: string,
    site: string,
    report: LossReport,
  ): Promise<{ site: string; round: number; loss: number }> {
    need(Number.isFinite(report.loss), 400, 'loss must be a finite number');
    await this.siteFigure(actor, team, name, site, report.round, 'losses', report.loss, (p) =>
      need(!p.dp, 409, `federation '${team}/${name}' runs DP-SGD: an unnoised training loss would escape its privacy account`),
    );
    return { site, round: report.round, loss: report.loss };
  }

  /**
   * Keeps one figure a site reports for a round (up to the open one) in a JSON column by round
   * and site, after `check` has seen the plan and the site's figures for other rounds.
   */
  private async siteFigure(
    actor: Actor | null,
    team: string,
    name: string,
    site: string,
    round: number,
    column: 'privacy' | 'losses',
    value: number,
    check: (plan: StoredPlan, earlier: [number, number][]) => void,
  ): Promise<void> {
    const f = await this.row(actor, team, name);
    const a = await this.siteWriter(actor, f, site);
    const p = this.plan(f);
    check(p, []);
    const id = num(f.id);
    await this.lane(id).run(async () => {
      const g = await this.db.one<{ round: number; figures: string }>(`SELECT round, ${column} AS figures FROM federations WHERE id = ?`, [
        id,
      ]);
      const open = Math.min(num(g!.round) + 1, p.rounds);
      need(round >= 1 && round <= open, 409, `round ${round} of '${team}/${name}' has not opened (round ${open} is the latest)`);
      const all = JSON.parse(g!.figures) as Record<string, Record<string, number>>;
      const earlier = Object.entries(all).flatMap(([r, bySite]) =>
        bySite[site] === undefined ? [] : [[Number(r), bySite[site]] as [number, number]],
      );
      check(p, earlier);
      all[String(round)] = { ...all[String(round)], [site]: value };
      await this.db.run(`UPDATE federations SET ${column} = ?, updated_at = ? WHERE id = ?`, [JSON.stringify(all), now(), id]);
      await audit(this.db, a, column === 'privacy' ? 'federation.privacy' : 'federation.loss', `${team}/${name}`, { site, round, value });
    });
  }

  /** Largest update accepted: the global weights plus room for a header. */
  async maxUpdateBytes(actor: Actor | null, team: string, name: string): Promise<number> {
    const f = await this.row(actor, team, name);
    const path = this.statePath(num(f.id), num(f.round));
    if (!existsSync(path)) return 1024 * 1024;
    return statSync(path).size + 1024 * 1024;
  }

  /** A site's update for `round` (1-based, the open round), into its own slot only. */
  async submit(
    actor: Actor | null,
    team: string,
    name: string,
    round: number,
    site: string,
    bytes: Buffer,
  ): Promise<{ round: number; site: string; accepted: true; closed: RoundRecord | null }> {
    const f = await this.row(actor, team, name);
    const a = await this.siteWriter(actor, f, site);
    need(f.status === 'running', 409, `federation '${team}/${name}' is ${f.status}, not running`);
    let decoded: ReturnType<typeof decodeWeights>;
    try {
      decoded = decodeWeights(bytes);
    } catch (e) {
      throw new HubError(`the update is not a float32 safetensors file: ${(e as TensorFileError).message}`, 400);
    }
    const examples = Number(decoded.metadata.examples);
    need(Number.isInteger(examples) && examples > 0, 400, "the update's metadata must give 'examples', a positive whole number");
    const id = num(f.id);
    return this.lane(id).run(async () => {
      await this.closeIfReady(id);
      const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, id]);
      const live = await this.coordinator(g!);
      try {
        live.coordinator.submit({ site, examples, delta: decoded.weights }, round - 1, bytes.length);
      } catch (e) {
        if (e instanceof FederationRejected) throw new HubError(e.message, REJECT_STATUS[e.reason]);
        throw e;
      }
      const file = `update-${round - 1}-${site}.safetensors`;
      try {
        writeAtomic(join(this.folder(id), file), bytes);
        await this.db.run(
          'INSERT INTO federation_updates (federation_id, round, site, examples, bytes, file, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [id, round - 1, site, examples, bytes.length, file, now()],
        );
      } catch (e) {
        // What is not on disk must not count: the next request rebuilds the round from disk.
        this.live.delete(id);
        throw e;
      }
      await audit(this.db, a, 'federation.update', `${team}/${name}`, { round, site, examples, bytes: bytes.length });
      const closed = await this.closeIfReady(id);
      return { round, site, accepted: true as const, closed };
    });
  }

  /** Closes the open round of a running federation if it is ready (all in, or the timeout passed with a quorum); call inside the federation's lane. */
  private async closeIfReady(id: number): Promise<RoundRecord | null> {
    const f = await this.db.one<FederationRow>(
      'SELECT f.*, t.name AS team FROM federations f JOIN teams t ON t.id = f.team_id WHERE f.id = ?',
      [id],
    );
    if (!f || f.status !== 'running') return null;
    const live = await this.coordinator(f);
    const record = this.plan(f).secureAggregation ? await this.advanceSecure(f, live) : live.coordinator.closeIfReady();
    if (!record) return null;
    this.secure.delete(id);
    const c = live.coordinator;
    try {
      this.writeState(id, c.round, c.global, c.state().optimizer, live.shapes);
      await this.db.tx(async (db) => {
        await db.run('UPDATE federations SET round = ?, history = ?, status = ?, updated_at = ? WHERE id = ?', [
          c.round,
          JSON.stringify(c.history),
          c.done ? 'finished' : 'running',
          now(),
          id,
        ]);
        await db.run('DELETE FROM federation_updates WHERE federation_id = ? AND round < ?', [id, c.round]);
        await audit(db, null, 'federation.round', `${f.team}/${f.name}`, {
          round: record.round,
          sites: record.sites,
          closedBy: record.closedBy,
        });
      });
    } catch (e) {
      this.live.delete(id);
      throw e;
    }
    // Updates of closed rounds and states older than the previous round are no longer needed.
    for (const file of readdirSync(this.folder(id))) {
      const u = /^update-(\d+)-/.exec(file);
      const s = /^state-(\d+)\.safetensors$/.exec(file);
      if ((u && Number(u[1]) < c.round) || (s && Number(s[1]) < c.round - 1 && Number(s[1]) !== 0))
        rmSync(join(this.folder(id), file), { force: true });
    }
    return record;
  }

  /** The open round's secure protocol, started on first use (inside the federation's lane). */
  private secureRound(f: FederationRow, live: Live): SecureRound {
    const id = num(f.id);
    const p = this.plan(f);
    let r = this.secure.get(id);
    if (r && r.round === live.coordinator.round) return r;
    const attempt = randomUUID().slice(0, 8);
    const params = secAggParams(p.sites.length, p.secureAggregation!.clip, `${f.team}/${f.name}#${live.coordinator.round + 1}/${attempt}`);
    let length = 0;
    for (const v of live.coordinator.global.values()) length += v.length;
    r = {
      round: live.coordinator.round,
      attempt,
      phase: 'keys',
      openedAt: Date.now(),
      server: new SecAggServer(p.sites, params, length),
      threshold: params.threshold,
      request: null,
      responses: new Map(),
    };
    this.secure.set(id, r);
    return r;
  }

  /**
   * Moves the secure protocol on when a phase is complete (every site expected in it is in) or
   * its timeout has passed with enough in (the threshold; for inputs also minSites), and closes
   * the round with the unmasked mean once the survivors have revealed their shares.
   */
  private async advanceSecure(f: FederationRow, live: Live): Promise<RoundRecord | null> {
    const p = this.plan(f);
    const r = this.secureRound(f, live);
    const late = (): boolean => Date.now() - r.openedAt >= p.roundTimeoutS * 1000;
    const next = (phase: SecurePhase): void => {
      r.phase = phase;
      r.openedAt = Date.now();
    };
    for (;;) {
      const before = r.phase;
      if (r.phase === 'keys') {
        const n = r.server.roster().length;
        if (n === p.sites.length || (late() && n >= r.threshold)) next('shares');
      } else if (r.phase === 'shares') {
        const n = r.server.sharedSites.length;
        if (n === r.server.roster().length || (late() && n >= r.threshold)) next('inputs');
      } else if (r.phase === 'inputs') {
        const n = r.server.inputSites.length;
        if (n === r.server.sharedSites.length || (late() && n >= Math.max(r.threshold, p.minSites))) {
          r.request = r.server.unmaskRequest();
          next('unmask');
        }
      } else {
        const survivors = r.request!.survivors;
        const n = survivors.filter((s) => r.responses.has(s)).length;
        if (n === survivors.length || (late() && n >= r.threshold)) {
          const out = await r.server.finish([...r.responses.values()]);
          const mean = unflattenWeights(
            out.sum.map((v) => v / out.weight),
            live.coordinator.global,
          );
          return live.coordinator.closeWithMean(mean, { sites: out.survivors, examples: out.survivors.length, bytesIn: r.server.bytesIn });
        }
      }
      if (r.phase === before) return null;
    }
  }

  /** Checks a site's access to its own slot of a running, securely aggregated federation; returns the row. */
  async secureSlot(actor: Actor | null, team: string, name: string, site: string): Promise<FederationRow> {
    const f = await this.row(actor, team, name);
    await this.siteWriter(actor, f, site);
    need(this.plan(f).secureAggregation, 409, `federation '${team}/${name}' does not run secure aggregation`);
    need(f.status === 'running', 409, `federation '${team}/${name}' is ${f.status}, not running`);
    return f;
  }

  /** Where the open round's secure protocol stands, as `site` sees it. */
  async secureView(actor: Actor | null, team: string, name: string, site: string): Promise<SecureView> {
    const f = await this.secureSlot(actor, team, name, site);
    const id = num(f.id);
    return this.lane(id).run(async () => {
      await this.closeIfReady(id);
      const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, id]);
      need(g!.status === 'running', 409, `federation '${team}/${name}' is ${g!.status}, not running`);
      const live = await this.coordinator(g!);
      const r = this.secureRound(g!, live);
      const done =
        r.phase === 'keys'
          ? r.server.roster().some((x) => x.site === site)
          : r.phase === 'shares'
            ? r.server.sharedSites.includes(site)
            : r.phase === 'inputs'
              ? r.server.inputSites.includes(site)
              : r.responses.has(site);
      return {
        round: r.round + 1,
        attempt: r.attempt,
        phase: r.phase,
        clip: this.plan(g!).secureAggregation!.clip,
        threshold: r.threshold,
        context: r.server.params.context,
        roster: r.phase === 'keys' ? [] : r.server.roster(),
        boxes: r.phase === 'inputs' || r.phase === 'unmask' ? r.server.deliveries(site) : [],
        request: r.request,
        done,
      };
    });
  }

  /** A site's keys, sealed shares or unmasking response for the open round's protocol. */
  async secureStep(actor: Actor | null, team: string, name: string, site: string, body: SecureStep): Promise<{ phase: SecurePhase }> {
    const f = await this.secureSlot(actor, team, name, site);
    const id = num(f.id);
    return this.lane(id).run(async () => {
      const r = await this.currentSecure(id, team, name, body.round, body.attempt);
      need(
        r.phase === body.step || (body.step === 'unmask' && r.phase === 'unmask'),
        409,
        `the protocol is in its ${r.phase} phase, not ${body.step}`,
      );
      try {
        if (body.step === 'keys') {
          need(body.advertisement.site === site, 403, `keys for ${body.advertisement.site} sent into ${site}'s slot`);
          r.server.advertise(body.advertisement);
        } else if (body.step === 'shares') {
          r.server.relayShares(site, body.boxes);
        } else {
          need(body.response.site === site, 403, `a response for ${body.response.site} sent into ${site}'s slot`);
          need(r.request!.survivors.includes(site), 409, `${site} sent no input this round, so it has nothing to reveal`);
          need(!r.responses.has(site), 409, `${site} already revealed its shares this round`);
          r.responses.set(site, body.response);
        }
      } catch (e) {
        if (e instanceof SecureAggregationError) throw new HubError(e.message, /already/.test(e.message) ? 409 : 400);
        throw e;
      }
      await this.closeIfReady(id);
      return { phase: this.secure.get(id)?.phase ?? 'keys' };
    });
  }

  /** A site's masked input (uint32 little-endian), added into the running sum at once; no single input is kept. */
  async secureInput(
    actor: Actor | null,
    team: string,
    name: string,
    site: string,
    q: { round: number; attempt: string; weight: number },
    bytes: Buffer,
  ): Promise<{ phase: SecurePhase }> {
    const f = await this.secureSlot(actor, team, name, site);
    const id = num(f.id);
    need(bytes.length % 4 === 0, 400, 'a masked input is a whole number of uint32 values');
    return this.lane(id).run(async () => {
      const r = await this.currentSecure(id, team, name, q.round, q.attempt);
      need(r.phase === 'inputs', 409, `the protocol is in its ${r.phase} phase, not inputs`);
      const masked = new Uint32Array(bytes.length / 4);
      Buffer.from(masked.buffer).set(bytes);
      try {
        r.server.submitMasked(site, masked, q.weight);
      } catch (e) {
        if (e instanceof SecureAggregationError) throw new HubError(e.message, /already/.test(e.message) ? 409 : 400);
        throw e;
      }
      await audit(this.db, null, 'federation.masked-input', `${team}/${name}`, { round: q.round, site, bytes: bytes.length });
      await this.closeIfReady(id);
      return { phase: this.secure.get(id)?.phase ?? 'keys' };
    });
  }

  /** The open round's protocol, if it is the one the site names. */
  private async currentSecure(id: number, team: string, name: string, round: number, attempt: string): Promise<SecureRound> {
    const g = await this.db.one<FederationRow>('SELECT f.*, ? AS team FROM federations f WHERE f.id = ?', [team, id]);
    const r = this.secureRound(g!, await this.coordinator(g!));
    need(
      r.round + 1 === round && r.attempt === attempt,
      409,
      `federation '${team}/${name}' runs round ${r.round + 1}, attempt ${r.attempt} of its protocol, not round ${round}, attempt ${attempt}`,
    );
    return r;
  }

  /** Closes every running federation's round whose timeout has passed (the hub calls this on a timer). */
  async tick(): Promise<void> {
    const rows = await this.db.all<{ id: number }>("SELECT id FROM federations WHERE status = 'running'");
    for (const r of rows) await this.lane(num(r.id)).run(() => this.closeIfReady(num(r.id)));
  }
}

// What the hub keeps, and who may see or change it. Every write is one transaction and
// leaves an audit record. Reading another team's private model answers "not found", never
// "forbidden", so names of private models do not leak.
import { createHash } from 'node:crypto';
import type { Db, Row } from './db.js';
import { ALIAS, NAME, hashToken, newToken, sameHash, scopeAllows, validFilePath, type Scope } from './auth.js';

export class HubError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export type Visibility = 'private' | 'internal' | 'public';
export const VISIBILITIES: Visibility[] = ['private', 'internal', 'public'];

export interface Actor {
  userId: number;
  user: string;
  isAdmin: boolean;
  scope: Scope;
  /** team id -> role */
  teams: Map<number, 'member' | 'admin'>;
}

export interface ModelInfo {
  id: number;
  team: string;
  name: string;
  visibility: Visibility;
  card: string;
  tags: string[];
  method: string | null;
  modality: string | null;
  createdAt: string;
  updatedAt: string;
  latest: number | null;
  aliases: Record<string, number>;
}

export interface VersionFile {
  path: string;
  sha256: string;
  size: number;
}

export interface VersionInfo {
  id: number;
  seq: number;
  digest: string;
  files: VersionFile[];
  lineage: Record<string, unknown>;
  metrics: Record<string, unknown>;
  card: string;
  createdBy: string;
  createdAt: string;
}

export interface EvalInput {
  task: string;
  dataset: string;
  metric: string;
  value: number;
  protocol: string;
  labelBudget: string;
}

const now = (): string => new Date().toISOString();
const num = (v: unknown): number => Number(v);

function need(cond: unknown, status: number, message: string): asserts cond {
  if (!cond) throw new HubError(message, status);
}

function requireScope(actor: Actor | null, scope: Scope): Actor {
  need(actor, 401, 'this needs an API token (Authorization: Bearer ptx_...)');
  need(scopeAllows(actor.scope, scope), 403, `this needs a token with the '${scope}' scope; this one has '${actor.scope}'`);
  return actor;
}

/** The digest that names a version: sha256 over its sorted (path, sha256) pairs. */
export function versionDigest(files: readonly VersionFile[]): string {
  const canon = [...files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => `${f.path}\u0000${f.sha256}\n`);
  return createHash('sha256').update(canon.join('')).digest('hex');
}

async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      // A unique-key race (two first pushes creating one model) or a serialization failure: again.
      if (attempt < 5 && (code === '40001' || code === '23505' || code === '40P01')) continue;
      throw err;
    }
  }
}

export class Store {
  constructor(readonly db: Db) {}

  private async audit(db: Db, actor: Actor | null, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
    await db.run('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)', [
      now(),
      actor?.user ?? 'system',
      action,
      target,
      JSON.stringify(detail),
    ]);
  }

  // ---- users, teams, tokens -------------------------------------------------------------

  /**
   * On an empty hub, creates the `admin` user and an admin token, returned once (the server
   * prints it at start-up); null when the hub already has users.
   */
  async bootstrap(): Promise<string | null> {
    const t = newToken();
    const created = await this.db.tx(async (db) => {
      if (num((await db.one<{ n: number }>('SELECT COUNT(*) AS n FROM users'))?.n) > 0) return false;
      const u = await db.one<{ id: number }>('INSERT INTO users (name, is_admin, created_at) VALUES (?, ?, ?) RETURNING id', [
        'admin',
        true,
        now(),
      ]);
      await db.run('INSERT INTO tokens (user_id, name, hash, prefix, scope, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        u!.id,
        'bootstrap',
        t.hash,
        t.prefix,
        'admin',
        null,
        now(),
      ]);
      await this.audit(db, null, 'hub.bootstrap', 'admin', { prefix: t.prefix });
      return true;
    });
    return created ? t.token : null;
  }

  /** Creates a user (hub admins only). */
  async createUser(actor: Actor | null, name: string, isAdmin = false): Promise<{ id: number; name: string }> {
    need(NAME.test(name), 400, `user name '${name}' is not valid (lowercase letters, digits, '.', '_', '-'; at most 64)`);
    const a = requireScope(actor, 'admin');
    need(a.isAdmin, 403, 'only hub admins create users');
    return this.db.tx(async (db) => {
      need(!(await db.one('SELECT id FROM users WHERE name = ?', [name])), 409, `user '${name}' exists`);
      const row = await db.one<{ id: number }>('INSERT INTO users (name, is_admin, created_at) VALUES (?, ?, ?) RETURNING id', [
        name,
        isAdmin,
        now(),
      ]);
      await this.audit(db, a, 'user.create', name, { admin: isAdmin });
      return { id: num(row!.id), name };
    });
  }

  async createTeam(actor: Actor | null, name: string): Promise<{ id: number; name: string }> {
    const a = requireScope(actor, 'write');
    need(NAME.test(name), 400, `team name '${name}' is not valid (lowercase letters, digits, '.', '_', '-'; at most 64)`);
    return this.db.tx(async (db) => {
      need(!(await db.one('SELECT id FROM teams WHERE name = ?', [name])), 409, `team '${name}' exists`);
      const row = await db.one<{ id: number }>('INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING id', [name, now()]);
      await db.run('INSERT INTO members (team_id, user_id, role) VALUES (?, ?, ?)', [row!.id, a.userId, 'admin']);
      await this.audit(db, a, 'team.create', name);
      return { id: num(row!.id), name };
    });
  }

  async addMember(actor: Actor | null, team: string, user: string, role: 'member' | 'admin'): Promise<void> {
    const a = requireScope(actor, 'admin');
    await this.db.tx(async (db) => {
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
      need(t, 404, `no team '${team}'`);
      need(a.isAdmin || a.teams.get(num(t.id)) === 'admin', 403, `only admins of team '${team}' manage its members`);
      const u = await db.one<{ id: number }>('SELECT id FROM users WHERE name = ?', [user]);
      need(u, 404, `no user '${user}'`);
      await db.run('DELETE FROM members WHERE team_id = ? AND user_id = ?', [t.id, u.id]);
      await db.run('INSERT INTO members (team_id, user_id, role) VALUES (?, ?, ?)', [t.id, u.id, role]);
      await this.audit(db, a, 'team.member', team, { user, role });
    });
  }

  async listTeams(actor: Actor | null): Promise<{ name: string; role: string | null; members: { user: string; role: string }[] }[]> {
    const a = requireScope(actor, 'read');
    const teams = await this.db.all<{ id: number; name: string }>('SELECT id, name FROM teams ORDER BY name');
    const out = [];
    for (const t of teams) {
      const members = await this.db.all<{ user: string; role: string }>(
        'SELECT u.name AS "user", m.role AS role FROM members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ? ORDER BY u.name',
        [t.id],
      );
      out.push({ name: t.name, role: a.teams.get(num(t.id)) ?? null, members });
    }
    return out;
  }

  /** A new token for `user` (yourself, or anyone for a hub admin). The secret is returned once. */
  async createToken(
    actor: Actor | null,
    o: { user: string; name: string; scope: Scope; expiresInDays?: number },
  ): Promise<{ id: number; token: string; scope: Scope; expiresAt: string | null }> {
    const a = requireScope(actor, 'read');
    need(a.user === o.user || (a.isAdmin && scopeAllows(a.scope, 'admin')), 403, 'only hub admins create tokens for other users');
    need(scopeAllows(a.scope, o.scope), 403, `a '${a.scope}' token cannot create a '${o.scope}' token`);
    need(o.name.length > 0 && o.name.length <= 100, 400, 'token name must be 1-100 characters');
    const expiresAt = o.expiresInDays ? new Date(Date.now() + o.expiresInDays * 86400_000).toISOString() : null;
    const t = newToken();
    return this.db.tx(async (db) => {
      const u = await db.one<{ id: number }>('SELECT id FROM users WHERE name = ?', [o.user]);
      need(u, 404, `no user '${o.user}'`);
      const row = await db.one<{ id: number }>(
        'INSERT INTO tokens (user_id, name, hash, prefix, scope, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [u.id, o.name, t.hash, t.prefix, o.scope, expiresAt, now()],
      );
      await this.audit(db, actor, 'token.create', o.user, { name: o.name, scope: o.scope, prefix: t.prefix, expiresAt });
      return { id: num(row!.id), token: t.token, scope: o.scope, expiresAt };
    });
  }

  async listTokens(actor: Actor | null): Promise<Row[]> {
    const a = requireScope(actor, 'read');
    return this.db.all(
      'SELECT id, name, prefix, scope, expires_at AS "expiresAt", revoked_at AS "revokedAt", created_at AS "createdAt", last_used_at AS "lastUsedAt" FROM tokens WHERE user_id = ? ORDER BY id',
      [a.userId],
    );
  }

  async revokeToken(actor: Actor | null, id: number): Promise<void> {
    const a = requireScope(actor, 'read');
    await this.db.tx(async (db) => {
      const t = await db.one<{ user_id: number }>('SELECT user_id FROM tokens WHERE id = ?', [id]);
      need(t && (num(t.user_id) === a.userId || a.isAdmin), 404, `no token ${id}`);
      await db.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now(), id]);
      await this.audit(db, a, 'token.revoke', String(id));
    });
  }

  /** The actor behind a presented token, or null when unknown, revoked or expired. */
  async authenticate(token: string): Promise<Actor | null> {
    const hash = hashToken(token);
    const row = await this.db.one<{
      id: number;
      hash: string;
      scope: Scope;
      expires_at: string | null;
      revoked_at: string | null;
      user_id: number;
      name: string;
      is_admin: number;
    }>(
      'SELECT t.id, t.hash, t.scope, t.expires_at, t.revoked_at, u.id AS user_id, u.name, u.is_admin FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?',
      [hash],
    );
    if (!row || !sameHash(hash, row.hash) || row.revoked_at || (row.expires_at && row.expires_at < now())) return null;
    await this.db.run('UPDATE tokens SET last_used_at = ? WHERE id = ?', [now(), row.id]);
    const teams = new Map<number, 'member' | 'admin'>();
    for (const m of await this.db.all<{ team_id: number; role: 'member' | 'admin' }>(
      'SELECT team_id, role FROM members WHERE user_id = ?',
      [row.user_id],
    )) {
      teams.set(num(m.team_id), m.role);
    }
    return { userId: num(row.user_id), user: row.name, isAdmin: Boolean(num(row.is_admin)), scope: row.scope, teams };
  }

  // ---- models ---------------------------------------------------------------------------

  private canRead(actor: Actor | null, m: { team_id: number; visibility: string; grants: number[] }): boolean {
    if (m.visibility === 'public') return true;
    if (!actor) return false;
    if (actor.isAdmin || m.visibility === 'internal') return true;
    return actor.teams.has(num(m.team_id)) || m.grants.some((g) => actor.teams.has(g));
  }

  private async modelRow(
    db: Db,
    actor: Actor | null,
    team: string,
    name: string,
  ): Promise<Row & { id: number; team_id: number; visibility: string }> {
    const m = await db.one<Row & { id: number; team_id: number; visibility: string }>(
      'SELECT m.*, t.name AS team FROM models m JOIN teams t ON t.id = m.team_id WHERE t.name = ? AND m.name = ?',
      [team, name],
    );
    const grants = m
      ? (await db.all<{ team_id: number }>('SELECT team_id FROM grants WHERE model_id = ?', [m.id])).map((g) => num(g.team_id))
      : [];
    need(m && this.canRead(actor, { ...m, grants }), 404, `no model '${team}/${name}'`);
    return m;
  }

  private requireWriter(actor: Actor | null, teamId: number, team: string, role: 'member' | 'admin' = 'member'): Actor {
    const a = requireScope(actor, role === 'admin' ? 'admin' : 'write');
    const has = a.teams.get(teamId);
    need(a.isAdmin || has === 'admin' || (role === 'member' && has === 'member'), 403, `only ${role}s of team '${team}' may do this`);
    return a;
  }

  private async info(db: Db, m: Row): Promise<ModelInfo> {
    const aliases: Record<string, number> = {};
    for (const r of await db.all<{ name: string; seq: number }>(
      'SELECT a.name, v.seq FROM aliases a JOIN versions v ON v.id = a.version_id WHERE a.model_id = ? ORDER BY a.name',
      [m.id],
    )) {
      aliases[r.name] = num(r.seq);
    }
    return {
      id: num(m.id),
      team: String(m.team),
      name: String(m.name),
      visibility: m.visibility as Visibility,
      card: String(m.card),
      tags: JSON.parse(String(m.tags)) as string[],
      method: (m.method as string | null) ?? null,
      modality: (m.modality as string | null) ?? null,
      createdAt: String(m.created_at),
      updatedAt: String(m.updated_at),
      latest: aliases.latest ?? null,
      aliases,
    };
  }

  async createModel(
    actor: Actor | null,
    team: string,
    name: string,
    o: { visibility?: Visibility; card?: string; tags?: string[]; method?: string; modality?: string } = {},
  ): Promise<ModelInfo> {
    need(NAME.test(name), 400, `model name '${name}' is not valid (lowercase letters, digits, '.', '_', '-'; at most 64)`);
    return this.db.tx(async (db) => {
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
      need(t, 404, `no team '${team}'`);
      const a = this.requireWriter(actor, num(t.id), team);
      need(!(await db.one('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name])), 409, `model '${team}/${name}' exists`);
      await db.run(
        'INSERT INTO models (team_id, name, visibility, card, tags, method, modality, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          t.id,
          name,
          o.visibility ?? 'private',
          o.card ?? '',
          JSON.stringify(o.tags ?? []),
          o.method ?? null,
          o.modality ?? null,
          now(),
          now(),
        ],
      );
      await this.audit(db, a, 'model.create', `${team}/${name}`, { visibility: o.visibility ?? 'private' });
      return this.info(db, await this.modelRow(db, a, team, name));
    });
  }

  async getModel(actor: Actor | null, team: string, name: string): Promise<ModelInfo> {
    return this.info(this.db, await this.modelRow(this.db, actor, team, name));
  }

  async listModels(
    actor: Actor | null,
    f: { q?: string; team?: string; tag?: string; method?: string; modality?: string } = {},
  ): Promise<ModelInfo[]> {
    const rows = await this.db.all<Row & { id: number; team_id: number; visibility: string }>(
      'SELECT m.*, t.name AS team FROM models m JOIN teams t ON t.id = m.team_id ORDER BY m.updated_at DESC, m.id DESC',
    );
    const grants = await this.db.all<{ model_id: number; team_id: number }>('SELECT model_id, team_id FROM grants');
    const q = f.q?.toLowerCase();
    const out: ModelInfo[] = [];
    for (const m of rows) {
      const g = grants.filter((x) => num(x.model_id) === num(m.id)).map((x) => num(x.team_id));
      if (!this.canRead(actor, { ...m, grants: g })) continue;
      if (f.team && m.team !== f.team) continue;
      if (f.method && m.method !== f.method) continue;
      if (f.modality && m.modality !== f.modality) continue;
      const tags = JSON.parse(String(m.tags)) as string[];
      if (f.tag && !tags.includes(f.tag)) continue;
      if (q && !`${String(m.team)}/${String(m.name)} ${String(m.card)} ${tags.join(' ')}`.toLowerCase().includes(q)) continue;
      out.push(await this.info(this.db, m));
    }
    return out;
  }

  async updateModel(
    actor: Actor | null,
    team: string,
    name: string,
    o: { card?: string; visibility?: Visibility; tags?: string[]; method?: string; modality?: string },
  ): Promise<ModelInfo> {
    return this.db.tx(async (db) => {
      const m = await this.modelRow(db, actor, team, name);
      const a = this.requireWriter(actor, num(m.team_id), team, o.visibility ? 'admin' : 'member');
      const fields: [string, unknown][] = [];
      if (o.card !== undefined) fields.push(['card', o.card]);
      if (o.visibility !== undefined) fields.push(['visibility', o.visibility]);
      if (o.tags !== undefined) fields.push(['tags', JSON.stringify(o.tags)]);
      if (o.method !== undefined) fields.push(['method', o.method]);
      if (o.modality !== undefined) fields.push(['modality', o.modality]);
      fields.push(['updated_at', now()]);
      await db.run(`UPDATE models SET ${fields.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, [...fields.map(([, v]) => v), m.id]);
      await this.audit(db, a, 'model.update', `${team}/${name}`, { fields: fields.map(([k]) => k) });
      return this.info(db, await this.modelRow(db, a, team, name));
    });
  }

  async grant(actor: Actor | null, team: string, name: string, toTeam: string, revoke = false): Promise<void> {
    await this.db.tx(async (db) => {
      const m = await this.modelRow(db, actor, team, name);
      const a = this.requireWriter(actor, num(m.team_id), team, 'admin');
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [toTeam]);
      need(t, 404, `no team '${toTeam}'`);
      await db.run('DELETE FROM grants WHERE model_id = ? AND team_id = ?', [m.id, t.id]);
      if (!revoke) await db.run('INSERT INTO grants (model_id, team_id) VALUES (?, ?)', [m.id, t.id]);
      await this.audit(db, a, revoke ? 'model.ungrant' : 'model.grant', `${team}/${name}`, { team: toTeam });
    });
  }

  // ---- versions and aliases ---------------------------------------------------------------

  private version(r: Row, files: VersionFile[]): VersionInfo {
    return {
      id: num(r.id),
      seq: num(r.seq),
      digest: String(r.digest),
      files,
      lineage: JSON.parse(String(r.lineage)) as Record<string, unknown>,
      metrics: JSON.parse(String(r.metrics)) as Record<string, unknown>,
      card: String(r.card),
      createdBy: String(r.created_by_name ?? r.created_by),
      createdAt: String(r.created_at),
    };
  }

  private async files(db: Db, versionId: number): Promise<VersionFile[]> {
    return (
      await db.all<{ path: string; sha256: string; size: number }>(
        'SELECT path, sha256, size FROM version_files WHERE version_id = ? ORDER BY path',
        [versionId],
      )
    ).map((f) => ({ path: f.path, sha256: f.sha256, size: num(f.size) }));
  }

  /**
   * Records a version from already-uploaded blobs. Identical content is a no-op returning
   * the existing version; otherwise a new version, and `latest` moves to it. Creates the
   * model on first push (private) when the pusher may write to the team.
   */
  async pushVersion(
    actor: Actor | null,
    team: string,
    name: string,
    o: {
      files: VersionFile[];
      lineage?: Record<string, unknown>;
      metrics?: Record<string, unknown>;
      card?: string;
      visibility?: Visibility;
    },
    blobExists: (sha: string) => number | null,
  ): Promise<{ version: VersionInfo; created: boolean }> {
    requireScope(actor, 'write');
    need(o.files.length > 0 && o.files.length <= 1000, 400, 'a version has 1 to 1000 files');
    const seen = new Set<string>();
    for (const f of o.files) {
      need(validFilePath(f.path), 400, `file path '${f.path}' is not valid (relative, no '..', no hidden parts)`);
      need(!seen.has(f.path), 400, `file path '${f.path}' appears twice`);
      seen.add(f.path);
      const size = blobExists(f.sha256);
      need(size !== null, 409, `blob ${f.sha256} (${f.path}) was not uploaded; PUT it to /api/blobs/${f.sha256} first`);
      need(size === f.size, 400, `${f.path}: declared ${f.size} bytes, the uploaded blob has ${size}`);
    }
    const digest = versionDigest(o.files);
    return retrying(() =>
      this.db.tx(async (db) => {
        // Pushes to one model take turns: sequence numbers and `latest` stay consistent.
        await db.lock(`model:${team}/${name}`);
        const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
        need(t, 404, `no team '${team}'`);
        const a = this.requireWriter(actor, num(t.id), team);
        let m = await db.one<{ id: number }>('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name]);
        if (!m) {
          need(NAME.test(name), 400, `model name '${name}' is not valid (lowercase letters, digits, '.', '_', '-'; at most 64)`);
          await db.run('INSERT INTO models (team_id, name, visibility, card, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
            t.id,
            name,
            o.visibility ?? 'private',
            o.card ?? '',
            '[]',
            now(),
            now(),
          ]);
          m = await db.one<{ id: number }>('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name]);
          await this.audit(db, a, 'model.create', `${team}/${name}`, { visibility: o.visibility ?? 'private' });
        }
        const existing = await db.one<Row>('SELECT * FROM versions WHERE model_id = ? AND digest = ?', [m!.id, digest]);
        if (existing) return { version: this.version(existing, await this.files(db, num(existing.id))), created: false };
        const seq = num((await db.one<{ s: number | null }>('SELECT MAX(seq) AS s FROM versions WHERE model_id = ?', [m!.id]))?.s ?? 0) + 1;
        const row = await db.one<Row>(
          'INSERT INTO versions (model_id, seq, digest, lineage, metrics, card, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *',
          [m!.id, seq, digest, JSON.stringify(o.lineage ?? {}), JSON.stringify(o.metrics ?? {}), o.card ?? '', a.userId, now()],
        );
        for (const f of o.files) {
          if (db.engine === 'sqlite')
            await db.run('INSERT OR IGNORE INTO blobs (sha256, size, created_at) VALUES (?, ?, ?)', [f.sha256, f.size, now()]);
          else
            await db.run('INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [f.sha256, f.size, now()]);
          await db.run('INSERT INTO version_files (version_id, path, sha256, size) VALUES (?, ?, ?, ?)', [
            row!.id,
            f.path,
            f.sha256,
            f.size,
          ]);
        }
        if (o.card) await db.run('UPDATE models SET card = ?, updated_at = ? WHERE id = ?', [o.card, now(), m!.id]);
        else await db.run('UPDATE models SET updated_at = ? WHERE id = ?', [now(), m!.id]);
        await this.moveAlias(db, a, num(m!.id), 'latest', num(row!.id));
        await this.audit(db, a, 'version.create', `${team}/${name}`, { seq, digest, files: o.files.length });
        return { version: this.version(row!, await this.files(db, num(row!.id))), created: true };
      }),
    );
  }

  private async moveAlias(db: Db, actor: Actor, modelId: number, alias: string, versionId: number): Promise<void> {
    const prev = await db.one<{ version_id: number }>('SELECT version_id FROM aliases WHERE model_id = ? AND name = ?', [modelId, alias]);
    if (prev && num(prev.version_id) === versionId) return;
    await db.run('DELETE FROM aliases WHERE model_id = ? AND name = ?', [modelId, alias]);
    await db.run('INSERT INTO aliases (model_id, name, version_id, updated_at) VALUES (?, ?, ?, ?)', [modelId, alias, versionId, now()]);
    await db.run('INSERT INTO alias_events (model_id, name, from_version, to_version, actor, at) VALUES (?, ?, ?, ?, ?, ?)', [
      modelId,
      alias,
      prev ? num(prev.version_id) : null,
      versionId,
      actor.user,
      now(),
    ]);
  }

  async listVersions(actor: Actor | null, team: string, name: string): Promise<VersionInfo[]> {
    const m = await this.modelRow(this.db, actor, team, name);
    const rows = await this.db.all<Row>(
      'SELECT v.*, u.name AS created_by_name FROM versions v JOIN users u ON u.id = v.created_by WHERE v.model_id = ? ORDER BY v.seq DESC',
      [m.id],
    );
    const out: VersionInfo[] = [];
    for (const r of rows) out.push(this.version(r, await this.files(this.db, num(r.id))));
    return out;
  }

  /** `ref`: an alias (`latest`, `production`), `v3`, or a digest prefix of 8+ hex characters. */
  async resolve(actor: Actor | null, team: string, name: string, ref = 'latest'): Promise<VersionInfo> {
    const m = await this.modelRow(this.db, actor, team, name);
    let row: Row | undefined;
    const base = 'SELECT v.*, u.name AS created_by_name FROM versions v JOIN users u ON u.id = v.created_by WHERE v.model_id = ?';
    if (/^v\d+$/.test(ref)) row = await this.db.one(`${base} AND v.seq = ?`, [m.id, Number(ref.slice(1))]);
    else if (/^[0-9a-f]{8,64}$/.test(ref)) {
      const hits = await this.db.all(`${base} AND v.digest LIKE ?`, [m.id, `${ref}%`]);
      need(hits.length < 2, 400, `version prefix '${ref}' is ambiguous`);
      row = hits[0];
    }
    if (!row && ALIAS.test(ref))
      row = await this.db.one(`${base} AND v.id = (SELECT version_id FROM aliases WHERE model_id = ? AND name = ?)`, [m.id, m.id, ref]);
    need(row, 404, `no version '${ref}' of '${team}/${name}'`);
    return this.version(row, await this.files(this.db, num(row.id)));
  }

  async setAlias(actor: Actor | null, team: string, name: string, alias: string, ref: string): Promise<VersionInfo> {
    need(ALIAS.test(alias), 400, `alias '${alias}' is not valid (starts with a letter; letters, digits, '.', '_', '-')`);
    need(alias !== 'latest', 400, "'latest' moves by itself to each new version");
    const v = await this.resolve(actor, team, name, ref);
    await this.db.tx(async (db) => {
      const m = await this.modelRow(db, actor, team, name);
      const a = this.requireWriter(actor, num(m.team_id), team);
      await this.moveAlias(db, a, num(m.id), alias, v.id);
      await this.audit(db, a, 'alias.set', `${team}/${name}`, { alias, seq: v.seq });
    });
    return v;
  }

  async aliasHistory(actor: Actor | null, team: string, name: string): Promise<Row[]> {
    const m = await this.modelRow(this.db, actor, team, name);
    return this.db.all(
      `SELECT e.name AS alias, f.seq AS "from", t.seq AS "to", e.actor, e.at FROM alias_events e
       LEFT JOIN versions f ON f.id = e.from_version JOIN versions t ON t.id = e.to_version WHERE e.model_id = ? ORDER BY e.id`,
      [m.id],
    );
  }

  // ---- evaluations and leaderboards ---------------------------------------------------------

  /** Any reader with a write token may report how a version did on their task. */
  async addEval(actor: Actor | null, team: string, name: string, ref: string, e: EvalInput): Promise<Row> {
    const a = requireScope(actor, 'write');
    need(Number.isFinite(e.value), 400, 'value must be a finite number');
    const v = await this.resolve(a, team, name, ref);
    return this.db.tx(async (db) => {
      const row = await db.one<Row>(
        'INSERT INTO evals (version_id, task, dataset, metric, value, protocol, label_budget, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [v.id, e.task, e.dataset, e.metric, e.value, e.protocol, e.labelBudget, a.userId, now()],
      );
      await this.audit(db, a, 'eval.add', `${team}/${name}@v${v.seq}`, { ...e });
      return { id: num(row!.id), version: v.seq, ...e, by: a.user };
    });
  }

  async evals(actor: Actor | null, team: string, name: string): Promise<Row[]> {
    const m = await this.modelRow(this.db, actor, team, name);
    return this.db.all(
      `SELECT v.seq AS version, e.task, e.dataset, e.metric, e.value, e.protocol, e.label_budget AS "labelBudget", u.name AS "by", e.created_at AS "createdAt"
       FROM evals e JOIN versions v ON v.id = e.version_id JOIN users u ON u.id = e.user_id WHERE v.model_id = ? ORDER BY e.id`,
      [m.id],
    );
  }

  /** Readable versions ranked by their best value of `metric` on `task` (higher is better). */
  async leaderboard(actor: Actor | null, task: string, metric?: string): Promise<Row[]> {
    const rows = await this.db.all<Row>(
      `SELECT t.name AS team, m.name AS model, v.seq AS version, e.metric, e.value, e.label_budget AS "labelBudget", e.protocol, u.name AS "by"
       FROM evals e JOIN versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id JOIN teams t ON t.id = m.team_id
       JOIN users u ON u.id = e.user_id WHERE e.task = ? ${metric ? 'AND e.metric = ?' : ''} ORDER BY e.value DESC`,
      metric ? [task, metric] : [task],
    );
    const readable = new Set((await this.listModels(actor)).map((m) => `${m.team}/${m.name}`));
    const best = new Map<string, Row>();
    for (const r of rows) {
      const key = `${String(r.team)}/${String(r.model)}@${String(r.version)}|${String(r.metric)}|${String(r.labelBudget)}`;
      if (readable.has(`${String(r.team)}/${String(r.model)}`) && !best.has(key))
        best.set(key, { ...r, value: num(r.value), version: num(r.version) });
    }
    return [...best.values()];
  }

  /** Tasks with reported results on versions the actor may read, most reported first. */
  async tasks(actor: Actor | null): Promise<{ task: string; entries: number }[]> {
    const counts = new Map<string, number>();
    const readable = new Set((await this.listModels(actor)).map((m) => m.id));
    for (const r of await this.db.all<{ task: string; model_id: number }>(
      'SELECT e.task, v.model_id FROM evals e JOIN versions v ON v.id = e.version_id',
    )) {
      if (readable.has(num(r.model_id))) counts.set(r.task, (counts.get(r.task) ?? 0) + 1);
    }
    return [...counts].map(([task, entries]) => ({ task, entries })).sort((a, b) => b.entries - a.entries || (a.task < b.task ? -1 : 1));
  }

  async auditLog(actor: Actor | null, limit = 200): Promise<Row[]> {
    const a = requireScope(actor, 'admin');
    need(a.isAdmin, 403, 'only hub admins read the audit log');
    return this.db.all('SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?', [limit]);
  }

  /** Digests some version refers to (everything else in the blob folder is an orphan). */
  async referencedBlobs(): Promise<Set<string>> {
    return new Set((await this.db.all<{ sha256: string }>('SELECT DISTINCT sha256 FROM version_files')).map((r) => r.sha256));
  }
}

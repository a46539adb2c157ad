// Versions (content-addressed file lists), aliases, and which blobs an actor may reference.
// A blob has no owner of its own: it is reachable only through a version its reader may see,
// or by the users who uploaded its bytes themselves. A push may reference a blob only on one
// of those two grounds (the cross-repository mount rule of container registries), so knowing
// a digest never yields the bytes.
import { createHash } from 'node:crypto';
import { ALIAS, validFilePath } from '../auth.js';
import type { Db, Row } from '../db.js';
import { audit, HubError, need, now, num, readableSql, requireScope, requireWriter, type Actor, type Visibility } from './access.js';
import type { Models } from './models.js';
import type { VersionFile } from '../types.js';

export type { VersionFile } from '../types.js';

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

/** What a push sends: the version's files (already uploaded) and what describes it. */
export interface PushInput {
  files: VersionFile[];
  lineage?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  card?: string;
  /** For a first push, which creates the model (non-private needs a team admin). */
  visibility?: Visibility;
}

export class Versions {
  constructor(
    private readonly db: Db,
    private readonly models: Models,
  ) {}

  // ---- blobs an actor may reference ----------------------------------------------------------

  /** The size of blob `sha` when `actor` uploaded it or can read a version holding it; else null. */
  async referencable(db: Db, actor: Actor, sha: string): Promise<number | null> {
    const own = await db.one<{ size: number }>('SELECT size FROM uploads WHERE sha256 = ? AND user_id = ?', [sha, actor.userId]);
    if (own) return num(own.size);
    const r = readableSql(actor);
    const seen = await db.one<{ size: number }>(
      `SELECT vf.size FROM version_files vf JOIN versions v ON v.id = vf.version_id JOIN models m ON m.id = v.model_id
       WHERE vf.sha256 = ? AND ${r.sql} LIMIT 1`,
      [sha, ...r.params],
    );
    return seen ? num(seen.size) : null;
  }

  /** Records that `actor` sent the bytes of `sha` (a new upload, or one the store already had). */
  async recordUpload(actor: Actor, sha: string, size: number): Promise<void> {
    await this.db.tx(async (db) => {
      await db.run('DELETE FROM uploads WHERE sha256 = ? AND user_id = ?', [sha, actor.userId]);
      await db.run('INSERT INTO uploads (sha256, user_id, size, created_at) VALUES (?, ?, ?, ?)', [sha, actor.userId, size, now()]);
    });
  }

  /** Bytes `actor` uploaded that no version refers to yet. */
  async unreferencedBytes(actor: Actor): Promise<number> {
    const r = await this.db.one<{ n: number | null }>(
      'SELECT SUM(u.size) AS n FROM uploads u WHERE u.user_id = ? AND NOT EXISTS (SELECT 1 FROM version_files vf WHERE vf.sha256 = u.sha256)',
      [actor.userId],
    );
    return num(r?.n ?? 0);
  }

  /** Digests some version refers to. */
  async referenced(): Promise<Set<string>> {
    return new Set((await this.db.all<{ sha256: string }>('SELECT DISTINCT sha256 FROM version_files')).map((r) => r.sha256));
  }

  /** When each digest was last uploaded (ISO time). */
  async lastUploads(): Promise<Map<string, string>> {
    const rows = await this.db.all<{ sha256: string; at: string }>('SELECT sha256, MAX(created_at) AS at FROM uploads GROUP BY sha256');
    return new Map(rows.map((r) => [r.sha256, String(r.at)]));
  }

  /** Forgets one user's upload of a blob (an upload refused after it was stored). */
  async forgetUpload(actor: Actor, sha: string): Promise<void> {
    await this.db.run('DELETE FROM uploads WHERE sha256 = ? AND user_id = ?', [sha, actor.userId]);
  }

  /** Whether any version or any user's upload refers to a blob. */
  async isKnown(sha: string): Promise<boolean> {
    return Boolean(
      (await this.db.one('SELECT 1 AS x FROM version_files WHERE sha256 = ? LIMIT 1', [sha])) ??
      (await this.db.one('SELECT 1 AS x FROM uploads WHERE sha256 = ? LIMIT 1', [sha])),
    );
  }

  /** Forgets the upload records of blobs that were swept. */
  async forgetUploads(shas: string[]): Promise<void> {
    for (const sha of shas) await this.db.run('DELETE FROM uploads WHERE sha256 = ?', [sha]);
  }

  // ---- versions ------------------------------------------------------------------------------

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
   * Records a version from blobs the actor may reference (see `referencable`). Identical
   * content is a no-op returning the existing version; otherwise a new version, and `latest`
   * moves to it. Creates the model on first push (private unless a team admin says otherwise).
   */
  async push(
    actor: Actor | null,
    team: string,
    name: string,
    o: PushInput,
    blobStored: (sha: string) => number | null,
  ): Promise<{ version: VersionInfo; created: boolean }> {
    requireScope(actor, 'write');
    need(o.files.length > 0 && o.files.length <= 1000, 400, 'a version has 1 to 1000 files');
    const seen = new Set<string>();
    for (const f of o.files) {
      need(validFilePath(f.path), 400, `file path '${f.path}' is not valid (relative, no '..', no hidden parts)`);
      need(!seen.has(f.path), 400, `file path '${f.path}' appears twice`);
      seen.add(f.path);
    }
    const digest = versionDigest(o.files);
    return retrying(() =>
      this.db.tx(async (db) => {
        // Pushes to one model take turns: sequence numbers and `latest` stay consistent.
        await db.lock(`model:${team}/${name}`);
        const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
        need(t, 404, `no team '${team}'`);
        // Only the team's writers get past this point, so nobody else learns whether a private model exists.
        let a = requireWriter(actor, num(t.id), team);
        let m = await db.one<{ id: number }>('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name]);
        if (!m && o.visibility && o.visibility !== 'private') a = requireWriter(actor, num(t.id), team, 'admin');
        for (const f of o.files) {
          const size = blobStored(f.sha256) === null ? null : await this.referencable(db, a, f.sha256);
          need(size !== null, 409, `blob ${f.sha256} (${f.path}) was not uploaded; PUT it to /api/blobs/${f.sha256} first`);
          need(size === f.size, 400, `${f.path}: declared ${f.size} bytes, the uploaded blob has ${size}`);
        }
        if (!m) {
          await this.models.insert(db, a, num(t.id), team, name, { visibility: o.visibility, card: o.card });
          m = await db.one<{ id: number }>('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name]);
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
        await audit(db, a, 'version.create', `${team}/${name}`, { seq, digest, files: o.files.length });
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

  async list(actor: Actor | null, team: string, name: string): Promise<VersionInfo[]> {
    const m = await this.models.row(this.db, actor, team, name);
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
    const m = await this.models.row(this.db, actor, team, name);
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
    const v = await this.resolve(actor, team, name, ref);
    return this.db.tx(async (db) => {
      const m = await this.models.row(db, actor, team, name);
      const a = requireWriter(actor, num(m.team_id), team);
      if (alias === 'latest') throw new HubError("'latest' moves by itself to each new version", 400);
      await this.moveAlias(db, a, num(m.id), alias, v.id);
      await audit(db, a, 'alias.set', `${team}/${name}`, { alias, seq: v.seq });
      return v;
    });
  }

  async aliasHistory(actor: Actor | null, team: string, name: string): Promise<Row[]> {
    const m = await this.models.row(this.db, actor, team, name);
    return this.db.all(
      `SELECT e.name AS alias, f.seq AS "from", t.seq AS "to", e.actor, e.at FROM alias_events e
       LEFT JOIN versions f ON f.id = e.from_version JOIN versions t ON t.id = e.to_version WHERE e.model_id = ? ORDER BY e.id`,
      [m.id],
    );
  }
}

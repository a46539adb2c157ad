// Models: their card, tags and visibility, grants to other teams, and the search over what an
// actor may read.
import { NAME } from '../auth.js';
import type { Db, Row } from '../db.js';
import { audit, canRead, need, NAME_RULE, now, num, readableSql, requireWriter, type Actor, type Visibility } from './access.js';

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

export type ModelRow = Row & { id: number; team_id: number; visibility: string; team: string; name: string };

export interface ModelFields {
  visibility?: Visibility;
  card?: string;
  tags?: string[];
  method?: string;
  modality?: string;
}

export class Models {
  constructor(private readonly db: Db) {}

  /** The model row when `actor` may read it; otherwise 404, exactly as for a model that does not exist. */
  async row(db: Db, actor: Actor | null, team: string, name: string): Promise<ModelRow> {
    const m = await db.one<ModelRow>(
      'SELECT m.*, t.name AS team FROM models m JOIN teams t ON t.id = m.team_id WHERE t.name = ? AND m.name = ?',
      [team, name],
    );
    const grants = m
      ? (await db.all<{ team_id: number }>('SELECT team_id FROM grants WHERE model_id = ?', [m.id])).map((g) => num(g.team_id))
      : [];
    need(m && canRead(actor, { ...m, grants }), 404, `no model '${team}/${name}'`);
    return m;
  }

  async info(db: Db, m: Row): Promise<ModelInfo> {
    const aliases: Record<string, number> = {};
    for (const r of await db.all<{ name: string; seq: number }>(
      'SELECT a.name, v.seq FROM aliases a JOIN versions v ON v.id = a.version_id WHERE a.model_id = ? ORDER BY a.name',
      [m.id],
    ))
      aliases[r.name] = num(r.seq);
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

  /** Inserts a model row (inside a transaction, after the caller checked the actor may write to `teamId`). */
  async insert(db: Db, actor: Actor, teamId: number, team: string, name: string, o: ModelFields): Promise<void> {
    need(NAME.test(name), 400, `model name '${name}' is not valid (${NAME_RULE})`);
    await db.run(
      'INSERT INTO models (team_id, name, visibility, card, tags, method, modality, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
        teamId,
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
    await audit(db, actor, 'model.create', `${team}/${name}`, { visibility: o.visibility ?? 'private' });
  }

  async create(actor: Actor | null, team: string, name: string, o: ModelFields = {}): Promise<ModelInfo> {
    return this.db.tx(async (db) => {
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
      need(t, 404, `no team '${team}'`);
      const a = requireWriter(actor, num(t.id), team, o.visibility && o.visibility !== 'private' ? 'admin' : 'member');
      need(!(await db.one('SELECT id FROM models WHERE team_id = ? AND name = ?', [t.id, name])), 409, `model '${team}/${name}' exists`);
      await this.insert(db, a, num(t.id), team, name, o);
      return this.info(db, await this.row(db, a, team, name));
    });
  }

  async get(actor: Actor | null, team: string, name: string): Promise<ModelInfo> {
    return this.info(this.db, await this.row(this.db, actor, team, name));
  }

  async list(
    actor: Actor | null,
    f: { q?: string; team?: string; tag?: string; method?: string; modality?: string } = {},
  ): Promise<ModelInfo[]> {
    const readable = readableSql(actor);
    const where = [readable.sql];
    const params = [...readable.params];
    for (const [col, v] of [
      ['t.name', f.team],
      ['m.method', f.method],
      ['m.modality', f.modality],
    ] as const)
      if (v) {
        where.push(`${col} = ?`);
        params.push(v);
      }
    const rows = await this.db.all<ModelRow>(
      `SELECT m.*, t.name AS team FROM models m JOIN teams t ON t.id = m.team_id WHERE ${where.join(' AND ')} ORDER BY m.updated_at DESC, m.id DESC`,
      params,
    );
    const q = f.q?.toLowerCase();
    const out: ModelInfo[] = [];
    for (const m of rows) {
      const tags = JSON.parse(String(m.tags)) as string[];
      if (f.tag && !tags.includes(f.tag)) continue;
      if (q && !`${m.team}/${m.name} ${String(m.card)} ${tags.join(' ')}`.toLowerCase().includes(q)) continue;
      out.push(await this.info(this.db, m));
    }
    return out;
  }

  /** Card, tags, method and modality: team members. Visibility: team admins. */
  async update(actor: Actor | null, team: string, name: string, o: ModelFields): Promise<ModelInfo> {
    return this.db.tx(async (db) => {
      const m = await this.row(db, actor, team, name);
      const a = requireWriter(actor, num(m.team_id), team, o.visibility ? 'admin' : 'member');
      const fields: [string, unknown][] = [];
      if (o.card !== undefined) fields.push(['card', o.card]);
      if (o.visibility !== undefined) fields.push(['visibility', o.visibility]);
      if (o.tags !== undefined) fields.push(['tags', JSON.stringify(o.tags)]);
      if (o.method !== undefined) fields.push(['method', o.method]);
      if (o.modality !== undefined) fields.push(['modality', o.modality]);
      fields.push(['updated_at', now()]);
      await db.run(`UPDATE models SET ${fields.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, [...fields.map(([, v]) => v), m.id]);
      await audit(db, a, 'model.update', `${team}/${name}`, { fields: fields.map(([k]) => k) });
      return this.info(db, await this.row(db, a, team, name));
    });
  }

  /** Gives (or takes back) read access to a private model for another team: team admins. */
  async grant(actor: Actor | null, team: string, name: string, toTeam: string, revoke = false): Promise<void> {
    await this.db.tx(async (db) => {
      const m = await this.row(db, actor, team, name);
      const a = requireWriter(actor, num(m.team_id), team, 'admin');
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [toTeam]);
      need(t, 404, `no team '${toTeam}'`);
      await db.run('DELETE FROM grants WHERE model_id = ? AND team_id = ?', [m.id, t.id]);
      if (!revoke) await db.run('INSERT INTO grants (model_id, team_id) VALUES (?, ?)', [m.id, t.id]);
      await audit(db, a, revoke ? 'model.ungrant' : 'model.grant', `${team}/${name}`, { team: toTeam });
    });
  }
}

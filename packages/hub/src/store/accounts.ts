// Users, teams, API tokens and browser sessions. A token is shown once and stored as its
// sha256; a token can only mint tokens that are no wider and live no longer than itself, and
// revoking a token revokes every token and session that came from it.
import { createHash, randomBytes } from 'node:crypto';
import { hashToken, NAME, newToken, scopeAllows, type Scope } from '../auth.js';
import type { Db, Row } from '../db.js';
import { audit, need, NAME_RULE, now, num, requireScope, type Actor, type Role } from './access.js';

/** How long a browser session lasts at most (it never outlives its token). */
export const SESSION_MS = 12 * 3600_000;

type TokenRow = Row & {
  id: number;
  scope: Scope;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  user_id: number;
  name: string;
  is_admin: number;
};

/** The CSRF token of a session: derived from its secret, so the server keeps no second secret. */
export function csrfFor(sessionSecret: string): string {
  return createHash('sha256').update(`pretext-csrf\0${sessionSecret}`).digest('base64url');
}

export class Accounts {
  constructor(private readonly db: Db) {}

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
      await audit(db, null, 'hub.bootstrap', 'admin', { prefix: t.prefix });
      return true;
    });
    return created ? t.token : null;
  }

  /** Creates a user (hub admins with an admin token only). */
  async createUser(actor: Actor | null, name: string, isAdmin = false): Promise<{ id: number; name: string }> {
    const a = requireScope(actor, 'admin');
    need(a.isAdmin, 403, 'only hub admins create users');
    need(NAME.test(name), 400, `user name '${name}' is not valid (${NAME_RULE})`);
    return this.db.tx(async (db) => {
      need(!(await db.one('SELECT id FROM users WHERE name = ?', [name])), 409, `user '${name}' exists`);
      const row = await db.one<{ id: number }>('INSERT INTO users (name, is_admin, created_at) VALUES (?, ?, ?) RETURNING id', [
        name,
        isAdmin,
        now(),
      ]);
      await audit(db, a, 'user.create', name, { admin: isAdmin });
      return { id: num(row!.id), name };
    });
  }

  async createTeam(actor: Actor | null, name: string): Promise<{ id: number; name: string }> {
    const a = requireScope(actor, 'write');
    need(NAME.test(name), 400, `team name '${name}' is not valid (${NAME_RULE})`);
    return this.db.tx(async (db) => {
      need(!(await db.one('SELECT id FROM teams WHERE name = ?', [name])), 409, `team '${name}' exists`);
      const row = await db.one<{ id: number }>('INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING id', [name, now()]);
      await db.run('INSERT INTO members (team_id, user_id, role) VALUES (?, ?, ?)', [row!.id, a.userId, 'admin']);
      await audit(db, a, 'team.create', name);
      return { id: num(row!.id), name };
    });
  }

  async addMember(actor: Actor | null, team: string, user: string, role: Role): Promise<void> {
    const a = requireScope(actor, 'admin');
    await this.db.tx(async (db) => {
      const t = await db.one<{ id: number }>('SELECT id FROM teams WHERE name = ?', [team]);
      need(t, 404, `no team '${team}'`);
      need(a.isAdmin || a.teams.get(num(t.id)) === 'admin', 403, `only admins of team '${team}' manage its members`);
      const u = await db.one<{ id: number }>('SELECT id FROM users WHERE name = ?', [user]);
      need(u, 404, `no user '${user}'`);
      await db.run('DELETE FROM members WHERE team_id = ? AND user_id = ?', [t.id, u.id]);
      await db.run('INSERT INTO members (team_id, user_id, role) VALUES (?, ?, ?)', [t.id, u.id, role]);
      await audit(db, a, 'team.member', team, { user, role });
    });
  }

  /** Every team's name and the actor's role in it; member lists only of the actor's own teams (all, for hub admins). */
  async listTeams(actor: Actor | null): Promise<{ name: string; role: string | null; members?: { user: string; role: string }[] }[]> {
    const a = requireScope(actor, 'read');
    const teams = await this.db.all<{ id: number; name: string }>('SELECT id, name FROM teams ORDER BY name');
    const out = [];
    for (const t of teams) {
      const role = a.teams.get(num(t.id)) ?? null;
      if (!role && !a.isAdmin) {
        out.push({ name: t.name, role });
        continue;
      }
      const members = await this.db.all<{ user: string; role: string }>(
        'SELECT u.name AS "user", m.role AS role FROM members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ? ORDER BY u.name',
        [t.id],
      );
      out.push({ name: t.name, role, members });
    }
    return out;
  }

  /**
   * A new token for `user` (yourself; anyone, for a hub admin with an admin token). It needs
   * a write token, is no wider than the token that creates it, never outlives it (without
   * `expiresInDays` it expires with its parent) and is revoked with it. The secret is returned once.
   */
  async createToken(
    actor: Actor | null,
    o: { user: string; name: string; scope: Scope; expiresInDays?: number },
  ): Promise<{ id: number; token: string; scope: Scope; expiresAt: string | null }> {
    const a = requireScope(actor, 'write');
    need(a.user === o.user || (a.isAdmin && scopeAllows(a.scope, 'admin')), 403, 'only hub admins create tokens for other users');
    need(scopeAllows(a.scope, o.scope), 403, `a '${a.scope}' token cannot create a '${o.scope}' token`);
    need(o.name.length > 0 && o.name.length <= 100, 400, 'token name must be 1-100 characters');
    let expiresAt = o.expiresInDays ? new Date(Date.now() + o.expiresInDays * 86400_000).toISOString() : null;
    if (a.tokenExpiresAt) {
      need(
        expiresAt === null || expiresAt <= a.tokenExpiresAt,
        400,
        `a token cannot outlive the token that creates it (that one expires ${a.tokenExpiresAt})`,
      );
      expiresAt ??= a.tokenExpiresAt;
    }
    const t = newToken();
    return this.db.tx(async (db) => {
      const u = await db.one<{ id: number }>('SELECT id FROM users WHERE name = ?', [o.user]);
      need(u, 404, `no user '${o.user}'`);
      const row = await db.one<{ id: number }>(
        'INSERT INTO tokens (user_id, name, hash, prefix, scope, expires_at, created_at, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [u.id, o.name, t.hash, t.prefix, o.scope, expiresAt, now(), a.tokenId],
      );
      await audit(db, a, 'token.create', o.user, { name: o.name, scope: o.scope, prefix: t.prefix, expiresAt, parent: a.tokenId });
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

  /** Revokes a token (your own with a write token; anyone's as a hub admin with an admin token), every token made from it, and their sessions. */
  async revokeToken(actor: Actor | null, id: number): Promise<{ revoked: number }> {
    const a = requireScope(actor, 'write');
    return this.db.tx(async (db) => {
      const t = await db.one<{ user_id: number }>('SELECT user_id FROM tokens WHERE id = ?', [id]);
      need(t && (num(t.user_id) === a.userId || (a.isAdmin && scopeAllows(a.scope, 'admin'))), 404, `no token ${id}`);
      const ids = [id];
      for (let i = 0; i < ids.length; i++)
        for (const c of await db.all<{ id: number }>('SELECT id FROM tokens WHERE parent_id = ?', [ids[i]])) ids.push(num(c.id));
      const at = now();
      for (const x of ids) {
        await db.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, x]);
        await db.run('UPDATE sessions SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL', [at, x]);
      }
      await audit(db, a, 'token.revoke', String(id), { alsoRevoked: ids.slice(1) });
      return { revoked: ids.length };
    });
  }

  /**
   * The actor behind a presented token, or null when unknown, revoked or expired. The lookup
   * key is the sha256 of a 256-bit random secret: how long the index lookup takes can at most
   * hint at a prefix of that hash, which brings an attacker no closer to a token, so no
   * separate constant-time comparison is made.
   */
  async authenticate(token: string): Promise<Actor | null> {
    return this.actorWhere('t.hash = ?', [hashToken(token)]);
  }

  /** Opens a browser session for the token's actor; returns its secret (the cookie value) and expiry. */
  async openSession(actor: Actor | null): Promise<{ secret: string; expiresAt: string }> {
    const a = requireScope(actor, 'read');
    const secret = randomBytes(32).toString('base64url');
    let expiresAt = new Date(Date.now() + SESSION_MS).toISOString();
    if (a.tokenExpiresAt && a.tokenExpiresAt < expiresAt) expiresAt = a.tokenExpiresAt;
    await this.db.tx(async (db) => {
      await db.run('INSERT INTO sessions (token_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)', [
        a.tokenId,
        hashToken(secret),
        now(),
        expiresAt,
      ]);
      await audit(db, a, 'session.open', a.user, { token: a.tokenId, expiresAt });
    });
    return { secret, expiresAt };
  }

  /** The actor of a live session (its token still valid), or null. */
  async sessionActor(secret: string): Promise<Actor | null> {
    return this.actorWhere('t.id = (SELECT s.token_id FROM sessions s WHERE s.hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?)', [
      hashToken(secret),
      now(),
    ]);
  }

  /** Deletes sessions that expired or were closed more than a day ago; returns how many. */
  async forgetEndedSessions(): Promise<number> {
    const dayAgo = new Date(Date.now() - 86400_000).toISOString();
    const r = await this.db.run('DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?', [dayAgo, dayAgo]);
    return r.changes;
  }

  async closeSession(secret: string): Promise<void> {
    await this.db.run('UPDATE sessions SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL', [now(), hashToken(secret)]);
  }

  private async actorWhere(where: string, params: unknown[]): Promise<Actor | null> {
    const row = await this.db.one<TokenRow>(
      `SELECT t.id, t.scope, t.expires_at, t.revoked_at, t.last_used_at, u.id AS user_id, u.name, u.is_admin FROM tokens t JOIN users u ON u.id = t.user_id WHERE ${where}`,
      params,
    );
    const at = now();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at < at)) return null;
    // "Last used" to the minute: writing it on every request made every read a write.
    if (!row.last_used_at || Date.parse(at) - Date.parse(row.last_used_at) > 60_000)
      await this.db.run('UPDATE tokens SET last_used_at = ? WHERE id = ?', [at, row.id]);
    const teams = new Map<number, Role>();
    for (const m of await this.db.all<{ team_id: number; role: Role }>('SELECT team_id, role FROM members WHERE user_id = ?', [
      row.user_id,
    ]))
      teams.set(num(m.team_id), m.role);
    return {
      userId: num(row.user_id),
      user: row.name,
      isAdmin: Boolean(num(row.is_admin)),
      scope: row.scope,
      tokenId: num(row.id),
      tokenExpiresAt: row.expires_at,
      teams,
    };
  }

  async auditLog(actor: Actor | null, limit = 200): Promise<Row[]> {
    const a = requireScope(actor, 'admin');
    need(a.isAdmin, 403, 'only hub admins read the audit log');
    return this.db.all('SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?', [limit]);
  }
}

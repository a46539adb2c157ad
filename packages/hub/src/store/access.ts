// Who may do what, in one place. Every store method starts from these rules; the access
// matrix test (test/access.test.ts) holds them against every route. Reading another team's
// private model answers "not found", never "forbidden", so private names do not leak.
import { scopeAllows, type Scope } from '../auth.js';
import type { Db } from '../db.js';

export class HubError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Extra response headers (Retry-After on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export type Visibility = 'private' | 'internal' | 'public';
export const VISIBILITIES: Visibility[] = ['private', 'internal', 'public'];
export type Role = 'member' | 'admin';

export interface Actor {
  userId: number;
  user: string;
  isAdmin: boolean;
  scope: Scope;
  /** The token behind the request (a browser session acts with the token it was opened with). */
  tokenId: number;
  /** When that token stops working (ISO time), or null. */
  tokenExpiresAt: string | null;
  /** team id -> role */
  teams: Map<number, Role>;
}

export const now = (): string => new Date().toISOString();
export const num = (v: unknown): number => Number(v);

export function need(cond: unknown, status: number, message: string): asserts cond {
  if (!cond) throw new HubError(message, status);
}

export function requireScope(actor: Actor | null, scope: Scope): Actor {
  need(actor, 401, 'this needs an API token (Authorization: Bearer ptx_...)');
  need(scopeAllows(actor.scope, scope), 403, `this needs a token with the '${scope}' scope; this one has '${actor.scope}'`);
  return actor;
}

/** A team member with a write token (or a team admin with an admin token, for `role: 'admin'`). */
export function requireWriter(actor: Actor | null, teamId: number, team: string, role: Role = 'member'): Actor {
  const a = requireScope(actor, role === 'admin' ? 'admin' : 'write');
  const has = a.teams.get(teamId);
  need(a.isAdmin || has === 'admin' || (role === 'member' && has === 'member'), 403, `only ${role}s of team '${team}' may do this`);
  return a;
}

/** Whether `actor` may read a model: public to all, internal to any signed-in user, private to its team, granted teams and hub admins. */
export function canRead(actor: Actor | null, m: { team_id: unknown; visibility: string; grants: number[] }): boolean {
  if (m.visibility === 'public') return true;
  if (!actor) return false;
  if (actor.isAdmin || m.visibility === 'internal') return true;
  return actor.teams.has(num(m.team_id)) || m.grants.some((g) => actor.teams.has(g));
}

/** The same rule as `canRead`, as an SQL condition on a `models` row aliased `m`, with its parameters. */
export function readableSql(actor: Actor | null): { sql: string; params: unknown[] } {
  if (!actor) return { sql: "m.visibility = 'public'", params: [] };
  if (actor.isAdmin) return { sql: '1 = 1', params: [] };
  const teams = [...actor.teams.keys()];
  const list = teams.length ? teams.map(() => '?').join(', ') : 'NULL';
  return {
    sql: `(m.visibility IN ('public', 'internal') OR m.team_id IN (${list}) OR EXISTS (SELECT 1 FROM grants g WHERE g.model_id = m.id AND g.team_id IN (${list})))`,
    params: [...teams, ...teams],
  };
}

export async function audit(
  db: Db,
  actor: Actor | null,
  action: string,
  target: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.run('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)', [
    now(),
    actor?.user ?? 'system',
    action,
    target,
    JSON.stringify(detail),
  ]);
}

export const NAME_RULE = "lowercase letters, digits, '.', '_', '-'; at most 64";

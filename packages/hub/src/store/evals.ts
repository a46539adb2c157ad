// Evaluations that teams report on versions they can read, and the leaderboards built from them.
import type { Db, Row } from '../db.js';
import { audit, need, now, num, readableSql, requireScope, type Actor } from './access.js';
import type { Models } from './models.js';
import type { Versions } from './versions.js';
import type { EvalInput } from '../types.js';

export type { EvalInput } from '../types.js';

export class Evals {
  constructor(
    private readonly db: Db,
    private readonly models: Models,
    private readonly versions: Versions,
  ) {}

  /**
   * Any reader with a write token may report how a version did on their task. With an
   * idempotency key (one per result, chosen by the client), sending the same report again
   * returns the first one instead of adding a second, so a client may retry after a lost
   * response.
   */
  async add(
    actor: Actor | null,
    team: string,
    name: string,
    ref: string,
    e: EvalInput,
    idempotencyKey?: string,
  ): Promise<{ created: boolean; eval: Row }> {
    const a = requireScope(actor, 'write');
    const v = await this.versions.resolve(a, team, name, ref);
    need(Number.isFinite(e.value), 400, 'value must be a finite number');
    return this.db.tx(async (db) => {
      if (idempotencyKey) {
        await db.lock(`eval:${a.userId}:${idempotencyKey}`);
        const prior = await db.one<Row>(
          'SELECT id, version_id, task, dataset, metric, value, protocol, label_budget FROM evals WHERE user_id = ? AND idempotency_key = ?',
          [a.userId, idempotencyKey],
        );
        if (prior) {
          const same =
            num(prior.version_id) === v.id &&
            prior.task === e.task &&
            prior.dataset === e.dataset &&
            prior.metric === e.metric &&
            num(prior.value) === e.value &&
            prior.protocol === e.protocol &&
            prior.label_budget === e.labelBudget;
          need(same, 409, `idempotency key '${idempotencyKey}' was used for a different result`);
          return { created: false, eval: { id: num(prior.id), version: v.seq, ...e, by: a.user } };
        }
      }
      const row = await db.one<Row>(
        'INSERT INTO evals (version_id, task, dataset, metric, value, protocol, label_budget, user_id, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
        [v.id, e.task, e.dataset, e.metric, e.value, e.protocol, e.labelBudget, a.userId, now(), idempotencyKey ?? null],
      );
      await audit(db, a, 'eval.add', `${team}/${name}@v${v.seq}`, { ...e });
      return { created: true, eval: { id: num(row!.id), version: v.seq, ...e, by: a.user } };
    });
  }

  async list(actor: Actor | null, team: string, name: string): Promise<Row[]> {
    const m = await this.models.row(this.db, actor, team, name);
    return this.db.all(
      `SELECT v.seq AS version, e.task, e.dataset, e.metric, e.value, e.protocol, e.label_budget AS "labelBudget", u.name AS "by", e.created_at AS "createdAt"
       FROM evals e JOIN versions v ON v.id = e.version_id JOIN users u ON u.id = e.user_id WHERE v.model_id = ? ORDER BY e.id`,
      [m.id],
    );
  }

  /** Readable versions ranked by their best value of `metric` on `task` (higher is better). */
  async leaderboard(actor: Actor | null, task: string, metric?: string): Promise<Row[]> {
    const r = readableSql(actor);
    const rows = await this.db.all<Row>(
      `SELECT t.name AS team, m.name AS model, v.seq AS version, e.metric, e.value, e.label_budget AS "labelBudget", e.protocol, u.name AS "by"
       FROM evals e JOIN versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id JOIN teams t ON t.id = m.team_id
       JOIN users u ON u.id = e.user_id WHERE e.task = ? ${metric ? 'AND e.metric = ?' : ''} AND ${r.sql} ORDER BY e.value DESC, e.id`,
      [task, ...(metric ? [metric] : []), ...r.params],
    );
    const best = new Map<string, Row>();
    for (const row of rows) {
      const key = `${String(row.team)}/${String(row.model)}@${String(row.version)}|${String(row.metric)}|${String(row.labelBudget)}`;
      if (!best.has(key)) best.set(key, { ...row, value: num(row.value), version: num(row.version) });
    }
    return [...best.values()];
  }

  /** Tasks with reported results on versions the actor may read, most reported first. */
  async tasks(actor: Actor | null): Promise<{ task: string; entries: number }[]> {
    const r = readableSql(actor);
    const rows = await this.db.all<{ task: string; n: number }>(
      `SELECT e.task, COUNT(*) AS n FROM evals e JOIN versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id WHERE ${r.sql} GROUP BY e.task`,
      r.params,
    );
    return rows.map((x) => ({ task: x.task, entries: num(x.n) })).sort((a, b) => b.entries - a.entries || (a.task < b.task ? -1 : 1));
  }
}

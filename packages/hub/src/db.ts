// The hub's database behind one small interface, on SQLite (embedded default, WAL) or
// PostgreSQL. SQL is written once with `?` placeholders in the subset both engines share;
// the PostgreSQL side renumbers them. Schema changes are numbered migrations recorded in
// schema_migrations, applied in order inside a transaction.
import Database from 'better-sqlite3';
import pg from 'pg';

export type Row = Record<string, unknown>;

export interface Db {
  readonly engine: 'sqlite' | 'postgres';
  all<T extends Row>(sql: string, params?: unknown[]): Promise<T[]>;
  one<T extends Row>(sql: string, params?: unknown[]): Promise<T | undefined>;
  run(sql: string, params?: unknown[]): Promise<{ changes: number }>;
  /** Runs `fn` in one transaction; a throw rolls everything back. */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  /** Inside tx: waits for and holds, until the transaction ends, a lock named `key`. */
  lock(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A promise chain: one holder at a time (SQLite has one connection and one writer). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export class SqliteDb implements Db {
  readonly engine = 'sqlite';
  private readonly conn: Database.Database;
  private readonly mutex = new Mutex();

  constructor(path: string) {
    this.conn = new Database(path);
    this.conn.pragma('journal_mode = WAL');
    this.conn.pragma('foreign_keys = ON');
    this.conn.pragma('busy_timeout = 5000');
    this.conn.pragma('synchronous = NORMAL');
  }

  /** Prepared statements by SQL text: preparing took a fifth of a metadata read's time. */
  private readonly statements = new Map<string, Database.Statement>();

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.conn.prepare(sql);
      // SQL built from a variable number of placeholders could grow the cache without bound.
      if (this.statements.size >= 500) this.statements.clear();
      this.statements.set(sql, st);
    }
    return st;
  }

  private direct(): Db {
    const stmt = (sql: string) => this.statement(sql);
    const self: Db = {
      engine: 'sqlite',
      all: <T extends Row>(sql: string, params: unknown[] = []) => Promise.resolve(stmt(sql).all(...params.map(toDbValue)) as T[]),
      one: <T extends Row>(sql: string, params: unknown[] = []) =>
        Promise.resolve(stmt(sql).get(...params.map(toDbValue)) as T | undefined),
      run: (sql: string, params: unknown[] = []) => Promise.resolve({ changes: stmt(sql).run(...params.map(toDbValue)).changes }),
      tx: (fn) => fn(self),
      // One connection, one transaction at a time: already exclusive.
      lock: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    return self;
  }

  all<T extends Row>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.mutex.lock(() => this.direct().all<T>(sql, params));
  }
  one<T extends Row>(sql: string, params?: unknown[]): Promise<T | undefined> {
    return this.mutex.lock(() => this.direct().one<T>(sql, params));
  }
  run(sql: string, params?: unknown[]): Promise<{ changes: number }> {
    return this.mutex.lock(() => this.direct().run(sql, params));
  }
  lock(): Promise<void> {
    return Promise.resolve();
  }
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    return this.mutex.lock(async () => {
      this.conn.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(this.direct());
        this.conn.exec('COMMIT');
        return r;
      } catch (err) {
        this.conn.exec('ROLLBACK');
        throw err;
      }
    });
  }
  close(): Promise<void> {
    return this.mutex.lock(() => {
      this.conn.close();
      return Promise.resolve();
    });
  }
}

/** Flags are stored as 0/1 integers on both engines. */
function toDbValue(v: unknown): unknown {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/** `?` placeholders -> `$1, $2, ...` (no `?` appears inside the hub's SQL literals). */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

export class PostgresDb implements Db {
  readonly engine = 'postgres';
  private readonly pool: pg.Pool;

  constructor(connectionString: string) {
    this.pool = new pg.Pool({ connectionString, max: 10 });
    // An idle connection dropped by the server must not take the process down; the next
    // query opens a new one.
    this.pool.on('error', () => undefined);
  }

  private static over(q: (text: string, values: unknown[]) => Promise<pg.QueryResult>): Omit<Db, 'tx' | 'close' | 'engine' | 'lock'> {
    return {
      all: async <T extends Row>(sql: string, params: unknown[] = []) => (await q(numbered(sql), params.map(toDbValue))).rows as T[],
      one: async <T extends Row>(sql: string, params: unknown[] = []) =>
        (await q(numbered(sql), params.map(toDbValue))).rows[0] as T | undefined,
      run: async (sql: string, params: unknown[] = []) => ({ changes: (await q(numbered(sql), params.map(toDbValue))).rowCount ?? 0 }),
    };
  }

  all<T extends Row>(sql: string, params?: unknown[]): Promise<T[]> {
    return PostgresDb.over((t, v) => this.pool.query(t, v)).all<T>(sql, params);
  }
  one<T extends Row>(sql: string, params?: unknown[]): Promise<T | undefined> {
    return PostgresDb.over((t, v) => this.pool.query(t, v)).one<T>(sql, params);
  }
  run(sql: string, params?: unknown[]): Promise<{ changes: number }> {
    return PostgresDb.over((t, v) => this.pool.query(t, v)).run(sql, params);
  }
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const inner: Db = {
      engine: 'postgres',
      ...PostgresDb.over((t, v) => client.query(t, v)),
      tx: (f) => f(inner),
      lock: async (key) => void (await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key])),
      close: () => Promise.resolve(),
    };
    try {
      await client.query('BEGIN');
      const r = await fn(inner);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  lock(): Promise<void> {
    return Promise.reject(new Error('lock() is only meaningful inside tx()'));
  }
  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Numbered schema changes. `{{id}}` is the auto-increment key type of the engine. */
const MIGRATIONS: string[] = [
  `CREATE TABLE users (id {{id}}, name TEXT NOT NULL UNIQUE, is_admin INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
   CREATE TABLE teams (id {{id}}, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
   CREATE TABLE members (team_id BIGINT NOT NULL REFERENCES teams(id), user_id BIGINT NOT NULL REFERENCES users(id),
     role TEXT NOT NULL, PRIMARY KEY (team_id, user_id));
   CREATE TABLE tokens (id {{id}}, user_id BIGINT NOT NULL REFERENCES users(id), name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
     prefix TEXT NOT NULL, scope TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, created_at TEXT NOT NULL, last_used_at TEXT);
   CREATE TABLE models (id {{id}}, team_id BIGINT NOT NULL REFERENCES teams(id), name TEXT NOT NULL, visibility TEXT NOT NULL,
     card TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]', method TEXT, modality TEXT, created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL, UNIQUE (team_id, name));
   CREATE TABLE grants (model_id BIGINT NOT NULL REFERENCES models(id), team_id BIGINT NOT NULL REFERENCES teams(id),
     PRIMARY KEY (model_id, team_id));
   CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE versions (id {{id}}, model_id BIGINT NOT NULL REFERENCES models(id), seq INTEGER NOT NULL, digest TEXT NOT NULL,
     lineage TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '{}', card TEXT NOT NULL DEFAULT '', created_by BIGINT NOT NULL,
     created_at TEXT NOT NULL, UNIQUE (model_id, digest), UNIQUE (model_id, seq));
   CREATE TABLE version_files (version_id BIGINT NOT NULL REFERENCES versions(id), path TEXT NOT NULL,
     sha256 TEXT NOT NULL REFERENCES blobs(sha256), size BIGINT NOT NULL, PRIMARY KEY (version_id, path));
   CREATE TABLE aliases (model_id BIGINT NOT NULL REFERENCES models(id), name TEXT NOT NULL, version_id BIGINT NOT NULL REFERENCES versions(id),
     updated_at TEXT NOT NULL, PRIMARY KEY (model_id, name));
   CREATE TABLE alias_events (id {{id}}, model_id BIGINT NOT NULL, name TEXT NOT NULL, from_version BIGINT, to_version BIGINT NOT NULL,
     actor TEXT NOT NULL, at TEXT NOT NULL);
   CREATE TABLE evals (id {{id}}, version_id BIGINT NOT NULL REFERENCES versions(id), task TEXT NOT NULL, dataset TEXT NOT NULL,
     metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, protocol TEXT NOT NULL, label_budget TEXT NOT NULL, user_id BIGINT NOT NULL,
     created_at TEXT NOT NULL);
   CREATE INDEX evals_task ON evals (task, metric);
   CREATE TABLE audit (id {{id}}, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);`,
  // Who sent which blob's bytes (a push may reference only those, or files of versions the
  // pusher can read); tokens made by tokens; browser sessions; idempotent evaluation reports.
  `CREATE TABLE uploads (sha256 TEXT NOT NULL, user_id BIGINT NOT NULL REFERENCES users(id), size BIGINT NOT NULL,
     created_at TEXT NOT NULL, PRIMARY KEY (sha256, user_id));
   CREATE INDEX uploads_user ON uploads (user_id);
   CREATE INDEX version_files_sha ON version_files (sha256);
   ALTER TABLE tokens ADD COLUMN parent_id BIGINT REFERENCES tokens(id);
   CREATE INDEX tokens_parent ON tokens (parent_id);
   CREATE TABLE sessions (id {{id}}, token_id BIGINT NOT NULL REFERENCES tokens(id), hash TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT);
   CREATE INDEX sessions_token ON sessions (token_id);
   ALTER TABLE evals ADD COLUMN idempotency_key TEXT;
   CREATE UNIQUE INDEX evals_idempotency ON evals (user_id, idempotency_key)`,
  // Hosted federations: the plan and recipe, the current round and its history, the invited
  // site teams, and the updates in for the open round (their bytes are files beside the
  // federation's global weights).
  `CREATE TABLE federations (id {{id}}, team_id BIGINT NOT NULL REFERENCES teams(id), name TEXT NOT NULL, plan TEXT NOT NULL,
     recipe TEXT NOT NULL, status TEXT NOT NULL, round INTEGER NOT NULL, history TEXT NOT NULL, created_by BIGINT NOT NULL,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (team_id, name));
   CREATE TABLE federation_sites (federation_id BIGINT NOT NULL REFERENCES federations(id), team_id BIGINT NOT NULL REFERENCES teams(id),
     PRIMARY KEY (federation_id, team_id));
   CREATE TABLE federation_updates (federation_id BIGINT NOT NULL REFERENCES federations(id), round INTEGER NOT NULL, site TEXT NOT NULL,
     examples BIGINT NOT NULL, bytes BIGINT NOT NULL, file TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (federation_id, round, site))`,
  // What the owner measured on the global weights after each round (validation kNN, ...), by round.
  `ALTER TABLE federations ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'`,
  // What each site of a federation under DP-SGD reported of its privacy spent, by round and site.
  `ALTER TABLE federations ADD COLUMN privacy TEXT NOT NULL DEFAULT '{}'`,
  // Each site's mean training loss, by round and site (federations without DP-SGD).
  `ALTER TABLE federations ADD COLUMN losses TEXT NOT NULL DEFAULT '{}'`,
  // What each site showed of its rows before the first round, for a preprocessing merged across
  // sites (the owner reads them; another site never does).
  `CREATE TABLE federation_summaries (federation_id BIGINT NOT NULL REFERENCES federations(id), site TEXT NOT NULL,
     summary TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (federation_id, site))`,
];

export async function migrate(db: Db): Promise<number> {
  await db.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const done = new Set((await db.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
  const id = db.engine === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  let applied = 0;
  for (const [i, sql] of MIGRATIONS.entries()) {
    if (done.has(i + 1)) continue;
    await db.tx(async (t) => {
      for (const stmt of sql
        .replaceAll('{{id}}', id)
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean))
        await t.run(stmt);
      await t.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [i + 1, new Date().toISOString()]);
    });
    applied++;
  }
  return applied;
}

export function openDb(url: string): Db {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return new PostgresDb(url);
  return new SqliteDb(url.replace(/^sqlite:/, ''));
}

/**
 * The PostgreSQL sink's schema (SPEC §22) as numbered, forward-only migrations, applied by
 * `peak-pressure db migrate URL` and checked by the sink before its first write: a database at a
 * newer schema is refused, one at an older schema is told to migrate. `peak_pressure_schema` holds
 * one row per applied migration. Never edit a migration that has shipped: add the next one.
 *
 * Events keep their canonical JSON byte for byte (`json`, text) and a `doc` jsonb copy for queries;
 * inserts are idempotent by (policy_id, event_id), so several observers and retries never duplicate.
 * There are no foreign keys between the tables: each observer delivers in its own order, and a row
 * is never held back because a related row has not arrived yet.
 */
import type { ClientBase } from 'pg';

export interface PgMigration {
  version: number;
  what: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = Object.freeze([
  {
    version: 1,
    what: 'observers, runs, events (idempotent by policy and event id), audit, windows (optional, off by default)',
    sql: `
      CREATE TABLE observers (
        observer_id   TEXT PRIMARY KEY,
        host          TEXT NOT NULL,
        app_version   TEXT NOT NULL,
        first_seen    TIMESTAMPTZ NOT NULL DEFAULT now(),
        last_seen     TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE TABLE runs (
        run_id           TEXT PRIMARY KEY,
        observer_id      TEXT NOT NULL,
        started_ms       BIGINT NOT NULL,
        ended_ms         BIGINT,
        end_kind         TEXT CHECK (end_kind IN ('clean', 'unclean')),
        last_seen_ms     BIGINT NOT NULL,
        mode             TEXT NOT NULL,
        symbols          JSONB NOT NULL,
        rule_set_id      TEXT NOT NULL,
        rule_set_version INTEGER NOT NULL,
        policies         JSONB NOT NULL,
        config_hash      TEXT NOT NULL,
        app_version      TEXT NOT NULL,
        host             TEXT NOT NULL,
        pid              INTEGER NOT NULL,
        source           TEXT NOT NULL
      );
      CREATE INDEX runs_by_observer ON runs (observer_id, started_ms);
      CREATE TABLE events (
        policy_id        TEXT NOT NULL,
        event_id         TEXT NOT NULL,
        policy_version   INTEGER NOT NULL,
        -- The first observer that delivered it (another observer of the same market computes the same id).
        observer_id      TEXT NOT NULL,
        run_id           TEXT NOT NULL,
        symbol           TEXT NOT NULL,
        window_start_ms  BIGINT NOT NULL,
        window_end_ms    BIGINT NOT NULL,
        stored_ms        BIGINT NOT NULL,
        -- Position in that observer's outbox: its commit order.
        observer_seq     BIGINT NOT NULL,
        received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
        json             TEXT NOT NULL,
        doc              JSONB GENERATED ALWAYS AS (json::jsonb) STORED,
        PRIMARY KEY (policy_id, event_id)
      );
      CREATE INDEX events_by_end ON events (window_end_ms);
      CREATE INDEX events_by_symbol ON events (symbol, window_end_ms);
      CREATE INDEX events_by_received ON events (received_at);
      CREATE TABLE audit (
        observer_id  TEXT NOT NULL,
        run_id       TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        ts_ms        BIGINT NOT NULL,
        stage        TEXT NOT NULL,
        event_type   TEXT NOT NULL,
        symbol       TEXT NOT NULL,
        severity     TEXT,
        observer_seq BIGINT NOT NULL,
        received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        json         TEXT NOT NULL,
        doc          JSONB GENERATED ALWAYS AS (json::jsonb) STORED,
        PRIMARY KEY (observer_id, run_id, seq)
      );
      CREATE INDEX audit_by_ts ON audit (ts_ms);
      CREATE INDEX audit_by_type ON audit (event_type, ts_ms);
      -- Every judged 1 s window (inspection data, about 10 rows per second per observer): only
      -- written when an observer enables it; empty otherwise.
      CREATE TABLE windows (
        observer_id     TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        symbol          TEXT NOT NULL,
        window_start_ms BIGINT NOT NULL,
        outcome         TEXT NOT NULL,
        json            TEXT NOT NULL,
        PRIMARY KEY (observer_id, symbol, window_start_ms)
      );
    `,
  },
]);

export const PG_LATEST_VERSION: number = PG_MIGRATIONS.length;
const SCHEMA_TABLE = 'peak_pressure_schema';
/** Serialises concurrent `db migrate` runs (and sinks checking meanwhile) on one database. */
const LOCK_KEY = 7_723_161_301;

export class PgSchemaError extends Error {
  override name = 'PgSchemaError';
  constructor(
    message: string,
    readonly found: number,
  ) {
    super(message);
  }
}

/** The schema version of the database (0: no Peak Pressure tables yet). */
export async function pgSchemaVersion(c: ClientBase): Promise<number> {
  const t = await c.query<{ t: string | null }>(`SELECT to_regclass('${SCHEMA_TABLE}')::text AS t`);
  if (t.rows[0]?.t === null || t.rows[0]?.t === undefined) return 0;
  const v = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${SCHEMA_TABLE}`);
  return v.rows[0]?.v ?? 0;
}

/** Throws PgSchemaError unless the database is at exactly this build's schema. `where` names it (no credentials). */
export async function checkPgSchema(c: ClientBase, where: string): Promise<void> {
  const v = await pgSchemaVersion(c);
  if (v === PG_LATEST_VERSION) return;
  if (v > PG_LATEST_VERSION)
    throw new PgSchemaError(
      `PostgreSQL ${where} is at schema v${v}, newer than this build's v${PG_LATEST_VERSION}: nothing is written to it; run the newer Peak Pressure, or use another database`,
      v,
    );
  throw new PgSchemaError(
    `PostgreSQL ${where} is at schema v${v}, this build writes v${PG_LATEST_VERSION}: run \`peak-pressure db migrate ${where}\` (events wait in the local store meanwhile)`,
    v,
  );
}

/** Applies every migration above the database's version, each in its own transaction under an advisory lock. */
export async function migratePg(c: ClientBase, where: string, appVersion: string, upTo = PG_LATEST_VERSION): Promise<{ from: number; to: number }> {
  const from = await pgSchemaVersion(c);
  if (from > PG_LATEST_VERSION) {
    throw new PgSchemaError(`PostgreSQL ${where} is at schema v${from}, newer than this build's v${PG_LATEST_VERSION}: it is left as it is`, from);
  }
  for (const m of PG_MIGRATIONS) {
    if (m.version > upTo) break;
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (version INTEGER PRIMARY KEY, what TEXT NOT NULL, app_version TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      // Re-read under the lock: another migrate may have applied it meanwhile.
      if ((await pgSchemaVersion(c)) < m.version) {
        await c.query(m.sql);
        await c.query(`INSERT INTO ${SCHEMA_TABLE} (version, what, app_version) VALUES ($1, $2, $3)`, [m.version, m.what, appVersion]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  return { from, to: await pgSchemaVersion(c) };
}

/**
 * The store's schema as numbered, forward-only migrations (SPEC §21). Migration N takes a file at
 * schema N − 1 to schema N; SQLite's `user_version` holds the schema a file is at (0 = a new or
 * empty file). Never edit a migration that has shipped: add the next one. Every migration is tested
 * from every earlier version (test/store-migrations.test.ts), including the committed file written
 * at schema 1 (test/fixtures/store-v1.db).
 */

export interface Migration {
  version: number;
  what: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    what: 'runs, events (M3 and policy events, keyed by policy and event id), audit envelope, alerts',
    sql: `
      CREATE TABLE runs (
        run_id           TEXT PRIMARY KEY,
        started_ms       INTEGER NOT NULL,
        -- Set by a clean stop, or by the next start that finds the run still open (unclean).
        ended_ms         INTEGER,
        end_kind         TEXT CHECK (end_kind IN ('clean', 'unclean')),
        -- The last write of the run: an unclean end is dated by it.
        last_seen_ms     INTEGER NOT NULL,
        mode             TEXT NOT NULL,
        symbols          TEXT NOT NULL DEFAULT '[]',
        rule_set_id      TEXT NOT NULL,
        rule_set_version INTEGER NOT NULL,
        policies         TEXT NOT NULL DEFAULT '[]',
        config_hash      TEXT NOT NULL,
        app_version      TEXT NOT NULL,
        host             TEXT NOT NULL,
        pid              INTEGER NOT NULL,
        source           TEXT NOT NULL DEFAULT ''
      );
      CREATE TABLE events (
        policy_id        TEXT NOT NULL,
        event_id         TEXT NOT NULL,
        policy_version   INTEGER NOT NULL,
        run_id           TEXT NOT NULL,
        symbol           TEXT NOT NULL,
        window_start_ms  INTEGER NOT NULL,
        window_end_ms    INTEGER NOT NULL,
        stored_ms        INTEGER NOT NULL,
        -- The event's canonical JSON, byte for byte what the core produced.
        json             TEXT NOT NULL,
        PRIMARY KEY (policy_id, event_id)
      ) WITHOUT ROWID;
      CREATE INDEX events_by_end ON events (window_end_ms);
      CREATE INDEX events_by_symbol ON events (symbol, window_end_ms);
      CREATE INDEX events_by_policy ON events (policy_id, policy_version, window_end_ms);
      CREATE INDEX events_by_run ON events (run_id);
      CREATE TABLE audit (
        id         INTEGER PRIMARY KEY,
        ts_ms      INTEGER NOT NULL,
        run_id     TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        stage      TEXT NOT NULL,
        event_type TEXT NOT NULL,
        symbol     TEXT NOT NULL,
        reasons    TEXT NOT NULL,
        severity   TEXT,
        payload    TEXT NOT NULL
      );
      CREATE INDEX audit_by_ts ON audit (ts_ms);
      CREATE INDEX audit_by_type ON audit (event_type, ts_ms);
      CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL,
        ts_ms       INTEGER NOT NULL,
        severity    TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        kind        TEXT NOT NULL,
        symbol      TEXT NOT NULL,
        count       INTEGER NOT NULL,
        first_ts_ms INTEGER NOT NULL,
        last_ts_ms  INTEGER NOT NULL,
        summary     TEXT NOT NULL
      );
      CREATE INDEX alerts_by_ts ON alerts (ts_ms);
    `,
  },
  {
    version: 2,
    what: 'daily_summaries: one row per UTC day, the report of that day (SPEC seed 002 REPORT_DAILY_SUMMARY)',
    sql: `
      CREATE TABLE daily_summaries (
        day          TEXT PRIMARY KEY,
        generated_ms INTEGER NOT NULL,
        -- 1 when generated after the day had ended (at rollover or later), 0 for a report of a day in progress.
        complete     INTEGER NOT NULL,
        json         TEXT NOT NULL
      );
    `,
  },
]);

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;

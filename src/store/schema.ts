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
  {
    version: 3,
    what: 'outbox (every stored event and audit record in commit order, for the sinks of SPEC §22), per-sink delivery cursors, the observer id',
    sql: `
      -- The sinks' outbox: one row per event or audit record, numbered in commit order by triggers,
      -- so a row enters it in the same transaction that stores it and nothing in store.ts changes.
      -- An event already stored (ON CONFLICT DO NOTHING) inserts no row, so fires no trigger.
      -- Rows are never deleted: a sink added later starts from seq 0 and receives the whole history.
      CREATE TABLE outbox (
        seq       INTEGER PRIMARY KEY,
        kind      TEXT NOT NULL CHECK (kind IN ('event', 'audit')),
        policy_id TEXT,
        event_id  TEXT,
        audit_id  INTEGER
      );
      -- A file from an earlier schema: its rows enter the outbox oldest first.
      INSERT INTO outbox (kind, policy_id, event_id, audit_id)
        SELECT kind, policy_id, event_id, audit_id FROM (
          SELECT 'event' AS kind, policy_id, event_id, NULL AS audit_id, stored_ms AS t, 0 AS k, window_end_ms AS w, symbol AS s FROM events
          UNION ALL
          SELECT 'audit', NULL, NULL, id, ts_ms, 1, id, '' FROM audit WHERE event_type != 'PEAK_PRESSURE_PROMOTED'
        ) ORDER BY t, k, w, s, policy_id;
      CREATE TRIGGER outbox_event AFTER INSERT ON events
      BEGIN
        INSERT INTO outbox (kind, policy_id, event_id) VALUES ('event', NEW.policy_id, NEW.event_id);
      END;
      -- A PEAK_PRESSURE_PROMOTED audit record mirrors an event, which the sinks already carry.
      CREATE TRIGGER outbox_audit AFTER INSERT ON audit WHEN NEW.event_type != 'PEAK_PRESSURE_PROMOTED'
      BEGIN
        INSERT INTO outbox (kind, audit_id) VALUES ('audit', NEW.id);
      END;
      -- How far each sink has acknowledged the outbox (sink = its URL without credentials).
      CREATE TABLE sink_cursors (
        sink          TEXT PRIMARY KEY,
        delivered_seq INTEGER NOT NULL,
        delivered     INTEGER NOT NULL,
        updated_ms    INTEGER NOT NULL
      );
      -- Who this store is, for central storage fed by several observers: one random id per store file.
      CREATE TABLE observer (
        one         INTEGER PRIMARY KEY CHECK (one = 1),
        observer_id TEXT NOT NULL,
        created_ms  INTEGER NOT NULL
      );
      INSERT INTO observer (one, observer_id, created_ms) VALUES (1, lower(hex(randomblob(16))), CAST(unixepoch('subsec') * 1000 AS INTEGER));
    `,
  },
]);

export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.length;

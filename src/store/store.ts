/**
 * The event store (SPEC §21): one SQLite file in WAL mode holding runs, every promoted event
 * (M3 and M6 policies), the audit envelope and alerts. Synchronous by design: `persist` commits a
 * batch before it returns, so the collector can publish a snapshot only after its events are
 * durable. Nothing here throws to the caller: a failure becomes a `StoreFault` in `status`, the
 * rows wait in a bounded queue and are written by a later `persist` once the store works again.
 */
import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Alert } from '../core/contracts/alert';
import type { AuditEnvelope } from '../core/contracts/audit';
import {
  type EventQuery,
  policyOf,
  type RunRow,
  RunRowSchema,
  type RunStart,
  RunStartSchema,
  type StorableEvent,
  StorableEventSchema,
  type StoredEventRow,
} from './contract';
import { AUDIT_COLUMNS, auditFromRow, auditParams, type AuditRowColumns } from './audit-row';
import { type DailySummary, DailySummarySchema } from './daily-summary';
import { describeFault, SchemaTooNewError, type StoreFault, type StoreOp } from './faults';
import { migrate, schemaVersion } from './migrate';
import { LATEST_SCHEMA_VERSION } from './schema';
import { ensureDirSync } from '../files/dirs';
import { wallClock } from '../clock/clock';
import { storeFilesAt, type StoreFiles } from './files';
import { chosenDriver, type DriverName, openDatabase, type SqlDatabase, type SqlStatement } from './driver';
import { processAlive } from './wasm-lock';

export { DEFAULT_STORE_PATH, type StoreFiles } from './files';

export interface StoreOptions {
  path: string;
  /** Open an existing store for reading only: no file is created, nothing is migrated. */
  readonly?: boolean;
  /**
   * FULL (default): every commit is fsynced, so an event shown is on disk even after a power cut.
   * NORMAL: durable across a crash or kill of the process, not across a power cut; faster.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for another connection's lock before it reports BUSY. */
  busyTimeoutMs?: number;
  /** Rows of each kind kept in memory while the store cannot be written; the oldest go first. */
  maxPending?: number;
  /** After a failure, the next write (or reopen) is tried no sooner than this. */
  retryEveryMs?: number;
  /** SQLite's max_page_count: a hard size cap (quotas; tests use it to force SQLITE_FULL). */
  maxPageCount?: number;
  /** Whether a run found open at start is still running elsewhere (default: its pid is alive on this host). */
  isRunAlive?: (run: RunRow) => boolean;
  /** The SQLite driver (default: native when its addon loads, else wasm; see driver.ts). */
  driver?: DriverName;
}

export type StoreState = 'OK' | 'FAILING' | 'UNAVAILABLE';

/** How close() ends the current run. */
export type RunEnd = 'clean' | 'unclean' | 'open';

export interface StoreStatus {
  /** The SQLite driver this store uses (driver.ts). */
  driver: DriverName;
  /** OK; FAILING: open, but the last write failed; UNAVAILABLE: the file could not be opened. */
  state: StoreState;
  fault: StoreFault | null;
  /** The caller's time of the first failure of the current fault; null when OK. */
  since_ms: number | null;
  /** Failed attempts since the last success. */
  failures: number;
  pending_events: number;
  pending_audit: number;
  pending_alerts: number;
  dropped_events: number;
  dropped_audit: number;
  dropped_alerts: number;
  /** Rows that failed validation (never written, never retried). */
  rejected: number;
  events_written: number;
  duplicates: number;
  schema_version: number | null;
  /** The schema the file had when this process opened it (0 = new or empty file). */
  migrated_from: number | null;
}

export type PersistResult =
  | { ok: true; events_inserted: number; duplicates: number; audit_inserted: number; alerts_inserted: number }
  /** `deferred`: not tried this time (the retry interval after a failure has not passed). */
  | { ok: false; fault: StoreFault; deferred: boolean };

export interface PersistBatch {
  events?: readonly StorableEvent[];
  audit?: readonly AuditEnvelope[];
  alerts?: readonly Alert[];
}

interface EventRow {
  policy_id: string;
  event_id: string;
  policy_version: number;
  run_id: string;
  symbol: string;
  window_start_ms: number;
  window_end_ms: number;
  json: string;
}

interface Statements {
  insertEvent: SqlStatement;
  insertAudit: SqlStatement;
  insertAlert: SqlStatement;
  upsertRun: SqlStatement;
  touchRun: SqlStatement;
  setSymbols: SqlStatement;
  endRun: SqlStatement;
  openRuns: SqlStatement;
  markUnclean: SqlStatement;
}

/** Default liveness: a run is still going when its process is alive on this host and is not us. */
export function pidAlive(run: RunRow): boolean {
  return run.host === hostname() && run.pid !== process.pid && processAlive(run.pid);
}

export class EventStore {
  readonly path: string;
  private db: SqlDatabase | null = null;
  private st: Statements | null = null;
  private readonly opts: Required<Omit<StoreOptions, 'maxPageCount' | 'driver'>> & { maxPageCount: number | null };
  private runId: string | null = null;
  /** A run row not yet written (the store failed at start): written with the next batch. */
  private pendingRun: Required<RunStart> | null = null;
  private pendingSymbols: string[] | null = null;
  private events: EventRow[] = [];
  private audit: AuditEnvelope[] = [];
  private alerts: Alert[] = [];
  private nextAttemptMs = Number.NEGATIVE_INFINITY;
  private readonly s: StoreStatus = {
    driver: 'native',
    state: 'UNAVAILABLE',
    fault: null,
    since_ms: null,
    failures: 0,
    pending_events: 0,
    pending_audit: 0,
    pending_alerts: 0,
    dropped_events: 0,
    dropped_audit: 0,
    dropped_alerts: 0,
    rejected: 0,
    events_written: 0,
    duplicates: 0,
    schema_version: null,
    migrated_from: null,
  };

  private constructor(opts: StoreOptions) {
    this.path = opts.path;
    this.opts = {
      path: opts.path,
      readonly: opts.readonly ?? false,
      synchronous: opts.synchronous ?? 'FULL',
      busyTimeoutMs: opts.busyTimeoutMs ?? 100,
      maxPending: opts.maxPending ?? 10_000,
      retryEveryMs: opts.retryEveryMs ?? 1_000,
      maxPageCount: opts.maxPageCount ?? null,
      isRunAlive: opts.isRunAlive ?? pidAlive,
    };
    this.s.driver = opts.driver ?? chosenDriver();
  }

  /** Opens (creating and migrating when needed). Never throws: check `status`. */
  static open(opts: StoreOptions, nowMs = wallClock.now()): EventStore {
    const store = new EventStore(opts);
    store.tryOpen(nowMs);
    return store;
  }

  get status(): Readonly<StoreStatus> {
    this.s.pending_events = this.events.length;
    this.s.pending_audit = this.audit.length;
    this.s.pending_alerts = this.alerts.length;
    return this.s;
  }

  get isOpen(): boolean {
    return this.db !== null;
  }

  /** Open and holding the tables (a zero-byte file opened read-only has none yet). */
  private get readable(): boolean {
    return this.db !== null && (this.s.schema_version ?? 0) >= 1;
  }

  private tryOpen(nowMs: number): boolean {
    let db: SqlDatabase | null = null;
    let op: StoreOp = 'open';
    try {
      if (!this.opts.readonly) ensureDirSync(dirname(this.path));
      db = openDatabase(this.path, { readonly: this.opts.readonly, fileMustExist: this.opts.readonly, busyTimeoutMs: this.opts.busyTimeoutMs }, this.s.driver);
      // Read before anything is written: a file from a newer build is left exactly as it is.
      const from = schemaVersion(db);
      if (from > LATEST_SCHEMA_VERSION) throw new SchemaTooNewError(from, LATEST_SCHEMA_VERSION);
      if (!this.opts.readonly) {
        // WAL: readers (export, the window's history) never block the writer, and a killed
        // process leaves a file that opens without repair.
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${this.opts.synchronous}`);
        if (this.opts.maxPageCount !== null) db.pragma(`max_page_count = ${this.opts.maxPageCount}`);
        op = 'migrate';
        migrate(db);
      }
      this.s.migrated_from = from;
      this.s.schema_version = schemaVersion(db);
      this.db = db;
      this.st = this.opts.readonly || this.s.schema_version < 1 ? null : prepare(db);
      this.ok();
      return true;
    } catch (e) {
      try {
        db?.close();
      } catch {
        // already failing; the first error is the one reported
      }
      this.db = null;
      this.st = null;
      this.failed(readOnlyPlace(e, this.path), op, nowMs, 'UNAVAILABLE');
      return false;
    }
  }

  private ok(): void {
    this.s.state = 'OK';
    this.s.fault = null;
    this.s.since_ms = null;
    this.s.failures = 0;
    this.nextAttemptMs = Number.NEGATIVE_INFINITY;
  }

  private failed(e: unknown, op: StoreOp, nowMs: number, state: StoreState): StoreFault {
    const fault = describeFault(e, op, this.path);
    // The first failure since the last success (a store that never opened starts without one).
    this.s.since_ms ??= nowMs;
    this.s.state = state;
    this.s.fault = fault;
    this.s.failures++;
    this.nextAttemptMs = nowMs + this.opts.retryEveryMs;
    return fault;
  }

  /**
   * Records the start of a run and closes, as unclean, every earlier run still open (its process
   * was killed or crashed). Returns the runs so marked. On failure the run is written later.
   */
  startRun(run: RunStart, nowMs: number): { ok: true; unclean: RunRow[] } | { ok: false; fault: StoreFault } {
    const r = RunStartSchema.parse(run);
    this.runId = r.run_id;
    this.pendingRun = r;
    if (this.st === null && !this.reopenIfDue(nowMs)) return { ok: false, fault: this.s.fault as StoreFault };
    const db = this.db as SqlDatabase;
    const st = this.st as Statements;
    try {
      const unclean = db.transaction(() => {
        const open = st.openRuns.all([r.run_id]).map((row) => RunRowSchema.parse(row));
        const closed = open.filter((o) => !this.opts.isRunAlive(o));
        for (const o of closed) st.markUnclean.run([o.run_id]);
        this.writeRun(st, r);
        return closed.map((o) => ({ ...o, end_kind: 'unclean' as const, ended_ms: o.last_seen_ms }));
      });
      this.pendingRun = null;
      this.ok();
      return { ok: true, unclean };
    } catch (e) {
      return { ok: false, fault: this.failed(e, 'start_run', nowMs, 'FAILING') };
    }
  }

  private writeRun(st: Statements, r: Required<RunStart>): void {
    st.upsertRun.run({
      run_id: r.run_id,
      started_ms: r.started_ms,
      mode: r.mode,
      symbols: JSON.stringify(this.pendingSymbols ?? r.symbols),
      rule_set_id: r.rule_set.id,
      rule_set_version: r.rule_set.version,
      policies: JSON.stringify(r.policies),
      config_hash: r.config_hash,
      app_version: r.app_version,
      host: hostname(),
      pid: process.pid,
      source: r.source,
    });
    this.pendingSymbols = null;
  }

  /** The symbols of the current run, once selected (written with the next batch). */
  setRunSymbols(symbols: readonly string[]): void {
    this.pendingSymbols = [...symbols];
  }

  /**
   * Commits the batch, together with every row still waiting from earlier failures, in one
   * transaction; returns once it is durable (or has failed). Events already stored (same policy
   * and event id) are counted as duplicates and left as they are.
   */
  persist(batch: PersistBatch, nowMs: number): PersistResult {
    for (const e of batch.events ?? []) this.queueEvent(e);
    for (const a of batch.audit ?? []) this.queueAudit(a);
    for (const a of batch.alerts ?? []) this.queueAlert(a);
    return this.flush(nowMs);
  }

  queueEvent(e: StorableEvent): void {
    const v = StorableEventSchema.safeParse(e);
    if (!v.success) {
      this.s.rejected++;
      return;
    }
    const p = policyOf(v.data);
    this.events.push({
      policy_id: p.id,
      event_id: e.event_id,
      policy_version: p.version,
      run_id: this.runId ?? '',
      symbol: e.symbol,
      window_start_ms: e.window_start_ms,
      window_end_ms: e.window_end_ms,
      json: JSON.stringify(e),
    });
    if (this.events.length > this.opts.maxPending) {
      this.events.shift();
      this.s.dropped_events++;
    }
  }

  queueAudit(a: AuditEnvelope): void {
    this.audit.push(a);
    if (this.audit.length > this.opts.maxPending) {
      this.audit.shift();
      this.s.dropped_audit++;
    }
  }

  queueAlert(a: Alert): void {
    this.alerts.push(a);
    if (this.alerts.length > this.opts.maxPending) {
      this.alerts.shift();
      this.s.dropped_alerts++;
    }
  }

  private reopenIfDue(nowMs: number): boolean {
    if (this.st !== null) return true;
    if (this.opts.readonly || nowMs < this.nextAttemptMs) return false;
    return this.tryOpen(nowMs) && this.st !== null;
  }

  private flush(nowMs: number): PersistResult {
    const symbolsDue = this.pendingSymbols !== null && this.runId !== null;
    const nothing = this.events.length === 0 && this.audit.length === 0 && this.alerts.length === 0 && this.pendingRun === null && !symbolsDue;
    if (nothing) return { ok: true, events_inserted: 0, duplicates: 0, audit_inserted: 0, alerts_inserted: 0 };
    if (this.s.state !== 'OK' && nowMs < this.nextAttemptMs) return { ok: false, fault: this.s.fault as StoreFault, deferred: true };
    if (!this.reopenIfDue(nowMs)) return { ok: false, fault: this.s.fault as StoreFault, deferred: false };
    if (this.pendingRun !== null) {
      const r = this.startRun(this.pendingRun, nowMs);
      if (!r.ok) return { ok: false, fault: r.fault, deferred: false };
    }
    const db = this.db as SqlDatabase;
    const st = this.st as Statements;
    const events = this.events;
    const audit = this.audit;
    const alerts = this.alerts;
    const symbols = this.pendingSymbols;
    try {
      const inserted = db.transaction(() => {
        let n = 0;
        for (const e of events) n += st.insertEvent.run({ ...e, stored_ms: nowMs }).changes;
        for (const a of audit) st.insertAudit.run(auditParams(a));
        for (const a of alerts) st.insertAlert.run({ ...a, run_id: this.runId ?? '' });
        if (this.runId !== null) {
          if (symbols !== null) st.setSymbols.run([JSON.stringify(symbols), this.runId]);
          st.touchRun.run([nowMs, this.runId]);
        }
        return n;
      });
      this.events = [];
      this.audit = [];
      this.alerts = [];
      if (symbols !== null && this.pendingSymbols === symbols) this.pendingSymbols = null;
      this.s.events_written += inserted;
      this.s.duplicates += events.length - inserted;
      this.ok();
      return { ok: true, events_inserted: inserted, duplicates: events.length - inserted, audit_inserted: audit.length, alerts_inserted: alerts.length };
    } catch (e) {
      return { ok: false, fault: this.failed(e, 'persist', nowMs, 'FAILING'), deferred: false };
    }
  }

  /**
   * A last persist, the run's end, and the file closed. `clean`: a clean stop; `unclean`: the
   * worker crashed (marked now: the next start in this same process would take the run for its own
   * process's and could not tell); `open`: left open (a reader that started no run; tests of a kill).
   */
  close(nowMs: number, end: RunEnd = 'clean'): PersistResult {
    const r = this.flush(nowMs);
    if (end !== 'open' && this.st !== null && this.runId !== null) {
      try {
        if (end === 'clean') this.st.endRun.run([nowMs, nowMs, this.runId]);
        else this.st.markUnclean.run([this.runId]);
      } catch (e) {
        this.failed(e, 'end_run', nowMs, 'FAILING');
      }
    }
    try {
      // A cleanly closed store is one self-contained file in rollback-journal mode: it can be
      // copied alone and read from read-only media. The next open switches it back to WAL.
      if (this.st !== null) this.db?.pragma('journal_mode = DELETE');
    } catch {
      // another connection still reads it: it stays in WAL mode, which is just as valid
    }
    try {
      this.db?.close();
    } catch {
      // closing a failed connection: nothing left to save
    }
    this.db = null;
    this.st = null;
    return r;
  }

  // ---- reads (export, report, the window's history) ----------------------------------------

  /** Events matching the query, streamed from SQLite (nothing is loaded whole). */
  iterateEvents(q: EventQuery = {}): IterableIterator<StoredEventRow> {
    if (!this.readable || this.db === null) return [][Symbol.iterator]();
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (q.sinceMs !== undefined) {
      where.push('window_end_ms >= @since');
      params.since = q.sinceMs;
    }
    if (q.untilMs !== undefined) {
      where.push('window_end_ms < @until');
      params.until = q.untilMs;
    }
    if (q.symbols && q.symbols.length > 0) {
      where.push(`symbol IN (${q.symbols.map((_, i) => `@sym${i}`).join(', ')})`);
      q.symbols.forEach((s, i) => (params[`sym${i}`] = s));
    }
    if (q.policy) {
      where.push('policy_id = @policy');
      params.policy = q.policy.id;
      if (q.policy.version !== undefined) {
        where.push('policy_version = @version');
        params.version = q.policy.version;
      }
    }
    if (q.runId !== undefined) {
      where.push('run_id = @run');
      params.run = q.runId;
    }
    if (q.excludeRunId !== undefined) {
      where.push('run_id != @notrun');
      params.notrun = q.excludeRunId;
    }
    const dir = q.order === 'desc' ? 'DESC' : 'ASC';
    const sql = `SELECT policy_id, policy_version, event_id, run_id, symbol, window_start_ms, window_end_ms, stored_ms, json FROM events${
      where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''
    } ORDER BY window_end_ms ${dir}, symbol ${dir}, policy_id ${dir}${q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : ''}`;
    return this.db.iterate(sql, params) as IterableIterator<StoredEventRow>;
  }

  /**
   * The window's history (issue 10 item 3): events of earlier runs, newest first, each with its
   * run's start and mode for the label. Never throws (it runs in the collector): [] on any error.
   */
  history(excludeRunId: string, limit = 500): (StoredEventRow & { run_started_ms: number | null; run_mode: string | null })[] {
    if (!this.readable || this.db === null) return [];
    try {
      return this.db.all(
        `SELECT e.policy_id, e.policy_version, e.event_id, e.run_id, e.symbol, e.window_start_ms, e.window_end_ms, e.stored_ms, e.json,
                  r.started_ms AS run_started_ms, r.mode AS run_mode
             FROM events AS e LEFT JOIN runs AS r ON r.run_id = e.run_id
            WHERE e.run_id != ? ORDER BY e.window_end_ms DESC, e.symbol DESC, e.policy_id DESC LIMIT ?`,
        [excludeRunId, Math.max(0, Math.floor(limit))],
      ) as (StoredEventRow & { run_started_ms: number | null; run_mode: string | null })[];
    } catch {
      return [];
    }
  }

  runs(): RunRow[] {
    if (!this.readable || this.db === null) return [];
    return this.db.all('SELECT * FROM runs ORDER BY started_ms DESC, run_id').map((r) => RunRowSchema.parse(r));
  }

  /** Audit envelopes between two local times (ts_ms), oldest first; `eventTypes` filters in SQL (index audit_by_type). */
  auditRows(q: { sinceMs?: number; untilMs?: number; eventTypes?: readonly string[] } = {}): AuditEnvelope[] {
    if (!this.readable || this.db === null) return [];
    const params: Record<string, string | number> = { since: q.sinceMs ?? 0, until: q.untilMs ?? Number.MAX_SAFE_INTEGER };
    let types = '';
    if (q.eventTypes !== undefined) {
      if (q.eventTypes.length === 0) return [];
      q.eventTypes.forEach((t, i) => (params[`t${i}`] = t));
      types = ` AND event_type IN (${q.eventTypes.map((_, i) => `@t${i}`).join(', ')})`;
    }
    const rows = this.db.all(
      `SELECT ${AUDIT_COLUMNS} FROM audit WHERE ts_ms >= @since AND ts_ms < @until${types} ORDER BY ts_ms, id`,
      params,
    ) as AuditRowColumns[];
    return rows.map(auditFromRow);
  }

  /**
   * The run's last audit record of type `eventType` in [sinceMs, beforeMs), or null: what state a
   * run was in when a day began, read without the run's whole history (the index on
   * (event_type, ts_ms) is walked back from `beforeMs` and stops at the run's start).
   */
  lastAuditOfRun(q: { runId: string; eventType: string; sinceMs: number; beforeMs: number }): AuditEnvelope | null {
    if (!this.readable || this.db === null) return null;
    const row = this.db.get(
      `SELECT ${AUDIT_COLUMNS} FROM audit WHERE event_type = @type AND ts_ms >= @since AND ts_ms < @before AND run_id = @run
        ORDER BY ts_ms DESC, id DESC LIMIT 1`,
      { type: q.eventType, since: q.sinceMs, before: q.beforeMs, run: q.runId },
    ) as AuditRowColumns | undefined;
    return row === undefined ? null : auditFromRow(row);
  }

  alertRows(q: { sinceMs?: number; untilMs?: number } = {}): (Alert & { run_id: string })[] {
    if (!this.readable || this.db === null) return [];
    return this.db.all(
      `SELECT run_id, ts_ms, severity, reason_code, kind, symbol, count, first_ts_ms, last_ts_ms, summary FROM alerts
         WHERE ts_ms >= @since AND ts_ms < @until ORDER BY ts_ms, id`,
      { since: q.sinceMs ?? 0, until: q.untilMs ?? Number.MAX_SAFE_INTEGER },
    ) as (Alert & { run_id: string })[];
  }

  /** Stores (or replaces) the summary of its day. */
  saveDailySummary(summary: DailySummary, nowMs: number): { ok: true } | { ok: false; fault: StoreFault } {
    if (this.st === null && !this.reopenIfDue(nowMs)) return { ok: false, fault: this.s.fault as StoreFault };
    try {
      (this.db as SqlDatabase).run(
        `INSERT INTO daily_summaries (day, generated_ms, complete, json) VALUES (?, ?, ?, ?)
           ON CONFLICT (day) DO UPDATE SET generated_ms = excluded.generated_ms, complete = excluded.complete, json = excluded.json`,
        [summary.day, summary.generated_ms, summary.complete ? 1 : 0, JSON.stringify(summary)],
      );
      return { ok: true };
    } catch (e) {
      return { ok: false, fault: this.failed(e, 'persist', nowMs, 'FAILING') };
    }
  }

  dailySummary(day: string): DailySummary | null {
    if (!this.readable || this.db === null || (this.s.schema_version ?? 0) < 2) return null;
    const row = this.db.get('SELECT json FROM daily_summaries WHERE day = ?', [day]) as { json: string } | undefined;
    return row === undefined ? null : DailySummarySchema.parse(JSON.parse(row.json));
  }

  /** A read-only SQL query for reports (the store's own tables; no user input reaches the SQL text). */
  select<T>(sql: string, params: Record<string, string | number> = {}): T[] {
    if (!this.readable || this.db === null) return [];
    return this.db.all(sql, params) as T[];
  }

  /** Sizes of the store's files and the free space beside them (for the snapshot and doctor). */
  files(): StoreFiles {
    return storeFilesAt(this.path);
  }
}

function prepare(db: SqlDatabase): Statements {
  return {
    insertEvent: db.prepare(
      `INSERT INTO events (policy_id, event_id, policy_version, run_id, symbol, window_start_ms, window_end_ms, stored_ms, json)
       VALUES (@policy_id, @event_id, @policy_version, @run_id, @symbol, @window_start_ms, @window_end_ms, @stored_ms, @json)
       ON CONFLICT (policy_id, event_id) DO NOTHING`,
    ),
    insertAudit: db.prepare(
      `INSERT INTO audit (ts_ms, run_id, seq, stage, event_type, symbol, reasons, severity, payload)
       VALUES (@ts_ms, @run_id, @seq, @stage, @event_type, @symbol, @reasons, @severity, @payload)`,
    ),
    insertAlert: db.prepare(
      `INSERT INTO alerts (run_id, ts_ms, severity, reason_code, kind, symbol, count, first_ts_ms, last_ts_ms, summary)
       VALUES (@run_id, @ts_ms, @severity, @reason_code, @kind, @symbol, @count, @first_ts_ms, @last_ts_ms, @summary)`,
    ),
    upsertRun: db.prepare(
      `INSERT INTO runs (run_id, started_ms, ended_ms, end_kind, last_seen_ms, mode, symbols, rule_set_id, rule_set_version, policies, config_hash, app_version, host, pid, source)
       VALUES (@run_id, @started_ms, NULL, NULL, @started_ms, @mode, @symbols, @rule_set_id, @rule_set_version, @policies, @config_hash, @app_version, @host, @pid, @source)
       ON CONFLICT (run_id) DO UPDATE SET ended_ms = NULL, end_kind = NULL, mode = excluded.mode, symbols = excluded.symbols,
         policies = excluded.policies, config_hash = excluded.config_hash, host = excluded.host, pid = excluded.pid`,
    ),
    touchRun: db.prepare('UPDATE runs SET last_seen_ms = MAX(last_seen_ms, ?) WHERE run_id = ?'),
    setSymbols: db.prepare('UPDATE runs SET symbols = ? WHERE run_id = ?'),
    endRun: db.prepare("UPDATE runs SET ended_ms = ?, end_kind = 'clean', last_seen_ms = MAX(last_seen_ms, ?) WHERE run_id = ?"),
    openRuns: db.prepare('SELECT * FROM runs WHERE end_kind IS NULL AND run_id != ?'),
    markUnclean: db.prepare("UPDATE runs SET end_kind = 'unclean', ended_ms = last_seen_ms WHERE run_id = ?"),
  };
}

/**
 * SQLite says only CANTOPEN when the file or its folder cannot be written (a read-only
 * filesystem, or no permission); the errno of the folder tells which it is.
 */
function readOnlyPlace(e: unknown, path: string): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CANTOPEN')) return e;
  try {
    accessSync(dirname(path), constants.W_OK);
    return e;
  } catch (a) {
    const errno = (a as NodeJS.ErrnoException).code;
    if (errno !== 'EROFS' && errno !== 'EACCES') return e;
    return Object.assign(new Error(`${(e as Error).message}: the folder ${dirname(path)} is not writable (${errno})`), { code: errno });
  }
}

/**
 * The PostgreSQL sink (SPEC §22) on node-postgres: each batch is one transaction — the observer,
 * the runs the batch belongs to, then its events and audit records as multi-row inserts with
 * `ON CONFLICT DO NOTHING`, so a retried batch, a restarted observer and a second observer of the
 * same market never duplicate a row. The schema is checked before the first write (and again after
 * any error that could mean it changed); a database at another schema is never written.
 *
 * A row PostgreSQL refuses as data (SQLSTATE class 22 or 23) cannot be fixed by retrying: the batch
 * is then written row by row behind savepoints, and the refused rows are reported, never retried,
 * so one bad row never blocks the outbox.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { APP_VERSION } from '../store/run-info';
import type { RunRow } from '../store/contract';
import type { OutboxAudit, OutboxEvent } from '../store/outbox';
import { checkPgSchema, PgSchemaError } from './postgres-schema';
import { type DeliveryBatch, type DeliveryResult, type Sink, SinkError, errorLine } from './sink';
import type { SinkSpec } from './spec';
import type { WindowRow } from './window-row';

export interface PostgresSinkOptions {
  connectTimeoutMs?: number;
  /** A statement without an answer for this long fails the batch (a stalled server). */
  queryTimeoutMs?: number;
}

const INSERT_EVENTS = `
  INSERT INTO events (policy_id, event_id, policy_version, observer_id, run_id, symbol, window_start_ms, window_end_ms, stored_ms, observer_seq, json)
  SELECT p, e, v, $1, r, s, ws, we, st, q, j
    FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
         AS t(p, e, v, r, s, ws, we, st, q, j)
  ON CONFLICT (policy_id, event_id) DO NOTHING`;

const INSERT_AUDIT = `
  INSERT INTO audit (observer_id, run_id, seq, ts_ms, stage, event_type, symbol, severity, observer_seq, json)
  SELECT $1, r, n, ts, sg, et, sy, sv, q, j
    FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[])
         AS t(r, n, ts, sg, et, sy, sv, q, j)
  ON CONFLICT (observer_id, run_id, seq) DO NOTHING`;

const INSERT_WINDOWS = `
  INSERT INTO windows (observer_id, run_id, symbol, window_start_ms, outcome, json)
  SELECT $1, r, s, ws, o, j FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS t(r, s, ws, o, j)
  ON CONFLICT (observer_id, symbol, window_start_ms) DO NOTHING`;

const UPSERT_OBSERVER = `
  INSERT INTO observers (observer_id, host, app_version) VALUES ($1, $2, $3)
  ON CONFLICT (observer_id) DO UPDATE SET host = excluded.host, app_version = excluded.app_version, last_seen = now()`;

const UPSERT_RUN = `
  INSERT INTO runs (run_id, observer_id, started_ms, ended_ms, end_kind, last_seen_ms, mode, symbols, rule_set_id, rule_set_version, policies, config_hash, app_version, host, pid, source)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11::jsonb, $12, $13, $14, $15, $16)
  ON CONFLICT (run_id) DO UPDATE SET ended_ms = excluded.ended_ms, end_kind = excluded.end_kind,
    last_seen_ms = GREATEST(runs.last_seen_ms, excluded.last_seen_ms), symbols = excluded.symbols, policies = excluded.policies`;

function eventParams(observerId: string, rows: readonly OutboxEvent[]): unknown[] {
  return [
    observerId,
    rows.map((r) => r.type),
    rows.map((r) => r.id),
    rows.map((r) => r.policy_version),
    rows.map((r) => r.run_id),
    rows.map((r) => r.symbol),
    rows.map((r) => r.window_start_ms),
    rows.map((r) => r.window_end_ms),
    rows.map((r) => r.at_ms),
    rows.map((r) => r.seq),
    rows.map((r) => r.json),
  ];
}

function auditParams(observerId: string, rows: readonly OutboxAudit[]): unknown[] {
  return [
    observerId,
    rows.map((r) => r.envelope.run_id),
    rows.map((r) => r.envelope.seq),
    rows.map((r) => r.envelope.ts_ms),
    rows.map((r) => r.envelope.stage),
    rows.map((r) => r.envelope.event_type),
    rows.map((r) => r.envelope.symbol),
    rows.map((r) => r.envelope.severity ?? null),
    rows.map((r) => r.seq),
    rows.map((r) => r.json),
  ];
}

function runParams(observerId: string, r: RunRow): unknown[] {
  return [
    r.run_id,
    observerId,
    r.started_ms,
    r.ended_ms,
    r.end_kind,
    r.last_seen_ms,
    r.mode,
    JSON.stringify(r.symbols),
    r.rule_set_id,
    r.rule_set_version,
    JSON.stringify(r.policies),
    r.config_hash,
    r.app_version,
    r.host,
    r.pid,
    r.source,
  ];
}

function sqlState(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/** Refused as data: retrying the same row can never succeed. */
function isDataError(e: unknown): boolean {
  const s = sqlState(e);
  return s !== null && (s.startsWith('22') || s.startsWith('23'));
}

export class PostgresSink implements Sink {
  readonly kind = 'postgres' as const;
  readonly name: string;
  private readonly pool: pg.Pool;
  private schemaOk = false;
  /** Window rows PostgreSQL refused as data (dropped, never retried). */
  windowsRejected = 0;
  /** Present only with `?windows=1` (the delivery looks for it). */
  readonly deliverWindows?: (observerId: string, rows: readonly WindowRow[]) => Promise<void>;

  constructor(spec: SinkSpec, opts: PostgresSinkOptions = {}) {
    this.name = spec.name;
    if (spec.windows) this.deliverWindows = (observerId, rows) => this.insertWindows(observerId, rows);
    this.pool = new pg.Pool({
      connectionString: spec.url,
      max: 1,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      query_timeout: opts.queryTimeoutMs ?? 15_000,
      idleTimeoutMillis: 30_000,
      application_name: 'peak-pressure',
    });
    // An idle connection the server dropped (restart, kill): the next batch opens a new one.
    this.pool.on('error', () => undefined);
  }

  private async withClient<T>(what: string, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw new SinkError(`PostgreSQL ${this.name} unreachable (${errorLine(e)}); events wait in the local store and are sent when it answers`);
    }
    let broken: Error | undefined;
    // While checked out, a connection the server drops (killed, restarted) reports it here, not to the pool.
    const onError = (e: Error): void => {
      broken = e;
    };
    c.on('error', onError);
    try {
      if (!this.schemaOk) {
        await checkPgSchema(c, this.name);
        this.schemaOk = true;
      }
      return await f(c);
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      // Anything but a refused statement may have left the connection unusable: drop it.
      if (sqlState(e) === null) broken ??= e instanceof Error ? e : new Error(String(e));
      if (e instanceof PgSchemaError) throw new SinkError(e.message);
      // A statement that names a missing table or column means the schema changed under us: check again.
      if (sqlState(e)?.startsWith('42')) this.schemaOk = false;
      throw new SinkError(`PostgreSQL ${this.name}: ${what} failed (${errorLine(e)}); the batch is retried`);
    } finally {
      c.off('error', onError);
      c.release(broken);
    }
  }

  async deliver(batch: DeliveryBatch): Promise<DeliveryResult> {
    const events = batch.items.filter((i): i is OutboxEvent => i.kind === 'event');
    const audit = batch.items.filter((i): i is OutboxAudit => i.kind === 'audit');
    return this.withClient(`writing ${batch.items.length} rows`, async (c) => {
      try {
        await c.query('BEGIN');
        await this.upsertContext(c, batch.observerId, batch.runs);
        if (events.length > 0) await c.query(INSERT_EVENTS, eventParams(batch.observerId, events));
        if (audit.length > 0) await c.query(INSERT_AUDIT, auditParams(batch.observerId, audit));
        await c.query('COMMIT');
        return { rejected: [] };
      } catch (e) {
        if (!isDataError(e)) throw e;
        await c.query('ROLLBACK');
        return this.rowByRow(c, batch.observerId, batch.runs, events, audit);
      }
    });
  }

  private async upsertContext(c: pg.PoolClient, observerId: string, runs: readonly RunRow[]): Promise<void> {
    await c.query(UPSERT_OBSERVER, [observerId, hostname(), APP_VERSION]);
    for (const r of runs) await c.query(UPSERT_RUN, runParams(observerId, r));
  }

  private async rowByRow(
    c: pg.PoolClient,
    observerId: string,
    runs: readonly RunRow[],
    events: readonly OutboxEvent[],
    audit: readonly OutboxAudit[],
  ): Promise<DeliveryResult> {
    const rejected: DeliveryResult['rejected'] = [];
    await c.query('BEGIN');
    await this.upsertContext(c, observerId, runs);
    const one = async (seq: number, sql: string, params: unknown[]): Promise<void> => {
      await c.query('SAVEPOINT row');
      try {
        await c.query(sql, params);
        await c.query('RELEASE SAVEPOINT row');
      } catch (e) {
        if (!isDataError(e)) throw e;
        await c.query('ROLLBACK TO SAVEPOINT row');
        rejected.push({ seq, reason: errorLine(e) });
      }
    };
    for (const e of events) await one(e.seq, INSERT_EVENTS, eventParams(observerId, [e]));
    for (const a of audit) await one(a.seq, INSERT_AUDIT, auditParams(observerId, [a]));
    await c.query('COMMIT');
    return { rejected };
  }

  private async insertWindows(observerId: string, rows: readonly WindowRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.withClient(`writing ${rows.length} windows`, async (c) => {
      try {
        await c.query(INSERT_WINDOWS, [
          observerId,
          rows.map((r) => r.run_id),
          rows.map((r) => r.symbol),
          rows.map((r) => r.window_start_ms),
          rows.map((r) => r.outcome),
          rows.map((r) => JSON.stringify(r)),
        ]);
      } catch (e) {
        // Inspection rows refused as data are never retried: counted, and the queue moves on.
        if (!isDataError(e)) throw e;
        this.windowsRejected += rows.length;
      }
    });
  }

  async syncRuns(observerId: string, runs: readonly RunRow[]): Promise<void> {
    await this.withClient(`updating ${runs.length} runs`, async (c) => {
      await c.query('BEGIN');
      await this.upsertContext(c, observerId, runs);
      await c.query('COMMIT');
    });
  }

  warning(): string | null {
    return null;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

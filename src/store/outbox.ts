/**
 * The store as the sinks' outbox (SPEC §22): every stored event and audit record gets a number in
 * commit order (schema 3 triggers), and each sink's cursor says how far it has acknowledged them.
 * A delivery opens its own connection to the store file; in WAL mode its reads never block the
 * collector's writes, and its only write — a cursor row — is one tiny transaction per batch.
 */
import type { AuditEnvelope } from '../core/contracts/audit';
import { AUDIT_COLUMNS, auditFromRow, type AuditRowColumns } from './audit-row';
import { type RunRow, RunRowSchema } from './contract';
import { describeFault, type StoreFault } from './faults';
import { migrate } from './migrate';
import { type DriverName, openDatabase, type SqlDatabase, type SqlStatement } from './driver';

interface ItemBase {
  /** Position in the outbox: the delivery order. */
  seq: number;
  /** The event id, or `<run_id>:<seq>` for an audit record. */
  id: string;
  /** The rule set or policy id of an event; the event type of an audit record. */
  type: string;
  run_id: string;
  /** When the row was stored (events) or recorded (audit), local epoch ms: delivery lag is measured from it. */
  at_ms: number;
  /** The canonical JSON: an event byte for byte as the core produced it; an audit envelope as the audit trail writes it. */
  json: string;
}

export interface OutboxEvent extends ItemBase {
  kind: 'event';
  policy_version: number;
  symbol: string;
  window_start_ms: number;
  window_end_ms: number;
}

export interface OutboxAudit extends ItemBase {
  kind: 'audit';
  envelope: AuditEnvelope;
}

export type OutboxItem = OutboxEvent | OutboxAudit;

export interface OutboxBatch {
  items: OutboxItem[];
  /** The last outbox position this read covered (≥ the last item's seq): the cursor after delivering it. */
  throughSeq: number;
  /** Outbox rows whose event or audit row is gone or unreadable (counted, never delivered). */
  skipped: number;
}

export interface SinkCursor {
  delivered_seq: number;
  /** Rows delivered to the sink, all time. */
  delivered: number;
}

export class OutboxError extends Error {
  constructor(readonly fault: StoreFault) {
    super(fault.message);
    this.name = 'OutboxError';
  }
}

interface JoinedRow {
  seq: number;
  kind: 'event' | 'audit';
  e_policy_id: string | null;
  e_event_id: string | null;
  e_policy_version: number | null;
  e_run_id: string | null;
  e_symbol: string | null;
  e_window_start_ms: number | null;
  e_window_end_ms: number | null;
  e_stored_ms: number | null;
  e_json: string | null;
  a_id: number | null;
  a_ts_ms: number | null;
  a_run_id: string | null;
  a_seq: number | null;
  a_stage: string | null;
  a_event_type: string | null;
  a_symbol: string | null;
  a_reasons: string | null;
  a_severity: string | null;
  a_payload: string | null;
}

function auditColumns(r: JoinedRow): AuditRowColumns | null {
  if (r.a_id === null) return null;
  return {
    ts_ms: r.a_ts_ms as number,
    run_id: r.a_run_id as string,
    seq: r.a_seq as number,
    stage: r.a_stage as string,
    event_type: r.a_event_type as string,
    symbol: r.a_symbol as string,
    reasons: r.a_reasons as string,
    severity: r.a_severity,
    payload: r.a_payload as string,
  };
}

/** The audit row of an outbox row; null when it is gone or its JSON columns do not parse. */
function readAudit(r: JoinedRow): AuditEnvelope | null {
  const a = auditColumns(r);
  if (a === null) return null;
  try {
    return auditFromRow(a);
  } catch {
    return null;
  }
}

export class Outbox {
  private readonly readStmt: SqlStatement;
  private readonly headStmt: SqlStatement;
  private readonly atStmt: SqlStatement;
  private readonly cursorStmt: SqlStatement;
  private readonly advanceStmt: SqlStatement;
  readonly observerId: string;

  private constructor(
    private readonly db: SqlDatabase,
    readonly path: string,
  ) {
    this.readStmt = db.prepare(
      `SELECT o.seq, o.kind, e.policy_id AS e_policy_id, e.event_id AS e_event_id, e.policy_version AS e_policy_version, e.run_id AS e_run_id,
              e.symbol AS e_symbol, e.window_start_ms AS e_window_start_ms, e.window_end_ms AS e_window_end_ms, e.stored_ms AS e_stored_ms,
              e.json AS e_json, a.id AS a_id, ${AUDIT_COLUMNS.split(', ')
                .map((c) => `a.${c} AS a_${c}`)
                .join(', ')}
         FROM outbox AS o
         LEFT JOIN events AS e ON o.kind = 'event' AND e.policy_id = o.policy_id AND e.event_id = o.event_id
         LEFT JOIN audit AS a ON o.kind = 'audit' AND a.id = o.audit_id
        WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
    );
    this.headStmt = db.prepare('SELECT coalesce(max(seq), 0) AS head FROM outbox');
    this.atStmt = db.prepare(
      `SELECT coalesce(e.stored_ms, a.ts_ms) AS at_ms FROM outbox AS o
         LEFT JOIN events AS e ON o.kind = 'event' AND e.policy_id = o.policy_id AND e.event_id = o.event_id
         LEFT JOIN audit AS a ON o.kind = 'audit' AND a.id = o.audit_id
        WHERE o.seq > ? ORDER BY o.seq LIMIT 1`,
    );
    this.cursorStmt = db.prepare('SELECT delivered_seq, delivered FROM sink_cursors WHERE sink = ?');
    this.advanceStmt = db.prepare(
      `INSERT INTO sink_cursors (sink, delivered_seq, delivered, updated_ms) VALUES (@sink, @seq, @n, @now)
       ON CONFLICT (sink) DO UPDATE SET delivered_seq = max(delivered_seq, excluded.delivered_seq), delivered = delivered + excluded.delivered, updated_ms = excluded.updated_ms`,
    );
    this.observerId = (db.get('SELECT observer_id FROM observer WHERE one = 1') as { observer_id: string }).observer_id;
  }

  /**
   * Opens an existing store file (it never creates one: the collector does), bringing it to the
   * latest schema like every open. Throws OutboxError with what failed and what to do.
   */
  static open(path: string, opts: { busyTimeoutMs?: number; driver?: DriverName } = {}): Outbox {
    let db: SqlDatabase | null = null;
    try {
      db = openDatabase(path, { readonly: false, fileMustExist: true, busyTimeoutMs: opts.busyTimeoutMs ?? 1_000 }, opts.driver);
      migrate(db);
      return new Outbox(db, path);
    } catch (e) {
      try {
        db?.close();
      } catch {
        // the first error is the one reported
      }
      throw new OutboxError(describeFault(e, 'open', path));
    }
  }

  /** Up to `limit` rows after `afterSeq`, in order. */
  read(afterSeq: number, limit: number): OutboxBatch {
    const rows = this.readStmt.all([afterSeq, limit]) as JoinedRow[];
    const items: OutboxItem[] = [];
    let skipped = 0;
    for (const r of rows) {
      if (r.kind === 'event') {
        if (r.e_json === null) skipped++;
        else
          items.push({
            seq: r.seq,
            kind: 'event',
            id: r.e_event_id as string,
            type: r.e_policy_id as string,
            run_id: r.e_run_id as string,
            at_ms: r.e_stored_ms as number,
            json: r.e_json,
            policy_version: r.e_policy_version as number,
            symbol: r.e_symbol as string,
            window_start_ms: r.e_window_start_ms as number,
            window_end_ms: r.e_window_end_ms as number,
          });
        continue;
      }
      const envelope = readAudit(r);
      if (envelope === null) {
        skipped++;
        continue;
      }
      items.push({
        seq: r.seq,
        kind: 'audit',
        id: `${envelope.run_id}:${envelope.seq}`,
        type: envelope.event_type,
        run_id: envelope.run_id,
        at_ms: envelope.ts_ms,
        json: JSON.stringify(envelope),
        envelope,
      });
    }
    const last = rows[rows.length - 1];
    return { items, throughSeq: last === undefined ? afterSeq : last.seq, skipped };
  }

  /** The newest outbox position (0 when empty). Rows are never deleted, so backlog = head − cursor. */
  head(): number {
    return (this.headStmt.get() as { head: number }).head;
  }

  /** When the first row after `afterSeq` was stored (null when there is none): the age of a sink's backlog. */
  oldestAfter(afterSeq: number): number | null {
    const r = this.atStmt.get([afterSeq]) as { at_ms: number | null } | undefined;
    return r?.at_ms ?? null;
  }

  cursor(sink: string): SinkCursor {
    const r = this.cursorStmt.get([sink]) as SinkCursor | undefined;
    return r ?? { delivered_seq: 0, delivered: 0 };
  }

  /** Records that the sink acknowledged everything up to `seq` (`delivered` more rows). Never moves a cursor back. */
  advance(sink: string, seq: number, delivered: number, nowMs: number): void {
    this.advanceStmt.run({ sink, seq, n: delivered, now: nowMs });
  }

  runs(): RunRow[] {
    return this.db.all('SELECT * FROM runs ORDER BY started_ms, run_id').map((r) => RunRowSchema.parse(r));
  }

  close(): void {
    try {
      this.db.close();
    } catch {
      // closing: nothing left to save
    }
  }
}

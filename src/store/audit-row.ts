/** An `audit` table row ↔ the audit envelope (SPEC §12.1), in the key order the audit trail writes. */
import type { AuditEnvelope } from '../core/contracts/audit';

/** The row's columns as SQLite returns them (JSON columns still text). */
export interface AuditRowColumns {
  ts_ms: number;
  run_id: string;
  seq: number;
  stage: string;
  event_type: string;
  symbol: string;
  reasons: string;
  severity: string | null;
  payload: string;
}

export const AUDIT_COLUMNS = 'ts_ms, run_id, seq, stage, event_type, symbol, reasons, severity, payload';

export function auditFromRow(r: AuditRowColumns): AuditEnvelope {
  return {
    ts_ms: r.ts_ms,
    run_id: r.run_id,
    seq: r.seq,
    stage: r.stage as AuditEnvelope['stage'],
    event_type: r.event_type as AuditEnvelope['event_type'],
    symbol: r.symbol,
    reasons: JSON.parse(r.reasons) as AuditEnvelope['reasons'],
    ...(r.severity !== null ? { severity: r.severity as NonNullable<AuditEnvelope['severity']> } : {}),
    payload: JSON.parse(r.payload) as AuditEnvelope['payload'],
  };
}

export function auditParams(a: AuditEnvelope): Record<string, string | number | null> {
  return {
    ts_ms: a.ts_ms,
    run_id: a.run_id,
    seq: a.seq,
    stage: a.stage,
    event_type: a.event_type,
    symbol: a.symbol,
    reasons: JSON.stringify(a.reasons),
    severity: a.severity ?? null,
    payload: JSON.stringify(a.payload),
  };
}

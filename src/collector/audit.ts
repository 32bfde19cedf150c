/**
 * Append-only JSONL audit trail (SPEC §12.1): stage changes, symbol selection, connection events,
 * health changes, warm-up, promotions, alerts, counter samples. The JSONL is the human trail; the
 * collector also mirrors every envelope into the event store's `audit` table (`onRecord`). Raw
 * payloads are never logged untruncated.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDirSync } from '../files/dirs';
import type { AuditEnvelope } from '../core/contracts/audit';
import type { AuditEventType, ReasonCode, StageName } from '../core/contracts/vocabulary';

export interface AuditRecord {
  event_type: AuditEventType;
  symbol?: string;
  reasons?: ReasonCode[];
  severity?: 'INFO' | 'WARN' | 'CRIT';
  payload?: Record<string, unknown>;
}

/**
 * debug/audit.jsonl's write queue at most (bytes the disk has not taken yet). Records come a few a
 * second at most (stage, health, promotions, gaps), so 1 MiB is minutes of them; a disk that stops
 * for good would otherwise grow the stream's buffer for ever. Past it lines are counted, not
 * queued; the event store keeps every record in its own bounded queue either way.
 */
export const AUDIT_MAX_QUEUED_BYTES = 1024 * 1024;

export class AuditTrail {
  private seq = 0;
  private readonly out: WriteStream;
  errors = 0;
  /** Lines not written because AUDIT_MAX_QUEUED_BYTES were still waiting for the disk. */
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly runId: string,
    private readonly clock: () => number,
    private readonly stage: () => StageName,
    /** Sees every envelope as written (the collector mirrors the trail into the event store). */
    private readonly onRecord?: (envelope: AuditEnvelope) => void,
  ) {
    ensureDirSync(dirname(path));
    this.out = createWriteStream(path, { flags: 'a' });
    this.out.on('error', () => {
      this.errors++;
    });
  }

  record(r: AuditRecord): void {
    const line: AuditEnvelope = {
      ts_ms: this.clock(),
      run_id: this.runId,
      seq: ++this.seq,
      stage: this.stage(),
      event_type: r.event_type,
      symbol: r.symbol ?? '',
      reasons: r.reasons ?? [],
      ...(r.severity ? { severity: r.severity } : {}),
      payload: r.payload ?? {},
    };
    if (this.out.writableLength >= AUDIT_MAX_QUEUED_BYTES) this.dropped++;
    else this.out.write(`${JSON.stringify(line)}\n`);
    this.onRecord?.(line);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}

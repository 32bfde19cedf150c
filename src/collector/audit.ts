/**
 * Append-only JSONL audit trail (SPEC §12.1): stage changes, symbol selection, connection events,
 * health changes, warm-up, promotions, alerts. Promotions here survive restarts; the in-memory
 * panel does not. Raw payloads are never logged untruncated.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDirSync } from '../files/dirs';
import type { AuditEventType, ReasonCode, StageName } from '../core/contracts/vocabulary';

export interface AuditRecord {
  event_type: AuditEventType;
  symbol?: string;
  reasons?: ReasonCode[];
  severity?: 'INFO' | 'WARN' | 'CRIT';
  payload?: Record<string, unknown>;
}

export class AuditTrail {
  private seq = 0;
  private readonly out: WriteStream;
  errors = 0;

  constructor(
    readonly path: string,
    private readonly runId: string,
    private readonly clock: () => number,
    private readonly stage: () => StageName,
  ) {
    ensureDirSync(dirname(path));
    this.out = createWriteStream(path, { flags: 'a' });
    this.out.on('error', () => {
      this.errors++;
    });
  }

  record(r: AuditRecord): void {
    const line = {
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
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}

/**
 * Dead-letter sink (SPEC §2.4): one JSONL line per input we could not use, with why, where from,
 * when, and the raw text truncated. Opened lazily so a clean run leaves no file behind.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LIMITS } from '../core/constants';

export interface DeadLetter {
  recv_ms: number;
  source: string;
  reason: string;
  raw: string;
}

export class DeadLetterFile {
  written = 0;
  failed = 0;
  private ready = false;

  constructor(readonly path: string) {}

  write(d: DeadLetter): void {
    const raw = d.raw.length > LIMITS.DEAD_LETTER_RAW_CHARS ? d.raw.slice(0, LIMITS.DEAD_LETTER_RAW_CHARS) : d.raw;
    const line = `${JSON.stringify({ recv_ms: d.recv_ms, source: d.source, reason: d.reason, raw_length: d.raw.length, raw })}\n`;
    try {
      if (!this.ready) {
        mkdirSync(dirname(this.path), { recursive: true });
        this.ready = true;
      }
      // Synchronous on purpose: dead letters are rare, and a crash must not lose the one that explains it.
      appendFileSync(this.path, line);
      this.written++;
    } catch {
      // The count still shows in the snapshot; a failing disk must not take the collector down.
      this.failed++;
    }
  }
}

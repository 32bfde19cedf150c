/** What every sink implements: take one ordered batch of outbox rows, or fail saying why. */
import type { SinkKind } from '../core/contracts/sink-status';
import type { RunRow } from '../store/contract';
import type { OutboxItem } from '../store/outbox';
import type { WindowRow } from './window-row';

export interface DeliveryBatch {
  /** The local store's id (SPEC §22: several observers feed one database). */
  observerId: string;
  /** In outbox order. */
  items: readonly OutboxItem[];
  /** The runs the items belong to (PostgreSQL keeps them; Redis does not need them). */
  runs: readonly RunRow[];
}

export interface DeliveryResult {
  /** Rows the sink refused as data (not transport): counted and logged, never retried. */
  rejected: { seq: number; reason: string }[];
}

export interface Sink {
  readonly kind: SinkKind;
  /** The URL without credentials. */
  readonly name: string;
  /** Resolves once the whole batch is durable in the sink; rejects (SinkError) otherwise. */
  deliver(batch: DeliveryBatch): Promise<DeliveryResult>;
  /**
   * Closed windows, when the sink was asked for them (`?windows=1`, PostgreSQL only): resolves once
   * they are durable; idempotent by (observer, symbol, window start), so a retried batch adds nothing.
   */
  deliverWindows?(observerId: string, rows: readonly WindowRow[]): Promise<void>;
  /** Runs whose row changed locally (end of a run, its symbols): PostgreSQL updates them. */
  syncRuns?(observerId: string, runs: readonly RunRow[]): Promise<void>;
  /** A condition that weakens the delivery guarantee without stopping it, once known. */
  warning(): string | null;
  close(): Promise<void>;
}

/** A failed delivery, in words: what failed and what to do. */
export class SinkError extends Error {
  override name = 'SinkError';
}

/** The first line of an error, for status and logs. */
export function errorLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  const first = m.split('\n')[0] ?? '';
  return typeof code === 'string' && !first.includes(code) ? `${code}: ${first}` : first;
}

/**
 * The snapshot's `sinks` section (SPEC §22): one entry per configured sink, so the window, the
 * HTTP API and `/metrics` can show a sink that is down, how much waits for it in the local store
 * (the outbox), and when it last took a batch. Absent when no sink is configured.
 */
import { z } from 'zod';
import { count } from './primitives';

export const SinkKindSchema = z.enum(['redis', 'postgres']);
export type SinkKind = z.infer<typeof SinkKindSchema>;

/** CONNECTING: not delivered yet since start; OK: the last attempt succeeded; DEGRADED: it failed, and is retried with backoff. */
export const SinkStateSchema = z.enum(['CONNECTING', 'OK', 'DEGRADED']);
export type SinkState = z.infer<typeof SinkStateSchema>;

export const SinkStatusSchema = z.object({
  /** The sink's URL without credentials: its name in logs, the cursor table and here. */
  sink: z.string(),
  kind: SinkKindSchema,
  state: SinkStateSchema,
  /** Rows of the local store not yet acknowledged by the sink (bounded by disk only). */
  backlog: count,
  /** Rows delivered since start, and all time (the cursor). */
  delivered: count,
  delivered_total: count,
  /** The outbox position acknowledged so far. */
  delivered_seq: count,
  /** Local time of the last acknowledged batch; null before the first. */
  last_delivered_ms: z.number().int().nullable(),
  /** When the oldest row still waiting was stored (local ms); null when nothing waits. */
  oldest_pending_ms: z.number().int().nullable(),
  /** Failed attempts since the last success, and the time of the first of them. */
  failures: count,
  failing_since_ms: z.number().int().nullable(),
  /** What failed and what to do (credentials redacted); null when OK. */
  last_error: z.string().nullable(),
  /** A condition that does not stop delivery but weakens its guarantee (e.g. Redis without persistence). */
  warning: z.string().nullable(),
  /** Outbox rows that could not be read back from the store (counted, never delivered). */
  skipped: count,
  /** Rows the sink refused as data (a PostgreSQL constraint or type error): counted and logged, never retried. */
  rejected: count,
  /** Closed windows (PostgreSQL `?windows=1` only; absent otherwise): waiting in memory, delivered, dropped beyond the bounded queue. */
  windows: z.object({ queued: count, delivered: count, dropped: count }).optional(),
});
export type SinkStatus = z.infer<typeof SinkStatusSchema>;

/**
 * The audit trail's envelope (SPEC §12.1): one JSON object per line of `debug/audit.jsonl` and one
 * row of the store's `audit` table. `src/collector/audit.ts` writes exactly these keys.
 */
import { z } from 'zod';
import { SymbolCountersSchema } from './counters';
import { AuditEventTypeSchema, ReasonCodeSchema, StageNameSchema } from './vocabulary';

export const SeveritySchema = z.enum(['INFO', 'WARN', 'CRIT']);
export type Severity = z.infer<typeof SeveritySchema>;

export const AuditEnvelopeSchema = z.object({
  ts_ms: z.number().int().nonnegative(),
  run_id: z.string().min(1),
  seq: z.number().int().positive(),
  stage: StageNameSchema,
  event_type: AuditEventTypeSchema,
  /** "" when the record has no symbol context. */
  symbol: z.string(),
  reasons: z.array(ReasonCodeSchema),
  severity: SeveritySchema.optional(),
  payload: z.record(z.string(), z.unknown()),
});
export type AuditEnvelope = z.infer<typeof AuditEnvelopeSchema>;

/**
 * Payload of a COUNTERS_SAMPLED record: the run's cumulative counters at `ts_ms`. The collector
 * records one every few minutes, at each UTC midnight and at stop, so a day's partition, OI and
 * liquidation coverage are differences of two samples.
 */
export const CountersSampleSchema = z.object({
  per_symbol: z.record(z.string(), SymbolCountersSchema),
  /** WebSocket reconnects since the run started. */
  reconnects: z.number().int().nonnegative(),
  /** OI poll failures since the run started. */
  oi_errors: z.number().int().nonnegative(),
  /** The configured OI poll interval, so coverage can be judged against it. */
  oi_poll_interval_ms: z.number().int().positive(),
});
export type CountersSample = z.infer<typeof CountersSampleSchema>;

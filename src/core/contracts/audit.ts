/**
 * The audit trail's envelope (SPEC §12.1): one JSON object per line of `debug/audit.jsonl` and one
 * row of the store's `audit` table. `src/collector/audit.ts` writes exactly these keys.
 */
import { z } from 'zod';
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

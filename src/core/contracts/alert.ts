/**
 * An alert (SPEC §21, seed 002 "local alerting"): what every channel receives and what the
 * `ALERT_RAISED` audit record carries. Alerts are aggregated per key with a cooldown, so one
 * record can stand for many occurrences: `count` of them between `first_ts_ms` and `last_ts_ms`.
 */
import { z } from 'zod';
import { SeveritySchema } from './audit';
import { ReasonCodeSchema } from './vocabulary';

export const AlertSchema = z.object({
  severity: SeveritySchema,
  reason_code: ReasonCodeSchema,
  /** "" when the alert has no symbol context. */
  symbol: z.string(),
  count: z.number().int().positive(),
  first_ts_ms: z.number().int().nonnegative(),
  last_ts_ms: z.number().int().nonnegative(),
  /** When the alert was emitted (local clock). */
  ts_ms: z.number().int().nonnegative(),
  /** `each`: one occurrence or a cooldown's aggregate; `digest`: a periodic summary of promotions. */
  kind: z.enum(['each', 'aggregate', 'digest']),
  /** One human line: what happened and, for a fault, what to do. */
  summary: z.string(),
});
export type Alert = z.infer<typeof AlertSchema>;

/**
 * Alert settings (SPEC §21 [PROP] numbers as defaults). They only shape what reaches the operator;
 * nothing here changes detection.
 */
import { z } from 'zod';

/**
 * each: an alert per promotion, at most one per symbol per `perSymbolCooldownMs` (later ones
 * aggregated); digest: one summary alert every `digestEveryMs` while events come; off: none.
 */
export const PromotionAlertModeSchema = z.enum(['each', 'digest', 'off']);

export const AlertSettingsSchema = z
  .object({
    /** Per reason: occurrences within this long after an alert are folded into one aggregate alert. */
    cooldownMs: z.number().int().nonnegative().default(60_000),
    /** Critical health: DEGRADED or FAILED for longer than this. */
    criticalAfterMs: z.number().int().nonnegative().default(30_000),
    promotions: z
      .object({
        mode: PromotionAlertModeSchema.default('each'),
        perSymbolCooldownMs: z.number().int().nonnegative().default(60_000),
        digestEveryMs: z.number().int().positive().default(300_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type AlertSettings = z.infer<typeof AlertSettingsSchema>;
export type AlertSettingsInput = z.input<typeof AlertSettingsSchema>;

/**
 * "Why silent?" (SPEC §21): a judged window that cleared conditions 1 and 2 and was stopped at
 * condition 3 or 4, with how far each condition was from its bar. Inspection only: built from a
 * closed window after its verdict; nothing in the rule reads it.
 */
import { z } from 'zod';
import { count, symbolString } from './primitives';

/**
 * The outcomes that qualify: exactly those judgeWindow returns after conditions 1 and 2 held
 * (promotion.ts), i.e. every judged, unpromoted window that failed nothing before condition 3.
 * `missing_streams` is among them: judgeWindow returns it only after 1 and 2 held (a missing
 * exchange candle at step 3, or no stress seen while the OI poller was stale at step 4). It is the
 * nearest miss an operator can act on, so it is listed, labelled, instead of hidden.
 */
export const NearMissOutcomeSchema = z.enum(['compression_failed', 'missing_streams', 'stress_failed']);
export type NearMissOutcome = z.infer<typeof NearMissOutcomeSchema>;

/** Condition 4's evidence at the window's end: `present` (liquidations or an OI change), `absent` (OI fresh, no change), `unknown` (OI stale). */
export const StressStateSchema = z.enum(['present', 'absent', 'unknown']);
export type StressState = z.infer<typeof StressStateSchema>;

/** A margin is value / bar; null when the bar is not positive (the ratio would mean nothing). */
const ratio = z.number().nonnegative().finite().nullable();

export const NearMissSchema = z.object({
  window_start_ms: z.number().int(),
  window_end_ms: z.number().int(),
  outcome: NearMissOutcomeSchema,
  /** The condition that stopped the window: 3 (candle shape) or 4 (stress). */
  stopped_at: z.union([z.literal(3), z.literal(4)]),
  /** Condition 1: abs_flow against P90 of its history (≥ 1 here, since condition 1 held). */
  abs_flow: z.number(),
  p90_abs_flow: z.number(),
  flow_margin: ratio,
  /** Condition 2: the largest trade notional against P95 of the mean trade size (≥ 1 here). */
  largest_trade: z.number(),
  p95_trade_size: z.number(),
  large_trade_margin: ratio,
  large_trade_count: count,
  /** Condition 3: the judged candle's body/range; null when the candle was missing (exchange klines). */
  body_ratio: z.number().nullable(),
  /** Condition 4, also shown for windows stopped at 3: would stress have carried them? */
  stress_state: StressStateSchema,
  liq_count: count,
  oi_change: z.boolean(),
  oi_fresh: z.boolean(),
});
export type NearMiss = z.infer<typeof NearMissSchema>;

/** Per symbol, the newest near misses, oldest → newest (at most LIMITS.NEAR_MISSES_PER_SYMBOL). */
export const NearMissesSchema = z.record(symbolString, z.array(NearMissSchema));
export type NearMisses = z.infer<typeof NearMissesSchema>;

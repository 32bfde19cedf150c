/** The promoted Peak Pressure event (SPEC §7.1): legacy fields plus inspection extras. */
import { z } from 'zod';
import { SideSchema, symbolString } from './primitives';
import { KlineSourceSchema } from './vocabulary';

export const StressSourceSchema = z.enum(['liquidations', 'oi_change']);
export type StressSource = z.infer<typeof StressSourceSchema>;

export const PromotedEventSchema = z.object({
  /** Deterministic: `<SYMBOL>-<window_start_ms>`. */
  event_id: z.string(),
  symbol: symbolString,
  /** Window end, float seconds (legacy). */
  timestamp: z.number(),
  window_start_ms: z.number().int(),
  window_end_ms: z.number().int(),
  window_size: z.literal(1),
  dominant_side: SideSchema,
  stress_sources: z.array(StressSourceSchema).min(1),
  metrics: z.object({
    abs_flow: z.number(),
    trade_count: z.number().int(),
    large_trade_count: z.number().int(),
    liq_count: z.number().int(),
    compressed: z.boolean(),
    expanded: z.boolean(),
    body_ratio: z.number(),
    oi_delta: z.number(),
    net_aggression: z.number(),
    buy_notional: z.number(),
    sell_notional: z.number(),
    mean_trade_size: z.number(),
    p90_abs_flow: z.number(),
    p95_trade_size: z.number(),
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    kline_source: KlineSourceSchema,
    thresholds: z.object({
      compression_max: z.number(),
      expansion_min: z.number(),
      flow_percentile: z.number(),
      trade_size_percentile: z.number(),
    }),
  }),
  rule_set: z.object({ id: z.string(), version: z.number().int() }),
  /** The watermark that closed the window (exchange ms): promotion latency is this − window_end_ms. */
  closed_at_watermark_ms: z.number().int(),
});
export type PromotedEvent = z.infer<typeof PromotedEventSchema>;

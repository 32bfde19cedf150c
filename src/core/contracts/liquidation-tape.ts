/**
 * The liquidation tape's section of the snapshot (SPEC §19; additive: the snapshot gains it as
 * `liquidation_tape`). One table per symbol: price buckets of the last 60 min, newest activity first.
 */
import { z } from 'zod';
import { symbolString } from './primitives';

const count = z.number().int().nonnegative();

export const TapeBucketSchema = z.object({
  /** Bucket bounds, `low ≤ price < high`, on the tick grid. */
  low: z.number(),
  high: z.number(),
  /** BUY = shorts liquidated (forced buys), SELL = longs liquidated (forced sells). */
  buy_count: count,
  buy_notional: z.number().nonnegative(),
  sell_count: count,
  sell_notional: z.number().nonnegative(),
  /** Exchange times (`E`) of the bucket's first and last liquidation. */
  first_ms: z.number().int(),
  last_ms: z.number().int(),
});
export type TapeBucket = z.infer<typeof TapeBucketSchema>;

export const SymbolTapeSchema = z.object({
  /** The price the bucket width is derived from (last trade, else last liquidation); null before either. */
  latest_price: z.number().positive().nullable(),
  tick: z.number().positive().nullable(),
  /** 0.1 % of latest_price rounded to the tick (at least one tick). */
  bucket_width: z.number().positive().nullable(),
  /** Liquidations within the window (all buckets, shown or not). */
  liquidations: count,
  buckets_total: count,
  /** The newest-activity buckets, at most the display cap. */
  buckets: z.array(TapeBucketSchema),
  /** Entries dropped by the per-symbol memory cap before they aged out. */
  evicted: count,
});
export type SymbolTape = z.infer<typeof SymbolTapeSchema>;

export const LiquidationTapeSectionSchema = z.object({
  window_ms: z.number().int().positive(),
  bucket_fraction: z.number().positive(),
  /** The exchange-time watermark the window ends at. */
  as_of_ms: z.number().int().nullable(),
  /** Binance pushes at most one liquidation per symbol per second, so counts are lower bounds. */
  counts_are_lower_bounds: z.literal(true),
  per_symbol: z.record(symbolString, SymbolTapeSchema),
});
export type LiquidationTapeSection = z.infer<typeof LiquidationTapeSectionSchema>;

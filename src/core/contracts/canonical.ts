/**
 * The one canonical event type that flows source adapter → core (SPEC §2.2), whatever the exchange.
 * Times are integer epoch milliseconds: `ts_ms` is exchange time (what windows and the watermark
 * use), `recv_ms` is local receipt time (liveness and the future-tolerance check only).
 */
import { z } from 'zod';
import { epochMs, finiteNonNegative, finitePositive, recvMs, SideSchema, symbolString } from './primitives';
import { KlineSourceSchema } from './vocabulary';

export const TradeEventSchema = z.object({
  type: z.literal('TRADE'),
  symbol: symbolString,
  /** Trade time (exchange): decides the window. */
  ts_ms: epochMs,
  event_time_ms: epochMs,
  recv_ms: recvMs,
  /** Which id space `agg_id` is in: `agg` = aggregated trades (one per taker order and price), `trade` = single fills. */
  id_kind: z.enum(['agg', 'trade']),
  agg_id: z.number().int().nonnegative(),
  first_id: z.number().int().nonnegative(),
  last_id: z.number().int().nonnegative(),
  price: finitePositive,
  base_qty: finiteNonNegative,
  quote_qty: finiteNonNegative,
  /** Taker (aggressor) side: a buyer-maker trade was sold into. */
  side: SideSchema,
  is_buyer_maker: z.boolean(),
});
export type TradeEvent = z.infer<typeof TradeEventSchema>;

export const LiquidationEventSchema = z.object({
  type: z.literal('LIQUIDATION'),
  symbol: symbolString,
  /** Time the exchange reported the liquidation (SPEC §13 #13). */
  ts_ms: epochMs,
  order_trade_time_ms: epochMs,
  recv_ms: recvMs,
  /** Order side: SELL = a long was liquidated, BUY = a short. */
  side: SideSchema,
  price: finitePositive,
  base_qty: finitePositive,
  quote_qty: finitePositive,
  avg_price: finiteNonNegative,
  filled_qty: finiteNonNegative,
  last_filled_qty: finiteNonNegative,
  status: z.string(),
  order_type: z.string(),
  tif: z.string(),
});
export type LiquidationEvent = z.infer<typeof LiquidationEventSchema>;

export const KlineEventSchema = z.object({
  type: z.literal('KLINE'),
  symbol: symbolString,
  /** Time of the kline update (exchange). */
  ts_ms: epochMs,
  recv_ms: recvMs,
  interval: z.string(),
  open_time_ms: epochMs,
  close_time_ms: epochMs,
  open: finitePositive,
  high: finitePositive,
  low: finitePositive,
  close: finitePositive,
  base_volume: finiteNonNegative,
  quote_volume: finiteNonNegative,
  trade_count: z.number().int().nonnegative(),
  closed: z.boolean(),
  source: KlineSourceSchema,
});
export type KlineEvent = z.infer<typeof KlineEventSchema>;

export const OpenInterestEventSchema = z.object({
  type: z.literal('OPEN_INTEREST'),
  symbol: symbolString,
  /** The response's exchange `time`, so OI lands on the same clock as trades (SPEC §2.2). */
  ts_ms: epochMs,
  recv_ms: recvMs,
  open_interest: finiteNonNegative,
});
export type OpenInterestEvent = z.infer<typeof OpenInterestEventSchema>;

/** Mark price for display only; it never moves the watermark nor takes part in detection. */
export const MarkPriceEventSchema = z.object({
  type: z.literal('MARK_PRICE'),
  symbol: symbolString,
  ts_ms: epochMs,
  recv_ms: recvMs,
  mark_price: finitePositive,
  index_price: finiteNonNegative,
  funding_rate: z.number().finite(),
  next_funding_ms: z.number().int().nonnegative(),
});
export type MarkPriceEvent = z.infer<typeof MarkPriceEventSchema>;

export const CanonicalEventSchema = z.discriminatedUnion('type', [
  TradeEventSchema,
  LiquidationEventSchema,
  KlineEventSchema,
  OpenInterestEventSchema,
  MarkPriceEventSchema,
]);
export type CanonicalEvent = z.infer<typeof CanonicalEventSchema>;
export type CanonicalEventType = CanonicalEvent['type'];

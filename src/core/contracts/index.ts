/** Every contract, by the file name its JSON Schema is published under in docs/contracts/. */
import type { ZodType } from 'zod';
import { AlertSchema } from './alert';
import { AuditEnvelopeSchema, CountersSampleSchema } from './audit';
import * as binance from './binance';
import * as canonical from './canonical';
import { PromotedEventSchema } from './promoted';
import { SnapshotSchema } from './snapshot';

export const CONTRACTS: Readonly<Record<string, ZodType>> = Object.freeze({
  'binance.aggTrade': binance.AggTradeSchema,
  'binance.trade': binance.RawTradeSchema,
  'binance.forceOrder': binance.ForceOrderSchema,
  'binance.kline': binance.KlineSchema,
  'binance.markPriceUpdate': binance.MarkPriceUpdateSchema,
  'binance.depthUpdate': binance.DepthUpdateSchema,
  'binance.openInterest': binance.OpenInterestRestSchema,
  'binance.ticker24hr': binance.Ticker24hrListSchema,
  'binance.exchangeInfo': binance.ExchangeInfoSchema,
  'binance.streamEnvelope': binance.StreamEnvelopeSchema,
  'event.TRADE': canonical.TradeEventSchema,
  'event.LIQUIDATION': canonical.LiquidationEventSchema,
  'event.KLINE': canonical.KlineEventSchema,
  'event.OPEN_INTEREST': canonical.OpenInterestEventSchema,
  'event.MARK_PRICE': canonical.MarkPriceEventSchema,
  'event.canonical': canonical.CanonicalEventSchema,
  'promoted-event': PromotedEventSchema,
  snapshot: SnapshotSchema,
  'audit-envelope': AuditEnvelopeSchema,
  'audit.COUNTERS_SAMPLED': CountersSampleSchema,
  alert: AlertSchema,
});

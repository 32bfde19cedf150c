/** The Binance payload contracts, by the file name their JSON Schema is published under in docs/contracts/. */
import type { ZodType } from 'zod';
import * as binance from './schemas';

export const BINANCE_CONTRACTS: Readonly<Record<string, ZodType>> = Object.freeze({
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
});

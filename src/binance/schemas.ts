/**
 * Raw Binance USDⓈ-M payloads we consume, as the exchange sends them (BINANCE.md §4, §6).
 *
 * Objects are loose: Binance adds fields (e.g. `nq` 2026-01, `st` 2026-06) and a new field must
 * not turn a healthy stream into dead letters. Numbers arrive as decimal strings; the patterns
 * below refuse NaN, signs, exponents and empty strings, so a parsed value is always finite.
 *
 * Symbols, sides and times are checked with the canonical primitives: Binance already spells them
 * the canonical way, so the normalizer passes them through unchanged. The symbol pattern admits
 * `_PERP` because the merged `!forceOrder@arr` carries COIN-M names (BTCUSD_PERP) since
 * 2026-06-30, which must parse so that they are dropped by `st`, not dead-lettered.
 */
import { z } from 'zod';
import { epochMs, SideSchema, SYMBOL_RE } from '../core/contracts/primitives';

/** Non-negative decimal string ("0", "0.006", "61800.30"). */
export const DECIMAL_RE = /^\d+(?:\.\d+)?$/;
/** Strictly positive decimal string: like DECIMAL_RE with at least one non-zero digit. */
export const POSITIVE_DECIMAL_RE = /^(?=[^1-9]*[1-9])\d+(?:\.\d+)?$/;
/** Signed decimal (funding rates can be negative). */
export const SIGNED_DECIMAL_RE = /^-?\d+(?:\.\d+)?$/;

export const decimalString = z.string().regex(DECIMAL_RE, 'not a non-negative decimal string');
export const positiveDecimalString = z.string().regex(POSITIVE_DECIMAL_RE, 'not a positive decimal string');
export const signedDecimalString = z.string().regex(SIGNED_DECIMAL_RE, 'not a decimal string');
export const symbolString = z.string().regex(SYMBOL_RE, 'not a Binance symbol');
export const tradeId = z.number().int().nonnegative();

/** `<symbol>@aggTrade` (route /market). */
export const AggTradeSchema = z.looseObject({
  e: z.literal('aggTrade'),
  E: epochMs,
  s: symbolString,
  a: tradeId,
  p: positiveDecimalString,
  q: decimalString,
  f: tradeId,
  l: tradeId,
  T: epochMs,
  m: z.boolean(),
  nq: decimalString.optional(),
  st: z.number().int().optional(),
});
export type AggTrade = z.infer<typeof AggTradeSchema>;

/** `<symbol>@trade` (undocumented on futures; /public empirically). `X` ≠ MARKET is not flow. */
export const RawTradeSchema = z.looseObject({
  e: z.literal('trade'),
  E: epochMs,
  T: epochMs,
  s: symbolString,
  t: tradeId,
  p: positiveDecimalString,
  q: decimalString,
  X: z.string().min(1).max(32),
  m: z.boolean(),
});
export type RawTrade = z.infer<typeof RawTradeSchema>;

/** `o` of a forceOrder payload. */
export const ForceOrderOrderSchema = z.looseObject({
  s: symbolString,
  S: SideSchema,
  o: z.string().max(32),
  f: z.string().max(32),
  q: positiveDecimalString,
  p: positiveDecimalString,
  ap: decimalString,
  X: z.string().max(32),
  l: decimalString,
  z: decimalString,
  T: epochMs,
});

/**
 * `<symbol>@forceOrder` and `!forceOrder@arr` (route /market, one per symbol per 1000 ms).
 * Since 2026-06-30 the all-market array also carries COIN-M symbols, told apart by `st` (1 = UM).
 */
export const ForceOrderSchema = z.looseObject({
  e: z.literal('forceOrder'),
  E: epochMs,
  o: ForceOrderOrderSchema,
  st: z.number().int().optional(),
  ps: z.string().max(40).optional(),
});
export type ForceOrder = z.infer<typeof ForceOrderSchema>;

export const KlineBodySchema = z.looseObject({
  t: epochMs,
  T: epochMs,
  s: symbolString,
  i: z.string().min(1).max(4),
  f: z.number().int(),
  L: z.number().int(),
  o: positiveDecimalString,
  c: positiveDecimalString,
  h: positiveDecimalString,
  l: positiveDecimalString,
  v: decimalString,
  n: z.number().int().nonnegative(),
  x: z.boolean(),
  q: decimalString,
  V: decimalString,
  Q: decimalString,
});

/** `<symbol>@kline_<interval>` (route /market, every 250 ms). */
export const KlineSchema = z.looseObject({
  e: z.literal('kline'),
  E: epochMs,
  s: symbolString,
  k: KlineBodySchema,
});
export type Kline = z.infer<typeof KlineSchema>;

/** `<symbol>@markPrice@1s` (route /market) — display only, never detection. */
export const MarkPriceUpdateSchema = z.looseObject({
  e: z.literal('markPriceUpdate'),
  E: epochMs,
  s: symbolString,
  p: positiveDecimalString,
  i: decimalString,
  P: decimalString,
  r: signedDecimalString.or(z.literal('')),
  T: z.number().int().nonnegative(),
});
export type MarkPriceUpdate = z.infer<typeof MarkPriceUpdateSchema>;

const priceLevel = z.tuple([decimalString, decimalString]);

/** `<symbol>@depth@<speed>` diff (route /public). Validated when seen; not used by detection. */
export const DepthUpdateSchema = z.looseObject({
  e: z.literal('depthUpdate'),
  E: epochMs,
  T: epochMs,
  s: symbolString,
  U: z.number().int().nonnegative(),
  u: z.number().int().nonnegative(),
  pu: z.number().int(),
  b: z.array(priceLevel),
  a: z.array(priceLevel),
});
export type DepthUpdate = z.infer<typeof DepthUpdateSchema>;

/** REST `GET /fapi/v1/openInterest?symbol=S`. `openInterest` is in base-asset units. */
export const OpenInterestRestSchema = z.looseObject({
  symbol: symbolString,
  openInterest: decimalString,
  time: epochMs,
});
export type OpenInterestRest = z.infer<typeof OpenInterestRestSchema>;

/** One entry of REST `GET /fapi/v1/ticker/24hr` (no symbol → an array of these). */
export const Ticker24hrSchema = z.looseObject({
  symbol: symbolString,
  quoteVolume: decimalString,
  volume: decimalString.optional(),
  lastPrice: decimalString.optional(),
  count: z.number().int().nonnegative().optional(),
  closeTime: z.number().int().optional(),
});
export const Ticker24hrListSchema = z.array(Ticker24hrSchema);
export type Ticker24hr = z.infer<typeof Ticker24hrSchema>;

const SymbolFilterSchema = z.looseObject({
  filterType: z.string(),
  tickSize: decimalString.optional(),
  stepSize: decimalString.optional(),
});

/** The subset of REST `GET /fapi/v1/exchangeInfo` we read (symbol universe, precisions, limits). */
export const ExchangeInfoSchema = z.looseObject({
  serverTime: epochMs.optional(),
  rateLimits: z
    .array(
      z.looseObject({
        rateLimitType: z.string(),
        interval: z.string(),
        intervalNum: z.number().int(),
        limit: z.number().int(),
      }),
    )
    .optional(),
  symbols: z.array(
    z.looseObject({
      symbol: symbolString,
      contractType: z.string(),
      status: z.string(),
      quoteAsset: z.string(),
      marginAsset: z.string().optional(),
      baseAsset: z.string().optional(),
      pricePrecision: z.number().int().nonnegative().optional(),
      quantityPrecision: z.number().int().nonnegative().optional(),
      filters: z.array(SymbolFilterSchema).optional(),
    }),
  ),
});
export type ExchangeInfo = z.infer<typeof ExchangeInfoSchema>;

/** Combined-stream envelope `{"stream": name, "data": payload}`. */
export const StreamEnvelopeSchema = z.looseObject({
  stream: z.string().min(1).max(200),
  data: z.unknown(),
});

/** Reply to a SUBSCRIBE/UNSUBSCRIBE/LIST request. */
export const ControlReplySchema = z.looseObject({
  id: z.number().int().nonnegative().or(z.string()),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
  code: z.number().optional(),
  msg: z.string().optional(),
});

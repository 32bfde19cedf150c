/**
 * Raw frame → canonical events. Pure: the same frame always gives the same result.
 *
 * Every frame gets exactly one outcome, so nothing is dropped silently:
 *   events    — one canonical event for the core;
 *   ignored   — well-known traffic we do not use (book tickers, depth, control replies, REST
 *               bodies read elsewhere), counted by kind;
 *   dropped   — valid but excluded by rule (non-MARKET raw trades, COIN-M liquidations);
 *   malformed — anything else, with a reason; the caller counts it and writes a dead letter.
 */
import type { ZodType } from 'zod';
import {
  type AggTrade,
  AggTradeSchema,
  type ForceOrder,
  type Kline,
  type MarkPriceUpdate,
  type RawTrade,
  ForceOrderSchema,
  KlineSchema,
  MarkPriceUpdateSchema,
  OpenInterestRestSchema,
  RawTradeSchema,
} from './schemas';
import { LIMITS } from '../core/constants';
import type { CanonicalEvent, KlineEvent, LiquidationEvent, MarkPriceEvent, OpenInterestEvent, TradeEvent } from '../core/contracts/canonical';
import { isAggTrade, isForceOrder, isKline, isMarkPriceUpdate, isOpenInterestRest, isRawTrade } from './fastpath';
import type { Frame } from '../core/source';
import { scanEnvelopeData } from './scan';

export type NormalizeResult =
  | { kind: 'event'; event: CanonicalEvent }
  | { kind: 'ignored'; what: string }
  | { kind: 'dropped'; reason: 'non_market_trade' | 'coin_margined'; symbol: string }
  | { kind: 'malformed'; reason: string };

const STREAM_PREFIX = '{"stream":"';

/** Streams we consume; everything else on a combined connection is counted and skipped unparsed. */
function streamKind(stream: string): 'aggTrade' | 'trade' | 'forceOrder' | 'kline' | 'markPrice' | 'depth' | 'bookTicker' | 'other' {
  const at = stream.indexOf('@');
  if (at < 0) return 'other';
  // Compared in place: this runs once per frame and a slice would be garbage.
  const from = at + 1;
  const restIs = (name: string): boolean => stream.length - from === name.length && stream.startsWith(name, from);
  if (restIs('aggTrade')) return 'aggTrade';
  if (restIs('trade')) return 'trade';
  if (restIs('forceOrder') || stream === '!forceOrder@arr') return 'forceOrder';
  if (stream.startsWith('kline_', from)) return 'kline';
  if (stream.startsWith('markPrice', from)) return 'markPrice';
  if (stream.startsWith('depth', from)) return 'depth';
  if (restIs('bookTicker')) return 'bookTicker';
  return 'other';
}

function malformed(reason: string): NormalizeResult {
  return { kind: 'malformed', reason };
}

/** The first zod issue as one line: which field, what was wrong. */
function schemaReason(kind: string, schema: ZodType, value: unknown): string {
  const r = schema.safeParse(value);
  if (r.success) return `${kind}: rejected by fast path but accepted by schema (report this)`;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `schema_violation:${kind}: ${path}: ${issue ? issue.message : 'invalid'}`;
}

/** `btcusdt@aggTrade` names BTCUSDT: the per-frame check, without building the upper-case string. */
function streamNamesSymbol(stream: string, symbol: string): boolean {
  if (stream.charCodeAt(symbol.length) !== 0x40 /* @ */) return false;
  for (let i = 0; i < symbol.length; i++) {
    const c = stream.charCodeAt(i);
    const upper = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
    if (upper !== symbol.charCodeAt(i)) return false;
  }
  return true;
}

function upperSymbolOfStream(stream: string): string | null {
  if (stream.startsWith('!')) return null;
  const at = stream.indexOf('@');
  return at > 0 ? stream.slice(0, at).toUpperCase() : null;
}

function maxBytes(source: string): number {
  return source.startsWith('rest:') ? LIMITS.MAX_REST_BODY_BYTES : LIMITS.MAX_WS_FRAME_BYTES;
}

/**
 * Normalize one frame. Never throws: JSON and schema failures come back as `malformed`.
 */
/**
 * `useScanner`: take the combined-stream fast path (./scan) when the frame has its plain shape;
 * false forces JSON.parse for every frame (the reference the scanner is tested against).
 */
export function normalizeFrame(frame: Frame, useScanner = true): NormalizeResult {
  const text = frame.text;
  // String length is UTF-16 units; frames are ASCII JSON so this equals bytes for honest traffic.
  if (text.length > maxBytes(frame.source)) return malformed(`oversized_frame:${text.length}`);

  let stream: string | null = null;
  if (text.startsWith(STREAM_PREFIX)) {
    const end = text.indexOf('"', STREAM_PREFIX.length);
    if (end > 0) {
      stream = text.slice(STREAM_PREFIX.length, end);
      const kind = streamKind(stream);
      if (kind === 'depth' || kind === 'bookTicker' || kind === 'other') {
        return { kind: 'ignored', what: kind === 'other' ? `stream:${stream.slice(stream.indexOf('@') + 1) || stream}` : kind };
      }
      if (useScanner) {
        const data = scanEnvelopeData(text, end);
        if (data !== null) return normalizePayload(data, stream, frame);
      }
    }
  } else if (frame.source.startsWith('ws:') && frame.source.includes('/ws/')) {
    // Raw (non-combined) connection: the stream name is the last path segment.
    stream = frame.source.slice(frame.source.lastIndexOf('/') + 1);
    const kind = streamKind(stream);
    if (kind === 'depth' || kind === 'bookTicker' || kind === 'other') return { kind: 'ignored', what: kind };
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return malformed('invalid_json');
  }
  if (typeof parsed !== 'object' || parsed === null) return malformed('not_an_object');

  let payload: unknown = parsed;
  const outer = parsed as Record<string, unknown>;
  if (!Array.isArray(parsed) && typeof outer.stream === 'string' && 'data' in outer) {
    stream = outer.stream;
    payload = outer.data;
  }
  return normalizePayload(payload, stream, frame);
}

function normalizePayload(payload: unknown, stream: string | null, frame: Frame): NormalizeResult {
  if (typeof payload !== 'object' || payload === null) return malformed('payload_not_an_object');
  if (Array.isArray(payload)) {
    return frame.source.startsWith('rest:/fapi/v1/ticker/24hr') ? { kind: 'ignored', what: 'rest:ticker24hr' } : malformed('unexpected_array');
  }
  const p = payload as Record<string, unknown>;
  const e = p.e;
  const recv = frame.recv_ms;
  if (typeof e === 'string') {
    switch (e) {
      case 'aggTrade':
        if (!isAggTrade(p)) return malformed(schemaReason('aggTrade', AggTradeSchema, p));
        return checkStream(stream, p.s, tradeFromAgg(p, recv));
      case 'trade':
        if (!isRawTrade(p)) return malformed(schemaReason('trade', RawTradeSchema, p));
        if (p.X !== 'MARKET') return { kind: 'dropped', reason: 'non_market_trade', symbol: p.s };
        return checkStream(stream, p.s, tradeFromRaw(p, recv));
      case 'forceOrder':
        if (!isForceOrder(p)) return malformed(schemaReason('forceOrder', ForceOrderSchema, p));
        if (p.st !== undefined && p.st !== 1) return { kind: 'dropped', reason: 'coin_margined', symbol: p.o.s };
        return checkStream(stream, p.o.s, liquidation(p, recv));
      case 'kline':
        if (!isKline(p)) return malformed(schemaReason('kline', KlineSchema, p));
        return checkStream(stream, p.s, kline(p, recv));
      case 'markPriceUpdate':
        if (!isMarkPriceUpdate(p)) return malformed(schemaReason('markPriceUpdate', MarkPriceUpdateSchema, p));
        return checkStream(stream, p.s, markPrice(p, recv));
      case 'depthUpdate':
        return { kind: 'ignored', what: 'depth' };
      case 'bookTicker':
        return { kind: 'ignored', what: 'bookTicker' };
      default:
        return malformed(`unknown_event_type:${e.slice(0, 40)}`);
    }
  }
  if (frame.source.startsWith('rest:/fapi/v1/openInterest')) {
    if (!isOpenInterestRest(p)) return malformed(schemaReason('openInterest', OpenInterestRestSchema, p));
    const event: OpenInterestEvent = {
      type: 'OPEN_INTEREST',
      symbol: p.symbol,
      ts_ms: p.time,
      recv_ms: recv,
      open_interest: Number(p.openInterest),
    };
    return checkStream(null, p.symbol, event);
  }
  if ('lastUpdateId' in p) return { kind: 'ignored', what: 'rest:depth' };
  if ('symbols' in p && 'rateLimits' in p) return { kind: 'ignored', what: 'rest:exchangeInfo' };
  if ('id' in p && ('result' in p || 'error' in p || 'code' in p)) return { kind: 'ignored', what: 'control' };
  if (frame.source === '' && 'openInterest' in p && 'symbol' in p) {
    // Foreign captures do not label REST bodies; the shape is unambiguous.
    return normalizePayload(p, stream, { ...frame, source: 'rest:/fapi/v1/openInterest' });
  }
  return malformed('unknown_payload');
}

function checkStream(stream: string | null, symbol: string, event: CanonicalEvent): NormalizeResult {
  const bad = numbersInvalid(event);
  if (bad !== null) return malformed(`${bad}:${event.type}`);
  if (stream !== null && !streamNamesSymbol(stream, symbol)) {
    const fromStream = upperSymbolOfStream(stream);
    if (fromStream !== null && fromStream !== symbol) {
      return malformed(`stream_symbol_mismatch:${stream}:${symbol}`);
    }
  }
  return { kind: 'event', event };
}

/**
 * Decimal strings of absurd length pass the patterns but overflow to Infinity, or (many leading
 * zeros) underflow to 0 where the canonical contract needs a positive number; refuse both here.
 */
function numbersInvalid(event: CanonicalEvent): 'non_finite_number' | 'non_positive_number' | null {
  let finite: boolean;
  let positive: boolean;
  switch (event.type) {
    case 'TRADE':
      finite = Number.isFinite(event.quote_qty);
      positive = event.price > 0;
      break;
    case 'LIQUIDATION':
      finite =
        Number.isFinite(event.quote_qty) && Number.isFinite(event.avg_price) && Number.isFinite(event.filled_qty) && Number.isFinite(event.last_filled_qty);
      positive = event.price > 0 && event.base_qty > 0 && event.quote_qty > 0;
      break;
    case 'KLINE':
      finite = [event.open, event.high, event.low, event.close, event.base_volume, event.quote_volume].every(Number.isFinite);
      positive = event.open > 0 && event.high > 0 && event.low > 0 && event.close > 0;
      break;
    case 'MARK_PRICE':
      finite = Number.isFinite(event.mark_price) && Number.isFinite(event.index_price) && Number.isFinite(event.funding_rate);
      positive = event.mark_price > 0;
      break;
    case 'OPEN_INTEREST':
      finite = Number.isFinite(event.open_interest);
      positive = true;
      break;
  }
  return !finite ? 'non_finite_number' : !positive ? 'non_positive_number' : null;
}

function tradeFromAgg(p: AggTrade, recv: number): TradeEvent {
  const price = Number(p.p);
  const qty = Number(p.q);
  return {
    type: 'TRADE',
    symbol: p.s,
    ts_ms: p.T,
    event_time_ms: p.E,
    recv_ms: recv,
    id_kind: 'agg',
    agg_id: p.a,
    first_id: p.f,
    last_id: p.l,
    price,
    base_qty: qty,
    quote_qty: price * qty,
    side: p.m ? 'SELL' : 'BUY',
    is_buyer_maker: p.m,
  };
}

function tradeFromRaw(p: RawTrade, recv: number): TradeEvent {
  const price = Number(p.p);
  const qty = Number(p.q);
  return {
    type: 'TRADE',
    symbol: p.s,
    ts_ms: p.T,
    event_time_ms: p.E,
    recv_ms: recv,
    id_kind: 'trade',
    agg_id: p.t,
    first_id: p.t,
    last_id: p.t,
    price,
    base_qty: qty,
    quote_qty: price * qty,
    side: p.m ? 'SELL' : 'BUY',
    is_buyer_maker: p.m,
  };
}

function liquidation(p: ForceOrder, recv: number): LiquidationEvent {
  const o = p.o;
  const price = Number(o.p);
  const qty = Number(o.q);
  return {
    type: 'LIQUIDATION',
    symbol: o.s,
    ts_ms: p.E,
    order_trade_time_ms: o.T,
    recv_ms: recv,
    side: o.S,
    price,
    base_qty: qty,
    quote_qty: price * qty,
    avg_price: Number(o.ap),
    filled_qty: Number(o.z),
    last_filled_qty: Number(o.l),
    status: o.X,
    order_type: o.o,
    tif: o.f,
  };
}

function kline(p: Kline, recv: number): KlineEvent {
  const k = p.k;
  return {
    type: 'KLINE',
    symbol: p.s,
    ts_ms: p.E,
    recv_ms: recv,
    interval: k.i,
    open_time_ms: k.t,
    close_time_ms: k.T,
    open: Number(k.o),
    high: Number(k.h),
    low: Number(k.l),
    close: Number(k.c),
    base_volume: Number(k.v),
    quote_volume: Number(k.q),
    trade_count: k.n,
    closed: k.x,
    source: 'exchange',
  };
}

function markPrice(p: MarkPriceUpdate, recv: number): MarkPriceEvent {
  return {
    type: 'MARK_PRICE',
    symbol: p.s,
    ts_ms: p.E,
    recv_ms: recv,
    mark_price: Number(p.p),
    index_price: Number(p.i),
    funding_rate: p.r === '' ? 0 : Number(p.r),
    next_funding_ms: p.T,
  };
}

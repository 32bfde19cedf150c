/**
 * Validated Binance payloads → canonical events: pure functions, the local receipt time passed in.
 * Decimal strings become numbers here; `numbersInvalid` refuses the few that pass the patterns
 * but are no usable number.
 */
import type { CanonicalEvent, KlineEvent, LiquidationEvent, MarkPriceEvent, OpenInterestEvent, TradeEvent } from '../core/contracts/canonical';
import type { AggTrade, ForceOrder, Kline, MarkPriceUpdate, OpenInterestRest, RawTrade } from './schemas';

/** The fields both trade payloads carry under the same names. */
type TradeFields = Pick<AggTrade, 's' | 'E' | 'T' | 'p' | 'q' | 'm'>;

function trade(p: TradeFields, recvMs: number, idKind: TradeEvent['id_kind'], aggId: number, firstId: number, lastId: number): TradeEvent {
  const price = Number(p.p);
  const qty = Number(p.q);
  return {
    type: 'TRADE',
    symbol: p.s,
    ts_ms: p.T,
    event_time_ms: p.E,
    recv_ms: recvMs,
    id_kind: idKind,
    agg_id: aggId,
    first_id: firstId,
    last_id: lastId,
    price,
    base_qty: qty,
    quote_qty: price * qty,
    // m: the buyer was the maker, so the taker sold.
    side: p.m ? 'SELL' : 'BUY',
    is_buyer_maker: p.m,
  };
}

/** `aggTrade`: one taker order's fills at one price, ids `f`…`l` in the trade id space. */
export function parseAggTrade(p: AggTrade, recvMs: number): TradeEvent {
  return trade(p, recvMs, 'agg', p.a, p.f, p.l);
}

/** `trade`: a single fill, so its id is the whole range (raw trade id space). */
export function parseRawTrade(p: RawTrade, recvMs: number): TradeEvent {
  return trade(p, recvMs, 'trade', p.t, p.t, p.t);
}

/** `forceOrder`: the liquidation order; its event time `E` is the event's time (SPEC §13 #13). */
export function parseForceOrder(p: ForceOrder, recvMs: number): LiquidationEvent {
  const o = p.o;
  const price = Number(o.p);
  const qty = Number(o.q);
  return {
    type: 'LIQUIDATION',
    symbol: o.s,
    ts_ms: p.E,
    order_trade_time_ms: o.T,
    recv_ms: recvMs,
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

export function parseKline(p: Kline, recvMs: number): KlineEvent {
  const k = p.k;
  return {
    type: 'KLINE',
    symbol: p.s,
    ts_ms: p.E,
    recv_ms: recvMs,
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

/** `markPriceUpdate`: display only; an empty funding rate `r` reads as 0. */
export function parseMarkPrice(p: MarkPriceUpdate, recvMs: number): MarkPriceEvent {
  return {
    type: 'MARK_PRICE',
    symbol: p.s,
    ts_ms: p.E,
    recv_ms: recvMs,
    mark_price: Number(p.p),
    index_price: Number(p.i),
    funding_rate: p.r === '' ? 0 : Number(p.r),
    next_funding_ms: p.T,
  };
}

/** REST `openInterest`: the response's exchange `time`, so OI lands on the trades' clock (SPEC §2.2). */
export function parseOpenInterest(p: OpenInterestRest, recvMs: number): OpenInterestEvent {
  return {
    type: 'OPEN_INTEREST',
    symbol: p.symbol,
    ts_ms: p.time,
    recv_ms: recvMs,
    open_interest: Number(p.openInterest),
  };
}

/**
 * Decimal strings of absurd length pass the patterns but overflow to Infinity, or (many leading
 * zeros) underflow to 0 where the canonical contract needs a positive number; refuse both here.
 */
export function numbersInvalid(event: CanonicalEvent): 'non_finite_number' | 'non_positive_number' | null {
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

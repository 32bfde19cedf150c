/**
 * Canonical event literals shared by the tests (test/helpers.ts, which validates them) and the
 * benchmarks (bench/synthetic-market.ts, which feeds them straight to the engine).
 */
import type { LiquidationEvent } from '../src/core/contracts/canonical';
import type { Side } from '../src/core/contracts/primitives';

export interface LiquidationFields {
  symbol: string;
  /** Event time E (ms). */
  ts: number;
  /** The order's trade time T (ms). */
  orderTradeTs: number;
  recv: number;
  side: Side;
  price: number;
  qty: number;
}

/** A fully filled liquidation order (FILLED, LIMIT, IOC), as the exchange reports them. */
export function liquidationEvent(f: LiquidationFields): LiquidationEvent {
  return {
    type: 'LIQUIDATION',
    symbol: f.symbol,
    ts_ms: f.ts,
    order_trade_time_ms: f.orderTradeTs,
    recv_ms: f.recv,
    side: f.side,
    price: f.price,
    base_qty: f.qty,
    quote_qty: f.price * f.qty,
    avg_price: f.price,
    filled_qty: f.qty,
    last_filled_qty: f.qty,
    status: 'FILLED',
    order_type: 'LIMIT',
    tif: 'IOC',
  };
}

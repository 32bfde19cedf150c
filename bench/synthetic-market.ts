/**
 * Market input for the sections that need 10 busy symbols: the capture's real trades cloned onto
 * other symbols (symbol, ids and times shifted so each clone is a consistent stream), and
 * SYNTHETIC canonical liquidations. Shared by the commit-latency and ui-render sections.
 */
import type { LiquidationEvent, TradeEvent } from '../src/core/contracts/canonical';
import { normalizeFrame } from '../src/binance/normalize';
import type { Frame } from '../src/core/source';
import { liquidationEvent } from '../test/builders';

/** An endless, time-consistent stream of one source symbol's real trades, relabelled. */
export class TradeClone {
  private idx = 0;
  private cycle = 0;
  private readonly span: number;
  private readonly idSpan: number;

  constructor(
    private readonly src: readonly TradeEvent[],
    private readonly symbol: string,
  ) {
    const first = src[0] as TradeEvent;
    const last = src[src.length - 1] as TradeEvent;
    this.span = last.ts_ms - first.ts_ms + 1000;
    this.idSpan = Math.max(...src.map((t) => t.agg_id)) - Math.min(...src.map((t) => t.agg_id)) + 1;
  }

  get nextTs(): number {
    return (this.src[this.idx] as TradeEvent).ts_ms + this.cycle * this.span;
  }

  next(): TradeEvent {
    const b = this.src[this.idx] as TradeEvent;
    const dt = this.cycle * this.span;
    const di = this.cycle * this.idSpan;
    if (++this.idx === this.src.length) {
      this.idx = 0;
      this.cycle++;
    }
    return {
      ...b,
      symbol: this.symbol,
      ts_ms: b.ts_ms + dt,
      event_time_ms: b.event_time_ms + dt,
      recv_ms: b.recv_ms + dt,
      agg_id: b.agg_id + di,
      first_id: b.first_id + di,
      last_id: b.last_id + di,
    };
  }
}

export function liquidation(symbol: string, ts: number, n: number): LiquidationEvent {
  // The price is unique per event, so the duplicate-liquidation rule never drops one.
  return liquidationEvent({ symbol, ts, orderTradeTs: ts, recv: ts, side: n % 2 === 0 ? 'SELL' : 'BUY', price: 1000 + n, qty: 1 + (n % 7) });
}

/** The capture's real trades per source symbol, in time order, cloned round-robin onto `symbols`. */
export function tradeClones(frames: readonly Frame[], symbols: readonly string[]): TradeClone[] {
  const bySource = new Map<string, TradeEvent[]>();
  for (const f of frames) {
    const r = normalizeFrame(f);
    if (r.kind !== 'event' || r.event.type !== 'TRADE') continue;
    const list = bySource.get(r.event.symbol) ?? [];
    list.push(r.event);
    bySource.set(r.event.symbol, list);
  }
  const sources = [...bySource.values()].filter((l) => l.length > 0);
  if (sources.length === 0) throw new Error('no trades in the capture');
  for (const s of sources) s.sort((a, b) => a.ts_ms - b.ts_ms || a.agg_id - b.agg_id);
  return symbols.map((s, j) => new TradeClone(sources[j % sources.length] as TradeEvent[], s));
}

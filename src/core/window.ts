/**
 * One symbol's 1-second window on the epoch grid: the trades that fell in it, folded at close
 * in `(T, id)` order so sums and the synthetic candle are identical on every replay (SPEC §4.2.8).
 */
import type { TradeEvent } from './contracts/canonical';

export interface Candle {
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface WindowMetrics extends Candle {
  trade_count: number;
  buy_notional: number;
  sell_notional: number;
  abs_flow: number;
  net_aggression: number;
  mean_trade_size: number;
}

export class WindowAccumulator {
  /** Window index: covers exchange time [k·1000, (k+1)·1000). */
  k = 0;
  private ts: number[] = [];
  private ids: number[] = [];
  private prices: number[] = [];
  private notionals: number[] = [];
  private buys: boolean[] = [];
  private inOrder = true;

  reset(k: number): this {
    this.k = k;
    this.ts.length = 0;
    this.ids.length = 0;
    this.prices.length = 0;
    this.notionals.length = 0;
    this.buys.length = 0;
    this.inOrder = true;
    return this;
  }

  get count(): number {
    return this.ts.length;
  }

  add(t: TradeEvent): void {
    const n = this.ts.length;
    if (n > 0) {
      const lastT = this.ts[n - 1] as number;
      if (t.ts_ms < lastT || (t.ts_ms === lastT && t.agg_id < (this.ids[n - 1] as number))) this.inOrder = false;
    }
    this.ts.push(t.ts_ms);
    this.ids.push(t.agg_id);
    this.prices.push(t.price);
    this.notionals.push(t.quote_qty);
    this.buys.push(t.side === 'BUY');
  }

  /** Trades arrived out of order (reconnect replays, exchange batching): restore (T, id) order. */
  private ensureOrder(): void {
    if (this.inOrder) return;
    const n = this.ts.length;
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => (this.ts[a] as number) - (this.ts[b] as number) || (this.ids[a] as number) - (this.ids[b] as number));
    const perm = <T>(arr: T[]): T[] => idx.map((i) => arr[i] as T);
    this.ts = perm(this.ts);
    this.ids = perm(this.ids);
    this.prices = perm(this.prices);
    this.notionals = perm(this.notionals);
    this.buys = perm(this.buys);
    this.inOrder = true;
  }

  /** Metrics of a non-empty window (SPEC §4.3). */
  metrics(): WindowMetrics {
    this.ensureOrder();
    const n = this.ts.length;
    let buy = 0;
    let sell = 0;
    let high = -Infinity;
    let low = Infinity;
    for (let i = 0; i < n; i++) {
      const notional = this.notionals[i] as number;
      if (this.buys[i]) buy += notional;
      else sell += notional;
      const p = this.prices[i] as number;
      if (p > high) high = p;
      if (p < low) low = p;
    }
    const absFlow = buy + sell;
    return {
      trade_count: n,
      buy_notional: buy,
      sell_notional: sell,
      abs_flow: absFlow,
      net_aggression: buy - sell,
      mean_trade_size: absFlow / n,
      open: this.prices[0] as number,
      high,
      low,
      close: this.prices[n - 1] as number,
    };
  }

  /** The largest single trade notional (inspection: how far condition 2 cleared its bar). */
  maxNotional(): number {
    let max = 0;
    for (const v of this.notionals) if (v > max) max = v;
    return max;
  }

  /** Trades whose notional is at or above `threshold` (condition 2, SPEC §4.3). */
  countAtLeast(threshold: number): number {
    let c = 0;
    for (const v of this.notionals) if (v >= threshold) c++;
    return c;
  }
}

export interface BodyShape {
  body_ratio: number;
  compressed: boolean;
  expanded: boolean;
}

/**
 * Option A of SPEC §6.3: body/range against fixed cut-offs. A zero-range candle is the limiting
 * case of compression (body_ratio 0).
 */
export function bodyShape(c: Candle, compressionMax: number, expansionMin: number): BodyShape {
  const range = c.high - c.low;
  if (range <= 0) return { body_ratio: 0, compressed: true, expanded: false };
  const ratio = Math.abs(c.close - c.open) / range;
  return { body_ratio: ratio, compressed: ratio <= compressionMax, expanded: ratio >= expansionMin };
}

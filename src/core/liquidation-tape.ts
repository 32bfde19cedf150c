/**
 * Liquidation tape by price (SPEC §19): per symbol, the liquidations of the last 60 min grouped in
 * price buckets 0.1 % of the latest price wide (rounded to the tick), with count and notional per
 * side and first/last time, newest activity first. A table, no chart.
 *
 * Pure: time is the exchange-time watermark passed in; entries are kept in `E` order (late ones
 * inserted in place, like the retention buffer of §7.3) and at most MAX_PER_SYMBOL of them (the
 * exchange's ceiling is one per symbol per second, 3,600 an hour), the excess counted. The bucket
 * width follows the latest price, so buckets are derived when the table is read, not stored.
 */
import type { LiquidationEvent } from './contracts/canonical';
import type { LiquidationTapeSection, SymbolTape, TapeBucket } from './contracts/liquidation-tape';
import { dueForCompaction } from './front-pruned';

export const TAPE = Object.freeze({
  /** Liquidations older than this before the watermark leave the tape [PROP]. */
  WINDOW_MS: 3_600_000,
  /** Bucket width as a fraction of the latest price [PROP]. */
  BUCKET_FRACTION: 0.001,
  /** Entries kept per symbol; above one per second for the whole window. */
  MAX_PER_SYMBOL: 4_096,
  /** Buckets per symbol in the snapshot (the table shows the newest activity). */
  ROWS_SHOWN: 20,
});

interface Entry {
  ts: number;
  buy: boolean;
  price: number;
  notional: number;
}

/** Decimal places of a tick (0.1 → 1, 0.0001 → 4, 5 → 0), without trusting String() for tiny ticks. */
export function tickDecimals(tick: number): number {
  for (let d = 0; d <= 12; d++) {
    const scaled = tick * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) return d;
  }
  return 12;
}

class SymbolEntries {
  private entries: Entry[] = [];
  private head = 0;
  evicted = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Slots the array holds, pruned ones not yet compacted included. */
  get slots(): number {
    return this.entries.length;
  }

  add(e: Entry): void {
    const es = this.entries;
    if (es.length === this.head || (es[es.length - 1] as Entry).ts <= e.ts) es.push(e);
    else {
      let lo = this.head;
      let hi = es.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((es[mid] as Entry).ts <= e.ts) lo = mid + 1;
        else hi = mid;
      }
      es.splice(lo, 0, e);
    }
    if (this.size > TAPE.MAX_PER_SYMBOL) {
      this.head++;
      this.evicted++;
    }
    this.compact();
  }

  pruneAtOrBefore(cutoffMs: number): void {
    while (this.head < this.entries.length && (this.entries[this.head] as Entry).ts <= cutoffMs) this.head++;
    this.compact();
  }

  *live(): Generator<Entry> {
    for (let i = this.head; i < this.entries.length; i++) yield this.entries[i] as Entry;
  }

  newestPrice(): number | null {
    return this.size === 0 ? null : (this.entries[this.entries.length - 1] as Entry).price;
  }

  private compact(): void {
    if (dueForCompaction(this.head, this.entries.length)) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** What the table needs besides the liquidations: the price the width follows, and the tick. */
export interface TapePricing {
  /** Last trade price; null falls back to the newest liquidation's price. */
  latestPrice: number | null;
  /** Exchange tick size (exchangeInfo PRICE_FILTER), or 10^−precision inferred from trades. */
  tick: number;
}

export class LiquidationTape {
  private readonly bySymbol = new Map<string, SymbolEntries>();
  /** Liquidations of symbols outside the allow-list (none reach it through the engine). */
  notAllowed = 0;
  asOfMs: number | null = null;

  constructor(readonly symbols: readonly string[]) {
    for (const s of symbols) this.bySymbol.set(s, new SymbolEntries());
  }

  /** An accepted liquidation (after the engine's duplicate check). */
  add(l: LiquidationEvent): void {
    const store = this.bySymbol.get(l.symbol);
    if (store === undefined) {
      this.notAllowed++;
      return;
    }
    if (this.asOfMs !== null && l.ts_ms <= this.asOfMs - TAPE.WINDOW_MS) return;
    store.add({ ts: l.ts_ms, buy: l.side === 'BUY', price: l.price, notional: l.quote_qty });
  }

  /** Move the window's end to the watermark; entries at or before end − 60 min leave. */
  advanceTo(watermarkMs: number): void {
    if (this.asOfMs !== null && watermarkMs <= this.asOfMs) return;
    this.asOfMs = watermarkMs;
    for (const s of this.bySymbol.values()) s.pruneAtOrBefore(watermarkMs - TAPE.WINDOW_MS);
  }

  /** One symbol's entries in the window, and the array slots they occupy (pruned ones not yet compacted included). */
  held(symbol: string): { entries: number; slots: number } {
    const store = this.bySymbol.get(symbol);
    return { entries: store?.size ?? 0, slots: store?.slots ?? 0 };
  }

  /** One symbol's table; `rows` caps the buckets returned (all by default). */
  view(symbol: string, pricing: TapePricing, rows = Infinity): SymbolTape {
    const store = this.bySymbol.get(symbol);
    const latest = pricing.latestPrice ?? store?.newestPrice() ?? null;
    const empty: SymbolTape = {
      latest_price: latest,
      tick: pricing.tick,
      bucket_width: null,
      liquidations: 0,
      buckets_total: 0,
      buckets: [],
      evicted: store?.evicted ?? 0,
    };
    if (store === undefined || latest === null || !(pricing.tick > 0)) return empty;
    const tick = pricing.tick;
    const dec = tickDecimals(tick);
    const onGrid = (ticks: number): number => Number((ticks * tick).toFixed(dec));
    const widthTicks = Math.max(1, Math.round((latest * TAPE.BUCKET_FRACTION) / tick));
    const buckets = new Map<number, TapeBucket>();
    let n = 0;
    for (const e of store.live()) {
      n++;
      const idx = Math.floor(Math.round(e.price / tick) / widthTicks);
      let b = buckets.get(idx);
      if (b === undefined) {
        b = {
          low: onGrid(idx * widthTicks),
          high: onGrid((idx + 1) * widthTicks),
          buy_count: 0,
          buy_notional: 0,
          sell_count: 0,
          sell_notional: 0,
          first_ms: e.ts,
          last_ms: e.ts,
        };
        buckets.set(idx, b);
      }
      if (e.buy) {
        b.buy_count++;
        b.buy_notional += e.notional;
      } else {
        b.sell_count++;
        b.sell_notional += e.notional;
      }
      // Entries come in time order, so the last one seen is the newest.
      b.last_ms = e.ts;
    }
    const sorted = [...buckets.values()].sort((a, b) => b.last_ms - a.last_ms || b.low - a.low);
    return {
      latest_price: latest,
      tick,
      bucket_width: onGrid(widthTicks),
      liquidations: n,
      buckets_total: sorted.length,
      buckets: sorted.slice(0, rows),
      evicted: store.evicted,
    };
  }

  /** The snapshot section; `pricing` per symbol (symbols without it get an empty table). */
  section(pricing: (symbol: string) => TapePricing): LiquidationTapeSection {
    const per: Record<string, SymbolTape> = {};
    for (const s of this.symbols) per[s] = this.view(s, pricing(s), TAPE.ROWS_SHOWN);
    return { window_ms: TAPE.WINDOW_MS, bucket_fraction: TAPE.BUCKET_FRACTION, as_of_ms: this.asOfMs, counts_are_lower_bounds: true, per_symbol: per };
  }
}

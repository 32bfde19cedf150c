/**
 * The liquidation tape (SPEC §19) on real liquidations: the `!forceOrder@arr` rows of the
 * 2025-01-27 selloff (forceorder_csv, read from ../shared at run time: no license, not vendored),
 * deduplicated as its README says. Every assertion is recomputed here from the rows themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type LiquidationEvent, LiquidationEventSchema } from '../src/core/contracts/canonical';
import { LiquidationTapeSectionSchema, type SymbolTape } from '../src/core/contracts/liquidation-tape';
import { FRONT_PRUNED_MIN } from '../src/core/front-pruned';
import { LiquidationTape, TAPE, tickDecimals } from '../src/core/liquidation-tape';
import { haveShared, SHARED_DATA } from './fixtures/paths';
import { EventFactory } from './helpers';

const CSV = join(SHARED_DATA, 'forceorder_csv', 'data_streams_for_crypto', 'binance.csv.gz');

/** `s,S,o,f,q,p,ap,X,l,z,T,usd_size`, "USDT" stripped by the recorder, two recorders → every line twice. */
function realLiquidations(): { events: LiquidationEvent[]; decimals: Map<string, number> } {
  const seen = new Set<string>();
  const events: LiquidationEvent[] = [];
  const decimals = new Map<string, number>();
  for (const line of gunzipSync(readFileSync(CSV)).toString('utf8').split('\n')) {
    if (line === '' || seen.has(line)) continue;
    seen.add(line);
    const [s, S, o, f, q, p, ap, X, l, z, T] = line.split(',') as string[];
    const symbol = (s as string).endsWith('USDC') ? (s as string) : `${s}USDT`;
    const price = Number(p);
    const qty = Number(q);
    const dot = (p as string).indexOf('.');
    decimals.set(symbol, Math.max(decimals.get(symbol) ?? 0, dot < 0 ? 0 : (p as string).length - dot - 1));
    events.push(
      LiquidationEventSchema.parse({
        type: 'LIQUIDATION',
        symbol,
        // The CSV keeps the order trade time T, not the event time E.
        ts_ms: Number(T),
        order_trade_time_ms: Number(T),
        recv_ms: Number(T),
        side: S,
        price,
        base_qty: qty,
        quote_qty: price * qty,
        avg_price: Number(ap),
        filled_qty: Number(z),
        last_filled_qty: Number(l),
        status: X,
        order_type: o,
        tif: f,
      }),
    );
  }
  return { events, decimals };
}

/** Independent of the tape: which rows are in the window, and what they sum to. */
function inWindow(events: readonly LiquidationEvent[], symbol: string, asOf: number): LiquidationEvent[] {
  return events.filter((e) => e.symbol === symbol && e.ts_ms > asOf - TAPE.WINDOW_MS && e.ts_ms <= asOf);
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

describe.runIf(haveShared([CSV], 'forceorder_csv liquidations'))('liquidation tape on the 2025-01-27 selloff', () => {
  const { events, decimals } = haveShared([CSV], 'forceorder_csv') ? realLiquidations() : { events: [], decimals: new Map<string, number>() };
  const selloff = events.filter((e) => e.ts_ms >= Date.UTC(2025, 0, 27, 16, 50) && e.ts_ms < Date.UTC(2025, 0, 27, 17, 21));
  const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'ACHUSDT', 'SPELLUSDT'];
  const tickOf = (s: string): number => 10 ** -(decimals.get(s) ?? 2);

  function replay(upTo: number): { tape: LiquidationTape; asOf: number } {
    const tape = new LiquidationTape(SYMBOLS);
    let asOf = 0;
    for (const e of events) {
      if (e.ts_ms > upTo) continue;
      tape.add(e);
      asOf = Math.max(asOf, e.ts_ms);
      tape.advanceTo(asOf);
    }
    return { tape, asOf };
  }

  it('has the real selloff: 1,349 unique liquidations in 16:50–17:21, mostly longs', () => {
    expect(selloff).toHaveLength(1349);
    expect(selloff.filter((e) => e.side === 'SELL').length).toBeGreaterThan(selloff.length / 2);
  });

  it.each(SYMBOLS)('%s: counts and notionals per side add up to the rows of the last 60 min, each row in the one bucket that holds its price', (symbol) => {
    const { tape, asOf } = replay(Date.UTC(2025, 0, 27, 17, 21));
    const rows = inWindow(events, symbol, asOf);
    expect(rows.length).toBeGreaterThan(10);
    const latest = (rows[rows.length - 1] as LiquidationEvent).price;
    const tick = tickOf(symbol);
    const view = tape.view(symbol, { latestPrice: latest, tick });
    const width = Math.max(1, Math.round((latest * 0.001) / tick)) * tick;
    expect(view.bucket_width).toBeCloseTo(width, tickDecimals(tick));
    expect(view.liquidations).toBe(rows.length);
    expect(sum(view.buckets.map((b) => b.buy_count + b.sell_count))).toBe(rows.length);
    for (const side of ['BUY', 'SELL'] as const) {
      const mine = rows.filter((r) => r.side === side);
      const got = side === 'BUY' ? view.buckets.map((b) => b.buy_notional) : view.buckets.map((b) => b.sell_notional);
      expect(sum(got)).toBeCloseTo(sum(mine.map((r) => r.price * r.base_qty)), 6);
      expect(sum(view.buckets.map((b) => (side === 'BUY' ? b.buy_count : b.sell_count)))).toBe(mine.length);
    }
    for (const r of rows) {
      const p = Math.round(r.price / tick) * tick;
      const holders = view.buckets.filter((b) => b.low - tick / 2 <= p && p < b.high - tick / 2);
      expect(holders, `${symbol} @ ${r.price}`).toHaveLength(1);
      const b = holders[0] as SymbolTape['buckets'][number];
      expect(b.first_ms <= r.ts_ms && r.ts_ms <= b.last_ms).toBe(true);
      expect(b.high - b.low).toBeCloseTo(width, tickDecimals(tick));
    }
    // Newest activity first.
    const lasts = view.buckets.map((b) => b.last_ms);
    expect(lasts).toEqual([...lasts].sort((a, b) => b - a));
    expect(view.buckets[0]?.last_ms).toBe(Math.max(...rows.map((r) => r.ts_ms)));
  });

  it('keeps only the last 60 min of the watermark', () => {
    const { tape, asOf } = replay(Date.UTC(2025, 0, 27, 17, 21));
    const symbol = 'BTCUSDT';
    const pricing = { latestPrice: 100_000, tick: tickOf(symbol) };
    const later = asOf + 40 * 60_000;
    tape.advanceTo(later);
    expect(tape.view(symbol, pricing).liquidations).toBe(inWindow(events, symbol, later).length);
    tape.advanceTo(asOf + TAPE.WINDOW_MS);
    expect(tape.view(symbol, pricing)).toMatchObject({ liquidations: 0, buckets: [] });
  });

  it('the snapshot section validates and shows at most 20 buckets per symbol', () => {
    const { tape } = replay(Date.UTC(2025, 0, 27, 17, 21));
    const section = tape.section((s) => ({ latestPrice: null, tick: tickOf(s) }));
    expect(() => LiquidationTapeSectionSchema.parse(section)).not.toThrow();
    const btc = section.per_symbol.BTCUSDT as SymbolTape;
    expect(btc.buckets.length).toBeLessThanOrEqual(TAPE.ROWS_SHOWN);
    expect(btc.buckets_total).toBeGreaterThanOrEqual(btc.buckets.length);
    // No trade price given: the width follows the newest liquidation's price.
    expect(btc.latest_price).toBe(inWindow(events, 'BTCUSDT', tape.asOfMs as number).at(-1)?.price);
  });
});

describe('liquidation tape bounds', () => {
  const f = new EventFactory('BTCUSDT');

  it('memory is capped per symbol; the oldest are evicted and counted', () => {
    const tape = new LiquidationTape(['BTCUSDT']);
    const t0 = 1_737_997_000_000;
    for (let i = 0; i < TAPE.MAX_PER_SYMBOL + 100; i++) tape.add(f.liquidation({ ts: t0 + i * 100, price: 100_000 + (i % 50) }));
    tape.advanceTo(t0 + (TAPE.MAX_PER_SYMBOL + 100) * 100);
    const v = tape.view('BTCUSDT', { latestPrice: 100_000, tick: 0.1 });
    expect(v.liquidations).toBe(TAPE.MAX_PER_SYMBOL);
    expect(v.evicted).toBe(100);
  });

  it('a late liquidation lands in time order; one older than the window is not kept', () => {
    const tape = new LiquidationTape(['BTCUSDT']);
    const t0 = 1_737_997_000_000;
    tape.add(f.liquidation({ ts: t0 + 2_000, price: 100_000 }));
    tape.advanceTo(t0 + 2_000);
    tape.add(f.liquidation({ ts: t0 + 1_000, price: 100_000, side: 'BUY' }));
    tape.add(f.liquidation({ ts: t0 + 2_000 - TAPE.WINDOW_MS, price: 100_000 }));
    const [b] = tape.view('BTCUSDT', { latestPrice: 100_000, tick: 0.1 }).buckets;
    expect(b).toMatchObject({ low: 100_000, high: 100_100, buy_count: 1, sell_count: 1, first_ms: t0 + 1_000, last_ms: t0 + 2_000 });
    expect(tape.view('XRPUSDT', { latestPrice: 1, tick: 0.0001 }).liquidations).toBe(0);
  });

  it('holds the last hour and little more over two days of a market rate (the memory-day leak: 1024 pruned entries kept per symbol)', () => {
    const tape = new LiquidationTape(['BTCUSDT']);
    const t0 = 1_737_997_000_000;
    const every = 97_000; // ~37 liquidations an hour, the demo scenario's rate
    const perWindow = Math.floor(TAPE.WINDOW_MS / every);
    let maxSlots = 0;
    let worst = -Infinity;
    let wrongCounts = 0;
    for (let ts = t0; ts < t0 + 48 * 3_600_000; ts += every) {
      tape.add(f.liquidation({ ts, price: 100_000 + (ts % 7) }));
      tape.advanceTo(ts);
      const h = tape.held('BTCUSDT');
      // Exactly the liquidations in (ts − 60 min, ts]: pruning works ...
      if (h.entries !== Math.min(Math.floor((ts - t0) / every), perWindow) + 1) wrongCounts++;
      // ... and what was pruned is let go: the array stays within 2 × live + the compaction minimum.
      worst = Math.max(worst, h.slots - (2 * h.entries + FRONT_PRUNED_MIN + 1));
      maxSlots = Math.max(maxSlots, h.slots);
    }
    expect(wrongCounts).toBe(0);
    expect(worst).toBeLessThanOrEqual(0);
    // The old rule (compact past 1024 pruned) reached 1024 + 37 slots after 28 h here and stayed there.
    expect(maxSlots).toBeLessThan(2 * (perWindow + 1) + FRONT_PRUNED_MIN + 2);
  });
});

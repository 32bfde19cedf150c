/**
 * SPEC §4.2 windowing (epoch grid, watermark, grace, empty windows, gap rule, late and future
 * events, deterministic fold order), §5.3 warm-up, §2.3 allow-list and per-symbol isolation,
 * §6.1 counter partition, and replay determinism.
 */
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../src/core/contracts/canonical';
import { OUTCOME_COUNTERS, PARTITION_KEYS, WINDOW_OUTCOMES } from '../src/core/contracts/counters';
import type { Side } from '../src/core/contracts/primitives';
import { Engine } from '../src/core/engine';
import type { ClosedWindow, SymbolDetector } from '../src/core/symbol-detector';
import { SystemState } from '../src/core/system-state';
import { EventFactory, feedStandardBaseline, mulberry32, partitionSum, snapshotPartitionSum, WindowRecorder } from './helpers';

const K0 = 1_767_701_000; // an arbitrary epoch second

function det(engine: Engine, symbol: string): SymbolDetector {
  const d = engine.detector(symbol);
  if (d === undefined) throw new Error(`no detector for ${symbol}`);
  return d;
}

function setup(symbols: string[] = ['BTCUSDT']): { engine: Engine; rec: WindowRecorder; f: EventFactory } {
  const rec = new WindowRecorder();
  const engine = new Engine({ symbols, onWindow: rec.onWindow });
  return { engine, rec, f: new EventFactory(symbols[0]) };
}

describe('epoch grid (SPEC §4.2.1)', () => {
  it('a trade at T belongs to window floor(T/1000); boundaries are [k·1000, (k+1)·1000)', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: K0 * 1000 + 999, price: 101, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: (K0 + 1) * 1000, price: 102, qty: 2, side: 'SELL' }));
    engine.advanceTo((K0 + 3) * 1000);
    const w0 = rec.one('BTCUSDT', K0 * 1000);
    const w1 = rec.one('BTCUSDT', (K0 + 1) * 1000);
    expect(w0.metrics?.trade_count).toBe(2);
    expect(w0.metrics?.abs_flow).toBe(201);
    expect(w1.metrics?.trade_count).toBe(1);
    expect(w1.metrics?.abs_flow).toBe(204);
  });

  it('the grid is aligned to epoch seconds, not anchored at the first event', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 737, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: K0 * 1000 + 1500, price: 100, qty: 1, side: 'BUY' }));
    engine.advanceTo((K0 + 5) * 1000);
    const starts = rec.windows.filter((w) => w.metrics !== null).map((w) => w.window_start_ms);
    expect(starts).toEqual([K0 * 1000, (K0 + 1) * 1000]);
    for (const w of rec.windows) expect(w.window_start_ms % 1000).toBe(0);
  });

  it('the same trade times give the same windows in every symbol (one global grid)', () => {
    const { engine, rec, f } = setup(['BTCUSDT', 'ETHUSDT']);
    engine.ingest(f.trade({ symbol: 'BTCUSDT', ts: K0 * 1000 + 10, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: K0 * 1000 + 990, price: 10, qty: 1, side: 'BUY' }));
    engine.advanceTo((K0 + 2) * 1000);
    expect(rec.one('BTCUSDT', K0 * 1000).metrics?.trade_count).toBe(1);
    expect(rec.one('ETHUSDT', K0 * 1000).metrics?.trade_count).toBe(1);
  });
});

describe('closing rule and grace (SPEC §4.2.3)', () => {
  it('window k closes when W ≥ (k+1)·1000 + 1000, not 1 ms earlier; k+1 stays open', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 100, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: (K0 + 1) * 1000 + 100, price: 100, qty: 1, side: 'BUY' }));
    engine.advanceTo((K0 + 2) * 1000 - 1);
    expect(rec.of('BTCUSDT', K0 * 1000)).toHaveLength(0);
    engine.advanceTo((K0 + 2) * 1000);
    expect(rec.of('BTCUSDT', K0 * 1000)).toHaveLength(1);
    expect(rec.of('BTCUSDT', (K0 + 1) * 1000)).toHaveLength(0);
    expect(engine.firstOpenWindow).toBe(K0 + 1);
  });

  it('a trade arriving within the grace is still folded into its window', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 100, price: 100, qty: 1, side: 'BUY' }));
    // Watermark already 1.9 s past the window start, 0.9 s past its end: still within the grace.
    engine.ingest(f.trade({ ts: K0 * 1000 + 1900, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: K0 * 1000 + 999, price: 105, qty: 1, side: 'SELL' }));
    engine.advanceTo((K0 + 3) * 1000);
    const w = rec.one('BTCUSDT', K0 * 1000);
    expect(w.metrics?.trade_count).toBe(2);
    expect(w.metrics?.close).toBe(105);
    expect(det(engine, 'BTCUSDT').counters.window_not_closed).toBe(0);
  });

  it('the watermark never decreases; an older event does not reopen anything', () => {
    const { engine, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 5000, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: K0 * 1000 + 4500, price: 100, qty: 1, side: 'BUY' }));
    expect(engine.watermark).toBe(K0 * 1000 + 5000);
    engine.advanceTo(K0 * 1000);
    expect(engine.watermark).toBe(K0 * 1000 + 5000);
  });
});

describe('empty windows (SPEC §4.2.4)', () => {
  it('are closed and counted, not evaluated, and do not enter the baselines', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 500, price: 100, qty: 3, side: 'BUY' }));
    engine.ingest(f.trade({ ts: (K0 + 5) * 1000 + 500, price: 100, qty: 7, side: 'BUY' }));
    engine.advanceTo((K0 + 7) * 1000);
    const d = det(engine, 'BTCUSDT');
    const mine = rec.windows.filter((w) => w.symbol === 'BTCUSDT');
    expect(d.counters.windows_processed).toBe(mine.length);
    for (let k = K0 + 1; k <= K0 + 4; k++) {
      const w = rec.one('BTCUSDT', k * 1000);
      expect(w.outcome).toBe('empty');
      expect(w.metrics).toBeNull();
      expect(w.p90_abs_flow).toBeNull();
    }
    expect(d.counters.empty_windows).toBe(mine.filter((w) => w.outcome === 'empty').length);
    expect(d.counters.empty_windows).toBeGreaterThanOrEqual(4);
    expect(d.counters.baseline_not_warm).toBe(2);
    expect(d.flowHistory.values()).toEqual([300, 700]);
    expect(d.sizeHistory.values()).toEqual([300, 700]);
  });

  it('are not evaluated even when warm (no flow_surge_failed), and leave the baselines untouched', () => {
    const { engine, rec, f } = setup();
    feedStandardBaseline(engine, f, K0);
    engine.advanceTo((K0 + 61) * 1000);
    const d = det(engine, 'BTCUSDT');
    expect(d.warm).toBe(true);
    const before = { ...d.counters };
    const flows = d.flowHistory.values();
    engine.advanceTo((K0 + 61 + 30) * 1000);
    expect(d.counters.windows_processed - before.windows_processed).toBe(30);
    expect(d.counters.empty_windows - before.empty_windows).toBe(30);
    expect(d.counters.flow_surge_failed).toBe(before.flow_surge_failed);
    expect(d.counters.missing_streams).toBe(before.missing_streams);
    expect(d.flowHistory.values()).toEqual(flows);
    expect(rec.windows.filter((w) => w.window_start_ms >= (K0 + 60) * 1000).every((w) => w.outcome === 'empty')).toBe(true);
  });
});

describe('warm-up (SPEC §5.3)', () => {
  /** One trade of notional 100 every other second: 60 non-empty windows over ~120 s. */
  function coldRun(nonEmpty: number): { engine: Engine; rec: WindowRecorder; f: EventFactory; lastK: number } {
    const { engine, rec, f } = setup(['BTCUSDT', 'ETHUSDT']);
    let k = K0;
    for (let i = 0; i < nonEmpty; i++) {
      engine.ingest(f.trade({ ts: k * 1000 + 400, price: 100, qty: 1, side: i % 2 ? 'BUY' : 'SELL' }));
      k += 2;
    }
    const lastK = k - 2;
    engine.advanceTo((lastK + 2) * 1000);
    return { engine, rec, f, lastK };
  }

  it('59 non-empty windows are not enough; empty windows do not count towards warm-up', () => {
    const { engine } = coldRun(59);
    const d = det(engine, 'BTCUSDT');
    expect(d.counters.empty_windows).toBeGreaterThanOrEqual(58);
    expect(d.flowHistory.length).toBe(59);
    expect(d.warm).toBe(false);
    expect(d.counters.baseline_not_warm).toBe(59);
  });

  it('exactly 60 non-empty windows warm the symbol; the 60th is itself still cold', () => {
    const { engine, rec, f, lastK } = coldRun(60);
    const d = det(engine, 'BTCUSDT');
    expect(d.warm).toBe(true);
    expect(d.counters.baseline_not_warm).toBe(60);
    expect(rec.one('BTCUSDT', lastK * 1000).outcome).toBe('baseline_not_warm');
    const state = new SystemState(engine, 'r', 'REPLAY');
    const snap = state.commit(0);
    expect(snap.counters.dropped_events.baseline_not_ready).toBe(60);
    expect(snap.counters.baseline_not_warm).toBe(60);
    expect(snap.baseline_status).toEqual({ ready_symbols: 1, total_symbols: 2 });

    // The 61st non-empty window is evaluated: 100 ≥ P90 (100), 100 ≥ P95 (100), single-price candle
    // (compressed), no liquidation and OI never polled → missing_streams (step 4, stale OI).
    const k61 = lastK + 2;
    engine.ingest(f.trade({ ts: k61 * 1000 + 400, price: 100, qty: 1, side: 'BUY' }));
    engine.advanceTo((k61 + 2) * 1000);
    const w = rec.one('BTCUSDT', k61 * 1000);
    expect(w.outcome).toBe('missing_streams');
    expect(w.p90_abs_flow).toBe(100);
    expect(w.p95_trade_size).toBe(100);
    expect(d.counters.baseline_not_warm).toBe(60);
  });

  it('warmness never regresses: not after long empty stretches, nor after a gap reset', () => {
    const { engine, rec, f, lastK } = coldRun(60);
    const d = det(engine, 'BTCUSDT');
    expect(d.warm).toBe(true);
    engine.advanceTo((lastK + 2) * 1000 + 59_000); // 59 s of silence
    expect(d.warm).toBe(true);
    engine.advanceTo((lastK + 2) * 1000 + 59_000 + 120_000); // gap reset
    expect(engine.counters.gap_resets).toBe(1);
    expect(d.warm).toBe(true);
    expect(d.flowHistory.length).toBe(60);
    const k = Math.floor((engine.watermark as number) / 1000);
    engine.ingest(f.trade({ ts: k * 1000 + 100, price: 100, qty: 1, side: 'BUY' }));
    engine.advanceTo((k + 2) * 1000);
    expect(rec.one('BTCUSDT', k * 1000).outcome).not.toBe('baseline_not_warm');
    expect(d.counters.baseline_not_warm).toBe(60);
  });
});

describe('late events (SPEC §4.2.6)', () => {
  it('a trade whose window has closed is counted window_not_closed and excluded', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000 + 100, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: (K0 + 2) * 1000, price: 100, qty: 1, side: 'BUY' })); // closes K0
    expect(rec.of('BTCUSDT', K0 * 1000)).toHaveLength(1);
    engine.ingest(f.trade({ ts: K0 * 1000 + 999, price: 200, qty: 50, side: 'SELL' }));
    const d = det(engine, 'BTCUSDT');
    expect(d.counters.window_not_closed).toBe(1);
    engine.advanceTo((K0 + 10) * 1000);
    expect(rec.of('BTCUSDT', K0 * 1000)).toHaveLength(1);
    expect(rec.one('BTCUSDT', K0 * 1000).metrics?.abs_flow).toBe(100);
    expect(d.flowHistory.values()).toEqual([100, 100]);
    expect(new SystemState(engine, 'r', 'REPLAY').commit(0).counters.dropped_events.window_not_closed).toBe(1);
  });

  it('a trade older than W − 30 s is late; the window boundary case W − 1 window is still open', () => {
    const { engine, rec, f } = setup();
    const W = (K0 + 100) * 1000 + 500;
    engine.ingest(f.trade({ ts: W, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: W - 30_001, price: 100, qty: 1, side: 'BUY' }));
    const d = det(engine, 'BTCUSDT');
    expect(d.counters.window_not_closed).toBe(1);
    // Window K0+99 closes at W ≥ (K0+101)·1000: it is still open at W = (K0+100)·1000 + 500.
    engine.ingest(f.trade({ ts: (K0 + 99) * 1000 + 1, price: 100, qty: 2, side: 'BUY' }));
    expect(d.counters.window_not_closed).toBe(1);
    engine.advanceTo(W + 5000);
    expect(rec.one('BTCUSDT', (K0 + 99) * 1000).metrics?.abs_flow).toBe(200);
    expect(rec.of('BTCUSDT', Math.floor((W - 30_001) / 1000) * 1000)).toHaveLength(0);
  });

  it('late trades neither move the watermark nor open windows', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: (K0 + 50) * 1000, price: 100, qty: 1, side: 'BUY' }));
    const W = engine.watermark;
    for (let i = 0; i < 5; i++) engine.ingest(f.trade({ ts: (K0 + i) * 1000, price: 100, qty: 1, side: 'BUY' }));
    expect(engine.watermark).toBe(W);
    engine.advanceTo((K0 + 60) * 1000);
    expect(rec.windows.filter((w) => w.metrics !== null).map((w) => w.window_start_ms)).toEqual([(K0 + 50) * 1000]);
    expect(det(engine, 'BTCUSDT').counters.window_not_closed).toBe(5);
  });
});

describe('gap rule (SPEC §4.2.5)', () => {
  it('a jump > 60 s emits no intermediate windows, counts gap_resets, still judges windows with data', () => {
    const { engine, rec, f } = setup(['BTCUSDT', 'ETHUSDT']);
    engine.ingest(f.trade({ ts: K0 * 1000 + 500, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ ts: (K0 + 1) * 1000 + 500, price: 100, qty: 2, side: 'BUY' }));
    const btc = det(engine, 'BTCUSDT');
    const eth = det(engine, 'ETHUSDT');
    const btcBefore = btc.counters.windows_processed;
    const ethBefore = eth.counters.windows_processed;
    const n = rec.windows.length;
    const W2 = (K0 + 1) * 1000 + 500 + 60_001;
    engine.ingest(f.trade({ ts: W2, price: 100, qty: 4, side: 'SELL' }));
    expect(engine.counters.gap_resets).toBe(1);
    // Only BTC's two windows with data were closed, both judged (cold → baseline_not_warm).
    const closed = rec.windows.slice(n);
    expect(closed.map((w) => [w.symbol, w.window_start_ms, w.outcome])).toEqual([
      ['BTCUSDT', K0 * 1000, 'baseline_not_warm'],
      ['BTCUSDT', (K0 + 1) * 1000, 'baseline_not_warm'],
    ]);
    expect(btc.counters.windows_processed - btcBefore).toBe(2);
    expect(eth.counters.windows_processed - ethBefore).toBe(0);
    expect(btc.flowHistory.values()).toEqual([100, 200]);
    // The grid resumes at the new watermark: the next second closes one window per symbol.
    const k2 = Math.floor(W2 / 1000);
    expect(engine.firstOpenWindow).toBe(Math.floor((W2 - 1000) / 1000));
    engine.advanceTo((k2 + 2) * 1000);
    expect(rec.one('BTCUSDT', k2 * 1000).metrics?.abs_flow).toBe(400);
    // W2 = (K0+61)·1000 + 501 → first open window K0+60; W = (K0+63)·1000 closes K0+60 and K0+61.
    expect(eth.counters.windows_processed - ethBefore).toBe(2);
    expect(eth.counters.empty_windows).toBe(eth.counters.windows_processed);
  });

  it('a jump of exactly 60 s is not a gap: every intermediate window is emitted', () => {
    const { engine, rec, f } = setup(['BTCUSDT', 'ETHUSDT']);
    engine.ingest(f.trade({ ts: K0 * 1000 + 500, price: 100, qty: 1, side: 'BUY' }));
    const first = engine.firstOpenWindow as number;
    const W2 = K0 * 1000 + 500 + 60_000;
    engine.ingest(f.trade({ ts: W2, price: 100, qty: 1, side: 'BUY' }));
    expect(engine.counters.gap_resets).toBe(0);
    const next = Math.floor((W2 - 1000) / 1000);
    expect(det(engine, 'BTCUSDT').counters.windows_processed).toBe(next - first);
    expect(det(engine, 'ETHUSDT').counters.windows_processed).toBe(next - first);
    expect(det(engine, 'ETHUSDT').counters.empty_windows).toBe(next - first);
    expect(rec.windows).toHaveLength(2 * (next - first));
  });

  it('a promotable window just before an outage is still promoted when the gap closes it', () => {
    const { engine, f } = setup(['BTCUSDT']);
    const K = K0 + 60;
    feedStandardBaseline(engine, f, K0, {
      beforeWindow: (k) => {
        if (k === K - 20) engine.ingest(f.liquidation({ ts: k * 1000 }));
      },
    });
    engine.ingest(f.trade({ ts: K * 1000 + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
    engine.ingest(f.trade({ ts: K * 1000 + 400, price: 93_921, qty: 2, side: 'SELL' }));
    engine.ingest(f.trade({ ts: K * 1000 + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
    const W2 = K * 1000 + 900 + 61_000;
    engine.ingest(f.trade({ ts: W2, price: 93_900, qty: 0.1, side: 'BUY' }));
    expect(engine.counters.gap_resets).toBe(1);
    const events = engine.takeNewPromotions();
    expect(events.map((e) => e.event_id)).toEqual([`BTCUSDT-${K * 1000}`]);
    expect(events[0]?.closed_at_watermark_ms).toBe(W2);
    expect(events[0]?.metrics.liq_count).toBe(1);
  });
});

describe('future tolerance (SPEC §4.2.2)', () => {
  it('an event stamped > recv + 5 s does not move the watermark; exactly +5 s does', () => {
    const { engine, rec, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000, price: 100, qty: 1, side: 'BUY' }));
    const d = det(engine, 'BTCUSDT');
    engine.ingest(f.trade({ ts: K0 * 1000 + 20_000, recv: K0 * 1000 + 14_999, price: 100, qty: 1, side: 'BUY' }));
    expect(engine.watermark).toBe(K0 * 1000);
    expect(d.counters.future_events).toBe(1);
    expect(rec.windows).toHaveLength(0);
    engine.ingest(f.liquidation({ ts: K0 * 1000 + 30_000, recv: K0 * 1000 + 20_000 }));
    expect(engine.watermark).toBe(K0 * 1000);
    expect(d.counters.future_events).toBe(2);
    engine.ingest(f.trade({ ts: K0 * 1000 + 8_000, recv: K0 * 1000 + 3_000, price: 100, qty: 1, side: 'BUY' }));
    expect(engine.watermark).toBe(K0 * 1000 + 8_000);
    expect(d.counters.future_events).toBe(2);
  });

  it('an allow-listed OI poll (REST) never moves the watermark', () => {
    const { engine, f } = setup();
    engine.ingest(f.trade({ ts: K0 * 1000, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.oi({ ts: K0 * 1000 + 4_000, value: 10 }));
    expect(engine.watermark).toBe(K0 * 1000);
  });
});

describe('deterministic fold order (SPEC §4.2.8)', () => {
  interface T3 {
    ts: number;
    id: number;
    price: number;
  }
  // Same T for ids 1 and 2; float sums differ by order: (0.1+0.2)+0.3 ≠ (0.3+0.2)+0.1.
  const trades: T3[] = [
    { ts: K0 * 1000 + 100, id: 1, price: 0.1 },
    { ts: K0 * 1000 + 100, id: 2, price: 0.2 },
    { ts: K0 * 1000 + 300, id: 3, price: 0.3 },
  ];

  function windowFor(order: number[]): ClosedWindow {
    const { engine, rec, f } = setup();
    for (const i of order) {
      const tr = trades[i] as T3;
      engine.ingest(f.trade({ ts: tr.ts, id: tr.id, price: tr.price, qty: 1, side: 'BUY' }));
    }
    engine.advanceTo((K0 + 2) * 1000);
    return rec.one('BTCUSDT', K0 * 1000);
  }

  it('out-of-order arrival gives bit-identical metrics to (T, id) order', () => {
    const inOrder = windowFor([0, 1, 2]);
    expect(inOrder.metrics?.abs_flow).toBe(0.1 + 0.2 + 0.3);
    expect(inOrder.metrics?.abs_flow).not.toBe(0.3 + 0.2 + 0.1); // the order is observable
    for (const order of [
      [2, 1, 0],
      [1, 0, 2],
      [2, 0, 1],
      [0, 2, 1],
      [1, 2, 0],
    ]) {
      const w = windowFor(order);
      expect(w.metrics).toEqual(inOrder.metrics);
      expect(w.metrics?.abs_flow).toBe(inOrder.metrics?.abs_flow);
    }
  });

  it('equal T: the lower id comes first (open), the higher (T, id) last (close)', () => {
    const w = windowFor([2, 1, 0]);
    expect(w.metrics?.open).toBe(0.1);
    expect(w.metrics?.close).toBe(0.3);
    const v = windowFor([1, 0]);
    expect(v.metrics?.open).toBe(0.1);
    expect(v.metrics?.close).toBe(0.2);
  });
});

describe('trade ids', () => {
  it('a duplicate id is dropped and counted once, never aggregated twice', () => {
    const { engine, rec, f } = setup();
    const a = f.trade({ ts: K0 * 1000 + 100, price: 100, qty: 1, side: 'BUY' });
    engine.ingest(a);
    engine.ingest(a);
    engine.ingest({ ...a, ts_ms: a.ts_ms + 500 }); // same id re-sent with another time
    engine.advanceTo((K0 + 2) * 1000);
    const d = det(engine, 'BTCUSDT');
    expect(d.counters.duplicate_trades).toBe(2);
    expect(d.counters.trades).toBe(1);
    expect(rec.one('BTCUSDT', K0 * 1000).metrics?.trade_count).toBe(1);
    expect(d.rawTrades.length).toBe(1);
    // A replay of an old id after the window closed is a duplicate, not a late trade.
    engine.ingest(a);
    expect(d.counters.duplicate_trades).toBe(3);
    expect(d.counters.window_not_closed).toBe(0);
    expect(new SystemState(engine, 'r', 'REPLAY').commit(0).counters.duplicate_trades).toBe(3);
  });

  it('id gaps are counted per jump; consecutive ids are not', () => {
    const { engine, f } = setup(['BTCUSDT', 'ETHUSDT']);
    for (const id of [1, 2, 3, 4]) engine.ingest(f.trade({ ts: K0 * 1000 + id, id, price: 100, qty: 1, side: 'BUY' }));
    expect(det(engine, 'BTCUSDT').counters.trade_id_gaps).toBe(0);
    for (const id of [7, 8, 20]) engine.ingest(f.trade({ ts: K0 * 1000 + id, id, price: 100, qty: 1, side: 'BUY' }));
    expect(det(engine, 'BTCUSDT').counters.trade_id_gaps).toBe(2);
    // Id spaces are per symbol: ETH starting at 500 is not a gap of BTC's sequence.
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: K0 * 1000 + 30, id: 500, price: 10, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: K0 * 1000 + 31, id: 501, price: 10, qty: 1, side: 'BUY' }));
    expect(det(engine, 'ETHUSDT').counters.trade_id_gaps).toBe(0);
    expect(det(engine, 'BTCUSDT').counters.trade_id_gaps).toBe(2);
  });

  it('the same id on two symbols is not a duplicate', () => {
    const { engine, f } = setup(['BTCUSDT', 'ETHUSDT']);
    engine.ingest(f.trade({ symbol: 'BTCUSDT', ts: K0 * 1000, id: 42, price: 100, qty: 1, side: 'BUY' }));
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: K0 * 1000, id: 42, price: 10, qty: 1, side: 'BUY' }));
    expect(det(engine, 'ETHUSDT').counters.duplicate_trades).toBe(0);
    expect(det(engine, 'ETHUSDT').counters.trades).toBe(1);
  });
});

describe('per-symbol isolation (SPEC §4.2.7) and the allow-list (SPEC §2.3)', () => {
  /**
   * BTCUSDT gets a warm baseline and a window that passes C1–C3 without any BTC liquidation or OI
   * change (fresh OI) → stress_failed. In run A, ETHUSDT is busy in the same seconds (trades,
   * duplicates, late trades, liquidations inside BTC's 60 s lookback, OI changes in BTC's window);
   * in run B it is silent. Both runs end on the same SOLUSDT trade.
   */
  function run(withEth: boolean): { engine: Engine; rec: WindowRecorder } {
    const rec = new WindowRecorder();
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'], onWindow: rec.onWindow });
    const f = new EventFactory('BTCUSDT');
    const K = K0 + 60;
    engine.ingest(f.oi({ symbol: 'ETHUSDT', ts: K0 * 1000, value: 1000 }));
    feedStandardBaseline(engine, f, K0, {
      oiEveryWindows: 4,
      oiValue: 5000,
      beforeWindow: (k) => {
        if (!withEth) return;
        const ts = k * 1000 + 200;
        engine.ingest(f.trade({ symbol: 'ETHUSDT', ts, price: 3000, qty: 50 + (k % 7), side: k % 2 ? 'BUY' : 'SELL' }));
        if (k % 9 === 0) engine.ingest(f.liquidation({ symbol: 'ETHUSDT', ts: ts + 1 }));
        if (k % 5 === 0) engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: ts - 5000, price: 3000, qty: 1, side: 'BUY' })); // late
      },
    });
    engine.ingest(f.oi({ ts: K * 1000 - 50, value: 5000 }));
    engine.ingest(f.trade({ ts: K * 1000 + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
    if (withEth) {
      engine.ingest(f.liquidation({ symbol: 'ETHUSDT', ts: K * 1000 + 150 }));
      engine.ingest(f.oi({ symbol: 'ETHUSDT', ts: K * 1000 + 160, value: 1234 }));
      const dup = f.trade({ symbol: 'ETHUSDT', ts: K * 1000 + 170, price: 3000, qty: 90, side: 'SELL' });
      engine.ingest(dup);
      engine.ingest(dup);
    }
    engine.ingest(f.trade({ ts: K * 1000 + 400, price: 93_921, qty: 2, side: 'SELL' }));
    engine.ingest(f.trade({ ts: K * 1000 + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
    engine.ingest(f.trade({ symbol: 'SOLUSDT', ts: K * 1000 + 2_000, price: 180, qty: 1, side: 'BUY' }));
    return { engine, rec };
  }

  it('activity on one symbol never changes another symbol’s baselines, counters or outcomes', () => {
    const a = run(true);
    const b = run(false);
    const K = K0 + 60;
    const ethA = det(a.engine, 'ETHUSDT');
    expect(ethA.counters.liquidations).toBeGreaterThan(0);
    expect(ethA.counters.oi_changes).toBe(1);
    expect(ethA.counters.duplicate_trades).toBe(1);
    expect(ethA.counters.window_not_closed).toBeGreaterThan(0);
    const btcA = det(a.engine, 'BTCUSDT');
    const btcB = det(b.engine, 'BTCUSDT');
    expect(btcA.counters).toEqual(btcB.counters);
    expect(btcA.flowHistory.values()).toEqual(btcB.flowHistory.values());
    expect(btcA.sizeHistory.values()).toEqual(btcB.sizeHistory.values());
    expect(btcA.liquidations.size).toBe(0);
    expect([btcA.lastOi, btcA.lastOiMs]).toEqual([btcB.lastOi, btcB.lastOiMs]);
    // ETH's liquidation and OI change did not leak into BTC's condition 4.
    const wA = a.rec.one('BTCUSDT', K * 1000);
    expect(wA.outcome).toBe('stress_failed');
    expect(wA.liq_count).toBe(0);
    expect(wA.oi_change_present).toBe(false);
    expect(b.rec.one('BTCUSDT', K * 1000)).toEqual(wA);
    expect(a.engine.promotions.toArray().filter((e) => e.symbol === 'BTCUSDT')).toEqual([]);
    expect(b.engine.promotions.length).toBe(0);
  });

  it('an idle symbol’s windows still close on the global watermark (all empty)', () => {
    const { engine } = run(false);
    const sol = det(engine, 'SOLUSDT');
    const btc = det(engine, 'BTCUSDT');
    expect(sol.counters.windows_processed).toBe(btc.counters.windows_processed);
    expect(sol.counters.windows_processed).toBeGreaterThanOrEqual(61);
    // SOL traded once, in a window that is still open.
    expect(sol.counters.empty_windows).toBe(sol.counters.windows_processed);
  });

  it('a symbol leak into a detector fails fast (SYMBOL_LEAK)', () => {
    const { engine, f } = setup(['BTCUSDT', 'ETHUSDT']);
    const d = det(engine, 'BTCUSDT');
    expect(() => d.addLiquidation(f.liquidation({ symbol: 'ETHUSDT', ts: K0 * 1000 }))).toThrow(/SYMBOL_LEAK|isolation/);
  });

  it('events of symbols outside the allow-list are counted symbol_not_allowed and change nothing else', () => {
    const { engine, rec, f } = setup(['BTCUSDT']);
    engine.ingest(f.trade({ ts: K0 * 1000, price: 100, qty: 1, side: 'BUY' }));
    const d = det(engine, 'BTCUSDT');
    const counters = JSON.stringify(d.counters);
    const W = engine.watermark;
    const first = engine.firstOpenWindow;
    const state = new SystemState(engine, 'r', 'REPLAY');
    const s1 = state.commit(0);
    engine.ingest(f.trade({ symbol: 'XRPUSDT', ts: K0 * 1000 + 90_000, price: 2, qty: 100, side: 'BUY' }));
    engine.ingest(f.liquidation({ symbol: 'XRPUSDT', ts: K0 * 1000 + 95_000 }));
    engine.ingest(f.oi({ symbol: 'XRPUSDT', ts: K0 * 1000 + 95_000, value: 7 }));
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: K0 * 1000 + 1, price: 2, qty: 1, side: 'BUY' }));
    expect(engine.counters.symbol_not_allowed).toBe(4);
    expect(engine.watermark).toBe(W);
    expect(engine.firstOpenWindow).toBe(first);
    expect(engine.counters.gap_resets).toBe(0);
    expect(JSON.stringify(d.counters)).toBe(counters);
    expect(rec.windows).toHaveLength(0);
    const s2 = state.commit(1);
    expect(s2.counters.dropped_events.symbol_not_allowed).toBe(4);
    expect(Object.keys(s2.raw_buffers.trades)).toEqual(['BTCUSDT']);
    expect({ ...s2.counters, dropped_events: { ...s2.counters.dropped_events, symbol_not_allowed: 0 } }).toEqual(s1.counters);
  });
});

// ---------------------------------------------------------------------------------------------
// A long randomised session (seeded, deterministic) for the partition invariant and determinism.

const SESSION_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'DOGEUSDT'];

function gauss(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  const v = rnd();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * ~25 minutes of 4 symbols: heavy-tailed trade sizes with bursts, a price random walk, random
 * liquidations, OI polls every 5 s (with an OI outage on SOLUSDT and delayed polls that land late),
 * out-of-order/late/duplicate/future-stamped trades, and a 90 s outage that triggers the gap rule.
 * Returns the events in arrival order.
 */
function randomSession(seed: number, seconds = 1500): CanonicalEvent[] {
  const rnd = mulberry32(seed);
  const f = new EventFactory('BTCUSDT');
  const activity = [0.97, 0.92, 0.75, 0.3];
  const price = [93_000, 3_200, 180, 0.35];
  const notional = [20_000, 9_000, 3_000, 400];
  const oi = [80_000, 1_200_000, 5_000_000, 2_000_000_000];
  const liqRate = [0.03, 0.03, 0.005, 0.01];
  const arrivals: { at: number; seq: number; ev: CanonicalEvent }[] = [];
  let seq = 0;
  const push = (at: number, ev: CanonicalEvent): void => {
    arrivals.push({ at, seq: seq++, ev });
  };
  let offset = 0;
  const t0 = 1_767_800_000_000;
  for (let s = 0; s < seconds; s++) {
    if (s === 800) offset += 90_000; // outage: the gap rule
    const sec = t0 + offset + s * 1000;
    SESSION_SYMBOLS.forEach((symbol, i) => {
      if (rnd() < (activity[i] as number)) {
        let n = 1 + Math.floor(rnd() * 5);
        if (rnd() < 0.08) n += 5 + Math.floor(rnd() * 15);
        const times = Array.from({ length: n }, () => sec + Math.floor(rnd() * 1000)).sort((a, b) => a - b);
        for (const ts of times) {
          price[i] = (price[i] as number) * (1 + gauss(rnd) * 0.0003);
          const p = Number((price[i] as number).toPrecision(8));
          const q = Number((((notional[i] as number) * Math.exp(gauss(rnd) * 1.1)) / p).toPrecision(6));
          const side: Side = rnd() < 0.5 ? 'BUY' : 'SELL';
          const r = rnd();
          let recv = ts + Math.floor(rnd() * 40);
          if (r < 0.002) recv = ts - 6_000; // future-stamped against local time
          const ev = f.trade({ symbol, ts, price: p, qty: q, side, recv });
          let at = recv;
          if (r > 0.995)
            at = ts + 2_000 + Math.floor(rnd() * 3_000); // arrives after its window closed
          else if (r > 0.98) at = ts + 300 + Math.floor(rnd() * 500); // out of order, within the grace
          push(Math.max(at, recv), ev);
          if (rnd() < 0.01) push(at + 150, ev); // duplicate after a reconnect
        }
      }
      if (rnd() < (liqRate[i] as number)) {
        const ts = sec + Math.floor(rnd() * 1000);
        push(ts + 5, f.liquidation({ symbol, ts, side: rnd() < 0.5 ? 'BUY' : 'SELL', price: price[i] as number, qty: 1 + Math.floor(rnd() * 10) }));
      }
      const solOutage = symbol === 'SOLUSDT' && s >= 300 && s < 500;
      if (s % 5 === i % 5 && !solOutage) {
        if (rnd() < 0.7) oi[i] = Math.round((oi[i] as number) * (1 + gauss(rnd) * 0.0005));
        const ts = sec + 250;
        const delay = rnd() < 0.05 ? 2_500 : 60 + Math.floor(rnd() * 100);
        push(ts + delay, f.oi({ symbol, ts, value: oi[i] as number, recv: ts + delay }));
      }
    });
    // Occasional foreign-symbol noise.
    if (rnd() < 0.05) push(sec + 10, f.liquidation({ symbol: 'PEPEUSDT', ts: sec + 10 }));
  }
  arrivals.sort((a, b) => a.at - b.at || a.seq - b.seq);
  return arrivals.map((a) => a.ev);
}

function runSession(events: readonly CanonicalEvent[]): { engine: Engine; rec: WindowRecorder } {
  const rec = new WindowRecorder();
  const engine = new Engine({ symbols: SESSION_SYMBOLS, onWindow: rec.onWindow });
  for (const ev of events) engine.ingest(ev);
  engine.advanceTo((engine.watermark as number) + 5_000);
  return { engine, rec };
}

describe('long randomised session (seeded)', () => {
  const events = randomSession(20260106);
  const { engine, rec } = runSession(events);

  it('exercises every outcome, late/duplicate/future events, carried OI and a gap reset', () => {
    const total = (key: keyof SymbolDetector['counters']): number => engine.detectorsInRankOrder.reduce((acc, d) => acc + d.counters[key], 0);
    for (const key of [...PARTITION_KEYS, 'window_not_closed', 'duplicate_trades', 'future_events', 'oi_changes_carried_forward'] as const) {
      expect({ [key]: total(key) > 0 }).toEqual({ [key]: true });
    }
    expect(engine.counters.gap_resets).toBe(1);
    expect(engine.counters.symbol_not_allowed).toBeGreaterThan(0);
  });

  it('windows_processed = empty + not_warm + flow + large + compression + missing + stress + promoted, per symbol and in total', () => {
    let total = 0;
    let parts = 0;
    for (const d of engine.detectorsInRankOrder) {
      expect({ [d.symbol]: d.counters.windows_processed }).toEqual({ [d.symbol]: partitionSum(d.counters) });
      total += d.counters.windows_processed;
      parts += partitionSum(d.counters);
      // Cross-check against what the engine reported window by window.
      const mine = rec.windows.filter((w) => w.symbol === d.symbol);
      expect(mine).toHaveLength(d.counters.windows_processed);
      expect(mine.filter((w) => w.outcome === 'empty')).toHaveLength(d.counters.empty_windows);
      expect(mine.filter((w) => w.outcome === 'promoted')).toHaveLength(d.counters.peak_pressure_count);
      for (const outcome of WINDOW_OUTCOMES) {
        expect(mine.filter((w) => w.outcome === outcome)).toHaveLength(d.counters[OUTCOME_COUNTERS[outcome]]);
      }
      // Each window of a symbol is closed at most once.
      expect(new Set(mine.map((w) => w.window_start_ms)).size).toBe(mine.length);
    }
    expect(total).toBe(parts);
    const s = new SystemState(engine, 'r', 'REPLAY').commit(0);
    const c = s.counters;
    expect(c.windows_processed).toBe(total);
    expect(c.windows_processed).toBe(snapshotPartitionSum(c));
    expect(c.dropped_events.baseline_not_ready).toBe(c.baseline_not_warm);
    expect(c.peak_pressure_events).toBe(engine.promotions.length);
  });

  it('every promoted window really satisfies the four conditions with the thresholds it recorded', () => {
    expect(engine.promotions.length).toBeGreaterThan(0);
    for (const e of engine.promotions.toArray()) {
      const m = e.metrics;
      expect(m.abs_flow).toBeGreaterThanOrEqual(m.p90_abs_flow);
      expect(m.large_trade_count).toBeGreaterThanOrEqual(1);
      expect(m.compressed || m.expanded).toBe(true);
      expect(m.body_ratio <= 0.3 || m.body_ratio >= 0.7).toBe(true);
      expect(m.liq_count > 0 || e.stress_sources.includes('oi_change')).toBe(true);
      expect(e.stress_sources.includes('liquidations')).toBe(m.liq_count > 0);
      expect(e.dominant_side).toBe(m.net_aggression < 0 ? 'SELL' : 'BUY');
      expect(e.timestamp * 1000).toBe(e.window_end_ms);
      expect(e.event_id).toBe(`${e.symbol}-${e.window_start_ms}`);
    }
  });

  it('is deterministic: two engines fed the same events give identical promotions and counters', () => {
    const again = runSession(randomSession(20260106));
    expect(JSON.stringify(again.engine.promotions.toArray())).toBe(JSON.stringify(engine.promotions.toArray()));
    expect(JSON.stringify(again.engine.detectorsInRankOrder.map((d) => d.counters))).toBe(JSON.stringify(engine.detectorsInRankOrder.map((d) => d.counters)));
    expect(again.engine.counters).toEqual(engine.counters);
    expect(JSON.stringify(again.rec.windows)).toBe(JSON.stringify(rec.windows));
    const s1 = new SystemState(engine, 'r', 'REPLAY').commit(123);
    const s2 = new SystemState(again.engine, 'r', 'REPLAY').commit(123);
    expect(JSON.stringify(s2)).toBe(JSON.stringify(s1));
  });

  it('a different seed gives a different session (the generator is not degenerate)', () => {
    const other = runSession(randomSession(7));
    expect(JSON.stringify(other.engine.promotions.toArray())).not.toBe(JSON.stringify(engine.promotions.toArray()));
    for (const d of other.engine.detectorsInRankOrder) expect(d.counters.windows_processed).toBe(partitionSum(d.counters));
  });
});

/**
 * SPEC §7.4 (OI change attribution), §6.4 (condition 4, stale OI → missing_streams) and §7.3
 * (the 60 s liquidation retention buffer, half-open (end − 60 s, end]).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/core/engine';
import { LIMITS } from '../src/core/constants';
import { FRONT_PRUNED_MIN } from '../src/core/front-pruned';
import { LiquidationBuffer } from '../src/core/liquidations';
import type { LiquidationEvent } from '../src/core/contracts/canonical';
import { type ClosedWindow, liquidationKey, type SymbolDetector } from '../src/core/symbol-detector';
import { EventFactory, feedStandardBaseline, WindowRecorder } from './helpers';

const K0 = 1_767_702_000; // first baseline window
const K = K0 + 60; // the candidate window
const START = K * 1000;
const END = START + 1000;

function det(engine: Engine, symbol = 'BTCUSDT'): SymbolDetector {
  const d = engine.detector(symbol);
  if (d === undefined) throw new Error(`no detector for ${symbol}`);
  return d;
}

interface Ctx {
  engine: Engine;
  rec: WindowRecorder;
  f: EventFactory;
  btc: SymbolDetector;
}

interface WarmOptions {
  /** Liquidation times (ms) for BTCUSDT; those inside the baseline are fed in time order. */
  liqs?: number[];
  /** Poll OI (value 5 000, never changing) during the baseline: last poll at (K0+55)·1000 + 100. */
  oiDuringBaseline?: boolean;
}

/** Warm BTCUSDT (P90 abs_flow 200 000, P95 mean size 150 000) in windows K0 … K0+59. */
function warm(opts: WarmOptions = {}): Ctx {
  const rec = new WindowRecorder();
  const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'], onWindow: rec.onWindow });
  const f = new EventFactory('BTCUSDT');
  const liqs = [...(opts.liqs ?? [])].sort((a, b) => a - b);
  feedStandardBaseline(engine, f, K0, {
    oiEveryWindows: opts.oiDuringBaseline === false ? 0 : 5,
    oiValue: 5_000,
    beforeWindow: (k) => {
      for (const ts of liqs) if (Math.floor(ts / 1000) === k) engine.ingest(f.liquidation({ ts }));
    },
  });
  for (const ts of liqs) if (ts >= (K0 + 60) * 1000) engine.ingest(f.liquidation({ ts }));
  const btc = det(engine);
  return { engine, rec, f, btc };
}

/** The §15 trades (C1–C3 pass against the standard baseline) in window K. */
function candidateTrades(c: Ctx): void {
  c.engine.ingest(c.f.trade({ ts: START + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
  c.engine.ingest(c.f.trade({ ts: START + 400, price: 93_921, qty: 2, side: 'SELL' }));
  c.engine.ingest(c.f.trade({ ts: START + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
}

/** Close window K (W = END + 1000) and return its judgement. */
function closeK(c: Ctx): ClosedWindow {
  c.engine.ingest(c.f.trade({ symbol: 'ETHUSDT', ts: END + 1000, price: 3000, qty: 1, side: 'BUY' }));
  return c.rec.one('BTCUSDT', START);
}

/** A cold engine (BTCUSDT, ETHUSDT) with nothing fed yet. */
function cold(): Ctx {
  const rec = new WindowRecorder();
  const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'], onWindow: rec.onWindow });
  const f = new EventFactory('BTCUSDT');
  return { engine, rec, f, btc: det(engine) };
}

describe('OI attribution (SPEC §7.4)', () => {
  const B = 1_767_703_000;

  function tradeAt(c: Ctx, k: number, offset = 500): void {
    c.engine.ingest(c.f.trade({ ts: k * 1000 + offset, price: 100, qty: 1, side: 'BUY' }));
  }

  it('the first poll establishes OI and is never a change', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    tradeAt(c, B);
    c.engine.advanceTo((B + 3) * 1000);
    expect(c.btc.counters.oi_polls).toBe(1);
    expect(c.btc.counters.oi_changes).toBe(0);
    expect(c.btc.lastOi).toBe(100);
    expect(c.btc.lastOiMs).toBe(B * 1000 + 100);
    expect(c.rec.windows.every((w) => !w.oi_change_present && w.oi_delta === 0)).toBe(true);
  });

  it('a poll with the same value is not a change', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    tradeAt(c, B);
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 600, value: 100 }));
    c.engine.advanceTo((B + 3) * 1000);
    expect(c.btc.counters.oi_polls).toBe(2);
    expect(c.btc.counters.oi_changes).toBe(0);
    expect(c.rec.one('BTCUSDT', B * 1000).oi_change_present).toBe(false);
  });

  it('a change is attributed to the window of the response time, delta = value − previous', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    for (let k = B; k < B + 4; k++) tradeAt(c, k);
    // W = (B+3)·1000 + 500: windows B+2 and B+3 are open. Response time in B+2.
    c.engine.ingest(c.f.oi({ ts: (B + 2) * 1000 + 50, value: 130.5 }));
    c.engine.advanceTo((B + 6) * 1000);
    expect(c.btc.counters.oi_changes).toBe(1);
    expect(c.btc.counters.oi_changes_carried_forward).toBe(0);
    for (const k of [B, B + 1, B + 3]) expect(c.rec.one('BTCUSDT', k * 1000).oi_change_present).toBe(false);
    const w = c.rec.one('BTCUSDT', (B + 2) * 1000);
    expect(w.oi_change_present).toBe(true);
    expect(w.oi_delta).toBe(30.5);
    expect(c.btc.lastOi).toBe(130.5);
  });

  it('a decrease gives a negative delta', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    tradeAt(c, B);
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 700, value: 75 }));
    c.engine.advanceTo((B + 3) * 1000);
    expect(c.rec.one('BTCUSDT', B * 1000).oi_delta).toBe(-25);
  });

  it('two changes in one window add up; each counts as a change', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    tradeAt(c, B + 1);
    c.engine.ingest(c.f.oi({ ts: (B + 1) * 1000 + 200, value: 110 }));
    c.engine.ingest(c.f.oi({ ts: (B + 1) * 1000 + 700, value: 104 }));
    c.engine.advanceTo((B + 4) * 1000);
    const w = c.rec.one('BTCUSDT', (B + 1) * 1000);
    expect(w.oi_change_present).toBe(true);
    expect(w.oi_delta).toBe(4); // (110 − 100) + (104 − 110)
    expect(c.btc.counters.oi_changes).toBe(2);
  });

  it('two changes that cancel still mark the window as changed, with delta 0', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    tradeAt(c, B + 1);
    c.engine.ingest(c.f.oi({ ts: (B + 1) * 1000 + 200, value: 110 }));
    c.engine.ingest(c.f.oi({ ts: (B + 1) * 1000 + 700, value: 100 }));
    c.engine.advanceTo((B + 4) * 1000);
    const w = c.rec.one('BTCUSDT', (B + 1) * 1000);
    expect(w.oi_change_present).toBe(true);
    expect(w.oi_delta).toBe(0);
  });

  it('a late poll whose window already closed is carried to the earliest open window', () => {
    const c = cold();
    c.engine.ingest(c.f.oi({ ts: B * 1000 + 100, value: 100 }));
    for (let k = B; k < B + 6; k++) tradeAt(c, k);
    // W = (B+5)·1000 + 500 → windows ≤ B+3 closed, B+4 is the earliest open one.
    expect(c.engine.firstOpenWindow).toBe(B + 4);
    c.engine.ingest(c.f.oi({ ts: (B + 1) * 1000 + 300, value: 90, recv: (B + 5) * 1000 + 600 }));
    expect(c.btc.counters.oi_changes_carried_forward).toBe(1);
    expect(c.btc.counters.oi_changes).toBe(1);
    c.engine.advanceTo((B + 8) * 1000);
    expect(c.rec.one('BTCUSDT', (B + 1) * 1000).oi_change_present).toBe(false);
    const w = c.rec.one('BTCUSDT', (B + 4) * 1000);
    expect(w.oi_change_present).toBe(true);
    expect(w.oi_delta).toBe(-10);
    expect(c.rec.one('BTCUSDT', (B + 5) * 1000).oi_change_present).toBe(false);
  });

  it('a poll landing in a still-open later window does not touch earlier open windows', () => {
    const c = warm();
    candidateTrades(c);
    // W = START + 900: window K is open; the poll's time is in K+1 (W moved there by a liquidation of ETH).
    c.engine.ingest(c.f.liquidation({ symbol: 'ETHUSDT', ts: END + 100 }));
    c.engine.ingest(c.f.oi({ ts: END + 200, value: 6_000 }));
    const w = closeK(c);
    expect(w.oi_change_present).toBe(false);
    expect(w.outcome).toBe('stress_failed');
    expect(c.btc.counters.oi_changes).toBe(1);
    expect(c.btc.counters.oi_changes_carried_forward).toBe(0);
  });

  it('an OI change alone promotes, with stress_sources ["oi_change"] and its delta', () => {
    const c = warm();
    candidateTrades(c);
    c.engine.ingest(c.f.oi({ ts: START + 950, value: 5_012.25 }));
    const w = closeK(c);
    expect(w.outcome).toBe('promoted');
    const [e] = c.engine.takeNewPromotions();
    expect(e?.event_id).toBe(`BTCUSDT-${START}`);
    expect(e?.stress_sources).toEqual(['oi_change']);
    expect(e?.metrics.oi_delta).toBe(12.25);
    expect(e?.metrics.liq_count).toBe(0);
  });

  it('a carried-forward change can promote the window it lands in', () => {
    const c = warm();
    candidateTrades(c);
    c.engine.ingest(c.f.trade({ symbol: 'ETHUSDT', ts: END + 500, price: 3000, qty: 1, side: 'BUY' }));
    expect(c.engine.firstOpenWindow).toBe(K);
    // Response time in K−3 (long closed): carried into K.
    c.engine.ingest(c.f.oi({ ts: (K - 3) * 1000 + 250, value: 4_990 }));
    expect(c.btc.counters.oi_changes_carried_forward).toBe(1);
    const w = closeK(c);
    expect(w.outcome).toBe('promoted');
    expect(w.oi_delta).toBe(-10);
  });

  it('liquidation and OI change together → stress_sources ["liquidations", "oi_change"]', () => {
    const c = warm({ liqs: [START - 30_000] });
    candidateTrades(c);
    c.engine.ingest(c.f.oi({ ts: START + 10, value: 5_001 }));
    closeK(c);
    const [e] = c.engine.takeNewPromotions();
    expect(e?.stress_sources).toEqual(['liquidations', 'oi_change']);
    expect(e?.metrics.oi_delta).toBe(1);
    expect(e?.metrics.liq_count).toBe(1);
  });

  it('no stress and fresh OI → stress_failed', () => {
    const c = warm();
    candidateTrades(c);
    const w = closeK(c);
    expect(w.outcome).toBe('stress_failed');
    expect(c.btc.counters.stress_failed).toBe(1);
    expect(c.btc.counters.missing_streams).toBe(0);
  });

  it('no stress and OI never polled → missing_streams', () => {
    const c = warm({ oiDuringBaseline: false });
    candidateTrades(c);
    expect(c.btc.lastOiMs).toBeNull();
    expect(closeK(c).outcome).toBe('missing_streams');
    expect(c.btc.counters.missing_streams).toBe(1);
    expect(c.btc.counters.stress_failed).toBe(0);
  });

  it('OI staleness boundary: last poll at end − 10 000 is fresh, at end − 10 001 stale', () => {
    const fresh = warm({ oiDuringBaseline: false });
    fresh.engine.ingest(fresh.f.oi({ ts: END - 10_000, value: 5_000 }));
    candidateTrades(fresh);
    expect(closeK(fresh).outcome).toBe('stress_failed');

    const stale = warm({ oiDuringBaseline: false });
    stale.engine.ingest(stale.f.oi({ ts: END - 10_001, value: 5_000 }));
    candidateTrades(stale);
    expect(closeK(stale).outcome).toBe('missing_streams');
  });

  it("a poll stamped after the window end does not make that window's OI fresh", () => {
    // Last poll before the end is 15 s old; a poll (no change) stamped 300 ms after the end arrives
    // before the window closes. §6.4 asks for a poll within the last 10 s *before* window end.
    const c = warm({ oiDuringBaseline: false });
    c.engine.ingest(c.f.oi({ ts: END - 15_000, value: 5_000 }));
    candidateTrades(c);
    c.engine.ingest(c.f.oi({ ts: END + 300, value: 5_000 }));
    expect(c.btc.counters.oi_changes).toBe(0);
    expect(closeK(c).outcome).toBe('missing_streams');
    // The following window (end END + 1000) does have that poll within its last 10 s.
    c.engine.ingest(c.f.trade({ ts: END + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
    c.engine.ingest(c.f.trade({ ts: END + 400, price: 93_921, qty: 2, side: 'SELL' }));
    c.engine.ingest(c.f.trade({ ts: END + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
    c.engine.advanceTo(END + 2_000);
    expect(c.rec.one('BTCUSDT', END).outcome).toBe('stress_failed');
  });

  it('stale OI does not block a promotion carried by a liquidation', () => {
    const c = warm({ oiDuringBaseline: false, liqs: [START + 500] });
    candidateTrades(c);
    expect(closeK(c).outcome).toBe('promoted');
  });
});

describe('liquidation retention buffer (SPEC §7.3, §6.4)', () => {
  it('ts = end − 60 000 is excluded (half-open interval)', () => {
    const c = warm({ liqs: [END - 60_000] });
    candidateTrades(c);
    const w = closeK(c);
    expect(w.liq_count).toBe(0);
    expect(w.outcome).toBe('stress_failed');
  });

  it('ts = end − 59 999 is included', () => {
    const c = warm({ liqs: [END - 59_999] });
    candidateTrades(c);
    const w = closeK(c);
    expect(w.liq_count).toBe(1);
    expect(w.outcome).toBe('promoted');
  });

  it('ts = end is included', () => {
    const c = warm({ liqs: [END] });
    candidateTrades(c);
    const w = closeK(c);
    expect(w.liq_count).toBe(1);
    expect(w.outcome).toBe('promoted');
  });

  it('ts = end + 1 does not count for the window, and is kept for later ones', () => {
    const c = warm({ liqs: [END + 1] });
    candidateTrades(c);
    const w = closeK(c);
    expect(w.liq_count).toBe(0);
    expect(w.outcome).toBe('stress_failed');
    expect(c.btc.liquidations.size).toBe(1);
    // The next window with the same trades would see it.
    c.engine.ingest(c.f.trade({ ts: END + 100, price: 93_920, qty: 0.5, side: 'BUY' }));
    c.engine.ingest(c.f.trade({ ts: END + 400, price: 93_921, qty: 2, side: 'SELL' }));
    c.engine.ingest(c.f.trade({ ts: END + 900, price: 93_925, qty: 0.1, side: 'BUY' }));
    c.engine.advanceTo(END + 2_000);
    expect(c.rec.one('BTCUSDT', END).liq_count).toBe(1);
  });

  it('liq_count counts every retained liquidation (any side, any size) in (end − 60 s, end]', () => {
    const c = warm({ liqs: [END - 61_000, END - 60_000, END - 59_000, END - 30_000, START + 1, END] });
    candidateTrades(c);
    closeK(c);
    const [e] = c.engine.takeNewPromotions();
    expect(e?.metrics.liq_count).toBe(4);
    expect(e?.stress_sources).toEqual(['liquidations']);
    expect(c.btc.counters.liquidations).toBe(6);
  });

  it('late liquidations (older than W − 30 s, out of order) are inserted in order and still count', () => {
    const c = warm();
    candidateTrades(c);
    const W = c.engine.watermark as number;
    expect(W).toBe(START + 900);
    c.engine.ingest(c.f.liquidation({ ts: W - 31_000 }));
    c.engine.ingest(c.f.liquidation({ ts: W - 55_000 }));
    c.engine.ingest(c.f.liquidation({ ts: END - 60_000 })); // out of the window's reach
    c.engine.ingest(c.f.liquidation({ ts: W - 40_000 }));
    expect(c.engine.watermark).toBe(W);
    expect(c.btc.counters.window_not_closed).toBe(0);
    const w = closeK(c);
    expect(w.liq_count).toBe(3);
    expect(w.outcome).toBe('promoted');
    // Pruned at evaluation: the excluded one is gone, the three remain.
    expect(c.btc.liquidations.size).toBe(3);
  });

  it('liquidations of another symbol never count', () => {
    const c = warm();
    c.engine.ingest(c.f.liquidation({ symbol: 'ETHUSDT', ts: START + 10 }));
    candidateTrades(c);
    const w = closeK(c);
    expect(w.liq_count).toBe(0);
    expect(det(c.engine, 'ETHUSDT').liquidations.size).toBe(1);
  });

  it('pruning uses event time: retained liquidations expire with the windows, not with arrivals', () => {
    const c = warm({ liqs: [START - 20_000] });
    // Window j prunes ts ≤ (j+1)·1000 − 60 000, so this one goes with window K+39, which closes
    // at W = (K+41)·1000 = END + 40 000. One ms earlier it is still retained.
    c.engine.advanceTo(END + 39_999);
    expect(c.btc.liquidations.size).toBe(1);
    c.engine.advanceTo(END + 40_000);
    expect(c.btc.liquidations.size).toBe(0);
  });
});

describe('LiquidationBuffer unit', () => {
  it('keeps times sorted whatever the insertion order; countIn is (from, to]', () => {
    const b = new LiquidationBuffer(100);
    for (const t of [50, 10, 30, 20, 40, 30]) b.insert(t);
    expect(b.size).toBe(6);
    expect(b.countIn(10, 30)).toBe(3); // 20, 30, 30
    expect(b.countIn(0, 10)).toBe(1);
    expect(b.countIn(50, 1000)).toBe(0);
    expect(b.countIn(9, 50)).toBe(6);
  });

  it('pruneAtOrBefore drops ts ≤ cutoff only', () => {
    const b = new LiquidationBuffer(100);
    for (const t of [1, 2, 3, 4, 5]) b.insert(t);
    b.pruneAtOrBefore(3);
    expect(b.size).toBe(2);
    expect(b.countIn(0, 100)).toBe(2);
    b.insert(2); // late arrival before the pruned horizon still lands in order
    expect(b.countIn(0, 100)).toBe(3);
    expect(b.countIn(3, 100)).toBe(2);
  });

  it('evicts the oldest beyond its cap and counts evictions', () => {
    const b = new LiquidationBuffer(3);
    for (const t of [10, 20, 30, 40]) b.insert(t);
    expect(b.size).toBe(3);
    expect(b.evictions).toBe(1);
    expect(b.countIn(0, 15)).toBe(0);
    expect(b.countIn(15, 40)).toBe(3);
  });

  it('stays correct across compaction (thousands of inserts and prunes)', () => {
    const b = new LiquidationBuffer(100_000);
    for (let i = 0; i < 5_000; i++) {
      b.insert(i * 10);
      b.pruneAtOrBefore(i * 10 - 600);
      expect(b.size).toBe(Math.min(i + 1, 60));
    }
    expect(b.countIn(49_990 - 600, 49_990)).toBe(60);
  });
  it('lets pruned times go over two days of a market rate (the memory-day leak: 1024 pruned times kept)', () => {
    const b = new LiquidationBuffer(LIMITS.LIQUIDATION_BUFFER_CAP);
    let maxSlots = 0;
    let worst = -Infinity;
    // One liquidation every 97 s, pruned to 60 s at every 1 s window close, as the detector does.
    for (let t = 0; t < 48 * 3_600_000; t += 1000) {
      if (t % 97_000 === 0) b.insert(t);
      b.pruneAtOrBefore(t - 60_000);
      // Within 2 × live + the compaction minimum at every step.
      worst = Math.max(worst, b.slots - (2 * b.size + FRONT_PRUNED_MIN + 1));
      maxSlots = Math.max(maxSlots, b.slots);
    }
    expect(b.size).toBe(1);
    expect(worst).toBeLessThanOrEqual(0);
    expect(maxSlots).toBeLessThanOrEqual(FRONT_PRUNED_MIN + 3);
  });
});

describe('duplicate liquidations (make-before-break rotation overlap)', () => {
  it('drops a liquidation received twice, counts it, and keeps distinct ones', () => {
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const f = new EventFactory();
    const first = f.liquidation({ ts: START + 100 });
    engine.ingest(first);
    engine.ingest({ ...first, recv_ms: first.recv_ms + 3 });
    engine.ingest(f.liquidation({ ts: START + 100, qty: 0.5 }));
    const d = det(engine);
    expect(d.counters.liquidations).toBe(2);
    expect(d.counters.duplicate_liquidations).toBe(1);
    expect(d.liquidations.size).toBe(2);
    expect(d.rawLiquidations.length).toBe(2);
  });

  it('remembers the last LIMITS.SEEN_LIQUIDATIONS per symbol, each as one flat string (the memory-day grower: ~360 bytes a key)', () => {
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const f = new EventFactory();
    const n = 3 * LIMITS.SEEN_LIQUIDATIONS;
    const liqs = Array.from({ length: n }, (_, i) => f.liquidation({ ts: START + i * 97_000, qty: 0.01 * (1 + (i % 13)) }));
    for (const l of liqs) engine.ingest(l);
    // The newest SEEN_LIQUIDATIONS are still recognised, an older one is not (it counts as new).
    engine.ingest({ ...(liqs[n - LIMITS.SEEN_LIQUIDATIONS] as LiquidationEvent), recv_ms: 1 });
    expect(det(engine).counters.duplicate_liquidations).toBe(1);
    engine.ingest({ ...(liqs[n - LIMITS.SEEN_LIQUIDATIONS - 1] as LiquidationEvent), recv_ms: 2 });
    expect(det(engine).counters.duplicate_liquidations).toBe(1);
    expect(det(engine).counters.liquidations).toBe(n + 1);

    // What a key costs once retained, measured after full collections (the product never forces one).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const keys = 20_000;
    const sample = liqs[0] as LiquidationEvent;
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = Array.from({ length: keys }, (_, i) => liquidationKey({ ...sample, ts_ms: sample.ts_ms + i }));
    gc();
    const perKey = (process.memoryUsage().heapUsed - before) / keys;
    expect(kept[keys - 1]).toBe(`${sample.ts_ms + keys - 1}|${sample.order_trade_time_ms}|${sample.side}|${sample.base_qty}|${sample.price}`);
    // Flat: ~90 bytes and the array slot; a template literal's tree of pieces was ~360.
    expect(perKey).toBeLessThan(160);
  });
});

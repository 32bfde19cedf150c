/**
 * SPEC §15, the worked example, exactly: a warm BTCUSDT baseline with P90(abs_flow) = 200 000 and
 * P95(mean trade size) = 150 000, three trades in window [1767701877000, 1767701878000), one
 * retained liquidation, fresh OI without change, and the window closing when the watermark reaches
 * 1767701879000. Then every negative variant listed in §15, each on its own.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/core/engine';
import type { Side } from '../src/core/contracts/primitives';
import { type PromotedEvent, PromotedEventSchema } from '../src/core/contracts/promoted';
import { PARTITION_KEYS, type PartitionKey, type SymbolCounters } from '../src/core/contracts/counters';
import type { SymbolDetector } from '../src/core/symbol-detector';
import { SystemState } from '../src/core/system-state';
import { BASELINE_P90_ABS_FLOW, BASELINE_P95_TRADE_SIZE, EventFactory, feedStandardBaseline, type TradeSpec, WindowRecorder } from './helpers';

const K = 1_767_701_877; // window index of the example
const START = K * 1000; // 1767701877000
const END = START + 1000; // 1767701878000
const CLOSE_AT = END + 1000; // 1767701879000 (GRACE_MS = 1000)
const LIQ_E = 1_767_701_850_000;
const OI_VALUE = 81_234.5;

function t(ts: number, price: number, qty: number, side: Side): TradeSpec {
  return { ts, price, qty, side };
}

/** The table of §15. */
const EXAMPLE_TRADES: TradeSpec[] = [
  t(1_767_701_877_100, 93_920.0, 0.5, 'BUY'),
  t(1_767_701_877_400, 93_921.0, 2.0, 'SELL'),
  t(1_767_701_877_900, 93_925.0, 0.1, 'BUY'),
];

interface ScenarioOptions {
  trades?: TradeSpec[];
  /** E of the single BTCUSDT liquidation (null: none). */
  liquidationE?: number | null;
  /** Exchange time of the last OI poll (same value as the first one → no change). */
  lastOiPollMs?: number;
}

interface Scenario {
  engine: Engine;
  state: SystemState;
  rec: WindowRecorder;
  f: EventFactory;
  btc: SymbolDetector;
  /** Counters of BTCUSDT just before the watermark reaches CLOSE_AT (window K still open). */
  before: SymbolCounters;
  /** Promotions emitted when the watermark reached CLOSE_AT. */
  promoted: readonly PromotedEvent[];
}

function detectorOf(engine: Engine, symbol: string): SymbolDetector {
  const d = engine.detector(symbol);
  if (d === undefined) throw new Error(`no detector for ${symbol}`);
  return d;
}

/**
 * Build the warm baseline in windows K−60 … K−1, feed the window's trades, advance the watermark
 * with ETHUSDT trades to CLOSE_AT − 1 (asserting window K is still open), then to CLOSE_AT.
 */
function runScenario(opts: ScenarioOptions = {}): Scenario {
  const rec = new WindowRecorder();
  const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'], onWindow: rec.onWindow });
  const state = new SystemState(engine, 'test-run', 'REPLAY');
  const f = new EventFactory('BTCUSDT');
  const liqE = opts.liquidationE === undefined ? LIQ_E : opts.liquidationE;
  feedStandardBaseline(engine, f, K - 60, {
    beforeWindow: (k) => {
      // First poll ever: establishes OI, never a change (SPEC §7.4).
      if (k === K - 60) engine.ingest(f.oi({ ts: k * 1000 + 100, value: OI_VALUE }));
      // The liquidation enters in time order, during the (cold) baseline windows: they are not
      // evaluated, so it cannot matter to them.
      if (liqE !== null && Math.floor(liqE / 1000) === k) engine.ingest(f.liquidation({ ts: liqE }));
    },
  });
  // A later poll with the same value keeps OI fresh without any change.
  engine.ingest(f.oi({ ts: opts.lastOiPollMs ?? START - 100, value: OI_VALUE }));
  const btc = detectorOf(engine, 'BTCUSDT');
  expect(btc.counters.oi_changes).toBe(0);

  for (const tr of opts.trades ?? EXAMPLE_TRADES) engine.ingest(f.trade(tr));
  // Close the last baseline window (K−1 closes at W ≥ START + 1000).
  engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: END + 500, price: 3200, qty: 1, side: 'BUY' }));
  expect(btc.warm).toBe(true);
  expect(btc.flowHistory.percentile(90)).toBe(BASELINE_P90_ABS_FLOW);
  expect(btc.sizeHistory.percentile(95)).toBe(BASELINE_P95_TRADE_SIZE);
  expect(btc.counters.baseline_not_warm).toBe(60);

  // 1 ms before the close: window K must still be open.
  engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: CLOSE_AT - 1, price: 3200, qty: 1, side: 'SELL' }));
  expect(engine.watermark).toBe(CLOSE_AT - 1);
  expect(rec.of('BTCUSDT', START)).toHaveLength(0);
  const before = { ...btc.counters };
  expect(engine.takeNewPromotions()).toEqual([]);

  engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: CLOSE_AT, price: 3200, qty: 1, side: 'BUY' }));
  expect(engine.watermark).toBe(CLOSE_AT);
  expect(rec.of('BTCUSDT', START)).toHaveLength(1);
  return { engine, state, rec, f, btc, before, promoted: engine.takeNewPromotions() };
}

/** The outcome counters of a judged (warm, non-empty) window: the partition minus the two unjudged ones. */
const JUDGED_COUNTERS = PARTITION_KEYS.filter((k) => k !== 'empty_windows' && k !== 'baseline_not_warm');

/** The window's close moved windows_processed by 1 and exactly one outcome counter by 1. */
function expectOnly(s: Scenario, counter: PartitionKey): void {
  const c = s.btc.counters;
  expect(c.windows_processed - s.before.windows_processed).toBe(1);
  expect(c.empty_windows - s.before.empty_windows).toBe(0);
  expect(c.baseline_not_warm - s.before.baseline_not_warm).toBe(0);
  for (const k of JUDGED_COUNTERS) expect({ [k]: c[k] - s.before[k] }).toEqual({ [k]: k === counter ? 1 : 0 });
}

describe('SPEC §15 worked example — promotion', () => {
  it('the baseline lands exactly on P90 = 200 000 and P95 = 150 000 (type 7, n = 60)', () => {
    const s = runScenario();
    const w = s.rec.one('BTCUSDT', START);
    expect(w.p90_abs_flow).toBe(200_000);
    expect(w.p95_trade_size).toBe(150_000);
  });

  it('promotes BTCUSDT-1767701877000 with the documented fields', () => {
    const s = runScenario();
    expect(s.promoted).toHaveLength(1);
    const e = s.promoted[0] as PromotedEvent;
    expect(() => PromotedEventSchema.parse(e)).not.toThrow();

    expect(e.event_id).toBe('BTCUSDT-1767701877000');
    expect(e.symbol).toBe('BTCUSDT');
    expect(e.timestamp).toBe(1767701878.0);
    expect(e.window_start_ms).toBe(START);
    expect(e.window_end_ms).toBe(END);
    expect(e.window_size).toBe(1.0);
    expect(e.dominant_side).toBe('SELL');
    expect(e.stress_sources).toEqual(['liquidations']);
    expect(e.rule_set).toEqual({ id: 'peak-pressure-m3', version: 1 });
    expect(e.closed_at_watermark_ms).toBe(CLOSE_AT);

    const m = e.metrics;
    expect(m.abs_flow).toBe(244_194.5);
    expect(m.trade_count).toBe(3);
    expect(m.large_trade_count).toBe(1);
    expect(m.liq_count).toBe(1);
    expect(m.compressed).toBe(false);
    expect(m.expanded).toBe(true);
    expect(m.body_ratio).toBe(1.0);
    expect(m.oi_delta).toBe(0);
    expect(m.net_aggression).toBe(-131_489.5);
    expect(m.buy_notional).toBe(46_960 + 9_392.5);
    expect(m.sell_notional).toBe(187_842);
    expect(m.mean_trade_size).toBeCloseTo(81_398.1667, 4);
    expect(m.p90_abs_flow).toBe(200_000);
    expect(m.p95_trade_size).toBe(150_000);
    expect([m.open, m.high, m.low, m.close]).toEqual([93_920.0, 93_925.0, 93_920.0, 93_925.0]);
    expect(m.kline_source).toBe('synthetic');
    expect(m.thresholds).toEqual({ compression_max: 0.3, expansion_min: 0.7, flow_percentile: 90, trade_size_percentile: 95 });

    // Deep-frozen: nobody downstream can alter a promoted event.
    expect(Object.isFrozen(e)).toBe(true);
    expect(Object.isFrozen(e.metrics)).toBe(true);
    expect(Object.isFrozen(e.stress_sources)).toBe(true);
  });

  it('counters: windows_processed +1, peak_pressure_count +1, nothing else', () => {
    const s = runScenario();
    expectOnly(s, 'peak_pressure_count');
    expect(s.engine.promotions.toArray().map((e) => e.event_id)).toEqual(['BTCUSDT-1767701877000']);
  });

  it('snapshot counters: windows_processed and peak_pressure_events move with the close', () => {
    // Same scenario, with commits either side of the closing watermark.
    const rec = new WindowRecorder();
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'], onWindow: rec.onWindow });
    const state = new SystemState(engine, 'r', 'REPLAY');
    const f = new EventFactory('BTCUSDT');
    feedStandardBaseline(engine, f, K - 60, {
      beforeWindow: (k) => {
        if (k === K - 60) engine.ingest(f.oi({ ts: k * 1000 + 100, value: OI_VALUE }));
        if (k === Math.floor(LIQ_E / 1000)) engine.ingest(f.liquidation({ ts: LIQ_E }));
      },
    });
    for (const tr of EXAMPLE_TRADES) engine.ingest(f.trade(tr));
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: CLOSE_AT - 1, price: 3200, qty: 1, side: 'BUY' }));
    const s1 = state.commit(1);
    engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: CLOSE_AT, price: 3200, qty: 1, side: 'BUY' }));
    const s2 = state.commit(2);
    // Two symbols close window K: BTC (promoted) and ETH (empty).
    expect(s2.counters.windows_processed - s1.counters.windows_processed).toBe(2);
    expect(s2.counters.peak_pressure_events - s1.counters.peak_pressure_events).toBe(1);
    expect(s2.counters.empty_windows - s1.counters.empty_windows).toBe(1);
    expect(s2.promoted_events.map((e) => e.event_id)).toEqual(['BTCUSDT-1767701877000']);
    expect(s1.promoted_events).toEqual([]);
  });

  it('after judging, the window is appended: abs_flow 244 194.5 and mean size 81 398.1667', () => {
    const s = runScenario();
    const flows = s.btc.flowHistory.values();
    const sizes = s.btc.sizeHistory.values();
    expect(flows).toHaveLength(60);
    expect(flows[59]).toBe(244_194.5);
    expect(sizes[59]).toBeCloseTo(81_398.1667, 4);
    expect(sizes[59]).toBe(244_194.5 / 3);
  });

  it('window K closes exactly at W = end + 1000, not at end + 999', () => {
    // runScenario asserts the open/closed state either side of the boundary; here check the
    // boundary alone with advanceTo and nothing else moving.
    const rec = new WindowRecorder();
    const engine = new Engine({ symbols: ['BTCUSDT'], onWindow: rec.onWindow });
    const f = new EventFactory('BTCUSDT');
    for (const tr of EXAMPLE_TRADES) engine.ingest(f.trade(tr));
    engine.advanceTo(END);
    engine.advanceTo(END + 999);
    expect(rec.of('BTCUSDT', START)).toHaveLength(0);
    engine.advanceTo(END + 1000);
    expect(rec.of('BTCUSDT', START)).toHaveLength(1);
    expect(rec.one('BTCUSDT', START).metrics?.trade_count).toBe(3);
  });
});

describe('SPEC §15 worked example — negative variants', () => {
  it('middle trade replaced by two SELL trades of q = 1.0 → large_trade_failed (C1 still passes)', () => {
    const s = runScenario({
      trades: [
        t(1_767_701_877_100, 93_920.0, 0.5, 'BUY'),
        t(1_767_701_877_400, 93_921.0, 1.0, 'SELL'),
        t(1_767_701_877_400, 93_921.0, 1.0, 'SELL'),
        t(1_767_701_877_900, 93_925.0, 0.1, 'BUY'),
      ],
    });
    const w = s.rec.one('BTCUSDT', START);
    expect(w.metrics?.abs_flow).toBe(244_194.5);
    expect(w.metrics?.trade_count).toBe(4);
    expect(w.large_trade_count).toBe(0);
    expect(w.outcome).toBe('large_trade_failed');
    expect(s.promoted).toEqual([]);
    expectOnly(s, 'large_trade_failed');
  });

  it('middle trade shrunk to q = 1.5 → abs_flow 197 234 < 200 000 → flow_surge_failed (C1 first)', () => {
    const s = runScenario({
      trades: [t(1_767_701_877_100, 93_920.0, 0.5, 'BUY'), t(1_767_701_877_400, 93_921.0, 1.5, 'SELL'), t(1_767_701_877_900, 93_925.0, 0.1, 'BUY')],
    });
    const w = s.rec.one('BTCUSDT', START);
    expect(w.metrics?.abs_flow).toBe(197_234);
    expect(w.outcome).toBe('flow_surge_failed');
    expect(s.promoted).toEqual([]);
    expectOnly(s, 'flow_surge_failed');
  });

  it('liquidation at exactly end − 60 s (E = 1767701818000), OI fresh and unchanged → stress_failed', () => {
    const s = runScenario({ liquidationE: END - 60_000 });
    expect(END - 60_000).toBe(1_767_701_818_000);
    expect(s.btc.counters.liquidations).toBe(1);
    const w = s.rec.one('BTCUSDT', START);
    expect(w.liq_count).toBe(0);
    expect(w.oi_change_present).toBe(false);
    expect(w.outcome).toBe('stress_failed');
    expect(s.promoted).toEqual([]);
    expectOnly(s, 'stress_failed');
  });

  it('same, but the last OI poll is older than 10 s → missing_streams instead of stress_failed', () => {
    const s = runScenario({ liquidationE: END - 60_000, lastOiPollMs: END - 10_001 });
    expect(s.btc.lastOiMs).toBe(END - 10_001);
    const w = s.rec.one('BTCUSDT', START);
    expect(w.outcome).toBe('missing_streams');
    expect(s.promoted).toEqual([]);
    expectOnly(s, 'missing_streams');
    // Counted under the legacy dropped_events.missing_streams too.
    expect(s.state.commit(0).counters.dropped_events.missing_streams).toBe(1);
  });

  it('with the liquidation retained, stale OI does not matter (promoted)', () => {
    const s = runScenario({ lastOiPollMs: END - 10_001 });
    expect(s.promoted.map((e) => e.event_id)).toEqual(['BTCUSDT-1767701877000']);
    expectOnly(s, 'peak_pressure_count');
  });

  it('a fourth trade at 1767701877950, p = 93921 → body_ratio 0.2, compressed, still promoted', () => {
    const s = runScenario({ trades: [...EXAMPLE_TRADES, t(1_767_701_877_950, 93_921.0, 0.1, 'SELL')] });
    expect(s.promoted).toHaveLength(1);
    const m = (s.promoted[0] as PromotedEvent).metrics;
    expect([m.open, m.high, m.low, m.close]).toEqual([93_920.0, 93_925.0, 93_920.0, 93_921.0]);
    expect(m.body_ratio).toBe(0.2);
    expect(m.compressed).toBe(true);
    expect(m.expanded).toBe(false);
    expect(m.trade_count).toBe(4);
    expectOnly(s, 'peak_pressure_count');
  });

  it('a candle with body_ratio 0.5 → compression_failed', () => {
    // Fourth trade closes at 93922.5: body 2.5, range 5 → 0.5, neither ≤ 0.30 nor ≥ 0.70.
    const s = runScenario({ trades: [...EXAMPLE_TRADES, t(1_767_701_877_950, 93_922.5, 0.1, 'SELL')] });
    const w = s.rec.one('BTCUSDT', START);
    expect(w.metrics?.close).toBe(93_922.5);
    expect(w.large_trade_count).toBe(1);
    expect(w.outcome).toBe('compression_failed');
    expect(s.promoted).toEqual([]);
    expectOnly(s, 'compression_failed');
  });

  it('a trade for window K arriving once the watermark reached 1767701879000 → window_not_closed, not in the window', () => {
    const s = runScenario();
    const lateBefore = s.btc.counters.window_not_closed;
    expect(lateBefore).toBe(0);
    s.engine.ingest(s.f.trade(t(1_767_701_877_950, 93_921.0, 5.0, 'SELL')));
    expect(s.btc.counters.window_not_closed).toBe(1);
    // Window K is not judged again, its recorded metrics and the baseline are untouched.
    expect(s.rec.of('BTCUSDT', START)).toHaveLength(1);
    expect(s.rec.one('BTCUSDT', START).metrics?.trade_count).toBe(3);
    expect(s.btc.flowHistory.values()[59]).toBe(244_194.5);
    // Nothing more is promoted, and the watermark did not move backwards.
    expect(s.engine.takeNewPromotions()).toEqual([]);
    expect(s.engine.watermark).toBe(CLOSE_AT);
    s.engine.advanceTo(CLOSE_AT + 5_000);
    expect(s.rec.of('BTCUSDT', START)).toHaveLength(1);
    expect(s.btc.counters.peak_pressure_count).toBe(1);
  });

  it('a late large trade cannot rescue a window that was already judged', () => {
    // Only the two small trades make it in time: abs_flow 56 352.5 → flow_surge_failed. The
    // 187 842 SELL arrives after the close; had it been folded in, the window would promote.
    const s = runScenario({ trades: [EXAMPLE_TRADES[0] as TradeSpec, EXAMPLE_TRADES[2] as TradeSpec] });
    expect(s.rec.one('BTCUSDT', START).outcome).toBe('flow_surge_failed');
    s.engine.ingest(s.f.trade(EXAMPLE_TRADES[1] as TradeSpec));
    expect(s.btc.counters.window_not_closed).toBe(1);
    s.engine.advanceTo(CLOSE_AT + 3_000);
    expect(s.btc.counters.peak_pressure_count).toBe(0);
    expect(s.engine.promotions.length).toBe(0);
  });
});

describe('condition 3 cut-offs and metadata around the example (SPEC §6.3, §6.5)', () => {
  /** Open 93 920 (BUY 0.5), extreme `high` (SELL 2, the large trade), close `close` (BUY 0.1). */
  function candle(high: number, close: number): TradeSpec[] {
    return [t(1_767_701_877_100, 93_920.0, 0.5, 'BUY'), t(1_767_701_877_400, high, 2.0, 'SELL'), t(1_767_701_877_900, close, 0.1, 'BUY')];
  }

  it('body_ratio exactly 0.30 is compressed and exactly 0.70 expanded (inclusive cut-offs)', () => {
    const a = runScenario({ trades: candle(93_930, 93_923) }); // 3 / 10
    expect(a.promoted.map((e) => [e.metrics.body_ratio, e.metrics.compressed, e.metrics.expanded])).toEqual([[0.3, true, false]]);
    const b = runScenario({ trades: candle(93_930, 93_927) }); // 7 / 10
    expect(b.promoted.map((e) => [e.metrics.body_ratio, e.metrics.compressed, e.metrics.expanded])).toEqual([[0.7, false, true]]);
  });

  it('body_ratio 0.31 and 0.69 fail condition 3', () => {
    const a = runScenario({ trades: candle(94_020, 93_951) }); // 31 / 100
    expect(a.rec.one('BTCUSDT', START).outcome).toBe('compression_failed');
    const b = runScenario({ trades: candle(94_020, 93_989) }); // 69 / 100
    expect(b.rec.one('BTCUSDT', START).outcome).toBe('compression_failed');
    expectOnly(b, 'compression_failed');
  });

  it('a single-price window (zero range) reports body_ratio 0, compressed, not expanded, and passes C3', () => {
    const s = runScenario({ trades: candle(93_920, 93_920) });
    expect(s.promoted).toHaveLength(1);
    const m = (s.promoted[0] as PromotedEvent).metrics;
    expect([m.body_ratio, m.compressed, m.expanded]).toEqual([0, true, false]);
  });

  it('dominant_side follows the sign of net_aggression; an exact tie is BUY', () => {
    // BUY 93 920 + BUY 93 922 = SELL 187 842 exactly → net 0.
    const tie = runScenario({
      trades: [t(1_767_701_877_100, 93_920.0, 1, 'BUY'), t(1_767_701_877_400, 93_921.0, 2, 'SELL'), t(1_767_701_877_900, 93_922.0, 1, 'BUY')],
    });
    const e = tie.promoted[0] as PromotedEvent;
    expect(e.metrics.net_aggression).toBe(0);
    expect(e.dominant_side).toBe('BUY');
    const buy = runScenario({
      trades: [t(1_767_701_877_100, 93_920.0, 0.5, 'SELL'), t(1_767_701_877_400, 93_921.0, 2, 'BUY'), t(1_767_701_877_900, 93_925.0, 0.1, 'SELL')],
    });
    expect(buy.promoted[0]?.metrics.net_aggression).toBe(131_489.5);
    expect(buy.promoted[0]?.dominant_side).toBe('BUY');
  });
});

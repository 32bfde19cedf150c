/**
 * Worked examples for policy `four-pillars-001` v1 (SPEC §17), one per outcome, through the same
 * pipeline replay uses (src/replay/pillars.ts): canonical trades and liquidations into the engine,
 * raw depth frames (a REST snapshot body and `depthUpdate` diffs with a proper `pu` chain) into the
 * book, the policy judging each window M3 closes with the book as of that window's end.
 *
 * The baseline: windows K−60 … K−1 of BTCUSDT, each with two trades and one depth diff, so the
 * policy's three histories hold exactly 60 values with type-7 percentiles on round numbers:
 *   |velocity|: 53 × 0 and 7 × 0.001                     → P90 = x[53] + 0.1·(x[54] − x[53]) = 0.001
 *   ask depth:  7 × 100 010 (1 lot at 100 010), 53 × 500 050 → P10 = x[5] + 0.9·(x[6] − x[5]) = 100 010
 *   bid depth:  7 ×  99 990 (1 lot at  99 990), 53 × 499 950 → P10 = 99 990
 * Window K is then BUY-dominated (95 %), falls 0.2 % (against the flow, |v| ≥ P90), has two short
 * liquidations (forced buys) in the last 60 s and half a lot on the ask as of its end: promoted.
 * Each variant changes one input.
 */
import { describe, expect, it } from 'vitest';
import type { DepthUpdate } from '../src/binance/book/contracts';
import type { Side } from '../src/core/contracts/primitives';
import { POLICY_OUTCOMES, type PolicyEvent, PolicyEventSchema, type PolicyOutcome, PolicySectionSchema } from '../src/core/policy/contracts';
import type { PolicyVerdict } from '../src/core/policy/four-pillars';
import { PillarsPipeline } from '../src/replay/pillars';
import { EventFactory, type TradeSpec } from './helpers';

const SYMBOL = 'BTCUSDT';
const K = 1_767_701_877;
const START = K * 1000;
const END = START + 1000;
const FIRST = K - 60;

const LOW_ASK = '1.000';
const HIGH_ASK = '5.000';
const LOW_BID = '1.000';
const HIGH_BID = '5.000';
/** Baseline windows (index 0…59) with |velocity| 0.001 and with thin books. */
const FAST = new Set([3, 11, 19, 27, 35, 43, 51]);
const THIN = new Set([5, 13, 21, 29, 37, 45, 53]);

interface Variant {
  trades?: TradeSpec[];
  liquidations?: { ts: number; side: Side }[];
  /** Ask and bid quantity at 100 010 / 99 990 set by window K's diff. */
  askQty?: string;
  bidQty?: string;
  /** Window K's diff breaks the `pu` chain: the book is RESYNCING as of K's end. */
  breakBookInK?: boolean;
  /** Baseline window whose diff breaks the chain (and a snapshot repairs it one window later). */
  breakBookAtBaseline?: number;
}

class DepthFeed {
  private u = 1000;
  constructor(private readonly pipe: PillarsPipeline) {}

  /** A REST body containing every diff sent so far (lastUpdateId = the last u). */
  snapshot(recv: number): void {
    const body = { lastUpdateId: this.u, E: recv, T: recv, bids: [['99990.00', HIGH_BID]], asks: [['100010.00', HIGH_ASK]] };
    this.pipe.ingestFrame({ recv_ms: recv, source: `rest:/fapi/v1/depth?symbol=${SYMBOL}&limit=1000`, text: JSON.stringify(body) });
  }

  /** A diff at event time E setting both levels; `gap` skips one update (pu ≠ previous u). */
  diff(E: number, bidQty: string, askQty: string, gap = false): void {
    const pu = gap ? this.u + 3 : this.u;
    const d: DepthUpdate = { e: 'depthUpdate', E, T: E, s: SYMBOL, U: this.u - 5, u: this.u + 10, pu, b: [['99990.00', bidQty]], a: [['100010.00', askQty]] };
    this.u += 10;
    this.pipe.ingestFrame({ recv_ms: E, source: 'ws:/public/stream', text: JSON.stringify({ stream: 'btcusdt@depth@100ms', data: d }) });
  }
}

const EXAMPLE_TRADES: TradeSpec[] = [
  { ts: START + 100, price: 100_000, qty: 1, side: 'BUY' },
  { ts: START + 300, price: 99_900, qty: 1, side: 'BUY' },
  { ts: START + 900, price: 99_800, qty: 0.1, side: 'SELL' },
];
function liquidationsAt(...at: [number, Side][]): { ts: number; side: Side }[] {
  return at.map(([ts, side]) => ({ ts, side }));
}
const EXAMPLE_LIQUIDATIONS = liquidationsAt([END - 30_000, 'BUY'], [END - 5_000, 'BUY']);

/** Window K as two trades: an open at 100 000 and a close at `closePrice`. */
function openClose(openQty: number, openSide: Side, closePrice: number, closeQty: number, closeSide: Side): TradeSpec[] {
  return [
    { ts: START + 100, price: 100_000, qty: openQty, side: openSide },
    { ts: START + 900, price: closePrice, qty: closeQty, side: closeSide },
  ];
}

interface Run {
  verdicts: PolicyVerdict[];
  events: PolicyEvent[];
  pipe: PillarsPipeline;
  /** The verdict of window K. */
  k: PolicyVerdict;
}

function run(v: Variant = {}): Run {
  const verdicts: PolicyVerdict[] = [];
  const pipe = new PillarsPipeline({ symbols: [SYMBOL, 'ETHUSDT'], onVerdict: (x) => verdicts.push(x) });
  const f = new EventFactory(SYMBOL);
  const depth = new DepthFeed(pipe);
  const liqs = v.liquidations ?? EXAMPLE_LIQUIDATIONS;
  // The book syncs before the baseline: snapshot, then a bridging diff.
  depth.snapshot(FIRST * 1000 - 2000);
  depth.diff(FIRST * 1000 - 1500, HIGH_BID, HIGH_ASK);
  for (let i = 0; i < 60; i++) {
    const k = FIRST + i;
    for (const l of liqs) if (Math.floor(l.ts / 1000) === k) pipe.ingest(f.liquidation({ ts: l.ts, side: l.side, price: 100_000 }));
    const close = FAST.has(i) ? (i % 2 === 0 ? 100_100 : 99_900) : 100_000;
    pipe.ingest(f.trade({ ts: k * 1000 + 100, price: 100_000, qty: 1, side: 'BUY' }));
    if (i === v.breakBookAtBaseline) depth.diff(k * 1000 + 500, HIGH_BID, HIGH_ASK, true);
    else if (v.breakBookAtBaseline !== undefined && i === v.breakBookAtBaseline + 1) {
      // The repair comes after this window's first diff, so the broken window's end stays broken.
      depth.diff(k * 1000 + 500, HIGH_BID, HIGH_ASK);
      depth.snapshot(k * 1000 + 550);
    } else depth.diff(k * 1000 + 500, THIN.has(i) ? LOW_BID : HIGH_BID, THIN.has(i) ? LOW_ASK : HIGH_ASK);
    pipe.ingest(f.trade({ ts: k * 1000 + 600, price: close, qty: 1, side: 'SELL' }));
  }
  for (const l of liqs) if (l.ts >= START) pipe.ingest(f.liquidation({ ts: l.ts, side: l.side, price: 100_000 }));
  const trades = v.trades ?? EXAMPLE_TRADES;
  pipe.ingest(f.trade(trades[0] as TradeSpec));
  depth.diff(START + 500, v.bidQty ?? HIGH_BID, v.askQty ?? '0.500', v.breakBookInK === true);
  for (const t of trades.slice(1)) pipe.ingest(f.trade(t));
  // Window K+1: the depth recovers (E > K's end) before K closes; K must not see it.
  depth.diff(END + 500, HIGH_BID, HIGH_ASK);
  pipe.ingest(f.trade({ symbol: 'ETHUSDT', ts: END + 999, price: 3200, qty: 1, side: 'BUY' }));
  expect(verdicts.filter((x) => x.window_start_ms === START)).toEqual([]);
  pipe.ingest(f.trade({ symbol: 'ETHUSDT', ts: END + 1000, price: 3200, qty: 1, side: 'BUY' }));
  const k = verdicts.filter((x) => x.symbol === SYMBOL && x.window_start_ms === START);
  expect(k).toHaveLength(1);
  return { verdicts, events: pipe.policy?.takeNewEvents() ?? [], pipe, k: k[0] as PolicyVerdict };
}

/** The policy's counters moved by window K alone: judged +1 and exactly `outcome` +1. */
function expectOnly(r: Run, outcome: PolicyOutcome): void {
  expect(r.k.outcome).toBe(outcome);
  const c = r.pipe.policy?.counters(SYMBOL);
  expect(c?.judged).toBe(61);
  const want = Object.fromEntries(POLICY_OUTCOMES.map((o) => [o, (o === 'not_warm' ? 60 : 0) + (o === outcome ? 1 : 0)]));
  expect(Object.fromEntries(POLICY_OUTCOMES.map((o) => [o, c?.[o]]))).toEqual(want);
  expect(r.events).toHaveLength(outcome === 'promoted' ? 1 : 0);
}

describe('four-pillars-001 worked example: promoted', () => {
  it('the baseline lands on P90 |velocity| = 0.001 and P10 depth = one lot per side', () => {
    const r = run();
    expect(r.k.velocity_p90).toBe(0.001);
    expect(r.k.passive_depth_p10).toBe(100_010);
    const state = r.pipe.policy?.section().per_symbol[SYMBOL];
    // After K: the histories roll on (K appended), so P10 of bids is still the thin lot.
    expect(state?.bid_depth_p10).toBe(99_990);
    expect(state?.warm).toBe(true);
  });

  it('promotes BTCUSDT window K with its inputs, the policy id and version', () => {
    const r = run();
    expectOnly(r, 'promoted');
    const e = r.events[0] as PolicyEvent;
    expect(() => PolicyEventSchema.parse(e)).not.toThrow();
    expect(e.event_id).toBe(`four-pillars-001:BTCUSDT-${START}`);
    expect(e.policy).toEqual({ id: 'four-pillars-001', version: 1 });
    expect(e).not.toHaveProperty('rule_set');
    expect([e.window_start_ms, e.window_end_ms, e.timestamp, e.closed_at_watermark_ms]).toEqual([START, END, END / 1000, END + 1000]);
    expect(e.dominant_side).toBe('BUY');
    expect(e.stress_sources).toEqual(['liquidations']);
    const m = e.metrics;
    expect(m.buy_notional).toBe(100_000 + 99_900);
    expect(m.sell_notional).toBe(9_980);
    expect(m.dominant_share).toBe(199_900 / 209_880);
    expect(m.velocity).toBe(-0.002);
    expect(m.velocity_p90).toBe(0.001);
    expect(m.cluster_count).toBe(2);
    expect(m.liq_count).toBe(2);
    expect(m.passive_side).toBe('ask');
    // As of K's end: half a lot at 100 010; the recovery diff of K+1 arrived before the close and is not seen.
    expect(m.passive_depth).toBe(100_010 * 0.5);
    expect(m.passive_depth_p10).toBe(100_010);
    expect([m.best_bid, m.best_ask, m.mid, m.depth_bps]).toEqual(['99990.00', '100010.00', 100_000, 10]);
    expect(m.book_last_event_ms).toBe(START + 500);
    expect(r.pipe.books?.book(SYMBOL)?.depthWithinBps(10)?.ask).toBe(100_010 * 5);
    expect(Object.isFrozen(e.metrics)).toBe(true);
  });

  it('a SELL-dominated window that rises, with long liquidations and thin bids, is promoted on the bid side', () => {
    const r = run({
      trades: [
        { ts: START + 100, price: 100_000, qty: 1, side: 'SELL' },
        { ts: START + 300, price: 100_100, qty: 1, side: 'SELL' },
        { ts: START + 900, price: 100_200, qty: 0.1, side: 'BUY' },
      ],
      liquidations: liquidationsAt([END - 20_000, 'SELL'], [END - 1, 'SELL']),
      askQty: HIGH_ASK,
      bidQty: '0.900',
    });
    expectOnly(r, 'promoted');
    const m = (r.events[0] as PolicyEvent).metrics;
    expect([m.passive_side, m.passive_depth, m.passive_depth_p10, m.velocity]).toEqual(['bid', 99_990 * 0.9, 99_990, 0.002]);
  });
});

describe('four-pillars-001 worked example: one outcome per variant', () => {
  it('window K−1 and before: not_warm (60 velocities and 60 depths per side are needed)', () => {
    const r = run();
    const before = r.verdicts.filter((v) => v.symbol === SYMBOL && v.window_start_ms < START);
    expect(before).toHaveLength(60);
    expect(new Set(before.map((v) => v.outcome))).toEqual(new Set(['not_warm']));
  });

  it('the book lost at one baseline window appends no depth there: K is still not_warm', () => {
    const r = run({ breakBookAtBaseline: 20 });
    expect(r.verdicts.find((v) => v.window_start_ms === (FIRST + 20) * 1000)?.book_live).toBe(false);
    expectOnly(r, 'not_warm');
    expect(r.pipe.policy?.section().per_symbol[SYMBOL]?.ask_depth_history_len).toBe(60);
    expect(r.pipe.books?.book(SYMBOL)?.counters.resyncs).toBe(1);
  });

  it('dominant share exactly 0.70 is not > 0.70: imbalance_failed', () => {
    const r = run({ trades: openClose(0.7, 'BUY', 100_000, 0.3, 'SELL') });
    expect(r.k.dominant_share).toBe(0.7);
    expectOnly(r, 'imbalance_failed');
  });

  it('price moving with the flow: velocity_failed', () => {
    const r = run({ trades: openClose(1, 'BUY', 100_200, 0.1, 'SELL') });
    expect(r.k.velocity).toBe(0.002);
    expectOnly(r, 'velocity_failed');
  });

  it('against the flow but smaller than P90: velocity_failed', () => {
    const r = run({ trades: openClose(1, 'BUY', 99_950, 0.1, 'SELL') });
    expect(Math.abs(r.k.velocity)).toBeLessThan(0.001);
    expectOnly(r, 'velocity_failed');
  });

  it('one dominant-side liquidation, or two on the other side: liquidation_cluster_failed', () => {
    expectOnly(run({ liquidations: [{ ts: END - 5_000, side: 'BUY' }] }), 'liquidation_cluster_failed');
    const wrongSide = run({ liquidations: liquidationsAt([END - 30_000, 'SELL'], [END - 5_000, 'SELL']) });
    expect(wrongSide.k.cluster_count).toBe(0);
    expectOnly(wrongSide, 'liquidation_cluster_failed');
  });

  it('a liquidation at exactly end − 60 s is outside the half-open 60 s: liquidation_cluster_failed', () => {
    const r = run({ liquidations: liquidationsAt([END - 60_000, 'BUY'], [END - 5_000, 'BUY']) });
    expect(r.k.cluster_count).toBe(1);
    expectOnly(r, 'liquidation_cluster_failed');
  });

  it('the book broken inside window K (pu gap) is not LIVE as of its end: book_unavailable, and K appends no depth', () => {
    const r = run({ breakBookInK: true });
    expect(r.k.book_live).toBe(false);
    expectOnly(r, 'book_unavailable');
    const state = r.pipe.policy?.section().per_symbol[SYMBOL];
    expect(state?.velocity_history_len).toBe(60);
    expect(r.pipe.books?.book(SYMBOL)?.state).toBe('RESYNCING');
  });

  it('the passive side above its P10: exhaustion_failed', () => {
    const r = run({ askQty: '1.001' });
    expect(r.k.passive_depth).toBe(100_010 * 1.001);
    expectOnly(r, 'exhaustion_failed');
  });

  it('exactly at P10 is exhausted (≤): promoted', () => {
    expectOnly(run({ askQty: LOW_ASK }), 'promoted');
  });
});

describe('four-pillars-001 snapshot section', () => {
  it('validates, partitions judged windows, and lists the event', () => {
    const r = run();
    const s = r.pipe.policy?.section();
    expect(() => PolicySectionSchema.parse(s)).not.toThrow();
    const c = s?.counters;
    expect(POLICY_OUTCOMES.reduce((sum, o) => sum + (c?.[o] ?? 0), 0)).toBe(c?.judged);
    expect(c?.windows_seen).toBe((c?.judged ?? 0) + (c?.empty ?? 0));
    expect(s?.events.map((e) => e.event_id)).toEqual([`four-pillars-001:BTCUSDT-${START}`]);
    expect(s?.policy.constants).toMatchObject({ IMBALANCE_MIN_SHARE: 0.7, DEPTH_BAND_BPS: 10, CLUSTER_MIN_COUNT: 2 });
  });
});

/**
 * "Why silent?" (SPEC §21): which windows are listed, their margins, and — the property that
 * matters most — that keeping them changes nothing: a real capture replayed with and without the
 * near-miss log yields byte-identical verdicts, counters, events and snapshots (bar the section).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS, RULES } from '../src/core/constants';
import type { NearMiss } from '../src/core/contracts/near-miss';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { Engine } from '../src/core/engine';
import { NearMissLog, nearMissOf } from '../src/core/near-miss';
import type { ClosedWindow } from '../src/core/symbol-detector';
import { SystemState } from '../src/core/system-state';
import { bodyShape } from '../src/core/window';
import { eventLine, runReplay } from '../src/replay/replay';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2024 } from './fixtures/paths';
import { FULL_2024_RECV_SPAN, writeOiCapture } from './fixtures/synthetic';
import { BASELINE_P90_ABS_FLOW, BASELINE_P95_TRADE_SIZE, EventFactory, feedStandardBaseline, firstUnfrozen, WindowRecorder } from './helpers';
import { tempDir } from './store-helpers';

const tmp = tempDir('pp-near-miss-');
afterAll(() => tmp.cleanup());

// ---------------------------------------------------------------------------------------------
// One window judged against the standard baseline (P90 abs_flow 200 000, P95 trade size 150 000).

const K = 1_723_161_300;
const PRICE = 100_000;

interface Case {
  /** Trades of window K as [price, qty, side]; in time order 100 ms apart. */
  trades: [number, number, 'BUY' | 'SELL'][];
  liquidation?: boolean;
  /** An OI poll (unchanged value) inside window K keeps OI fresh; without it OI is 60 s old. */
  oiFresh?: boolean;
}

function judge(c: Case): { window: ClosedWindow; log: NearMissLog; state: SystemState } {
  const rec = new WindowRecorder();
  const log = new NearMissLog(['BTCUSDT', 'ETHUSDT']);
  const engine = new Engine({
    symbols: ['BTCUSDT', 'ETHUSDT'],
    onWindow: (w) => {
      rec.onWindow(w);
      log.observe(w);
    },
  });
  const state = new SystemState(engine, 'near-miss', 'REPLAY', { nearMisses: log });
  const f = new EventFactory('BTCUSDT');
  feedStandardBaseline(engine, f, K - 60, { beforeWindow: (k) => k === K - 60 && engine.ingest(f.oi({ ts: k * 1000 + 100, value: 80_000 })) });
  if (c.oiFresh ?? true) engine.ingest(f.oi({ ts: K * 1000 + 50, value: 80_000 }));
  if (c.liquidation) engine.ingest(f.liquidation({ ts: K * 1000 + 60 }));
  c.trades.forEach(([price, qty, side], i) => engine.ingest(f.trade({ ts: K * 1000 + 100 + i * 100, price, qty, side })));
  engine.ingest(f.trade({ symbol: 'ETHUSDT', ts: (K + 2) * 1000, price: 3_000, qty: 1, side: 'BUY' }));
  return { window: rec.one('BTCUSDT', K * 1000), log, state };
}

/** Passes conditions 1 and 2: abs_flow 160 000 + 50 025 + 10 002 = 220 027, largest 160 000; body 20 / range 50 = 0.4. */
const NOT_COMPRESSED: Case['trades'] = [
  [PRICE, 1.6, 'BUY'],
  [PRICE + 50, 0.5, 'SELL'],
  [PRICE + 20, 0.1, 'BUY'],
];
/** The same flow, expanded: body 50 / range 50 = 1. */
const EXPANDED: Case['trades'] = [
  [PRICE, 1.6, 'BUY'],
  [PRICE + 20, 0.5, 'SELL'],
  [PRICE + 50, 0.1, 'BUY'],
];

function notional(trades: Case['trades']): { flow: number; largest: number } {
  const n = trades.map(([p, q]) => p * q);
  return { flow: n.reduce((a, b) => a + b, 0), largest: Math.max(...n) };
}

describe('nearMissOf: which judged windows are listed, with which margins', () => {
  it('compression_failed: stopped at 3, margins against P90/P95, body ratio, and the stress it would have had', () => {
    const { window, log, state } = judge({ trades: NOT_COMPRESSED, liquidation: true });
    expect(window.outcome).toBe('compression_failed');
    const { flow, largest } = notional(NOT_COMPRESSED);
    const expected: NearMiss = {
      window_start_ms: K * 1000,
      window_end_ms: K * 1000 + RULES.WINDOW_MS,
      outcome: 'compression_failed',
      stopped_at: 3,
      abs_flow: flow,
      p90_abs_flow: BASELINE_P90_ABS_FLOW,
      flow_margin: flow / BASELINE_P90_ABS_FLOW,
      largest_trade: largest,
      p95_trade_size: BASELINE_P95_TRADE_SIZE,
      large_trade_margin: largest / BASELINE_P95_TRADE_SIZE,
      large_trade_count: 1,
      body_ratio: 20 / 50,
      stress_state: 'present',
      liq_count: 1,
      oi_change: false,
      oi_fresh: true,
    };
    expect(nearMissOf(window)).toEqual(expected);
    const snap = state.commit(0);
    expect(snap.near_misses).toEqual({ BTCUSDT: [expected], ETHUSDT: [] });
    expect(SnapshotSchema.safeParse(snap).success).toBe(true);
    expect(firstUnfrozen(snap.near_misses)).toBeNull();
    expect(log.view().BTCUSDT).toBe(snap.near_misses.BTCUSDT);
  });

  it('stress_failed (fresh OI, no change, no liquidation): stopped at 4, stress absent', () => {
    const { window } = judge({ trades: EXPANDED });
    expect(window.outcome).toBe('stress_failed');
    expect(nearMissOf(window)).toMatchObject({ outcome: 'stress_failed', stopped_at: 4, body_ratio: 1, stress_state: 'absent', oi_fresh: true, liq_count: 0 });
  });

  it('missing_streams after condition 3 (no stress seen, OI stale): stopped at 4, stress unknown', () => {
    const { window } = judge({ trades: EXPANDED, oiFresh: false });
    expect(window.outcome).toBe('missing_streams');
    expect(nearMissOf(window)).toMatchObject({ outcome: 'missing_streams', stopped_at: 4, stress_state: 'unknown', oi_fresh: false });
  });

  it('lists nothing that failed condition 1 or 2, nothing promoted and nothing unjudged', () => {
    const promoted = judge({ trades: EXPANDED, liquidation: true });
    expect(promoted.window.outcome).toBe('promoted');
    const flowFailed = judge({ trades: [[PRICE, 0.1, 'BUY']] });
    expect(flowFailed.window.outcome).toBe('flow_surge_failed');
    // abs_flow 210 000 ≥ P90 but no trade reaches P95 = 150 000.
    const sizeFailed = judge({ trades: [...Array.from({ length: 3 }, (): [number, number, 'BUY'] => [PRICE, 0.7, 'BUY'])] });
    expect(sizeFailed.window.outcome).toBe('large_trade_failed');
    for (const r of [promoted, flowFailed, sizeFailed]) {
      expect(nearMissOf(r.window)).toBeNull();
      expect(r.state.commit(0).near_misses.BTCUSDT).toEqual([]);
    }
  });

  it('keeps the newest LIMITS.NEAR_MISSES_PER_SYMBOL per symbol, oldest first, and reuses unchanged views', () => {
    const { window } = judge({ trades: NOT_COMPRESSED });
    const log = new NearMissLog(['BTCUSDT', 'ETHUSDT']);
    const n = LIMITS.NEAR_MISSES_PER_SYMBOL + 5;
    for (let i = 0; i < n; i++) log.observe({ ...window, window_start_ms: window.window_start_ms + i * 1000 });
    const first = log.view();
    expect(first.BTCUSDT?.map((m) => m.window_start_ms)).toEqual(
      Array.from({ length: LIMITS.NEAR_MISSES_PER_SYMBOL }, (_, i) => window.window_start_ms + (i + 5) * 1000),
    );
    const second = log.view();
    expect(second.BTCUSDT).toBe(first.BTCUSDT);
    expect(second.ETHUSDT).toBe(first.ETHUSDT);
  });
});

// ---------------------------------------------------------------------------------------------
// Real captures: the log is an observer and nothing else.

/** What a replay decided, serialised: every promoted event, the summary (counters, partition) and the last snapshot without its near-miss section. */
async function decided(
  files: string[],
  opts: { nearMisses?: boolean; record?: boolean },
): Promise<{ text: string; log: NearMissLog | null; windows: ClosedWindow[] }> {
  const events: string[] = [];
  const windows: ClosedWindow[] = [];
  const r = await runReplay({
    files,
    commitEveryMs: 500,
    onPromotion: (e) => events.push(eventLine(e)),
    ...(opts.nearMisses ? { nearMisses: true } : {}),
    ...(opts.record ? { onWindow: (w: ClosedWindow) => windows.push(w) } : {}),
  });
  const { near_misses: _omitted, ...rest } = r.state.commit(r.engine.watermark ?? 0);
  return { text: `${events.join('')}\n${JSON.stringify(r.summary)}\n${JSON.stringify(rest)}`, log: r.nearMisses, windows };
}

/** The near misses expected from the full window stream: the qualifying outcomes, re-derived here, newest 20 per symbol. */
function expectedFrom(windows: ClosedWindow[], symbol: string): { start: number; outcome: string; body: number | null }[] {
  return windows
    .filter((w) => w.symbol === symbol && (w.outcome === 'compression_failed' || w.outcome === 'stress_failed' || w.outcome === 'missing_streams'))
    .slice(-LIMITS.NEAR_MISSES_PER_SYMBOL)
    .map((w) => ({
      start: w.window_start_ms,
      outcome: w.outcome,
      body: w.metrics === null ? null : bodyShape(w.metrics, RULES.COMPRESSION_MAX_BODY_RATIO, RULES.EXPANSION_MIN_BODY_RATIO).body_ratio,
    }));
}

async function expectObserverOnly(files: string[]): Promise<Map<string, NearMiss[]>> {
  const without = await decided(files, {});
  const withLog = await decided(files, { nearMisses: true });
  expect(withLog.text).toBe(without.text);
  // The verdict of every window, in closing order, is the same with the log listening too.
  const recorded = await decided(files, { record: true });
  const both = await decided(files, { record: true, nearMisses: true });
  expect(both.text).toBe(without.text);
  const verdicts = (ws: ClosedWindow[]): string[] => ws.map((w) => `${w.symbol}@${w.window_start_ms}:${w.outcome}`);
  expect(verdicts(both.windows)).toEqual(verdicts(recorded.windows));
  const view = (both.log as NearMissLog).view();
  const out = new Map<string, NearMiss[]>();
  for (const [symbol, list] of Object.entries(view)) {
    expect(list.map((m) => ({ start: m.window_start_ms, outcome: m.outcome, body: m.body_ratio }))).toEqual(expectedFrom(both.windows, symbol));
    for (const m of list) {
      expect(m.flow_margin).toBeGreaterThanOrEqual(1);
      expect(m.large_trade_margin).toBeGreaterThanOrEqual(1);
    }
    out.set(symbol, list);
  }
  return out;
}

describe('a real capture replays byte-identically with and without the near-miss log', () => {
  it('vendored capture with 5 s OI polls (compression_failed and stress_failed) and without OI (missing_streams)', async () => {
    const oi5 = writeOiCapture(join(tmp.dir, 'oi5.capture'), ['BTCUSDT', 'ETHUSDT'], undefined, 5_000);
    const withOi = await expectObserverOnly([...FIXTURE_FILES, oi5]);
    const outcomes = new Set([...withOi.values()].flat().map((m) => m.outcome));
    expect(outcomes).toEqual(new Set(['compression_failed', 'stress_failed']));
    const plain = await expectObserverOnly([...FIXTURE_FILES]);
    const plainOutcomes = [...plain.values()].flat();
    expect(plainOutcomes.length).toBeGreaterThan(0);
    expect(new Set(plainOutcomes.map((m) => `${m.outcome}:${m.stress_state}`))).toEqual(new Set(['compression_failed:unknown', 'missing_streams:unknown']));
  }, 60_000);

  it('full 2024 hftbacktest captures with 5 s OI polls', async () => {
    if (!haveShared(SHARED_HFT_2024, 'near-miss observer on the full captures')) return;
    const oi = writeOiCapture(join(tmp.dir, 'oi-full.capture'), ['BTCUSDT', 'ETHUSDT'], FULL_2024_RECV_SPAN, 5_000);
    const found = await expectObserverOnly([...SHARED_HFT_2024, oi]);
    for (const list of found.values()) expect(list).toHaveLength(LIMITS.NEAR_MISSES_PER_SYMBOL);
  }, 240_000);
});

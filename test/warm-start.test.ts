/**
 * Warm start in the core (SPEC §20, issue 14 A): REST aggTrades pages between the collector's two
 * marker frames fill the baselines only, the live stream's overlap is dropped, and the boundary
 * has neither a gap nor a double trade — shown on real trades, against the same market run without
 * a warm start. Then: chains that cannot be used, the marker contract, and M3 untouched without it.
 */
import { describe, expect, it } from 'vitest';
import { binanceUsdm } from '../src/binance/adapter';
import { aggTradesPath, parseAggTradesQuery } from '../src/binance/agg-trades-page';
import { normalizeFrame } from '../src/binance/normalize';
import { OUTCOME_COUNTERS, PARTITION_KEYS } from '../src/core/contracts/counters';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame, HistoryPage } from '../src/core/source';
import type { ClosedWindow } from '../src/core/symbol-detector';
import { SystemState } from '../src/core/system-state';
import { HistoryChain, WARM_START_SOURCE, warmStartFrame } from '../src/core/warm-start';
import { statusBar } from '../src/widgets/view-model';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2024 } from './fixtures/paths';
import { EventFactory, partitionSum, snapshotPartitionSum } from './helpers';
import { allLiveFrames, type RecordedTrade, recordedTrades, restRow, warmStartFrames } from './warm-start-frames';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;

interface Run {
  pipeline: FramePipeline;
  engine: Engine;
  windows: ClosedWindow[];
  state: SystemState;
}

function run(frames: readonly Frame[], symbols: readonly string[] = SYMBOLS): Run {
  const windows: ClosedWindow[] = [];
  const engine = new Engine({ symbols, onWindow: (w) => windows.push(w) });
  const pipeline = new FramePipeline(binanceUsdm, engine);
  for (const f of frames) pipeline.ingest(f);
  const state = new SystemState(engine, 'test', 'REPLAY', { frames: pipeline.counters, warmStart: pipeline.warmStart.status });
  return { pipeline, engine, windows, state };
}

/** What the M3 rule saw of a window; equal in both runs for every window after the boundary. */
function judged(ws: readonly ClosedWindow[], symbol: string, fromK: number): ClosedWindow[] {
  return ws.filter((w) => w.symbol === symbol && w.window_start_ms >= fromK * 1000);
}

/**
 * The boundary claim, checked against the all-live run over the same trades: every judged window
 * identical (outcome, metrics, P90/P95 it was judged against), the baselines identical value by
 * value, each trade counted once, the overlap dropped as backfill duplicates, no id gap, and the
 * windows before the boundary counted as backfilled instead of processed.
 */
function expectSeamless(trades: readonly RecordedTrade[], liveFromRecv: number, overlapMs: number): { live: Run; warm: Run; kL: number } {
  const live = run(allLiveFrames(trades));
  const w = warmStartFrames(trades, { liveFromRecv, overlapMs, spanMs: 300_000 });
  const warm = run(w.frames);
  const st = warm.pipeline.warmStart.status;
  expect(st.state).toBe('DONE');
  expect(st.backfilled).toEqual([...SYMBOLS]);
  expect(st.failed).toEqual({});
  expect(st.held_events).toBe(0);
  expect(st.held_events_max).toBeGreaterThan(0);
  const kL = Math.floor(w.firstLiveT / 1000);
  for (const symbol of SYMBOLS) {
    const a = live.engine.detector(symbol);
    const b = warm.engine.detector(symbol);
    if (!a || !b) throw new Error(symbol);
    expect(b.counters.trades, symbol).toBe(a.counters.trades);
    expect(b.counters.backfill_duplicates, symbol).toBe(w.overlap.get(symbol));
    expect(w.overlap.get(symbol), `${symbol}: the pages must overlap the stream`).toBeGreaterThan(0);
    expect(b.backfillLastId).toBe(w.lastBackfilledId.get(symbol));
    expect(b.counters.duplicate_trades).toBe(0);
    expect(b.counters.trade_id_gaps).toBe(0);
    expect(a.counters.trade_id_gaps).toBe(0);
    expect(b.counters.window_not_closed).toBe(a.counters.window_not_closed);
    // Same grid, same windows: the backfilled ones are just not processed (judged).
    expect(b.counters.backfilled_windows, symbol).toBeGreaterThan(0);
    expect(b.counters.windows_processed + b.counters.backfilled_windows, symbol).toBe(a.counters.windows_processed);
    expect(partitionSum(b.counters)).toBe(b.counters.windows_processed);
    expect(judged(warm.windows, symbol, 0).every((x) => x.window_start_ms >= kL * 1000)).toBe(true);
    expect(judged(warm.windows, symbol, kL)).toEqual(judged(live.windows, symbol, kL));
    expect(b.flowHistory.values()).toEqual(a.flowHistory.values());
    expect(b.sizeHistory.values()).toEqual(a.sizeHistory.values());
    // The ring's backfilled share, counted from the all-live run's own windows.
    const nonEmpty = live.windows.filter((x) => x.symbol === symbol && x.outcome !== 'empty');
    const ring = nonEmpty.slice(-60);
    expect(b.backfilledValues, symbol).toBe(ring.filter((x) => x.window_start_ms < kL * 1000).length);
  }
  const snap = SnapshotSchema.parse(warm.state.commit(0));
  expect(snapshotPartitionSum(snap.counters)).toBe(snap.counters.windows_processed);
  expect(snap.counters.backfilled_windows).toBe(SYMBOLS.reduce((s, x) => s + (warm.engine.detector(x)?.counters.backfilled_windows ?? 0), 0));
  expect(snap.counters.frames_received).toBe(w.frames.length);
  expect(Object.values(warm.pipeline.counters.frame_outcomes).reduce((s, n) => s + n, 0)).toBe(w.frames.length);
  expect(warm.pipeline.counters.frame_outcomes.history).toBe(st.pages);
  expect(snap.warm_start.backfilled).toEqual([...SYMBOLS]);
  return { live, warm, kL };
}

describe('the boundary on real trades: warm start ≡ the all-live run for everything after it', () => {
  const trades = recordedTrades(FIXTURE_FILES);

  it('vendored 70 s extract: backfill the first 45 s, the stream overlaps it by 3 s', () => {
    const t0 = trades[0]?.recv ?? 0;
    const { warm } = expectSeamless(trades, t0 + 45_000, 3_000);
    // 45 s of backfill is not 60 windows: warm only later, from live windows, with backfilled values in the ring.
    const snap = warm.state.commit(0);
    for (const symbol of SYMBOLS) {
      const p = snap.per_symbol[symbol];
      expect(p?.warm).toBe(true);
      expect(p?.baseline_state).toBe('warm_backfilled');
      expect(p?.baseline_backfilled).toBeGreaterThan(0);
    }
  });

  it('pages of 200 trades: the same, through many fromId continuations', () => {
    const t0 = trades[0]?.recv ?? 0;
    const live = run(allLiveFrames(trades));
    const w = warmStartFrames(trades, { liveFromRecv: t0 + 50_000, overlapMs: 1_500, spanMs: 300_000, limit: 200 });
    const warm = run(w.frames);
    expect(warm.pipeline.warmStart.status.pages).toBeGreaterThanOrEqual(2 * 10);
    for (const symbol of SYMBOLS) {
      expect(warm.engine.detector(symbol)?.flowHistory.values()).toEqual(live.engine.detector(symbol)?.flowHistory.values());
      expect(warm.engine.detector(symbol)?.counters.trades).toBe(live.engine.detector(symbol)?.counters.trades);
    }
  });

  it.runIf(haveShared(SHARED_HFT_2024, 'warm start over the full 2024-08-08 captures'))(
    'full 2024-08-08 captures: 4 min of backfill → warm (backfilled) in the first live second, warm (observed) 60 live windows later',
    () => {
      const full = recordedTrades(SHARED_HFT_2024);
      const t0 = full[0]?.recv ?? 0;
      const w = warmStartFrames(full, { liveFromRecv: t0 + 240_000, overlapMs: 2_000, spanMs: 300_000 });
      const end = w.frames.findIndex((f) => f.source === WARM_START_SOURCE && f.text.includes('"end"'));
      const windows: ClosedWindow[] = [];
      const engine = new Engine({ symbols: SYMBOLS, onWindow: (x) => windows.push(x) });
      const pipeline = new FramePipeline(binanceUsdm, engine);
      const state = new SystemState(engine, 'test', 'REPLAY', { frames: pipeline.counters, warmStart: pipeline.warmStart.status });
      w.frames.slice(0, end + 1).forEach((f) => pipeline.ingest(f));
      // At the end marker: warm at once, from the backfill; the few live windows already closed replaced as many values.
      const first = state.commit(0);
      for (const symbol of SYMBOLS) {
        const liveSoFar = windows.filter((x) => x.symbol === symbol && x.outcome !== 'empty').length;
        expect(liveSoFar).toBeLessThan(10);
        expect(first.per_symbol[symbol]?.baseline_state).toBe('warm_backfilled');
        expect(first.per_symbol[symbol]?.baseline_backfilled).toBe(60 - liveSoFar);
      }
      expect(first.baseline_status).toEqual({ ready_symbols: 2, total_symbols: 2 });
      expect(statusBar(first).baselines.text).toBe('Baselines: 2 / 2 (backfilled)');
      // Every window judged after the boundary is judged warm: none is baseline_not_warm.
      expect(windows.length).toBeGreaterThan(0);
      expect(windows.filter((x) => x.outcome === 'baseline_not_warm')).toEqual([]);
      w.frames.slice(end + 1).forEach((f) => pipeline.ingest(f));
      const last = state.commit(1);
      for (const symbol of SYMBOLS) {
        const liveNonEmpty = windows.filter((x) => x.symbol === symbol && x.outcome !== 'empty').length;
        expect(liveNonEmpty).toBeGreaterThanOrEqual(60);
        expect(last.per_symbol[symbol]?.baseline_state).toBe('warm_observed');
        expect(last.per_symbol[symbol]?.baseline_backfilled).toBe(0);
      }
      expect(statusBar(last).baselines.text).toBe('Baselines: 2 / 2 (observed)');
      expectSeamless(full, t0 + 240_000, 2_000);
    },
  );
});

// ---- chains that cannot be used --------------------------------------------------------------

describe('a symbol whose backfill cannot be used starts cold; the others are warm', () => {
  const trades = recordedTrades(FIXTURE_FILES);
  const t0 = trades[0]?.recv ?? 0;

  function cold(opts: Parameters<typeof warmStartFrames>[1]): Run {
    const w = warmStartFrames(trades, opts);
    return run(w.frames);
  }

  it('a missing continuation page (a timeout, a 429): incomplete, its trades unused', () => {
    const r = cold({ liveFromRecv: t0 + 45_000, overlapMs: 2_000, spanMs: 300_000, limit: 300, dropPage: (s, i) => s === 'ETHUSDT' && i === 2 });
    const st = r.pipeline.warmStart.status;
    expect(st.backfilled).toEqual(['BTCUSDT']);
    expect(st.failed.ETHUSDT?.reason).toBe('partial_page');
    const eth = r.engine.detector('ETHUSDT');
    expect(eth?.counters.backfilled_windows).toBe(0);
    expect(eth?.backfillLastId).toBeNull();
    expect(eth?.counters.backfill_duplicates).toBe(0);
    expect(r.engine.detector('BTCUSDT')?.counters.backfilled_windows).toBeGreaterThan(0);
  });

  it('the chain stops after full pages: incomplete; the collector’s own reason wins when it gave one', () => {
    const pagesOfEth = Math.ceil(trades.filter((x) => x.symbol === 'ETHUSDT').length / 300) + 1;
    const stop = (s: string, i: number): boolean => s === 'ETHUSDT' && i >= 1 && i < pagesOfEth + 5;
    const r = cold({ liveFromRecv: t0 + 45_000, overlapMs: 2_000, spanMs: 300_000, limit: 300, dropPage: stop });
    expect(r.pipeline.warmStart.status.failed.ETHUSDT?.reason).toBe('incomplete');
    const told = cold({
      liveFromRecv: t0 + 45_000,
      overlapMs: 2_000,
      spanMs: 300_000,
      limit: 300,
      dropPage: stop,
      failed: { ETHUSDT: { reason: 'timeout', detail: 'timed out after 5000 ms' } },
    });
    expect(told.pipeline.warmStart.status.failed).toEqual({ ETHUSDT: { reason: 'timeout', detail: 'timed out after 5000 ms' } });
    expect(told.pipeline.warmStart.status.backfilled).toEqual(['BTCUSDT']);
  });

  it('a symbol with no page at all, and a complete one the collector failed anyway', () => {
    const r = cold({ liveFromRecv: t0 + 45_000, overlapMs: 2_000, spanMs: 300_000, dropPage: (s) => s === 'BTCUSDT' });
    expect(r.pipeline.warmStart.status.failed.BTCUSDT?.reason).toBe('no_pages');
    const f = cold({ liveFromRecv: t0 + 45_000, overlapMs: 2_000, spanMs: 300_000, failed: { ETHUSDT: { reason: 'budget', detail: 'no weight left' } } });
    expect(f.pipeline.warmStart.status.backfilled).toEqual(['BTCUSDT']);
    expect(f.engine.detector('ETHUSDT')?.counters.backfilled_windows).toBe(0);
  });

  it('a cold symbol is judged exactly as in a run without any warm start', () => {
    const w = warmStartFrames(trades, { liveFromRecv: t0 + 45_000, overlapMs: 2_000, spanMs: 300_000, dropPage: (s) => s === 'ETHUSDT' });
    const r = run(w.frames);
    const plain = run(allLiveFrames(trades.filter((x) => x.recv >= t0 + 45_000)));
    // The plain run's grid begins a grace before its first event: an empty window the warm run never had.
    const kL = Math.floor(w.firstLiveT / 1000);
    expect(plain.windows.filter((x) => x.window_start_ms < kL * 1000).every((x) => x.outcome === 'empty')).toBe(true);
    const eth = judged(r.windows, 'ETHUSDT', 0);
    expect(eth.length).toBeGreaterThan(20);
    expect(eth).toEqual(judged(plain.windows, 'ETHUSDT', kL));
    const c = r.engine.detector('ETHUSDT')?.counters;
    expect(c?.trades).toBe(plain.engine.detector('ETHUSDT')?.counters.trades);
    expect(c?.window_not_closed).toBe(0);
    expect(c?.backfilled_windows).toBe(0);
  });
});

describe('HistoryChain: what makes a page usable', () => {
  const f = new EventFactory('BTCUSDT');
  const trades = (ids: number[], ts = 1_000_000): HistoryPage['trades'] => ids.map((id, i) => f.trade({ ts: ts + i, price: 100, qty: 1, side: 'BUY', id }));
  const page = (ids: number[], from: HistoryPage['from'], limit = 3): HistoryPage => ({ symbol: 'BTCUSDT', trades: trades(ids), from, limit });

  it('takes a chain: time first, then ids; the short page ends it', () => {
    const c = new HistoryChain();
    expect(c.accept(page([10, 11, 12], { kind: 'time', ms: 999_000 }))).toBeNull();
    expect(c.nextFromId).toBe(13);
    expect(c.accept(page([13, 14], { kind: 'id', id: 13 }))).toBeNull();
    expect(c.complete).toBe(true);
    expect(c.nextFromId).toBeNull();
    expect([c.pages, c.trades, c.lastId]).toEqual([2, 5, 14]);
  });

  it('a page from a time before the chain is complete starts it again (a shortened span)', () => {
    const c = new HistoryChain();
    expect(c.accept(page([10, 11, 12], { kind: 'time', ms: 1 }))).toBeNull();
    expect(c.restarted).toBe(false);
    expect(c.accept(page([500, 501, 502], { kind: 'time', ms: 9_000 }))).toBeNull();
    expect(c.restarted).toBe(true);
    expect([c.pages, c.trades, c.lastId, c.nextFromId]).toEqual([1, 3, 502, 503]);
    expect(c.accept(page([503], { kind: 'id', id: 503 }))).toBeNull();
    expect(c.complete).toBe(true);
    expect(c.accept(page([1], { kind: 'time', ms: 1 }))).toMatch(/after the last page/);
  });

  it('an empty first page is a complete chain without trades (nothing traded in the span)', () => {
    const c = new HistoryChain();
    expect(c.accept(page([], { kind: 'time', ms: 1 }))).toBeNull();
    expect(c.complete).toBe(true);
    expect(c.lastId).toBeNull();
  });

  it.each([
    ['a first page from an id', [page([10], { kind: 'id', id: 10 })], /first page must start from a time/],
    ['a continuation that skips ids', [page([10, 11, 12], { kind: 'time', ms: 1 }), page([14], { kind: 'id', id: 14 })], /expected id 13/],
    ['ids missing inside a page (a gap)', [page([10, 12], { kind: 'time', ms: 1 })], /12 follows 10: trades are missing/],
    ['a page after the last one', [page([10], { kind: 'time', ms: 1 }), page([11], { kind: 'id', id: 11 })], /after the last page/],
    ['more trades than asked for', [page([10, 11, 12, 13], { kind: 'time', ms: 1 })], /4 trades on a page of at most 3/],
  ])('refuses %s, and stays broken', (_what, pages, message) => {
    const c = new HistoryChain();
    const problems = pages.map((p) => c.accept(p)).filter((x) => x !== null);
    expect(problems[0]).toMatch(message);
    expect(c.broken).toMatch(message);
    expect(c.accept(page([99], { kind: 'id', id: 99 }))).toMatch(/already broken/);
  });

  it('refuses time going backwards inside a page', () => {
    const c = new HistoryChain();
    const p: HistoryPage = {
      symbol: 'BTCUSDT',
      trades: [f.trade({ ts: 2000, price: 1, qty: 1, side: 'BUY', id: 1 }), f.trade({ ts: 1000, price: 1, qty: 1, side: 'BUY', id: 2 })],
      from: { kind: 'time', ms: 0 },
      limit: 5,
    };
    expect(c.accept(p)).toMatch(/older than 2000/);
  });
});

// ---- the adapter's side: a REST body becomes one history page ---------------------------------

describe('REST aggTrades bodies through the normalizer', () => {
  const trades = recordedTrades(FIXTURE_FILES).filter((x) => x.symbol === 'ETHUSDT');
  const path = aggTradesPath({ symbol: 'ETHUSDT', from: { kind: 'time', ms: 1_723_161_256_000 }, endMs: 1_723_161_556_000, limit: 1000 });

  it('turns a real-trade page into canonical trades with the symbol of the request', () => {
    const text = `[${trades.slice(0, 5).map(restRow).join(',')}]`;
    const r = normalizeFrame({ recv_ms: 1_723_161_300_000, source: `rest:${path}`, text });
    if (r.kind !== 'history') throw new Error(JSON.stringify(r));
    expect(r.page.symbol).toBe('ETHUSDT');
    expect(r.page.limit).toBe(1000);
    expect(r.page.from).toEqual({ kind: 'time', ms: 1_723_161_256_000 });
    expect(r.page.trades.map((t) => [t.agg_id, t.ts_ms, t.event_time_ms, t.price, t.side, t.id_kind])).toEqual(
      trades.slice(0, 5).map((x) => [x.a, x.T, x.T, Number(x.p), x.m ? 'SELL' : 'BUY', 'agg']),
    );
  });

  it('refuses the whole page when one row is bad, when the body is cut, or when the request is not a page', () => {
    const rows = trades.slice(0, 3).map(restRow);
    const bad = [rows[0], rows[1]?.replace(/"p":"[^"]+"/, '"p":"-1"'), rows[2]].join(',');
    const cases: [string, string, RegExp][] = [
      [path, `[${bad}]`, /^schema_violation:aggTradesRest: 1\.p/],
      [path, `[${rows.join(',')}`.slice(0, 150), /^invalid_json$/],
      [path, '{"code":-1121,"msg":"Invalid symbol."}', /^unknown_payload$/],
      ['/fapi/v1/aggTrades?symbol=ETHUSDT&limit=1000', '[]', /neither startTime nor fromId/],
      ['/fapi/v1/aggTrades?symbol=ETHUSDT&fromId=5&startTime=1&limit=10', '[]', /fromId together with a time window/],
      ['/fapi/v1/aggTrades?symbol=ETHUSDT&fromId=5&limit=1001', '[]', /limit=1001 is outside/],
      ['/fapi/v1/aggTrades?symbol=ETHUSDT&startTime=1&endTime=3600001&limit=10', '[]', /not within an hour/],
    ];
    for (const [p, text, reason] of cases) {
      const r = normalizeFrame({ recv_ms: 1, source: `rest:${p}`, text });
      expect(r.kind, p).toBe('malformed');
      if (r.kind === 'malformed') expect(r.reason).toMatch(reason);
    }
  });

  it('reads back the path the planner writes', () => {
    expect(parseAggTradesQuery(path)).toEqual({ symbol: 'ETHUSDT', from: { kind: 'time', ms: 1_723_161_256_000 }, endMs: 1_723_161_556_000, limit: 1000 });
    expect(parseAggTradesQuery(aggTradesPath({ symbol: 'BTCUSDT', from: { kind: 'id', id: 7 }, limit: 500 }))).toEqual({
      symbol: 'BTCUSDT',
      from: { kind: 'id', id: 7 },
      limit: 500,
    });
  });
});

// ---- markers, and M3 without a warm start ------------------------------------------------------

describe('marker frames and M3 without a warm start', () => {
  const f = new EventFactory('BTCUSDT');
  const marker = (recv: number, text: string): Frame => ({ recv_ms: recv, source: WARM_START_SOURCE, text });

  it('refuses malformed markers (counted, dead-lettered) and tells unexpected ones apart', () => {
    const letters: string[] = [];
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const p = new FramePipeline(binanceUsdm, engine, (d) => letters.push(d.reason));
    p.ingest(marker(1, 'nope'));
    p.ingest(marker(2, '{"warm_start":"begin"}'));
    p.ingest(marker(3, '{"warm_start":"end","failed":{}}'));
    p.ingest(warmStartFrame(4, { warm_start: 'begin', span_ms: 300_000 }));
    p.ingest(warmStartFrame(5, { warm_start: 'begin', span_ms: 300_000 }));
    p.ingest(warmStartFrame(6, { warm_start: 'end', failed: {} }));
    p.ingest(warmStartFrame(7, { warm_start: 'end', failed: {} }));
    expect(letters).toEqual(['warm_start_marker: not JSON', 'warm_start_marker: span_ms: Invalid input: expected number, received undefined']);
    expect(p.counters.ignored_by_kind).toEqual({
      'warm_start:end_without_begin': 1,
      'warm_start:begin': 1,
      'warm_start:repeated': 1,
      'warm_start:end': 1,
      'warm_start:end_after_finish': 1,
    });
    expect(p.warmStart.status.state).toBe('DONE');
    expect(p.warmStart.status.failed).toEqual({ BTCUSDT: { reason: 'no_pages', detail: 'no page of this symbol arrived' } });
  });

  it('a page outside the warm start is counted as unused and changes nothing', () => {
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const p = new FramePipeline(binanceUsdm, engine);
    const text = `[${[1, 2].map((i) => `{"a":${i},"p":"100.0","q":"1","f":${i},"l":${i},"T":${1_000_000 + i},"m":false}`).join(',')}]`;
    p.ingest({ recv_ms: 1_000_100, source: `rest:${aggTradesPath({ symbol: 'BTCUSDT', from: { kind: 'time', ms: 1_000_000 }, limit: 1000 })}`, text });
    expect(p.counters.frame_outcomes.history).toBe(1);
    expect(p.warmStart.status).toMatchObject({ state: 'OFF', unused_pages: 1, pages: 0 });
    expect(engine.watermark).toBeNull();
    expect(engine.detector('BTCUSDT')?.counters.trades).toBe(0);
  });

  it('without markers every counter stays as M3 had it: no backfilled window, warm_start OFF', () => {
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    for (let k = 0; k < 70; k++) engine.ingest(f.trade({ ts: 1_000_000 + k * 1000 + 500, price: 100, qty: 1 + (k % 3), side: k % 2 ? 'BUY' : 'SELL' }));
    const d = engine.detector('BTCUSDT');
    expect(d?.counters.backfilled_windows).toBe(0);
    expect(d?.counters[OUTCOME_COUNTERS.baseline_not_warm]).toBe(60);
    expect(PARTITION_KEYS.reduce((s, k) => s + (d?.counters[k] ?? 0), 0)).toBe(d?.counters.windows_processed);
    const snap = new SystemState(engine, 'r', 'REPLAY').commit(0);
    expect(snap.warm_start.state).toBe('OFF');
    expect(snap.per_symbol.BTCUSDT?.baseline_state).toBe('warm_observed');
    expect(snap.per_symbol.BTCUSDT?.baseline_backfilled).toBe(0);
  });
});

describe('the hold is bounded', () => {
  it('ends the warm start by itself when LIMITS.WARM_START_MAX_HELD_EVENTS events wait, and feeds them', async () => {
    const { LIMITS } = await import('../src/core/constants');
    const engine = new Engine({ symbols: ['BTCUSDT'] });
    const p = new FramePipeline(binanceUsdm, engine);
    p.ingest(warmStartFrame(1, { warm_start: 'begin', span_ms: 300_000 }));
    const n = LIMITS.WARM_START_MAX_HELD_EVENTS;
    for (let i = 0; i < n + 10; i++) {
      const T = 1_700_000_000_000 + i * 10;
      p.ingest({
        recv_ms: T + 5,
        source: 'ws:/market/stream',
        text: `{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":${T},"a":${i + 1},"s":"BTCUSDT","p":"100.0","q":"1","f":${i + 1},"l":${i + 1},"T":${T},"m":false}}`,
      });
    }
    const st = p.warmStart.status;
    expect(st.state).toBe('DONE');
    expect(st.held_events_max).toBe(n);
    expect(st.failed.BTCUSDT?.reason).toBe('no_pages');
    expect(engine.detector('BTCUSDT')?.counters.trades).toBe(n + 10);
    p.ingest(warmStartFrame(2, { warm_start: 'end', failed: {} }));
    expect(p.counters.ignored_by_kind['warm_start:end_after_finish']).toBe(1);
  });
});

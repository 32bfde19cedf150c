/**
 * The view-model against SPEC §9 texts, on snapshots the real pipeline produced from the vendored
 * real capture (plus synthetic OI polls where a promotion is needed).
 */
process.env.TZ = 'UTC';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SnapshotSchema, type Snapshot } from '../src/core/contracts/snapshot';
import { binanceUsdm } from '../src/binance/adapter';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import { SystemState } from '../src/core/system-state';
import { runReplay } from '../src/replay/replay';
import { COLORS, diagnosis, eventsPanel, formatFixed, healthPanel, newestRows, statusBar, symbolsLabel, viewModel } from '../src/widgets/view-model';
import { FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';
import { recordedTrades, warmStartFrames } from './warm-start-frames';

let quiet: Snapshot;
let promoted: Snapshot;

beforeAll(async () => {
  const a = await runReplay({ files: FIXTURE_FILES, commitEveryMs: 500 });
  quiet = a.state.commit(1_723_161_330_000);
  const oi = writeOiCapture(join(mkdtempSync(join(tmpdir(), 'pp-vm-')), 'oi.pp'));
  const b = await runReplay({ files: [...FIXTURE_FILES, oi], symbols: ['BTCUSDT', 'ETHUSDT'], commitEveryMs: 500 });
  promoted = b.state.commit(1_723_161_330_000);
});

describe('status bar', () => {
  it('lists the first five symbols then the remaining count', () => {
    const ten = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'DOGEUSDT', 'BNBUSDT', 'ADAUSDT', 'LINKUSDT', 'AVAXUSDT', '1000PEPEUSDT'];
    expect(symbolsLabel(ten)).toBe('Symbols: BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT, DOGEUSDT (+5 more)');
    expect(symbolsLabel(ten.slice(0, 2))).toBe('Symbols: BTCUSDT, ETHUSDT');
  });

  it('shows the snapshot counters with thousands separators and the colours of SPEC §9', () => {
    const s = statusBar(quiet);
    expect(s.mode.text).toBe('Mode: REPLAY');
    expect(s.windows.text).toBe(`Windows: ${quiet.counters.windows_processed.toLocaleString('en-US')}`);
    expect(s.events).toEqual({ text: 'Events: 0', color: COLORS.white });
    expect(s.baselines.text).toBe(`Baselines: ${quiet.baseline_status.ready_symbols} / 2`);
    expect(s.baselines.color).toBe(quiet.baseline_status.ready_symbols === 2 ? COLORS.green : COLORS.orange);
    expect(s.lastUpdate.text).toBe('Last update: 23:55:30');
  });

  it('colours health: OK green, DEGRADED red, STARTING orange, FAILED red', () => {
    const colour = (h: Snapshot['health_state']): string => statusBar({ ...quiet, health_state: h }).health.color;
    expect([colour('OK'), colour('DEGRADED'), colour('STARTING'), colour('FAILED')]).toEqual([COLORS.green, COLORS.red, COLORS.orange, COLORS.red]);
    expect(statusBar({ ...quiet, health_state: 'DEGRADED' }).health.text).toBe('Health: DEGRADED');
  });

  it('says LOADING... before the symbol universe is known', () => {
    expect(statusBar({ ...quiet, symbols_active: [], mode: 'LIVE_PEAK_PRESSURE' }).mode.text).toBe('Mode: LOADING...');
    expect(statusBar({ ...quiet, mode: 'LIVE_PEAK_PRESSURE' }).mode.text).toBe('Mode: LIVE_PEAK_PRESSURE');
    expect(statusBar({ ...quiet, mode: 'DEMO' }).mode.text).toBe('Mode: DEMO');
  });
  it('says where the baselines come from after a warm start (SPEC §20): `2 / 2 (backfilled)` at the end of the backfill', () => {
    // Real trades: the first 62 s as REST pages, the rest as the live stream (test/warm-start-frames.ts).
    const trades = recordedTrades(FIXTURE_FILES);
    const w = warmStartFrames(trades, { liveFromRecv: (trades[0]?.recv ?? 0) + 62_000, overlapMs: 2_000, spanMs: 300_000 });
    const engine = new Engine({ symbols: ['BTCUSDT', 'ETHUSDT'] });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    const state = new SystemState(engine, 'test', 'LIVE_PEAK_PRESSURE', { frames: pipeline.counters, warmStart: pipeline.warmStart.status });
    const end = w.frames.findIndex((f) => f.source === 'local:warm-start' && f.text.includes('"end"'));
    w.frames.slice(0, end).forEach((f) => pipeline.ingest(f));
    const during = statusBar(state.commit(1));
    expect(during.baselines).toEqual({ text: 'Baselines: 0 / 2', color: COLORS.orange });
    pipeline.ingest(w.frames[end] as (typeof w.frames)[number]);
    const after = state.commit(2);
    expect(after.warm_start.backfilled).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(statusBar(after).baselines).toEqual({ text: 'Baselines: 2 / 2 (backfilled)', color: COLORS.green });
  });
});

describe('raw market feed', () => {
  it('shows the newest 20 trades across symbols, newest first, with per-symbol precision', () => {
    const rows = newestRows(quiet, quiet.raw_buffers.trades);
    expect(rows).toHaveLength(20);
    const all = Object.values(quiet.raw_buffers.trades)
      .flat()
      .sort((a, b) => b.timestamp - a.timestamp);
    const newest = all[0];
    expect(newest).toBeDefined();
    expect(rows[0]?.symbol).toBe(newest?.symbol);
    const times = rows.map((r) => r.time);
    expect([...times].sort().reverse()).toEqual(times);
    for (const r of rows) {
      const p = quiet.per_symbol[r.symbol];
      const decimals = (r.price.split('.')[1] ?? '').length;
      expect(decimals).toBe(p?.price_precision);
      expect(r.side === 'BUY' || r.side === 'SELL').toBe(true);
      expect(r.sideColor).toBe(r.side === 'BUY' ? COLORS.buy : COLORS.sell);
    }
  });

  it('prints a sub-cent price with enough decimals (1000PEPEUSDT)', () => {
    const row = { timestamp: 1_767_700_000, symbol: '1000PEPEUSDT', price: 0.0069748, base_qty: 123456, quote_qty: 861.1, side: 'SELL' as const };
    const s: Snapshot = {
      ...quiet,
      symbols_active: ['1000PEPEUSDT'],
      per_symbol: { '1000PEPEUSDT': { ...(quiet.per_symbol.BTCUSDT as Snapshot['per_symbol'][string]), price_precision: 7, qty_precision: 0 } },
      raw_buffers: { trades: { '1000PEPEUSDT': [row] }, liquidations: {} },
    };
    expect(newestRows(s, s.raw_buffers.trades)[0]).toMatchObject({ price: '0.0069748', qty: '123,456', time: '11:46:40' });
  });

  it('formats with thousands separators and fixed decimals', () => {
    expect(formatFixed(43127.5, 2)).toBe('43,127.50');
    expect(formatFixed(0.125, 4)).toBe('0.1250');
  });
});

describe('health panel', () => {
  it('shows rates, OI polling, streams, cumulative dropped events and condition failures', () => {
    const text = healthPanel(quiet);
    expect(text.startsWith('=== SYSTEM HEALTH ===\n')).toBe(true);
    expect(text).toContain('\n=== DROPPED EVENTS (since start) ===\n');
    const d = quiet.counters.dropped_events;
    expect(text).toContain(`\nSymbol not allowed: ${d.symbol_not_allowed.toLocaleString('en-US')}\n`);
    expect(text).toContain(`\nBaseline not ready: ${d.baseline_not_ready.toLocaleString('en-US')}\n`);
    expect(text).toContain(`\nWindow not closed: ${d.window_not_closed}\n`);
    expect(text).toContain(`\nMissing streams: ${d.missing_streams}\n`);
    expect(text).toContain(`\nFlow surge failed: ${quiet.counters.flow_surge_failed}\n`);
    expect(text).toContain('\nTrades rate: 0.0/s\n');
    expect(text).toContain('\nOI Polling: not started\n');
    expect(text).toContain('\nLiquidation buffers: BTCUSDT:0, ETHUSDT:0\n');
  });
});

describe('promoted events panel', () => {
  it('shows the exact empty-state text of SPEC §9, then the most common failure', () => {
    const text = eventsPanel(quiet);
    const r = quiet.baseline_status;
    expect(
      text.startsWith(
        `=== NO PEAK PRESSURE EVENTS DETECTED ===\n\nThis is expected during:\n- Baseline warmup (${r.ready_symbols} / ${r.total_symbols} symbols ready)\n- Normal market conditions\n- No multi-stream coincidence\n`,
      ),
    ).toBe(true);
    expect(text.endsWith(diagnosis(quiet))).toBe(true);
  });

  it('lists promoted events newest first with stress sources and the rule-set version', () => {
    const events = promoted.promoted_events;
    expect(events.length).toBeGreaterThan(0);
    const text = eventsPanel(promoted);
    expect(text.startsWith(`=== PROMOTED STRUCTURAL EVENTS (${events.length}) ===\n`)).toBe(true);
    const newest = events[events.length - 1];
    const oldest = events[0];
    expect(newest && oldest).toBeTruthy();
    const firstBlock = text.split('\n\n')[1] ?? '';
    expect(firstBlock).toContain(`${newest?.symbol} - ${newest?.dominant_side}`);
    expect(firstBlock).toContain('  Window: 1.0s');
    expect(firstBlock).toContain(`  Stress: ${newest?.stress_sources.join(', ')}`);
    expect(firstBlock).toContain(`  Flow: ${formatFixed(newest?.metrics.abs_flow ?? 0, 2)}`);
    expect(firstBlock).toContain(`  Trades: ${newest?.metrics.trade_count}`);
    expect(firstBlock).toContain(`  Liquidations: ${newest?.metrics.liq_count}`);
    expect(firstBlock).toContain('  Rule set: peak-pressure-m3 v1');
    const when = new Date(newest?.window_end_ms ?? 0).toISOString().replace('T', ' ').slice(0, 19);
    expect(firstBlock.startsWith(`[${when}]`)).toBe(true);
  });
});

describe('whole view-model', () => {
  it('is built from a schema-valid snapshot and shows FAILED as a full-window message', () => {
    expect(SnapshotSchema.safeParse(quiet).success).toBe(true);
    expect(viewModel(quiet).failure).toBeNull();
    const failed = viewModel({
      ...quiet,
      health_state: 'FAILED',
      health_reasons: ['SYMBOL_LEAK'],
      health_detail: 'event for XRPUSDT reached the BTCUSDT detector',
    });
    expect(failed.failure?.title).toBe('FAILED: SYMBOL_LEAK');
    expect(failed.failure?.body).toContain('event for XRPUSDT reached the BTCUSDT detector');
  });
});

describe('events panel size', () => {
  it('shows the newest 100 events in full and says how many older ones are not shown', async () => {
    const { EVENTS_SHOWN } = await import('../src/widgets/view-model');
    const base = promoted.promoted_events[0];
    expect(base).toBeDefined();
    if (!base) return;
    const many = Array.from({ length: 250 }, (_, i) => ({ ...base, event_id: `BTCUSDT-${i}`, window_end_ms: base.window_end_ms + i * 1000 }));
    const text = eventsPanel({ ...promoted, promoted_events: many });
    expect(text.startsWith('=== PROMOTED STRUCTURAL EVENTS (250) ===\n')).toBe(true);
    expect(text.split('  Rule set: ').length - 1).toBe(EVENTS_SHOWN);
    const newest = new Date(base.window_end_ms + 249_000).toISOString().replace('T', ' ').slice(0, 19);
    expect(text.split('\n')[2]?.startsWith(`[${newest}]`)).toBe(true);
    expect(text.endsWith('… 150 older events not shown (all are in debug/audit.jsonl)')).toBe(true);
  });
});

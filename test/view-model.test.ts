/**
 * The view-model and the events table model against SPEC §9 texts, on snapshots the real
 * pipeline produced from the vendored real capture (plus synthetic OI polls where a promotion is
 * needed).
 */
process.env.TZ = 'UTC';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { SnapshotSchema, type Snapshot } from '../src/core/contracts/snapshot';
import { binanceUsdm } from '../src/binance/adapter';
import { LIMITS } from '../src/core/constants';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import { SystemState } from '../src/core/system-state';
import { NearMissMirror, UiFeed } from '../src/ipc/ui-feed';
import { runReplay } from '../src/replay/replay';
import {
  compareRows,
  DEFAULT_SORT,
  EVENT_COLUMNS,
  eventCells,
  eventDetail,
  eventFields,
  EventLog,
  eventRow,
  type EventRow,
  NO_FILTER,
  type RowChanges,
} from '../src/widgets/events-model';
import { formatAge, formatFixed, formatInt } from '../src/widgets/format';
import { parseLayout } from '../src/widgets/layout';
import {
  COLORS,
  countersModel,
  diagnosis,
  emptyState,
  eventBlock,
  eventsHeader,
  healthModel,
  newestRows,
  partitionRows,
  statusBar,
  symbolGrid,
  symbolsLabel,
  SYMBOL_COLUMNS,
  viewModel,
} from '../src/widgets/view-model';
import { FIXTURE_FILES, haveShared, SHARED_HFT_2024 } from './fixtures/paths';
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

describe('formatting without Intl', () => {
  it("equals toLocaleString('en-US') on every number of a real snapshot and on edge values", () => {
    const values = new Set<number>([0, -0, 0.4, 0.5, -0.6, 1.005, 2.675, 1.45, 999.995, 999_999.995, 1e-7, 5e-324, 0.125, 0.0069748, 43127.5, 1e15, -123456.5]);
    const walk = (x: unknown): void => {
      if (typeof x === 'number') values.add(x);
      else if (Array.isArray(x)) x.forEach(walk);
      else if (x !== null && typeof x === 'object') Object.values(x).forEach(walk);
    };
    walk(promoted);
    expect(values.size).toBeGreaterThan(500);
    // Intl writes a value that rounds to zero as "-0"; the window writes "0".
    const unsignedZero = (x: string): string => (/^-0(\.0*)?$/.test(x) ? x.slice(1) : x);
    for (const v of values) {
      expect(formatInt(v)).toBe(unsignedZero(v.toLocaleString('en-US', { maximumFractionDigits: 0 })));
      for (const d of [1, 2, 3, 7])
        expect(formatFixed(v, d), `${v} to ${d}`).toBe(unsignedZero(v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })));
    }
    expect(formatFixed(43127.5, 2)).toBe('43,127.50');
    expect(formatFixed(0.125, 4)).toBe('0.1250');
    expect(formatFixed(1.005, 2)).toBe('1.01');
    expect(formatFixed(-0.001, 2)).toBe('0.00');
  });

  it('prints ages short', () => {
    expect([formatAge(0.04), formatAge(9.96), formatAge(12.7), formatAge(119.9), formatAge(150), formatAge(9000), formatAge(-1)]).toEqual([
      '0 s',
      '9 s',
      '12 s',
      '119 s',
      '2 min',
      '2.5 h',
      '0 s',
    ]);
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
});

describe('system health', () => {
  it('has the SPEC heading, the health line with its reasons, connections and the four rates', () => {
    const h = healthModel(quiet);
    expect(h.heading).toBe('=== SYSTEM HEALTH ===');
    expect(h.lines[0]).toEqual({ text: `Health: ${quiet.health_state}`, color: COLORS.orange });
    const text = h.lines.map((l) => l.text).join('\n');
    expect(text).toContain('Stage: OBSERVE');
    expect(text).toContain('OI Polling: not started');
    expect(text).toContain('WebSocket: IDLE (reconnects: 0)');
    expect(text).toContain('Trades rate: 0.0/s    Liquidations rate: 0.0/min    Klines rate: 0.0/s    OI rate: 0.0/min (expected ~120/min)');
    const degraded = healthModel({
      ...quiet,
      health_state: 'DEGRADED',
      health_reasons: ['OI_STALE', 'WS_RECONNECTING'],
      health_detail: 'OI for BTCUSDT is 31 s old',
    });
    expect(degraded.lines[0]).toEqual({ text: 'Health: DEGRADED (OI_STALE, WS_RECONNECTING)', color: COLORS.red });
    expect(degraded.detail).toEqual({ text: 'OI for BTCUSDT is 31 s old', color: COLORS.red });
    expect(h.detail).toBeNull();
  });

  it('shows one grid row per symbol: baseline, windows, trade and OI age, retained liquidations, cadence, events', () => {
    const g = symbolGrid(promoted);
    expect(g.columns).toEqual(SYMBOL_COLUMNS);
    expect(g.rows.map((r) => r[0]?.text)).toEqual(promoted.symbols_active);
    for (const [i, sym] of promoted.symbols_active.entries()) {
      const p = promoted.per_symbol[sym];
      const row = g.rows[i] ?? [];
      expect(p).toBeDefined();
      if (!p) continue;
      expect(row).toHaveLength(SYMBOL_COLUMNS.length);
      expect(row[1]).toEqual(
        p.warm ? { text: 'warm', color: COLORS.green } : { text: expect.stringMatching(/^\d+ \/ 60$/) as unknown as string, color: COLORS.orange },
      );
      expect(row[2]?.text).toBe(p.counters.windows_processed.toLocaleString('en-US'));
      const tradeAge = ((promoted.watermark_ms ?? 0) - (p.last_trade_ms ?? 0)) / 1000;
      expect(row[3]?.text).toBe(formatAge(tradeAge));
      expect(row[4]?.text).toBe(String(p.liquidation_buffer_size));
      expect(row[5]?.text).toBe(p.last_oi_age_s === null ? '—' : formatAge(p.last_oi_age_s));
      // A replay subscribes to no stream.
      expect(row[6]).toEqual({ text: '—', color: COLORS.grey });
      expect(row[7]).toEqual({ text: String(p.counters.peak_pressure_count), color: COLORS.white });
    }
    const late = {
      ...promoted,
      per_symbol: { ...promoted.per_symbol, BTCUSDT: { ...(promoted.per_symbol.BTCUSDT as Snapshot['per_symbol'][string]), last_oi_age_s: 31 } },
    };
    expect(symbolGrid(late).rows[0]?.[5]).toEqual({ text: '31 s', color: COLORS.red });
  });

  it('names the silent stream of a symbol in red, shows waiting in orange and flowing in green', () => {
    const stream = (state: 'WAITING' | 'FLOWING' | 'SILENT') => ({ state, last_msg_ms: 1, msgs: 1, silence_limit_ms: 5000 });
    const s: Snapshot = {
      ...quiet,
      streams: {
        ...quiet.streams,
        per_stream: {
          'btcusdt@aggTrade': stream('FLOWING'),
          'btcusdt@markPrice@1s': stream('SILENT'),
          'ethusdt@aggTrade': stream('FLOWING'),
          'ethusdt@markPrice@1s': stream('WAITING'),
          '!forceOrder@arr': stream('FLOWING'),
        },
      },
    };
    const g = symbolGrid(s);
    expect(g.rows.map((r) => r[6])).toEqual([
      { text: 'silent: markPrice', color: COLORS.red },
      { text: 'waiting', color: COLORS.orange },
    ]);
    const flowing = symbolGrid({ ...s, streams: { ...s.streams, per_stream: { 'btcusdt@aggTrade': stream('FLOWING') } } });
    expect(flowing.rows[0]?.[6]).toEqual({ text: 'flowing', color: COLORS.green });
  });

  it('shows the counter partition in the frozen order, summing to the windows processed, and the dropped events', () => {
    for (const s of [quiet, promoted]) {
      const c = countersModel(s);
      expect(c.failures.heading).toBe('=== CONDITION FAILURES (since start) ===');
      expect(c.dropped.heading).toBe('=== DROPPED EVENTS (since start) ===');
      const parts = partitionRows(s);
      expect(parts.map(([l]) => l)).toEqual([
        'Empty windows',
        'Baseline not ready',
        'Flow surge failed',
        'Large trade failed',
        'Compression failed',
        'Missing streams',
        'Stress failed',
        'Peak Pressure events',
      ]);
      expect(parts.reduce((a, [, n]) => a + n, 0)).toBe(s.counters.windows_processed);
      const rows = c.failures.grid.rows.map((r) => r.map((x) => x.text));
      expect(rows.slice(0, 8).map((r) => r[1])).toEqual(parts.map(([, n]) => n.toLocaleString('en-US')));
      expect(rows[8]).toEqual(['Windows processed (= sum)', s.counters.windows_processed.toLocaleString('en-US'), '100.0 %']);
      const d = s.counters.dropped_events;
      expect(c.dropped.grid.rows.slice(0, 4).map((r) => r.map((x) => x.text))).toEqual([
        ['Symbol not allowed', d.symbol_not_allowed.toLocaleString('en-US')],
        ['Baseline not ready', d.baseline_not_ready.toLocaleString('en-US')],
        ['Window not closed', d.window_not_closed.toLocaleString('en-US')],
        ['Missing streams', d.missing_streams.toLocaleString('en-US')],
      ]);
    }
    const broken = countersModel({ ...quiet, counters: { ...quiet.counters, windows_processed: quiet.counters.windows_processed + 1 } });
    expect(broken.failures.grid.rows[8]?.[0]).toEqual({ text: 'Windows processed (≠ sum!)', color: COLORS.red });
  });
});

describe('promoted events: heading and empty state', () => {
  it('shows the exact empty-state text of SPEC §9, then the most common failure', () => {
    const h = eventsHeader(quiet);
    const r = quiet.baseline_status;
    expect(h.total).toBe(0);
    expect(h.emptyState).toBe(emptyState(quiet));
    expect(
      h.emptyState?.startsWith(
        `=== NO PEAK PRESSURE EVENTS DETECTED ===\n\nThis is expected during:\n- Baseline warmup (${r.ready_symbols} / ${r.total_symbols} symbols ready)\n- Normal market conditions\n- No multi-stream coincidence\n`,
      ),
    ).toBe(true);
    expect(h.emptyState?.endsWith(diagnosis(quiet))).toBe(true);
  });

  it('heads the table with the SPEC heading and the number promoted since start', () => {
    const n = promoted.promoted_events.length;
    expect(n).toBeGreaterThan(0);
    expect(eventsHeader(promoted)).toEqual({ total: n, heading: `=== PROMOTED STRUCTURAL EVENTS (${n}) ===`, emptyState: null });
  });
});

describe('promoted events: rows and detail', () => {
  it('makes one row per event with the columns of the table and the SPEC block plus every field in the detail', () => {
    const e = promoted.promoted_events[promoted.promoted_events.length - 1] as PromotedEvent;
    const cells = eventCells(e);
    expect(cells).toHaveLength(EVENT_COLUMNS.length);
    const when = new Date(e.window_end_ms).toISOString();
    expect(cells).toEqual([
      `${when.slice(5, 10)} ${when.slice(11, 19)}`,
      e.symbol,
      e.dominant_side,
      e.stress_sources.join(', '),
      formatFixed(e.metrics.abs_flow, 2),
      e.metrics.trade_count.toLocaleString('en-US'),
      e.metrics.large_trade_count.toLocaleString('en-US'),
      e.metrics.body_ratio.toFixed(2),
      'peak-pressure-m3 v1',
    ]);
    const row = eventRow(e, 7, 1);
    expect(row.sideColor).toBe(e.dominant_side === 'BUY' ? COLORS.buy : COLORS.sell);
    const detail = eventDetail(row);
    expect(detail.startsWith(`${eventBlock(e, 1)}\n\nAll fields (event #7 of this run)\n`)).toBe(true);
    expect(detail).toContain(
      `[${when.slice(0, 10)} ${when.slice(11, 19)}] ${e.symbol} - ${e.dominant_side}\n  Window: 1.0s\n  Stress: ${e.stress_sources.join(', ')}\n`,
    );
    // Every leaf of the event, exact (not rounded), dotted paths in contract order.
    const leaves: string[] = [];
    const walk = (prefix: string, x: unknown): void => {
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) for (const [k, v] of Object.entries(x)) walk(prefix ? `${prefix}.${k}` : k, v);
      else leaves.push(prefix);
    };
    walk('', e);
    const fields = eventFields(e);
    expect(fields.map((f) => f.slice(0, f.indexOf(':')))).toEqual(leaves);
    expect(fields).toContain(`metrics.abs_flow: ${e.metrics.abs_flow}`);
    expect(fields).toContain(`window_end_ms: ${e.window_end_ms} (${when.slice(0, 10)} ${when.slice(11, 23)})`);
    expect(fields).toContain(`stress_sources: ${e.stress_sources.join(', ')}`);
    expect(fields).toContain('metrics.thresholds.compression_max: 0.3');
  });
});

/** Records the model notifications as a Qt view would receive them, checking they bracket real changes. */
function recorder(log: EventLog): { ops: string[] } & RowChanges {
  const ops: string[] = [];
  let before = 0;
  return {
    ops,
    beforeInsert: (pos) => {
      before = log.size;
      ops.push(`+${pos}`);
    },
    afterInsert: () => expect(log.size).toBe(before + 1),
    beforeRemove: (pos) => {
      before = log.size;
      ops.push(`-${pos}`);
    },
    afterRemove: () => expect(log.size).toBe(before - 1),
    beforeReset: () => ops.push('reset'),
    afterReset: () => ops.push('reset-done'),
  };
}

/** `n` copies of the real events, each with its own id and window, `stepMs` apart, cycling the symbols. */
function manyEvents(base: readonly PromotedEvent[], n: number, stepMs = 1000): PromotedEvent[] {
  const syms = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
  return Array.from({ length: n }, (_, i) => {
    const e = base[i % base.length] as PromotedEvent;
    const symbol = syms[i % syms.length] as string;
    const start = (base[0] as PromotedEvent).window_start_ms + i * stepMs;
    return {
      ...e,
      symbol,
      event_id: `${symbol}-${start}`,
      window_start_ms: start,
      window_end_ms: start + 1000,
      stress_sources: i % 4 === 0 ? ['liquidations', 'oi_change'] : i % 2 === 0 ? ['liquidations'] : ['oi_change'],
      metrics: { ...e.metrics, abs_flow: e.metrics.abs_flow + (i % 7) * 1000 },
    };
  });
}

describe('events table model (EventLog)', () => {
  it('appends only events it has not seen, newest first, as single-row inserts', () => {
    const log = new EventLog();
    const rec = recorder(log);
    log.changes = rec;
    const all = manyEvents(promoted.promoted_events, 30);
    // Snapshots carry the newest events of a ring: overlapping windows of the same sequence.
    expect(log.ingest(10, all.slice(0, 10), () => 2)).toBe(10);
    expect(log.ingest(15, all.slice(3, 15), () => 2)).toBe(5);
    expect(log.ingest(15, all.slice(5, 15), () => 2)).toBe(0);
    expect(log.ingest(30, all.slice(10, 30), () => 2)).toBe(15);
    expect(log.size).toBe(30);
    expect(rec.ops).toEqual(Array.from({ length: 30 }, () => '+0'));
    expect(log.shown().map((r) => r.event.event_id)).toEqual([...all].reverse().map((e) => e.event_id));
    expect(log.shown().map((r) => r.ordinal)).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
    expect(log.missed).toBe(0);
  });

  it('counts events that never arrived when a snapshot skips past more than it holds', () => {
    const log = new EventLog();
    const all = manyEvents(promoted.promoted_events, 20);
    log.ingest(5, all.slice(0, 5), () => 2);
    log.ingest(20, all.slice(12, 20), () => 2);
    expect(log.missed).toBe(7);
    expect(log.shown().map((r) => r.ordinal)).toEqual([20, 19, 18, 17, 16, 15, 14, 13, 5, 4, 3, 2, 1]);
  });

  it('keeps at most its cap: the oldest row leaves the table with a single-row removal', () => {
    const log = new EventLog(10);
    const rec = recorder(log);
    log.changes = rec;
    const all = manyEvents(promoted.promoted_events, 13);
    log.ingest(13, all, () => 2);
    expect(log.rows).toBe(10);
    expect(log.evicted).toBe(3);
    // Newest first: the oldest sits at the bottom, position 10 right after the 11th insert.
    expect(rec.ops.slice(10)).toEqual(['+0', '-10', '+0', '-10', '+0', '-10']);
    expect(log.shown().map((r) => r.ordinal)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4]);
  });

  it('sorts by any column (ties newest first) and inserts new rows at their sorted place', () => {
    const log = new EventLog();
    const all = manyEvents(promoted.promoted_events, 40);
    log.ingest(30, all.slice(0, 30), () => 2);
    const rec = recorder(log);
    log.changes = rec;
    const byFlow = { column: 4, descending: true };
    expect(log.arrange(byFlow, NO_FILTER)).toBe(true);
    expect(log.arrange(byFlow, NO_FILTER)).toBe(false);
    expect(rec.ops).toEqual(['reset', 'reset-done']);
    const flows = log.shown().map((r) => r.event.metrics.abs_flow);
    expect(flows).toEqual([...flows].sort((a, b) => b - a));
    log.ingest(40, all.slice(20, 40), () => 2);
    const shown = log.shown();
    for (let i = 1; i < shown.length; i++) expect(compareRows(shown[i - 1] as EventRow, shown[i] as EventRow, byFlow)).toBeLessThan(0);
    // Each of the ten new rows was inserted where it sorts, not at the top.
    expect(rec.ops.slice(2).every((op) => op.startsWith('+'))).toBe(true);
    expect(new Set(rec.ops.slice(2)).size).toBeGreaterThan(1);
    for (const column of EVENT_COLUMNS.keys()) {
      for (const descending of [true, false]) {
        log.arrange({ column, descending }, NO_FILTER);
        const rows = log.shown();
        for (let i = 1; i < rows.length; i++) expect(compareRows(rows[i - 1] as EventRow, rows[i] as EventRow, { column, descending })).toBeLessThan(0);
      }
    }
  });

  it('filters by symbol, by stress source and by text; the filter applies to new rows too', () => {
    const log = new EventLog();
    const all = manyEvents(promoted.promoted_events, 24);
    log.ingest(12, all.slice(0, 12), () => 2);
    log.arrange(DEFAULT_SORT, { symbol: 'ETHUSDT', source: null, text: '' });
    expect(log.shown().every((r) => r.event.symbol === 'ETHUSDT')).toBe(true);
    expect(log.size).toBe(4);
    log.arrange(DEFAULT_SORT, { symbol: null, source: 'liquidations', text: '' });
    expect(log.shown().every((r) => r.event.stress_sources.includes('liquidations'))).toBe(true);
    expect(log.size).toBe(6);
    log.arrange(DEFAULT_SORT, { symbol: 'SOLUSDT', source: 'oi_change', text: '' });
    const rec = recorder(log);
    log.changes = rec;
    log.ingest(24, all.slice(12, 24), () => 2);
    expect(log.shown().every((r) => r.event.symbol === 'SOLUSDT' && r.event.stress_sources.includes('oi_change'))).toBe(true);
    expect(rec.ops.length).toBe(log.shown().filter((r) => r.ordinal > 12).length);
    expect(log.rows).toBe(24);
    log.arrange(DEFAULT_SORT, { symbol: null, source: null, text: 'ethusdt' });
    expect(log.size).toBe(8);
    log.arrange(DEFAULT_SORT, NO_FILTER);
    expect(log.size).toBe(24);
  });
});

describe('what the worker posts to the window (UiFeed)', () => {
  it('cuts the raw buffers to the rows the feed tables show: the tables come out identical', () => {
    for (const s of [quiet, promoted]) {
      const { snapshot } = new UiFeed().next(s);
      const full = Object.values(s.raw_buffers.trades).reduce((a, r) => a + r.length, 0);
      const cut = Object.values(snapshot.raw_buffers.trades).reduce((a, r) => a + r.length, 0);
      expect(full).toBeGreaterThan(100);
      expect(cut).toBe(20);
      expect(newestRows(snapshot, snapshot.raw_buffers.trades)).toEqual(newestRows(s, s.raw_buffers.trades));
      expect(newestRows(snapshot, snapshot.raw_buffers.liquidations)).toEqual(newestRows(s, s.raw_buffers.liquidations));
      expect(viewModel(snapshot)).toEqual(viewModel(s));
      expect(SnapshotSchema.safeParse(snapshot).success).toBe(true);
    }
    // Ties at the same second across symbols keep rank order, within a symbol buffer order.
    const row = (symbol: string, price: number) => ({ timestamp: 1_723_161_329, symbol, price, base_qty: 1, quote_qty: price, side: 'BUY' as const });
    const tied: Snapshot = {
      ...quiet,
      raw_buffers: {
        trades: { BTCUSDT: Array.from({ length: 30 }, (_, i) => row('BTCUSDT', i)), ETHUSDT: Array.from({ length: 30 }, (_, i) => row('ETHUSDT', 100 + i)) },
        liquidations: {},
      },
    };
    const cut = new UiFeed().next(tied).snapshot;
    expect(newestRows(cut, cut.raw_buffers.trades)).toEqual(newestRows(tied, tied.raw_buffers.trades));
  });

  it('carries a near-miss list only when it changed; the window mirror rebuilds every list of every commit, as posted clones', async () => {
    const commits: Snapshot[] = [];
    // The full 2024-08-08 captures when ../shared is there (345 s: near misses pile up and the rings turn over), else the 70 s extracts (a few).
    const full = haveShared(SHARED_HFT_2024, 'near-miss feed on the full captures');
    await runReplay({ files: full ? SHARED_HFT_2024 : FIXTURE_FILES, nearMisses: true, commitEveryMs: 500, onCommit: (s) => commits.push(s) });
    expect(commits.length).toBeGreaterThan(100);
    const symbols = commits.at(-1)?.symbols_active ?? [];
    const feed = new UiFeed();
    const mirror = new NearMissMirror();
    let carried = 0;
    let changes = 0;
    // Every third commit is skipped, as the worker's mailbox coalesces commits the window has not taken yet.
    const postedCommits = commits.filter((_, i) => i % 3 !== 1);
    let prev: Snapshot | null = null;
    for (const s of postedCommits) {
      const update = structuredClone(feed.next(s));
      carried += Object.keys(update.snapshot.near_misses).length;
      for (const sym of symbols) if (prev === null || JSON.stringify(prev.near_misses[sym]) !== JSON.stringify(s.near_misses[sym])) changes++;
      const merged = mirror.merge(update.snapshot);
      expect(merged.near_misses).toEqual(s.near_misses);
      expect(SnapshotSchema.safeParse(update.snapshot).success).toBe(true);
      prev = s;
    }
    const last = postedCommits.at(-1) as Snapshot;
    const total = Object.values(last.near_misses).reduce((n, l) => n + l.length, 0);
    expect(total).toBeGreaterThanOrEqual(full ? 2 * LIMITS.NEAR_MISSES_PER_SYMBOL : 3);
    // A list crosses when it changed (and every list with the first update), not with every update.
    expect(carried).toBe(changes);
    expect(carried).toBeLessThan((postedCommits.length * symbols.length) / 4);
    const fedLast = mirror.merge(structuredClone(feed.next(last)).snapshot);
    expect(viewModel(fedLast)).toEqual(viewModel(last));
    // A restarted worker: a new run and a new feed; nothing of the old run's lists is kept.
    const restarted: Snapshot = { ...last, run_id: `${last.run_id}-r1`, near_misses: { [symbols[0] as string]: [] } };
    expect(mirror.merge(new UiFeed().next(restarted).snapshot).near_misses).toEqual({ [symbols[0] as string]: [] });
  });

  it('carries each promoted event once: the ones promoted since the previous message', () => {
    const all = promoted.promoted_events;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const at = (k: number): Snapshot => ({ ...promoted, promoted_events: all.slice(0, k), counters: { ...promoted.counters, peak_pressure_events: k } });
    const feed = new UiFeed();
    expect(feed.next(at(0)).events).toEqual([]);
    expect(feed.next(at(1)).events).toEqual(all.slice(0, 1));
    expect(feed.next(at(1)).events).toEqual([]);
    const u = feed.next(at(all.length));
    expect(u.events).toEqual(all.slice(1));
    expect(u.snapshot.promoted_events).toEqual([]);
    // The window's table gets the same rows as from the full snapshots.
    const direct = new EventLog();
    direct.ingest(all.length, all, () => 2);
    const fed = new EventLog();
    const feed2 = new UiFeed();
    for (const k of [1, 2, all.length]) {
      const m = feed2.next(at(k));
      fed.ingest(m.snapshot.counters.peak_pressure_events, m.events, () => 2);
    }
    expect(fed.shown().map((r) => r.cells)).toEqual(direct.shown().map((r) => r.cells));
    expect(fed.missed).toBe(0);
  });
});

describe('saved layout', () => {
  it('accepts a valid layout and rejects corrupt or invalid ones with the reason', () => {
    const good = {
      v: 1,
      window: { width: 1280, height: 800 },
      main: [300, 450],
      bottom: [500, 760],
      events: [250, 150],
      tab: 'why-silent',
      columns: [100, 90, 40, 150, 90, 50, 50, 50, 120],
      sort: { column: 4, descending: false },
    };
    expect(parseLayout(JSON.stringify(good))).toEqual({ layout: good, problem: null });
    expect(parseLayout(null)).toEqual({ layout: null, problem: null });
    expect(parseLayout('{"v":1,')).toMatchObject({ layout: null, problem: expect.stringMatching(/^not JSON/) as unknown as string });
    expect(parseLayout(JSON.stringify({ ...good, columns: [1, 2] }))).toMatchObject({
      layout: null,
      problem: expect.stringMatching(/^columns[.:]/) as unknown as string,
    });
    expect(parseLayout(JSON.stringify({ ...good, v: 2 }))).toMatchObject({ layout: null, problem: expect.stringMatching(/^v: /) as unknown as string });
    expect(parseLayout(JSON.stringify({ ...good, sort: { column: 99, descending: true } })).layout).toBeNull();
    expect(parseLayout('@Variant(\u0000\u0000)').layout).toBeNull();
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

/**
 * Snapshot → everything the window shows: texts, rows and colours (SPEC §9). Pure functions only:
 * widgets bind these results and compute nothing themselves, so what the window shows is exactly
 * what these tested functions produce from the snapshot it was given.
 */
import type { PromotedEvent } from '../core/contracts/promoted';
import type { RawRow, Snapshot } from '../core/contracts/snapshot';

export const COLORS = Object.freeze({
  white: '#FFFFFF',
  green: '#4CAF50',
  orange: '#FF9800',
  red: '#F44336',
  grey: '#9E9E9E',
  background: '#1E1E1E',
  panel: '#252526',
  text: '#E0E0E0',
  buy: '#66BB6A',
  sell: '#EF5350',
});

export interface Cell {
  text: string;
  color: string;
}

export interface StatusBarModel {
  mode: Cell;
  symbols: Cell;
  baselines: Cell;
  health: Cell;
  windows: Cell;
  events: Cell;
  lastUpdate: Cell;
}

export interface TableRow {
  time: string;
  symbol: string;
  price: string;
  qty: string;
  side: string;
  sideColor: string;
}

export interface ViewModel {
  status: StatusBarModel;
  health: string;
  trades: TableRow[];
  liquidations: TableRow[];
  events: string;
  /** Set when the collector FAILED: the whole window shows this instead of the panels. */
  failure: { title: string; body: string } | null;
}

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatInt(n: number): string {
  return intFmt.format(n);
}

const fixedFormats = new Map<number, Intl.NumberFormat>();

/**
 * Thousands separators with a fixed number of decimals: 43127.5, 2 → "43,127.50". The same
 * result as `toLocaleString('en-US', …)`, which builds a new NumberFormat on every call (~10 µs);
 * the events panel formats ~12 numbers per event for up to 1000 events.
 */
export function formatFixed(n: number, decimals: number): string {
  let f = fixedFormats.get(decimals);
  if (f === undefined) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    fixedFormats.set(decimals, f);
  }
  return f.format(n);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Local time HH:MM:SS. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local date and time YYYY-MM-DD HH:MM:SS. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms)}`;
}

export function symbolsLabel(symbols: readonly string[]): string {
  if (symbols.length === 0) return 'Symbols: —';
  const head = symbols.slice(0, 5).join(', ');
  return symbols.length > 5 ? `Symbols: ${head} (+${symbols.length - 5} more)` : `Symbols: ${head}`;
}

export function healthColor(state: Snapshot['health_state']): string {
  switch (state) {
    case 'OK':
      return COLORS.green;
    case 'STARTING':
      return COLORS.orange;
    case 'DEGRADED':
    case 'FAILED':
      return COLORS.red;
  }
}

export function statusBar(s: Snapshot): StatusBarModel {
  const loading = s.mode === 'LOADING' || s.symbols_active.length === 0;
  const ready = s.baseline_status.ready_symbols;
  const total = s.baseline_status.total_symbols;
  return {
    mode: { text: loading && s.mode !== 'DEMO' ? 'Mode: LOADING...' : `Mode: ${s.mode}`, color: COLORS.white },
    symbols: { text: symbolsLabel(s.symbols_active), color: COLORS.white },
    baselines: { text: `Baselines: ${baselineStatusText(s)}`, color: total > 0 && ready === total ? COLORS.green : COLORS.orange },
    health: { text: `Health: ${s.health_state}`, color: healthColor(s.health_state) },
    windows: { text: `Windows: ${formatInt(s.counters.windows_processed)}`, color: COLORS.white },
    // Zero events is the normal state, so it is never coloured as a problem.
    events: { text: `Events: ${formatInt(s.counters.peak_pressure_events)}`, color: COLORS.white },
    lastUpdate: { text: `Last update: ${formatClock(s.timestamp * 1000)}`, color: COLORS.white },
  };
}

/**
 * The baseline count with where it comes from (SPEC §20): `10 / 10 (backfilled)` while any warm
 * symbol still judges against backfilled values, `10 / 10 (observed)` once live windows replaced
 * them all, and plain `7 / 10` without a warm start (as before it existed).
 */
export function baselineStatusText(s: Snapshot): string {
  const count = `${s.baseline_status.ready_symbols} / ${s.baseline_status.total_symbols}`;
  if (s.warm_start.backfilled.length === 0) return count;
  const states = Object.values(s.per_symbol).map((p) => p.baseline_state);
  if (states.includes('warm_backfilled')) return `${count} (backfilled)`;
  return states.includes('warm_observed') ? `${count} (observed)` : count;
}

function precisionOf(s: Snapshot, symbol: string): { price: number; qty: number } {
  const p = s.per_symbol[symbol];
  return { price: p?.price_precision ?? 2, qty: p?.qty_precision ?? 3 };
}

/** The newest `n` rows across all symbols, newest first (ties: rank order, then buffer order). */
export function newestRows(s: Snapshot, rec: Record<string, RawRow[]>, n = 20): TableRow[] {
  const all: { row: RawRow; rank: number; idx: number }[] = [];
  for (const sym of s.symbols_active) {
    const rows = rec[sym] ?? [];
    const rank = s.per_symbol[sym]?.rank ?? 99;
    const from = Math.max(0, rows.length - n);
    for (let i = from; i < rows.length; i++) all.push({ row: rows[i] as RawRow, rank, idx: i });
  }
  all.sort((a, b) => b.row.timestamp - a.row.timestamp || a.rank - b.rank || b.idx - a.idx);
  return all.slice(0, n).map(({ row }) => {
    const prec = precisionOf(s, row.symbol);
    return {
      time: formatClock(row.timestamp * 1000),
      symbol: row.symbol,
      price: formatFixed(row.price, prec.price),
      qty: formatFixed(row.base_qty, prec.qty),
      side: row.side,
      sideColor: row.side === 'BUY' ? COLORS.buy : COLORS.sell,
    };
  });
}

function rate(n: number, unit: string): string {
  return `${n.toFixed(1)}/${unit}`;
}

export function oiPollingLine(s: Snapshot): string {
  const ages = Object.values(s.per_symbol)
    .map((p) => p.last_oi_age_s)
    .filter((a): a is number => a !== null);
  const oldest = ages.length > 0 ? Math.max(...ages) : null;
  const st = s.oi_polling.state;
  if (st === 'OK') return 'OI Polling: OK';
  if (st === 'IDLE') return 'OI Polling: not started';
  if (st === 'BACKOFF')
    return `OI Polling: BACKOFF (rate limited${s.oi_polling.backoff_until_ms ? ` until ${formatClock(s.oi_polling.backoff_until_ms)}` : ''})`;
  return `OI Polling: DEGRADED (last update >${oldest !== null ? Math.floor(oldest) : 10}s ago)`;
}

/** Per-stream cadence summary: silent streams named, others counted. */
export function streamsLine(s: Snapshot): string {
  const entries = Object.entries(s.streams.per_stream);
  if (entries.length === 0) return 'Streams: none subscribed yet';
  const silent = entries.filter(([, v]) => v.state === 'SILENT').map(([k]) => k);
  const flowing = entries.filter(([, v]) => v.state === 'FLOWING').length;
  const waiting = entries.length - flowing - silent.length;
  return `Streams: ${flowing} flowing, ${waiting} waiting, ${silent.length} silent${silent.length ? ` (${silent.join(', ')})` : ''}`;
}

export function healthPanel(s: Snapshot): string {
  const h = s.ingestion_health;
  const c = s.counters;
  const d = c.dropped_events;
  const liqBuffers = s.symbols_active.map((sym) => `${sym}:${s.per_symbol[sym]?.liquidation_buffer_size ?? 0}`).join(', ');
  const lines = [
    '=== SYSTEM HEALTH ===',
    '',
    `Health: ${s.health_state}${s.health_reasons.length ? ` (${s.health_reasons.join(', ')})` : ''}`,
    ...(s.health_detail ? [`  ${s.health_detail}`] : []),
    `Stage: ${s.stage}`,
    '',
    `Trades rate: ${rate(h.trades_rate, 's')}`,
    `Liquidations rate: ${rate(h.liquidations_rate, 'min')}`,
    `Klines rate: ${rate(h.klines_rate, 's')}`,
    `OI rate: ${rate(h.oi_rate, 'min')} (expected ~120/min)`,
    oiPollingLine(s),
    `WebSocket: ${s.streams.ws_state} (reconnects: ${formatInt(s.streams.reconnects)})`,
    streamsLine(s),
    `Liquidation buffers: ${liqBuffers || '—'}`,
    '',
    '=== DROPPED EVENTS (since start) ===',
    '',
    `Symbol not allowed: ${formatInt(d.symbol_not_allowed)}`,
    `Baseline not ready: ${formatInt(d.baseline_not_ready)}`,
    `Window not closed: ${formatInt(d.window_not_closed)}`,
    `Missing streams: ${formatInt(d.missing_streams)}`,
    '',
    '=== CONDITION FAILURES (since start) ===',
    '',
    `Flow surge failed: ${formatInt(c.flow_surge_failed)}`,
    `Large trade failed: ${formatInt(c.large_trade_failed)}`,
    `Compression failed: ${formatInt(c.compression_failed)}`,
    `Stress failed: ${formatInt(c.stress_failed)}`,
    `Empty windows: ${formatInt(c.empty_windows)}`,
    '',
    `Malformed frames: ${formatInt(c.malformed_events)} (dead letters: ${formatInt(s.dead_letters)})`,
    `Duplicate trades: ${formatInt(c.duplicate_trades)}   Trade id gaps: ${formatInt(c.trade_id_gaps)}   Gap resets: ${formatInt(c.gap_resets)}`,
  ];
  return lines.join('\n');
}

/** The one-line diagnosis under the empty state (web UI messages, SPEC §9). */
export function diagnosis(s: Snapshot): string {
  const c = s.counters;
  const { ready_symbols: ready, total_symbols: total } = s.baseline_status;
  if (c.windows_processed === 0) return 'No windows processed yet';
  if (total > 0 && ready < total) return `Baselines warming up (${ready} / ${total} symbols ready)`;
  const candidates: [number, string][] = [
    [c.flow_surge_failed, 'Flow surge absent (trade volume below P90 threshold)'],
    [c.large_trade_failed, 'Large trade participation absent'],
    [c.compression_failed, 'Compression/expansion absent (body ratio between 0.30 and 0.70)'],
    [c.stress_failed, 'External stress conditions not met (no liquidations or OI delta)'],
    [c.dropped_events.missing_streams, 'Stress data missing (OI stale and no liquidations)'],
  ];
  const [count, text] = candidates.reduce((a, b) => (b[0] > a[0] ? b : a));
  return count === 0 ? 'No judged windows yet' : `Most common: ${text} (${formatInt(count)} windows)`;
}

export function eventBlock(e: PromotedEvent, pricePrecision = 2): string {
  const m = e.metrics;
  const shape = m.compressed ? 'compressed' : m.expanded ? 'expanded' : 'neither';
  return [
    `[${formatDateTime(e.window_end_ms)}] ${e.symbol} - ${e.dominant_side}`,
    `  Window: ${e.window_size.toFixed(1)}s`,
    `  Stress: ${e.stress_sources.join(', ')}`,
    `  Flow: ${formatFixed(m.abs_flow, 2)}`,
    `  Trades: ${formatInt(m.trade_count)}`,
    `  Liquidations: ${formatInt(m.liq_count)}`,
    `  Large trades: ${formatInt(m.large_trade_count)} (≥ P95 ${formatFixed(m.p95_trade_size, 2)}; flow P90 ${formatFixed(m.p90_abs_flow, 2)})`,
    `  Candle: O ${formatFixed(m.open, pricePrecision)} H ${formatFixed(m.high, pricePrecision)} L ${formatFixed(m.low, pricePrecision)} C ${formatFixed(m.close, pricePrecision)} — body ratio ${m.body_ratio.toFixed(2)} (${shape})`,
    ...(e.stress_sources.includes('oi_change') ? [`  OI delta: ${formatFixed(m.oi_delta, 3)}`] : []),
    `  Rule set: ${e.rule_set.id} v${e.rule_set.version}`,
  ].join('\n');
}

/**
 * Events shown in full in the panel. The snapshot keeps up to 1000; setting a text of all of them
 * (≈ 300,000 characters) costs Qt ~15 ms per new promotion, and no one reads past the first
 * screens. The rest stay in the snapshot and every one is in debug/audit.jsonl.
 */
export const EVENTS_SHOWN = 100;

export function eventsPanel(s: Snapshot): string {
  const events = s.promoted_events;
  if (events.length === 0) {
    return [
      '=== NO PEAK PRESSURE EVENTS DETECTED ===',
      '',
      'This is expected during:',
      `- Baseline warmup (${s.baseline_status.ready_symbols} / ${s.baseline_status.total_symbols} symbols ready)`,
      '- Normal market conditions',
      '- No multi-stream coincidence',
      '',
      diagnosis(s),
    ].join('\n');
  }
  const blocks: string[] = [];
  for (let i = events.length - 1; i >= Math.max(0, events.length - EVENTS_SHOWN); i--) {
    const e = events[i] as PromotedEvent;
    blocks.push(eventBlock(e, s.per_symbol[e.symbol]?.price_precision ?? 2));
  }
  const older = events.length - blocks.length;
  const tail = older > 0 ? [`… ${formatInt(older)} older event${older === 1 ? '' : 's'} not shown (all are in debug/audit.jsonl)`] : [];
  return [`=== PROMOTED STRUCTURAL EVENTS (${formatInt(events.length)}) ===`, '', [...blocks, ...tail].join('\n\n')].join('\n');
}

export function failure(s: Snapshot): ViewModel['failure'] {
  if (s.health_state !== 'FAILED') return null;
  return {
    title: `FAILED: ${s.health_reasons.join(', ') || 'unknown reason'}`,
    body: `${s.health_detail || 'The collector stopped.'}\n\nThe last snapshot is in debug/latest_snapshot.json; the capture of this run replays the fault.`,
  };
}

export function viewModel(s: Snapshot): ViewModel {
  return {
    status: statusBar(s),
    health: healthPanel(s),
    trades: newestRows(s, s.raw_buffers.trades),
    liquidations: newestRows(s, s.raw_buffers.liquidations),
    events: eventsPanel(s),
    failure: failure(s),
  };
}

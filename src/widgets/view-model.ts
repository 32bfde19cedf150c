/**
 * Snapshot → everything the window shows: texts, rows and colours (SPEC §9). Pure functions only:
 * widgets bind these results and compute nothing themselves, so what the window shows is exactly
 * what these tested functions produce from the snapshot it was given. The promoted events are a
 * table fed row by row (src/widgets/events-model.ts); this module gives their heading and the
 * SPEC's empty state.
 */
import { RULES } from '../core/constants';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { RawRow, Snapshot, SymbolState } from '../core/contracts/snapshot';
import { besidePanels } from './beside-view';
import { nearMissPanel, type NearMissPanelModel } from './near-miss-view';
import { formatAge, formatClock, formatDateTime, formatFixed, formatInt, formatShare } from './format';

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

/** A table of fixed columns whose every cell has a text and a colour. */
export interface GridModel {
  columns: readonly string[];
  rows: Cell[][];
}

export interface HealthModel {
  heading: string;
  /** Summary lines above the grid: health with its reasons, stage and connections, rates. */
  lines: [health: Cell, connections: Cell, rates: Cell];
  /** What failed and what to do, under the health line, when DEGRADED or FAILED. */
  detail: Cell | null;
}

export interface CountersModel {
  /** The outcome of every judged window: the counter partition (SPEC §6.1), with its sum. */
  failures: { heading: string; grid: GridModel };
  dropped: { heading: string; grid: GridModel };
}

export interface EventsHeaderModel {
  /** Promoted events since start (the table may hold fewer: see EVENT_ROWS_MAX). */
  total: number;
  heading: string;
  /** The SPEC §9 empty state (with the diagnosis line) while nothing has been promoted; else null. */
  emptyState: string | null;
}

export interface ViewModel {
  status: StatusBarModel;
  health: HealthModel;
  symbols: GridModel;
  counters: CountersModel;
  trades: TableRow[];
  liquidations: TableRow[];
  events: EventsHeaderModel;
  /** The "why silent?" tab: near misses of all symbols (SPEC §21; src/widgets/near-miss-view.ts). */
  whySilent: NearMissPanelModel;
  /** The tabs for what runs beside M3: liquidation tape, order books, four-pillars policy, sinks (src/widgets/beside-view.ts). */
  beside: ReturnType<typeof besidePanels>;
  /** Set when the collector FAILED: the whole window shows this instead of the panels. */
  failure: { title: string; body: string } | null;
}

export { formatClock, formatDateTime, formatFixed, formatInt } from './format';

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

/** Rows the raw feed tables show (SPEC §9: the last 20 across all symbols). */
export const FEED_ROWS = 20;

export interface RawPick {
  row: RawRow;
  /** Index of the row in its symbol's buffer. */
  idx: number;
}

/** The newest `n` raw rows across the active symbols, newest first (ties: rank order, then buffer order, later first). */
export function pickNewest(s: Snapshot, rec: Record<string, RawRow[]>, n = FEED_ROWS): RawPick[] {
  const all: (RawPick & { rank: number })[] = [];
  for (const sym of s.symbols_active) {
    const rows = rec[sym] ?? [];
    const rank = s.per_symbol[sym]?.rank ?? 99;
    const from = Math.max(0, rows.length - n);
    for (let i = from; i < rows.length; i++) all.push({ row: rows[i] as RawRow, rank, idx: i });
  }
  all.sort((a, b) => b.row.timestamp - a.row.timestamp || a.rank - b.rank || b.idx - a.idx);
  return all.slice(0, n);
}

/** The newest `n` rows across all symbols as the feed tables show them. */
export function newestRows(s: Snapshot, rec: Record<string, RawRow[]>, n = FEED_ROWS): TableRow[] {
  return pickNewest(s, rec, n).map(({ row }) => {
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

/**
 * The order books in one item (SPEC §18: book state and resyncs in the health panel): how many are
 * LIVE, the others named with their state, and the resyncs and pu gaps so far; null without books.
 */
export function booksLine(s: Snapshot): string | null {
  if (s.books === null) return null;
  const books = Object.entries(s.books.per_symbol);
  const live = books.filter(([, b]) => b.state === 'LIVE').length;
  const others = books.filter(([, b]) => b.state !== 'LIVE').map(([sym, b]) => `${sym} ${b.state}`);
  const resyncs = books.reduce((n, [, b]) => n + b.resyncs, 0);
  const gaps = books.reduce((n, [, b]) => n + b.pu_gaps, 0);
  return `Books: ${live}/${books.length} LIVE${others.length ? ` (${others.join(', ')})` : ''}, resyncs ${formatInt(resyncs)}, pu gaps ${formatInt(gaps)}`;
}

/** Items of one summary line are set apart by this (the SPEC gives each item's own text). */
export const ITEM_GAP = '    ';

export function healthModel(s: Snapshot): HealthModel {
  const h = s.ingestion_health;
  const colour = healthColor(s.health_state);
  const books = booksLine(s);
  const connections = [
    `Stage: ${s.stage}`,
    `WebSocket: ${s.streams.ws_state} (reconnects: ${formatInt(s.streams.reconnects)})`,
    oiPollingLine(s),
    streamsLine(s),
    ...(books === null ? [] : [books]),
  ];
  const rates = [
    `Trades rate: ${rate(h.trades_rate, 's')}`,
    `Liquidations rate: ${rate(h.liquidations_rate, 'min')}`,
    `Klines rate: ${rate(h.klines_rate, 's')}`,
    `OI rate: ${rate(h.oi_rate, 'min')} (expected ~120/min)`,
  ];
  const connectionsOk = s.streams.ws_state === 'OPEN' && s.oi_polling.state === 'OK' && !Object.values(s.streams.per_stream).some((v) => v.state === 'SILENT');
  return {
    heading: '=== SYSTEM HEALTH ===',
    lines: [
      { text: `Health: ${s.health_state}${s.health_reasons.length ? ` (${s.health_reasons.join(', ')})` : ''}`, color: colour },
      { text: connections.join(ITEM_GAP), color: connectionsOk || s.symbols_active.length === 0 ? COLORS.text : COLORS.orange },
      { text: rates.join(ITEM_GAP), color: COLORS.text },
    ],
    detail: s.health_detail ? { text: s.health_detail, color: colour } : null,
  };
}

export const SYMBOL_COLUMNS = Object.freeze(['Symbol', 'Baseline', 'Windows', 'Last trade', 'Liq. 60 s', 'OI age', 'Streams', 'Events'] as const);

const NONE: Cell = Object.freeze({ text: '—', color: COLORS.grey });

/** Seconds between the exchange-time watermark and `ms`; null when either is unknown. */
function ageS(s: Snapshot, ms: number | null): number | null {
  return ms === null || s.watermark_ms === null ? null : Math.max(0, s.watermark_ms - ms) / 1000;
}

/** The per-symbol streams' cadence: flowing when all flow, the silent ones named, else waiting. */
function cadenceCell(s: Snapshot, symbol: string): Cell {
  const prefix = `${symbol.toLowerCase()}@`;
  const mine = Object.entries(s.streams.per_stream).filter(([k]) => k.startsWith(prefix));
  if (mine.length === 0) return NONE;
  const silent = mine.filter(([, v]) => v.state === 'SILENT').map(([k]) => k.slice(prefix.length).split('@')[0] as string);
  if (silent.length > 0) return { text: `silent: ${silent.join(', ')}`, color: COLORS.red };
  if (mine.every(([, v]) => v.state === 'FLOWING')) return { text: 'flowing', color: COLORS.green };
  return { text: 'waiting', color: COLORS.orange };
}

function symbolRow(s: Snapshot, symbol: string, p: SymbolState | undefined): Cell[] {
  const name = { text: symbol, color: COLORS.white };
  if (p === undefined) return [name, NONE, NONE, NONE, NONE, NONE, cadenceCell(s, symbol), NONE];
  const needed = Number(s.rule_set.constants.BASELINE_WINDOWS ?? RULES.BASELINE_WINDOWS);
  const held = Math.min(p.abs_flow_history_len, p.trade_size_history_len);
  const tradeAge = ageS(s, p.last_trade_ms);
  const oiStaleS = Number(s.rule_set.constants.OI_STALE_MS ?? RULES.OI_STALE_MS) / 1000;
  const liq = p.liquidation_buffer_size;
  return [
    name,
    p.warm ? { text: 'warm', color: COLORS.green } : { text: `${formatInt(held)} / ${formatInt(needed)}`, color: COLORS.orange },
    { text: formatInt(p.counters.windows_processed), color: COLORS.text },
    tradeAge === null ? NONE : { text: formatAge(tradeAge), color: tradeAge <= 5 ? COLORS.green : tradeAge <= 60 ? COLORS.orange : COLORS.red },
    // Retained liquidations are external stress (condition 4): worth the eye, not a fault.
    { text: formatInt(liq), color: liq > 0 ? COLORS.orange : COLORS.text },
    p.last_oi_age_s === null ? NONE : { text: formatAge(p.last_oi_age_s), color: p.last_oi_age_s <= oiStaleS ? COLORS.green : COLORS.red },
    cadenceCell(s, symbol),
    // Zero events is the normal state, so it is never coloured as a problem.
    { text: formatInt(p.counters.peak_pressure_count), color: COLORS.white },
  ];
}

/** One row per active symbol, in rank order. */
export function symbolGrid(s: Snapshot): GridModel {
  return { columns: SYMBOL_COLUMNS, rows: s.symbols_active.map((sym) => symbolRow(s, sym, s.per_symbol[sym])) };
}

/** The partition's outcomes in the frozen evaluation order (SPEC §6.1): every judged window lands in exactly one. */
export function partitionRows(s: Snapshot): [label: string, count: number][] {
  const c = s.counters;
  return [
    ['Empty windows', c.empty_windows],
    ['Baseline not ready', c.baseline_not_warm],
    ['Flow surge failed', c.flow_surge_failed],
    ['Large trade failed', c.large_trade_failed],
    ['Compression failed', c.compression_failed],
    ['Missing streams', c.dropped_events.missing_streams],
    ['Stress failed', c.stress_failed],
    ['Peak Pressure events', c.peak_pressure_events],
  ];
}

export function countersModel(s: Snapshot): CountersModel {
  const c = s.counters;
  const d = c.dropped_events;
  const windows = c.windows_processed;
  const parts = partitionRows(s);
  const sum = parts.reduce((a, [, n]) => a + n, 0);
  const holds = sum === windows;
  const cell = (text: string, color: string = COLORS.text): Cell => ({ text, color });
  const count = (n: number, warn = false): Cell => cell(formatInt(n), warn && n > 0 ? COLORS.orange : COLORS.text);
  return {
    failures: {
      heading: '=== CONDITION FAILURES (since start) ===',
      grid: {
        columns: ['Outcome', 'Windows', 'Share'],
        rows: [
          ...parts.map(([label, n]) => [cell(label), count(n), cell(formatShare(n, windows))]),
          [
            cell(holds ? 'Windows processed (= sum)' : 'Windows processed (≠ sum!)', holds ? COLORS.green : COLORS.red),
            cell(formatInt(windows), holds ? COLORS.green : COLORS.red),
            cell(holds ? formatShare(windows, windows) : `sum ${formatInt(sum)}`, holds ? COLORS.green : COLORS.red),
          ],
        ],
      },
    },
    dropped: {
      heading: '=== DROPPED EVENTS (since start) ===',
      grid: {
        columns: ['Reason', 'Count'],
        rows: [
          // The all-market liquidation feed makes this one large, and that is fine.
          [cell('Symbol not allowed'), count(d.symbol_not_allowed)],
          [cell('Baseline not ready'), count(d.baseline_not_ready)],
          [cell('Window not closed'), count(d.window_not_closed, true)],
          [cell('Missing streams'), count(d.missing_streams, true)],
          [cell('Malformed frames'), count(c.malformed_events, true)],
          [cell('Dead letters'), count(s.dead_letters, true)],
          [cell('Duplicate trades'), count(c.duplicate_trades)],
          [cell('Trade id gaps'), count(c.trade_id_gaps, true)],
          [cell('Gap resets'), count(c.gap_resets)],
        ],
      },
    },
  };
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

/** The SPEC §9 event block: what the detail pane shows first for a selected event. */
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

/** The SPEC §9 empty state, exact text, then the most common failure. */
export function emptyState(s: Snapshot): string {
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

export function eventsHeader(s: Snapshot): EventsHeaderModel {
  const total = Math.max(s.counters.peak_pressure_events, s.promoted_events.length);
  return {
    total,
    heading: `=== PROMOTED STRUCTURAL EVENTS (${formatInt(total)}) ===`,
    emptyState: total === 0 ? emptyState(s) : null,
  };
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
    health: healthModel(s),
    symbols: symbolGrid(s),
    counters: countersModel(s),
    trades: newestRows(s, s.raw_buffers.trades),
    liquidations: newestRows(s, s.raw_buffers.liquidations),
    events: eventsHeader(s),
    whySilent: nearMissPanel(s),
    beside: besidePanels(s),
    failure: failure(s),
  };
}

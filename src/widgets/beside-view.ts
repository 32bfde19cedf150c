/**
 * The panels for what runs beside M3 (SPEC Part II), as data: snapshot → headings, rows of coloured
 * cells and the empty state of each — order books (§18), the liquidation tape by price (§19),
 * policy `four-pillars-001` (§17) and the sinks (§22). Pure, like the rest of the view-model: the
 * window binds these and computes nothing, so what a tab shows is what these functions produce.
 */
import type { BookStatus } from '../core/contracts/books';
import type { SinkStatus } from '../core/contracts/sink-status';
import type { Snapshot } from '../core/contracts/snapshot';
import type { TapeBucket } from '../core/contracts/liquidation-tape';
import { POLICY_ID } from '../core/policy/constants';
import { POLICY_OUTCOMES, type PolicyCounters, type PolicyEvent } from '../core/policy/contracts';
import { formatAge, formatClock, formatFixed, formatInt, formatMonthDayTime } from './format';
import { type Cell, COLORS, type GridModel } from './view-model';

/** One tab: a heading, summary lines, tables, and the text shown instead of the tables when there is nothing. */
export interface PanelModel {
  title: string;
  lines: string[];
  grids: GridModel[];
  /** Shown when there is nothing to tabulate (the feature is off, or nothing arrived yet); null otherwise. */
  empty: string | null;
}

// Colours are read at call time: this module and view-model.ts import each other.
const cell = (text: string, color: string = COLORS.text): Cell => ({ text, color });
const none = (): Cell => cell('—', COLORS.grey);

// ---- order books (SPEC §18) ----------------------------------------------------------------------

export const BOOK_COLUMNS = ['Symbol', 'State', 'Best bid', 'Best ask', 'Levels', 'Diffs applied', 'Resyncs', 'pu gaps', 'Age', 'Snapshots'] as const;

const bookStateColor = (state: BookStatus['state']): string => (state === 'LIVE' ? COLORS.green : state === 'SYNCING' ? COLORS.orange : COLORS.red);

function bookRow(symbol: string, b: BookStatus): Cell[] {
  const resyncs = b.resyncs > 0 && b.last_resync_reason ? `${formatInt(b.resyncs)} (last: ${b.last_resync_reason})` : formatInt(b.resyncs);
  const snaps = `${formatInt(b.snapshots_applied)}${b.snapshots_stale > 0 ? `, ${formatInt(b.snapshots_stale)} stale` : ''}`;
  return [
    cell(symbol, COLORS.white),
    cell(b.state, bookStateColor(b.state)),
    // The exchange's own decimal strings, never re-formatted (SPEC §18).
    b.best_bid === null ? none() : cell(b.best_bid, COLORS.buy),
    b.best_ask === null ? none() : cell(b.best_ask, COLORS.sell),
    cell(formatInt(b.levels)),
    cell(formatInt(b.diffs_applied)),
    cell(resyncs, b.resyncs > 0 ? COLORS.orange : COLORS.text),
    cell(formatInt(b.pu_gaps), b.pu_gaps > 0 ? COLORS.orange : COLORS.text),
    b.age_ms === null ? none() : cell(formatAge(b.age_ms / 1000), b.age_ms <= 5_000 ? COLORS.green : COLORS.red),
    cell(snaps),
  ];
}

export function booksPanel(s: Snapshot): PanelModel {
  const title = '=== ORDER BOOKS (Binance diff depth, SPEC §18) ===';
  const books = s.books;
  if (books === null)
    return {
      title,
      lines: [],
      grids: [],
      empty: 'Order books are off (config books: false): no depth is requested, and four-pillars-001 counts book_unavailable at its pillar 4.',
    };
  const order = [
    ...s.symbols_active.filter((x) => books.per_symbol[x]),
    ...Object.keys(books.per_symbol)
      .filter((x) => !s.symbols_active.includes(x))
      .sort(),
  ];
  const live = order.filter((x) => books.per_symbol[x]?.state === 'LIVE').length;
  const lines = [
    `${formatInt(live)} of ${formatInt(order.length)} books LIVE · depth frames ${formatInt(books.depth_frames)} · snapshots ${formatInt(books.snapshots)} · connections ${formatInt(books.connections)} · malformed ${formatInt(books.malformed)}`,
  ];
  if (order.length === 0) return { title, lines, grids: [], empty: 'No order book yet: waiting for the first depth snapshot (GET /fapi/v1/depth).' };
  return { title, lines, grids: [{ columns: BOOK_COLUMNS, rows: order.map((x) => bookRow(x, books.per_symbol[x] as BookStatus)) }], empty: null };
}

// ---- liquidation tape (SPEC §19) -----------------------------------------------------------------

export const TAPE_COLUMNS = ['Symbol', 'Bucket low – high', 'Buy count', 'Buy notional', 'Sell count', 'Sell notional', 'First', 'Last'] as const;

/** Decimals of a tick such as 0.1 or 0.00001 (prices print on its grid). */
export function tickDecimals(tick: number | null): number {
  if (tick === null) return 2;
  const text = String(tick);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]);
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

function tapeRow(symbol: string, b: TapeBucket, decimals: number): Cell[] {
  const count = (n: number, color: string): Cell => cell(formatInt(n), n > 0 ? color : COLORS.grey);
  return [
    cell(symbol, COLORS.white),
    cell(`${formatFixed(b.low, decimals)} – ${formatFixed(b.high, decimals)}`),
    count(b.buy_count, COLORS.buy),
    cell(formatFixed(b.buy_notional, 2), b.buy_count > 0 ? COLORS.buy : COLORS.grey),
    count(b.sell_count, COLORS.sell),
    cell(formatFixed(b.sell_notional, 2), b.sell_count > 0 ? COLORS.sell : COLORS.grey),
    cell(formatClock(b.first_ms)),
    cell(formatClock(b.last_ms)),
  ];
}

export function tapePanel(s: Snapshot): PanelModel {
  const tape = s.liquidation_tape;
  const minutes = tape === null ? 60 : Math.round(tape.window_ms / 60_000);
  const title = `=== LIQUIDATION TAPE BY PRICE (last ${minutes} min, newest activity first) ===`;
  if (tape === null) return { title, lines: [], grids: [], empty: 'No liquidation tape in this snapshot (it is kept by the live collector and by replay).' };
  const caveat = 'BUY = shorts liquidated, SELL = longs liquidated. Binance sends at most one liquidation per symbol per second, so counts are lower bounds.';
  const rows: { row: Cell[]; last: number; rank: number }[] = [];
  const lines: string[] = [];
  s.symbols_active.forEach((symbol, rank) => {
    const t = tape.per_symbol[symbol];
    if (t === undefined || t.liquidations === 0) return;
    const width = t.bucket_width === null ? '' : `, bucket ${formatFixed(t.bucket_width, tickDecimals(t.tick))}`;
    const shown = t.buckets.length < t.buckets_total ? ` (${formatInt(t.buckets.length)} shown)` : '';
    const plural = (n: number, word: string): string => `${formatInt(n)} ${word}${n === 1 ? '' : 's'}`;
    lines.push(`${symbol}: ${plural(t.liquidations, 'liquidation')} in ${plural(t.buckets_total, 'bucket')}${shown}${width}`);
    for (const b of t.buckets) rows.push({ row: tapeRow(symbol, b, tickDecimals(t.tick)), last: b.last_ms, rank });
  });
  rows.sort((a, b) => b.last - a.last || a.rank - b.rank);
  if (rows.length === 0) return { title, lines: [caveat], grids: [], empty: `No liquidations in the last ${minutes} min on the active symbols.` };
  return { title, lines: [...lines, caveat], grids: [{ columns: TAPE_COLUMNS, rows: rows.map((r) => r.row) }], empty: null };
}

// ---- policy four-pillars-001 (SPEC §17) ----------------------------------------------------------

const OUTCOME_TITLES: Record<(typeof POLICY_OUTCOMES)[number], string> = {
  not_warm: 'Not warm',
  imbalance_failed: 'Imbalance',
  velocity_failed: 'Velocity',
  liquidation_cluster_failed: 'Liq. cluster',
  book_unavailable: 'No book',
  exhaustion_failed: 'Exhaustion',
  promoted: 'Promoted',
};

export const POLICY_PARTITION_COLUMNS = ['Symbol', 'Windows', 'Empty', 'Judged', ...POLICY_OUTCOMES.map((o) => OUTCOME_TITLES[o]), 'Σ'] as const;
export const POLICY_EVENT_COLUMNS = [
  'Time',
  'Symbol',
  'Side',
  'Dominant share',
  'Velocity / P90',
  'Cluster',
  'Depth / P10',
  'Best bid / ask',
  'Policy',
] as const;
/** Newest policy events listed (the snapshot carries a bounded ring of them). */
export const POLICY_EVENTS_SHOWN = 200;

function partitionRow(name: string, c: PolicyCounters, nameColor: string): Cell[] {
  const sum = POLICY_OUTCOMES.reduce((n, o) => n + c[o], 0);
  const holds = sum === c.judged && c.judged + c.empty === c.windows_seen;
  return [
    cell(name, nameColor),
    cell(formatInt(c.windows_seen)),
    cell(formatInt(c.empty)),
    cell(formatInt(c.judged)),
    ...POLICY_OUTCOMES.map((o) => cell(formatInt(c[o]), o === 'promoted' ? COLORS.white : o === 'book_unavailable' && c[o] > 0 ? COLORS.orange : COLORS.text)),
    holds ? cell('holds', COLORS.green) : cell(`≠ (${formatInt(sum)})`, COLORS.red),
  ];
}

function policyEventRow(e: PolicyEvent): Cell[] {
  const m = e.metrics;
  return [
    cell(formatMonthDayTime(e.window_end_ms)),
    cell(e.symbol, COLORS.white),
    cell(e.dominant_side, e.dominant_side === 'BUY' ? COLORS.buy : COLORS.sell),
    cell(formatFixed(m.dominant_share, 3)),
    cell(`${formatFixed(m.velocity * 1e4, 2)} / ${formatFixed(m.velocity_p90 * 1e4, 2)} bp`),
    cell(formatInt(m.cluster_count)),
    cell(`${formatFixed(m.passive_depth, 0)} / ${formatFixed(m.passive_depth_p10, 0)} (${m.passive_side})`),
    cell(`${m.best_bid} / ${m.best_ask}`),
    cell(`${e.policy.id} v${e.policy.version}`),
  ];
}

export function policyPanel(s: Snapshot): PanelModel {
  const p = s.policies[POLICY_ID];
  const title = `=== POLICY ${POLICY_ID} (M6, beside M3; never in Promoted Events) ===`;
  if (p === null || p === undefined) return { title, lines: [], grids: [], empty: `Policy ${POLICY_ID} is not running in this collector.` };
  const symbols = s.symbols_active.filter((x) => p.per_symbol[x]);
  const warm = symbols.filter((x) => p.per_symbol[x]?.warm).length;
  const events = p.events.slice(-POLICY_EVENTS_SHOWN).reverse();
  const lines = [
    `${p.policy.id} v${p.policy.version} · ${formatInt(warm)} of ${formatInt(symbols.length)} symbols warm · ${formatInt(p.counters.promoted)} events since start · each judged window counts once, at the first pillar it failed (Imbalance, Velocity, Liq. cluster, No book = book not LIVE, Exhaustion) or as Promoted; Σ: judged = sum of outcomes`,
    events.length === 0
      ? `No ${POLICY_ID} events yet.`
      : `Newest ${formatInt(events.length)} events (velocity in basis points; depth in USDT within ${formatFixed(events[0]?.metrics.depth_bps ?? 10, 0)} bps of mid):`,
  ];
  const partition: GridModel = {
    columns: POLICY_PARTITION_COLUMNS,
    rows: [
      ...symbols.map((x) => partitionRow(x, p.per_symbol[x]?.counters as PolicyCounters, COLORS.white)),
      partitionRow('All symbols', p.counters, COLORS.white),
    ],
  };
  return { title, lines, grids: [partition, { columns: POLICY_EVENT_COLUMNS, rows: events.map(policyEventRow) }], empty: null };
}

// ---- sinks (SPEC §22) ------------------------------------------------------------------------------

export const SINK_COLUMNS = [
  'Sink',
  'State',
  'Backlog',
  'Delivered (run / all)',
  'Last delivered',
  'Oldest waiting',
  'Failures',
  'Last error / warning',
] as const;

const sinkStateColor = (state: SinkStatus['state']): string => (state === 'OK' ? COLORS.green : state === 'CONNECTING' ? COLORS.orange : COLORS.red);

function sinkRow(x: SinkStatus, now: number | null): Cell[] {
  const ago = (ms: number | null): Cell =>
    ms === null ? none() : cell(now === null ? formatClock(ms) : `${formatClock(ms)} (${formatAge(Math.max(0, now - ms) / 1000)} ago)`);
  const note = x.last_error ?? x.warning;
  return [
    cell(x.sink, COLORS.white),
    cell(x.state === 'DEGRADED' ? 'DEGRADED (SINK_DEGRADED)' : x.state, sinkStateColor(x.state)),
    cell(formatInt(x.backlog), x.backlog > 0 && x.state !== 'OK' ? COLORS.orange : COLORS.text),
    cell(`${formatInt(x.delivered)} / ${formatInt(x.delivered_total)}`),
    ago(x.last_delivered_ms),
    ago(x.oldest_pending_ms),
    cell(formatInt(x.failures), x.failures > 0 ? COLORS.red : COLORS.text),
    note === null ? none() : cell(note, x.last_error ? COLORS.red : COLORS.orange),
  ];
}

export function sinksPanel(s: Snapshot): PanelModel {
  const title = '=== SINKS (Redis Streams, PostgreSQL; SPEC §22) ===';
  const sinks = s.sinks ?? [];
  if (sinks.length === 0)
    return {
      title,
      lines: [],
      grids: [],
      empty: 'No sink configured: events stay in the local store only. Start with --sink redis://… or --sink postgres://… to deliver them.',
    };
  const degraded = sinks.filter((x) => x.state === 'DEGRADED').length;
  const backlog = sinks.reduce((n, x) => n + x.backlog, 0);
  const lines = [
    `${formatInt(sinks.length)} sink${sinks.length === 1 ? '' : 's'} · ${degraded > 0 ? `${formatInt(degraded)} SINK_DEGRADED` : 'none degraded'} · ${formatInt(backlog)} rows wait in the local store (the outbox); delivery is at least once, in order`,
  ];
  return { title, lines, grids: [{ columns: SINK_COLUMNS, rows: sinks.map((x) => sinkRow(x, s.timestamp * 1000)) }], empty: null };
}

/** Every beside-M3 panel, in tab order (the window's tab keys name them). */
export function besidePanels(s: Snapshot): { tape: PanelModel; books: PanelModel; policy: PanelModel; sinks: PanelModel } {
  return { tape: tapePanel(s), books: booksPanel(s), policy: policyPanel(s), sinks: sinksPanel(s) };
}

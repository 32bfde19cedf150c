/**
 * The "why silent?" panel (SPEC §21) as data: snapshot → a heading, one line per symbol and one
 * row per near miss, newest first. Pure; the Qt binding sets these texts and computes nothing, so
 * the panel shows exactly what this tested function produces from the snapshot it was given.
 */
import { RULES } from '../core/constants';
import type { NearMiss } from '../core/contracts/near-miss';
import type { Snapshot } from '../core/contracts/snapshot';
import { formatClock, formatFixed, formatInt } from './format';
import { COLORS } from './view-model';

export interface NearMissRow {
  symbol: string;
  /** Local time of the window's end, HH:MM:SS. */
  time: string;
  /** `3 candle` or `4 stress`: the condition that stopped it. */
  stopped: string;
  /** abs_flow / P90, e.g. `×1.22`. */
  flow: string;
  /** Largest trade / P95 of the mean trade size, e.g. `×1.25`. */
  largest: string;
  /** The judged body ratio, `—` without a candle. */
  body: string;
  /** Condition 4's evidence, e.g. `liq 1, OI changed`, `none (OI fresh)`, `unknown (OI stale)`. */
  stress: string;
  /** Why it did not promote, in words. */
  why: string;
  /** Orange when stopped by missing data (something to fix), grey when it simply failed. */
  color: string;
}

export interface NearMissPanelModel {
  title: string;
  /** One line per symbol with near misses: how many stopped at 3 and at 4. */
  perSymbol: string[];
  rows: NearMissRow[];
  /** Shown instead of the rows when there are none. */
  empty: string | null;
}

export const NEAR_MISS_COLUMNS = ['Time', 'Symbol', 'Stopped at', 'Flow / P90', 'Largest / P95', 'Body ratio', 'Stress', 'Why not promoted'] as const;

/** The thresholds the snapshot's rule set was judged with (the UI never assumes its own). */
function bodyBars(s: Snapshot): { max: number; min: number } {
  const c = s.rule_set.constants;
  const num = (k: string, d: number): number => (typeof c[k] === 'number' ? c[k] : d);
  return { max: num('COMPRESSION_MAX_BODY_RATIO', RULES.COMPRESSION_MAX_BODY_RATIO), min: num('EXPANSION_MIN_BODY_RATIO', RULES.EXPANSION_MIN_BODY_RATIO) };
}

const times = (x: number | null): string => (x === null ? '—' : `×${formatFixed(x, 2)}`);

function stressText(m: NearMiss): string {
  if (m.stress_state === 'unknown') return 'unknown (OI stale)';
  if (m.stress_state === 'absent') return 'none (OI fresh)';
  const parts = [...(m.liq_count > 0 ? [`liq ${formatInt(m.liq_count)}`] : []), ...(m.oi_change ? ['OI changed'] : [])];
  return parts.join(', ');
}

function why(m: NearMiss, bars: { max: number; min: number }): string {
  if (m.stopped_at === 3) {
    if (m.body_ratio === null) return 'no closed 1 s candle to judge (exchange klines missing)';
    const would = m.stress_state === 'present' ? '; stress was there' : '';
    return `body ratio ${formatFixed(m.body_ratio, 2)} is neither ≤ ${formatFixed(bars.max, 2)} nor ≥ ${formatFixed(bars.min, 2)}${would}`;
  }
  return m.stress_state === 'unknown'
    ? 'no liquidation, and OI too stale to tell whether it changed (missing_streams)'
    : 'no liquidation in the last 60 s and no OI change in the window';
}

export function nearMissRow(symbol: string, m: NearMiss, bars: { max: number; min: number }): NearMissRow {
  return {
    symbol,
    time: formatClock(m.window_end_ms),
    stopped: m.stopped_at === 3 ? '3 candle' : '4 stress',
    flow: times(m.flow_margin),
    largest: times(m.large_trade_margin),
    body: m.body_ratio === null ? '—' : formatFixed(m.body_ratio, 2),
    stress: stressText(m),
    why: why(m, bars),
    color: m.outcome === 'missing_streams' ? COLORS.orange : COLORS.grey,
  };
}

/**
 * The panel for all symbols (rank order in the per-symbol lines; rows newest first, ties in rank
 * order), or for one symbol. `limit` caps the rows (default: all, at most 20 per symbol).
 */
export function nearMissPanel(s: Snapshot, opts: { symbol?: string; limit?: number } = {}): NearMissPanelModel {
  const bars = bodyBars(s);
  const symbols = opts.symbol === undefined ? s.symbols_active : s.symbols_active.filter((x) => x === opts.symbol);
  const all: { row: NearMissRow; end: number; rank: number }[] = [];
  const perSymbol: string[] = [];
  symbols.forEach((symbol, rank) => {
    const list = s.near_misses[symbol] ?? [];
    if (list.length === 0) return;
    const at3 = list.filter((m) => m.stopped_at === 3).length;
    const missing = list.filter((m) => m.outcome === 'missing_streams').length;
    perSymbol.push(
      `${symbol}: last ${list.length} — ${at3} stopped at 3 (candle), ${list.length - at3} at 4 (stress)${missing > 0 ? `; ${missing} for missing data` : ''}`,
    );
    for (const m of list) all.push({ row: nearMissRow(symbol, m, bars), end: m.window_end_ms, rank });
  });
  all.sort((a, b) => b.end - a.end || a.rank - b.rank);
  const rows = all.slice(0, opts.limit ?? all.length).map((x) => x.row);
  const scope = opts.symbol ?? 'all symbols';
  return {
    title: `=== WHY SILENT? Near misses, ${scope} (windows that passed conditions 1 and 2) ===`,
    perSymbol,
    rows,
    empty: rows.length > 0 ? null : emptyText(s),
  };
}

function emptyText(s: Snapshot): string {
  const { ready_symbols: ready, total_symbols: total } = s.baseline_status;
  if (total === 0 || ready < total) return `No near misses yet: baselines warming up (${ready} / ${total} symbols ready).`;
  return 'No near misses yet: no window has passed both the flow surge (P90) and the large-trade (P95) conditions since start.';
}

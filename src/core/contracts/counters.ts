/**
 * The one catalog of counter names. The detector, SystemState, replay, the snapshot contract and
 * the tests take window outcomes and per-symbol counter names from here, never spell them again.
 */
import { z } from 'zod';
import { count } from './primitives';

/**
 * How a closed window ended — exactly one outcome per closed window (SPEC §6.1) — and the
 * per-symbol counter each outcome increments, in the order the snapshot and the replay summary
 * list them. The order in which a window is judged is judgeWindow's (rule.ts).
 */
export const OUTCOME_COUNTERS = {
  empty: 'empty_windows',
  baseline_not_warm: 'baseline_not_warm',
  flow_surge_failed: 'flow_surge_failed',
  large_trade_failed: 'large_trade_failed',
  compression_failed: 'compression_failed',
  missing_streams: 'missing_streams',
  stress_failed: 'stress_failed',
  promoted: 'peak_pressure_count',
} as const;
export type WindowOutcome = keyof typeof OUTCOME_COUNTERS;
export type PartitionKey = (typeof OUTCOME_COUNTERS)[WindowOutcome];

export const WINDOW_OUTCOMES = Object.keys(OUTCOME_COUNTERS) as readonly WindowOutcome[];
/** The counters that partition windows_processed: per symbol, their sum equals it (SPEC §6.1). */
export const PARTITION_KEYS = Object.values(OUTCOME_COUNTERS) as readonly PartitionKey[];

/** The per-symbol counters besides windows_processed and its partition, in snapshot order. */
const ACTIVITY_COUNTERS = [
  // Trades whose window had already closed, or older than watermark − 30 s.
  'window_not_closed',
  'trades',
  'duplicate_trades',
  'trade_id_gaps',
  'non_market_trades',
  'liquidations',
  'duplicate_liquidations',
  'klines',
  'oi_polls',
  'oi_changes',
  'oi_changes_carried_forward',
  'mark_prices',
  'future_events',
  'liquidation_buffer_evictions',
] as const;

export type SymbolCounterName = 'windows_processed' | PartitionKey | (typeof ACTIVITY_COUNTERS)[number];
/** Every per-symbol counter, in snapshot order. */
export const SYMBOL_COUNTER_NAMES: readonly SymbolCounterName[] = ['windows_processed', ...PARTITION_KEYS, ...ACTIVITY_COUNTERS];

/** Per-symbol counters (snapshot `per_symbol.*.counters`). */
export const SymbolCountersSchema = z.object(Object.fromEntries(SYMBOL_COUNTER_NAMES.map((k) => [k, count])) as Record<SymbolCounterName, typeof count>);
export type SymbolCounters = z.infer<typeof SymbolCountersSchema>;

export function emptySymbolCounters(): SymbolCounters {
  return Object.fromEntries(SYMBOL_COUNTER_NAMES.map((k) => [k, 0])) as SymbolCounters;
}

/**
 * One row of the PostgreSQL sink's optional `windows` table (SPEC §22, off by default: `?windows=1`
 * on the sink URL): every closed window of the run, per symbol — its outcome and how far each
 * condition was from its bar — for users who study the rule's near misses in their own database.
 * Inspection only: built from the closed-window report after the verdict (the engine's window
 * hook), like the near-miss log, so detection is the same with or without it.
 */
import { z } from 'zod';
import { RULES } from '../core/constants';
import { WINDOW_OUTCOMES, type WindowOutcome } from '../core/contracts/counters';
import { StressStateSchema } from '../core/contracts/near-miss';
import { count, symbolString } from '../core/contracts/primitives';
import { margin, windowEvidence } from '../core/near-miss';
import type { ClosedWindow } from '../core/symbol-detector';

const maybe = z.number().finite().nullable();

export const WindowRowSchema = z.object({
  run_id: z.string().min(1),
  symbol: symbolString,
  window_start_ms: count,
  window_end_ms: count,
  outcome: z.enum(WINDOW_OUTCOMES as [WindowOutcome, ...WindowOutcome[]]),
  /** Condition 1: |flow| against the p90 of the baseline (null: empty window or cold baseline). */
  abs_flow: maybe,
  p90_abs_flow: maybe,
  flow_margin: maybe,
  /** Condition 2: the largest trade against the p95 trade size. */
  largest_trade: maybe,
  p95_trade_size: maybe,
  large_trade_margin: maybe,
  large_trade_count: count,
  /** Condition 3: the candle's body ratio (null: not judged on a candle). */
  body_ratio: maybe,
  /** Condition 4: liquidations, an OI change, and whether a fresh OI poll vouched for "no change". */
  stress_state: StressStateSchema,
  liq_count: count,
  oi_change: z.boolean(),
  oi_fresh: z.boolean(),
});
export type WindowRow = z.infer<typeof WindowRowSchema>;

export function windowRowOf(runId: string, w: ClosedWindow): WindowRow {
  const m = w.metrics;
  return {
    run_id: runId,
    symbol: w.symbol,
    window_start_ms: w.window_start_ms,
    window_end_ms: w.window_start_ms + RULES.WINDOW_MS,
    outcome: w.outcome,
    abs_flow: m === null ? null : m.abs_flow,
    p90_abs_flow: w.p90_abs_flow,
    flow_margin: m === null || w.p90_abs_flow === null ? null : margin(m.abs_flow, w.p90_abs_flow),
    largest_trade: w.largest_trade,
    p95_trade_size: w.p95_trade_size,
    large_trade_margin: w.largest_trade === null || w.p95_trade_size === null ? null : margin(w.largest_trade, w.p95_trade_size),
    ...windowEvidence(w),
  };
}

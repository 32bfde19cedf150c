/**
 * The Peak Pressure rule (SPEC §6) in one place: a judged window's evidence → its outcome. Pure;
 * the detector gathers the inputs and applies the outcome. The checks run in the frozen order of
 * SPEC §6.1 with early exit, so each judged window lands in exactly one bucket.
 */
import { RULES } from './constants';
import type { WindowOutcome } from './contracts/counters';
import type { StressSource } from './contracts/promoted';
import type { BodyShape } from './window';

/** What the window itself shows. */
export interface WindowEvidence {
  abs_flow: number;
  /** Trades whose notional is at or above the P95 trade-size baseline. */
  large_trade_count: number;
  /** Body shape of the window's 1 s candle; null when there is no candle (exchange klines missing). */
  shape: BodyShape | null;
}

/** The bars a window is judged against, from the previous non-empty windows (SPEC §5). */
export interface Baselines {
  p90_abs_flow: number;
  /** What `large_trade_count` was counted against. */
  p95_trade_size: number;
}

/** Condition 4's inputs: forced flow, and whether silence from the OI poller can be trusted. */
export interface StressEvidence {
  /** Liquidations in the retention span before the window's end (SPEC §7.3). */
  liq_count: number;
  /** Open interest changed in this window (SPEC §7.4). */
  oi_change: boolean;
  /** An OI poll landed within OI_STALE_MS before the window's end, so "no change" is known, not assumed. */
  oi_fresh: boolean;
}

/** Every outcome but `empty`: an empty window is never judged. */
export type Judgement = Exclude<WindowOutcome, 'empty'>;

/**
 * Judge one non-empty window. `baselines` is null while they are not warm (SPEC §5.3). A missing
 * candle, or missing stress evidence with a stale OI poller, is `missing_streams`: the window could
 * not be judged on what it needs, which is not the same as failing it.
 */
export function judgeWindow(window: WindowEvidence, baselines: Baselines | null, stress: StressEvidence): Judgement {
  if (baselines === null) return 'baseline_not_warm';
  // 1. Flow surge (SPEC §6.2).
  if (window.abs_flow < baselines.p90_abs_flow) return 'flow_surge_failed';
  // 2. Large trades.
  if (window.large_trade_count < RULES.MIN_LARGE_TRADES) return 'large_trade_failed';
  // 3. Compression or expansion of the candle (SPEC §6.3).
  if (window.shape === null) return 'missing_streams';
  if (!(window.shape.compressed || window.shape.expanded)) return 'compression_failed';
  // 4. Stress: liquidations or an OI change (SPEC §6.4).
  if (!(stress.liq_count > 0 || stress.oi_change)) return stress.oi_fresh ? 'stress_failed' : 'missing_streams';
  return 'promoted';
}

/** The stress that carried a promoted window, in the order the event lists it. */
export function stressSources(stress: StressEvidence): StressSource[] {
  const out: StressSource[] = [];
  if (stress.liq_count > 0) out.push('liquidations');
  if (stress.oi_change) out.push('oi_change');
  return out;
}

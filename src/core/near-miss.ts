/**
 * "Why silent?" (SPEC §21): per symbol, the last judged windows that cleared conditions 1 and 2
 * but were stopped at 3 or 4, with their margins. It listens on the Engine's `onWindow` hook, which
 * the detector calls after it has counted the verdict and before the window is released; it only
 * reads the closed-window report, so the verdicts, counters and events are the same with or
 * without it (test/near-miss.test.ts replays real captures both ways).
 */
import { LIMITS, RULES } from './constants';
import type { NearMiss, NearMisses, NearMissOutcome, StressState } from './contracts/near-miss';
import { deepFreeze } from './freeze';
import { Ring } from './ring';
import type { ClosedWindow } from './symbol-detector';

const QUALIFYING: ReadonlySet<string> = new Set<NearMissOutcome>(['compression_failed', 'missing_streams', 'stress_failed']);

/** value / bar, or null when the bar is not positive (the ratio would mean nothing). */
export function margin(value: number, bar: number): number | null {
  return bar > 0 && Number.isFinite(value / bar) ? value / bar : null;
}

/** Condition 4's evidence at the window's end. */
function stressState(w: ClosedWindow): StressState {
  if (w.liq_count > 0 || w.oi_change_present) return 'present';
  return w.oi_fresh ? 'absent' : 'unknown';
}

/** The near-miss record of a closed window, or null when the window does not qualify. */
export function nearMissOf(w: ClosedWindow): NearMiss | null {
  if (!QUALIFYING.has(w.outcome) || w.metrics === null || w.p90_abs_flow === null || w.p95_trade_size === null || w.largest_trade === null) return null;
  const outcome = w.outcome as NearMissOutcome;
  // missing_streams stops at 3 when there was no candle to judge, else at 4 (judgeWindow's order).
  const stoppedAt = outcome === 'compression_failed' || (outcome === 'missing_streams' && w.shape === null) ? 3 : 4;
  return {
    window_start_ms: w.window_start_ms,
    window_end_ms: w.window_start_ms + RULES.WINDOW_MS,
    outcome,
    stopped_at: stoppedAt,
    abs_flow: w.metrics.abs_flow,
    p90_abs_flow: w.p90_abs_flow,
    flow_margin: margin(w.metrics.abs_flow, w.p90_abs_flow),
    largest_trade: w.largest_trade,
    p95_trade_size: w.p95_trade_size,
    large_trade_margin: margin(w.largest_trade, w.p95_trade_size),
    ...windowEvidence(w),
  };
}

/** What conditions 2–4 saw in a closed window besides the margins (shared with the PostgreSQL windows rows). */
export function windowEvidence(w: ClosedWindow): Pick<NearMiss, 'large_trade_count' | 'body_ratio' | 'stress_state' | 'liq_count' | 'oi_change' | 'oi_fresh'> {
  return {
    large_trade_count: w.large_trade_count,
    body_ratio: w.shape === null ? null : w.shape.body_ratio,
    stress_state: stressState(w),
    liq_count: w.liq_count,
    oi_change: w.oi_change_present,
    oi_fresh: w.oi_fresh,
  };
}

interface CachedView {
  version: number;
  array: readonly NearMiss[];
}

/** The per-symbol rings of near misses, and frozen views of them for each commit. */
export class NearMissLog {
  private readonly rings = new Map<string, Ring<NearMiss>>();
  private readonly views = new Map<string, CachedView>();

  constructor(
    symbols: readonly string[],
    private readonly perSymbol: number = LIMITS.NEAR_MISSES_PER_SYMBOL,
  ) {
    for (const s of symbols) this.rings.set(s, new Ring<NearMiss>(perSymbol));
  }

  /** For `EngineOptions.onWindow`; cheap for the windows that do not qualify (~all of them). */
  readonly observe = (w: ClosedWindow): void => {
    if (!QUALIFYING.has(w.outcome)) return;
    const nm = nearMissOf(w);
    if (nm === null) return;
    let ring = this.rings.get(w.symbol);
    if (ring === undefined) {
      ring = new Ring<NearMiss>(this.perSymbol);
      this.rings.set(w.symbol, ring);
    }
    ring.push(deepFreeze(nm));
  };

  /** Per symbol (in the order given), oldest → newest; unchanged symbols share the previous commit's frozen array. */
  view(): NearMisses {
    const out: NearMisses = {};
    for (const [symbol, ring] of this.rings) {
      let v = this.views.get(symbol);
      if (v === undefined || v.version !== ring.version) {
        v = { version: ring.version, array: Object.freeze(ring.toArray()) };
        this.views.set(symbol, v);
      }
      out[symbol] = v.array as NearMiss[];
    }
    return out;
  }
}

/** The engine's one window hook for an owner that has its own and a near-miss log: its own first (both only read the report). */
export function withNearMisses(own: ((w: ClosedWindow) => void) | undefined, log: NearMissLog | null): ((w: ClosedWindow) => void) | undefined {
  if (log === null) return own;
  if (own === undefined) return log.observe;
  return (w) => {
    own(w);
    log.observe(w);
  };
}

/**
 * How often each of the four conditions holds on its own, over the warm (judged) windows of a
 * replay — the figures behind the README's event rates. Each condition is re-evaluated from the
 * closed window's metrics, independently of the frozen early-exit order the verdict uses, so
 * "condition 3" here also counts windows that failed condition 1. Inspection only: it reads the
 * `onWindow` callback and never takes part in a verdict.
 */
import { RULES } from '../core/constants';
import type { ClosedWindow } from '../core/symbol-detector';
import { bodyShape } from '../core/window';

export interface ConditionTally {
  /** Judged windows: non-empty, baseline warm. */
  warm: number;
  flow: number;
  large_trade: number;
  compression: number;
  stress: number;
  /** Conditions 1 and 2 together. */
  first_two: number;
  /** Conditions 1, 2 and 3 together. */
  first_three: number;
  all_four: number;
  /** The verdict's own count, to check the re-evaluation against. */
  promoted: number;
  first_ms: number | null;
  last_ms: number | null;
}

export function emptyTally(): ConditionTally {
  return { warm: 0, flow: 0, large_trade: 0, compression: 0, stress: 0, first_two: 0, first_three: 0, all_four: 0, promoted: 0, first_ms: null, last_ms: null };
}

export class ConditionRates {
  readonly bySymbol = new Map<string, ConditionTally>();

  /** For `ReplayOptions.onWindow`. Needs synthetic 1 s candles (KLINE_SOURCE = synthetic, the default). */
  readonly add = (w: ClosedWindow): void => {
    let t = this.bySymbol.get(w.symbol);
    if (t === undefined) {
      t = emptyTally();
      this.bySymbol.set(w.symbol, t);
    }
    t.first_ms ??= w.window_start_ms;
    t.last_ms = w.window_start_ms + RULES.WINDOW_MS;
    const m = w.metrics;
    if (w.outcome === 'empty' || w.outcome === 'baseline_not_warm' || m === null || w.p90_abs_flow === null) return;
    t.warm++;
    const c1 = m.abs_flow >= w.p90_abs_flow;
    const c2 = w.large_trade_count >= RULES.MIN_LARGE_TRADES;
    const shape = bodyShape(m, RULES.COMPRESSION_MAX_BODY_RATIO, RULES.EXPANSION_MIN_BODY_RATIO);
    const c3 = shape.compressed || shape.expanded;
    const c4 = w.liq_count > 0 || w.oi_change_present;
    if (c1) t.flow++;
    if (c2) t.large_trade++;
    if (c3) t.compression++;
    if (c4) t.stress++;
    if (c1 && c2) t.first_two++;
    if (c1 && c2 && c3) t.first_three++;
    if (c1 && c2 && c3 && c4) t.all_four++;
    if (w.outcome === 'promoted') t.promoted++;
  };

  total(): ConditionTally {
    const all = emptyTally();
    for (const t of this.bySymbol.values()) {
      for (const k of ['warm', 'flow', 'large_trade', 'compression', 'stress', 'first_two', 'first_three', 'all_four', 'promoted'] as const) all[k] += t[k];
      if (t.first_ms !== null) all.first_ms = all.first_ms === null ? t.first_ms : Math.min(all.first_ms, t.first_ms);
      if (t.last_ms !== null) all.last_ms = all.last_ms === null ? t.last_ms : Math.max(all.last_ms, t.last_ms);
    }
    return all;
  }
}

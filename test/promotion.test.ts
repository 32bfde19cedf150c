/**
 * judgeWindow alone (SPEC §6): every outcome, each boundary on the right side, and the frozen order
 * of the checks — a window failing several conditions is booked under the first one that fails.
 */
import { describe, expect, it } from 'vitest';
import { RULES } from '../src/core/constants';
import { WINDOW_OUTCOMES } from '../src/core/contracts/counters';
import { type Baselines, judgeWindow, type Judgement, type StressEvidence, stressSources, type WindowEvidence } from '../src/core/promotion';
import { bodyShape, type Candle } from '../src/core/window';

const shapeOf = (c: Candle) => bodyShape(c, RULES.COMPRESSION_MAX_BODY_RATIO, RULES.EXPANSION_MIN_BODY_RATIO);
/** Body 0.1 of the range: compressed. */
const COMPRESSED = shapeOf({ open: 100, high: 110, low: 100, close: 101 });
/** Body 0.9 of the range: expanded. */
const EXPANDED = shapeOf({ open: 100, high: 110, low: 100, close: 109 });
/** Body 0.5 of the range: neither. */
const MIDDLE = shapeOf({ open: 100, high: 110, low: 100, close: 105 });

/** The SPEC §15 worked example's bars. */
const BASELINES: Baselines = { p90_abs_flow: 200_000, p95_trade_size: 150_000 };
/** A window meeting conditions 1–3: flow at the bar, one large trade, a compressed candle. */
const PASSING: WindowEvidence = { abs_flow: 200_000, large_trade_count: RULES.MIN_LARGE_TRADES, shape: COMPRESSED };
const NO_STRESS: StressEvidence = { liq_count: 0, oi_change: false, oi_fresh: true };

describe('judgeWindow: each outcome', () => {
  it('baseline_not_warm while the baselines are not warm, whatever the window shows', () => {
    expect(judgeWindow(PASSING, null, { liq_count: 3, oi_change: true, oi_fresh: true })).toBe('baseline_not_warm');
    expect(judgeWindow({ abs_flow: 0, large_trade_count: 0, shape: null }, null, NO_STRESS)).toBe('baseline_not_warm');
  });

  it('flow_surge_failed below P90; at P90 the condition holds (≥)', () => {
    expect(judgeWindow({ ...PASSING, abs_flow: 197_234 }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('flow_surge_failed');
    expect(judgeWindow({ ...PASSING, abs_flow: 200_000 }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('promoted');
  });

  it('large_trade_failed with fewer than MIN_LARGE_TRADES large trades', () => {
    expect(judgeWindow({ ...PASSING, large_trade_count: RULES.MIN_LARGE_TRADES - 1 }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('large_trade_failed');
  });

  it('missing_streams without a candle (exchange klines absent)', () => {
    expect(judgeWindow({ ...PASSING, shape: null }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('missing_streams');
  });

  it('compression_failed when the body is neither compressed nor expanded; either one passes', () => {
    expect(MIDDLE.compressed || MIDDLE.expanded).toBe(false);
    expect(judgeWindow({ ...PASSING, shape: MIDDLE }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('compression_failed');
    expect(judgeWindow({ ...PASSING, shape: COMPRESSED }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('promoted');
    expect(judgeWindow({ ...PASSING, shape: EXPANDED }, BASELINES, { ...NO_STRESS, liq_count: 1 })).toBe('promoted');
  });

  it('stress_failed without liquidations or OI change while OI polls are fresh; missing_streams when they are stale', () => {
    expect(judgeWindow(PASSING, BASELINES, NO_STRESS)).toBe('stress_failed');
    expect(judgeWindow(PASSING, BASELINES, { ...NO_STRESS, oi_fresh: false })).toBe('missing_streams');
  });

  it('promoted on liquidations, on an OI change, or both — stale OI does not matter once there is stress', () => {
    expect(judgeWindow(PASSING, BASELINES, { liq_count: 1, oi_change: false, oi_fresh: false })).toBe('promoted');
    expect(judgeWindow(PASSING, BASELINES, { liq_count: 0, oi_change: true, oi_fresh: true })).toBe('promoted');
    expect(judgeWindow(PASSING, BASELINES, { liq_count: 2, oi_change: true, oi_fresh: true })).toBe('promoted');
  });
});

describe('judgeWindow: the frozen order (SPEC §6.1)', () => {
  it('books a window that fails everything under the first failure, and moves one step on as each is repaired', () => {
    const seen: Judgement[] = [];
    let window: WindowEvidence = { abs_flow: 1, large_trade_count: 0, shape: null };
    let stress: StressEvidence = NO_STRESS;
    seen.push(judgeWindow(window, null, stress));
    seen.push(judgeWindow(window, BASELINES, stress));
    window = { ...window, abs_flow: 250_000 };
    seen.push(judgeWindow(window, BASELINES, stress));
    window = { ...window, large_trade_count: 2 };
    seen.push(judgeWindow(window, BASELINES, stress));
    window = { ...window, shape: MIDDLE };
    seen.push(judgeWindow(window, BASELINES, stress));
    window = { ...window, shape: EXPANDED };
    seen.push(judgeWindow(window, BASELINES, stress));
    stress = { ...stress, oi_change: true };
    seen.push(judgeWindow(window, BASELINES, stress));
    expect(seen).toEqual([
      'baseline_not_warm',
      'flow_surge_failed',
      'large_trade_failed',
      'missing_streams',
      'compression_failed',
      'stress_failed',
      'promoted',
    ]);
  });

  it('reaches every outcome of the catalog except empty (an empty window is never judged)', () => {
    const reached = new Set<string>();
    for (const baselines of [null, BASELINES]) {
      for (const abs_flow of [0, 250_000]) {
        for (const large_trade_count of [0, 1]) {
          for (const shape of [null, MIDDLE, COMPRESSED]) {
            for (const stress of [NO_STRESS, { ...NO_STRESS, oi_fresh: false }, { ...NO_STRESS, liq_count: 1 }]) {
              reached.add(judgeWindow({ abs_flow, large_trade_count, shape }, baselines, stress));
            }
          }
        }
      }
    }
    expect([...reached].sort()).toEqual(WINDOW_OUTCOMES.filter((o) => o !== 'empty').sort());
  });
});

describe('stressSources', () => {
  it('lists what carried the promotion, liquidations before oi_change', () => {
    expect(stressSources({ liq_count: 2, oi_change: true, oi_fresh: true })).toEqual(['liquidations', 'oi_change']);
    expect(stressSources({ liq_count: 0, oi_change: true, oi_fresh: false })).toEqual(['oi_change']);
    expect(stressSources({ liq_count: 1, oi_change: false, oi_fresh: true })).toEqual(['liquidations']);
  });
});

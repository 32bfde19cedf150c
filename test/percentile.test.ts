/**
 * SPEC §5.2 (type-7 linear percentile, NumPy default) and §5.1 (baseline rings: capacity 60,
 * non-empty windows only, thresholds read before the window's own values are appended).
 */
import { describe, expect, it } from 'vitest';
import { Baseline } from '../src/core/baseline';
import { Engine } from '../src/core/engine';
import { percentile, percentileSorted } from '../src/core/percentile';
import { EventFactory, mulberry32, WindowRecorder } from './helpers';

/** Independent reference: NumPy `np.percentile(x, p)` (method='linear'), written from §5.2. */
function refType7(values: readonly number[], p: number): number {
  const x = [...values].sort((a, b) => a - b);
  const h = ((x.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return (x[lo] as number) + (h - lo) * ((x[hi] as number) - (x[lo] as number));
}

describe('percentile (SPEC §5.2 test vectors, verified with NumPy)', () => {
  const oneTo60 = Array.from({ length: 60 }, (_, i) => i + 1);
  const ten = [5, 1, 3, 2, 4, 10, 7, 6, 9, 8];

  it('1..60 → P90 = 54.1, P95 = 57.05', () => {
    expect(percentile(oneTo60, 90)).toBeCloseTo(54.1, 12);
    expect(percentile(oneTo60, 95)).toBeCloseTo(57.05, 12);
  });

  it('[5,1,3,2,4,10,7,6,9,8] (unsorted) → P90 = 9.1, P95 = 9.55', () => {
    expect(percentile(ten, 90)).toBeCloseTo(9.1, 12);
    expect(percentile(ten, 95)).toBeCloseTo(9.55, 12);
  });

  it('sorts numerically, not lexicographically (10 < 9 as strings)', () => {
    // Lexicographic order would be [1,10,2,...,9]; P100 would then be 9, not 10.
    expect(percentile(ten, 100)).toBe(10);
    expect(percentile(ten, 0)).toBe(1);
    expect(percentile([100, 20, 3], 50)).toBe(20);
  });

  it('does not mutate its input', () => {
    const input = [...ten];
    percentile(input, 90);
    expect(input).toEqual(ten);
  });

  it('interpolates between closest ranks; endpoints and exact ranks are exact', () => {
    expect(percentileSorted([10, 20], 50)).toBe(15);
    expect(percentileSorted([10, 20, 30, 40, 50], 25)).toBe(20);
    expect(percentileSorted([10, 20, 30, 40, 50], 0)).toBe(10);
    expect(percentileSorted([10, 20, 30, 40, 50], 100)).toBe(50);
    expect(percentileSorted([7], 90)).toBe(7);
    // h = 3·0.9 = 2.7 → 30 + 0.7·10
    expect(percentileSorted([0, 10, 30, 40], 90)).toBeCloseTo(37, 12);
  });

  it('matches an independent type-7 implementation on random inputs', () => {
    const rnd = mulberry32(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rnd() * 80);
      const xs = Array.from({ length: n }, () => Math.round(rnd() * 1e6) / 100);
      for (const p of [0, 5, 50, 90, 95, 99, 100]) expect(percentile(xs, p)).toBe(refType7(xs, p));
    }
  });

  it('refuses an empty history and p outside [0, 100]', () => {
    expect(() => percentile([], 90)).toThrow(RangeError);
    expect(() => percentile([1, 2], 101)).toThrow(RangeError);
    expect(() => percentile([1, 2], -1)).toThrow(RangeError);
    expect(() => percentile([1, 2], Number.NaN)).toThrow(RangeError);
  });
});

describe('Baseline ring (SPEC §5.1)', () => {
  it('is null while empty, not full until capacity values', () => {
    const b = new Baseline(60);
    expect(b.percentile(90)).toBeNull();
    for (let i = 1; i <= 59; i++) b.push(i);
    expect(b.length).toBe(59);
    expect(b.full).toBe(false);
    b.push(60);
    expect(b.full).toBe(true);
    expect(b.percentile(90)).toBeCloseTo(54.1, 12);
    expect(b.percentile(95)).toBeCloseTo(57.05, 12);
  });

  it('a partial ring uses only the values pushed so far', () => {
    const b = new Baseline(60);
    for (const v of [5, 1, 3, 2, 4, 10, 7, 6, 9, 8]) b.push(v);
    expect(b.percentile(90)).toBeCloseTo(9.1, 12);
    expect(b.percentile(95)).toBeCloseTo(9.55, 12);
  });

  it('evicts the oldest value beyond capacity and keeps oldest → newest order', () => {
    const b = new Baseline(60);
    for (let i = 1; i <= 65; i++) b.push(i);
    expect(b.length).toBe(60);
    expect(b.values()).toEqual(Array.from({ length: 60 }, (_, i) => i + 6));
    // Contents are 6..65 → percentiles shift by exactly 5 against 1..60.
    expect(b.percentile(90)).toBeCloseTo(59.1, 12);
    expect(b.percentile(95)).toBeCloseTo(62.05, 12);
  });

  it('eviction removes the oldest even when it is the largest', () => {
    const b = new Baseline(3);
    b.push(1000);
    b.push(1);
    b.push(2);
    expect(b.percentile(100)).toBe(1000);
    b.push(3);
    expect(b.values()).toEqual([1, 2, 3]);
    expect(b.percentile(100)).toBe(3);
  });

  it('querying a percentile does not disturb the ring order', () => {
    const b = new Baseline(5);
    for (const v of [50, 10, 40, 20, 30]) b.push(v);
    b.percentile(90);
    expect(b.values()).toEqual([50, 10, 40, 20, 30]);
    b.push(60);
    expect(b.values()).toEqual([10, 40, 20, 30, 60]);
  });

  it('matches the reference over a long random stream (ring = last 60 values)', () => {
    const rnd = mulberry32(99);
    const b = new Baseline(60);
    const all: number[] = [];
    for (let i = 0; i < 500; i++) {
      const v = Math.round(rnd() * 1e7) / 10;
      b.push(v);
      all.push(v);
      const last = all.slice(-60);
      expect(b.values()).toEqual(last);
      expect(b.percentile(90)).toBe(refType7(last, 90));
      expect(b.percentile(95)).toBe(refType7(last, 95));
    }
  });
});

describe('thresholds are read before the window is appended (SPEC §5.1)', () => {
  /**
   * History: 54 windows of abs_flow 100 then 6 of 1000 → P90 = 100 + 0.1·900 = 190 (sorted
   * positions 53/54). A window of abs_flow 200 passes C1 against that bar. Had it been appended
   * first (evicting the oldest 100), the sorted history would be 53×100, 200, 6×1000 and
   * P90 = 200 + 0.1·800 = 280 > 200, failing C1. Its single trade of 200 is below
   * P95(mean size) = 1000, so a correctly judged window ends at C2: large_trade_failed.
   */
  it('a window cannot raise its own bar', () => {
    const rec = new WindowRecorder();
    const engine = new Engine({ symbols: ['BTCUSDT'], onWindow: rec.onWindow });
    const f = new EventFactory('BTCUSDT');
    const k0 = 1_767_700_000;
    for (let i = 0; i < 60; i++) {
      const notional = i < 54 ? 100 : 1000;
      engine.ingest(f.trade({ ts: (k0 + i) * 1000 + 500, price: notional, qty: 1, side: 'BUY' }));
    }
    const kc = k0 + 60;
    engine.ingest(f.trade({ ts: kc * 1000 + 500, price: 200, qty: 1, side: 'BUY' }));
    const d = engine.detector('BTCUSDT');
    if (d === undefined) throw new Error('detector missing');
    const before = d.flowHistory.values();
    expect(d.warm).toBe(false); // window k0+59 not closed yet
    engine.advanceTo((kc + 2) * 1000);
    expect(d.warm).toBe(true);

    const w = rec.one('BTCUSDT', kc * 1000);
    expect(before).toHaveLength(59); // windows k0 … k0+58
    const historyAtJudgement = [...before, 1000]; // the 60th window (k0+59, flow 1000) closed just before kc
    expect(w.p90_abs_flow).toBe(refType7(historyAtJudgement, 90));
    expect(w.p90_abs_flow).toBeGreaterThan(190);
    expect(w.p90_abs_flow).toBeLessThan(190.001);
    expect(w.p95_trade_size).toBe(1000);
    expect(w.outcome).toBe('large_trade_failed');
    // The bar it would have faced had it been appended first:
    const after = d.flowHistory.values();
    expect(after[after.length - 1]).toBe(200);
    expect(refType7(after, 90)).toBeCloseTo(280, 9);
  });
});

/**
 * The simulator's aggTrades history (GET /fapi/v1/aggTrades): the market's past is put in front of
 * the published trades when first asked for. Found by the soak and collector-kill runs: at speed the
 * first request can come after the retention pruned the oldest published trades, and the simulator
 * then threw from a REST handler and exited.
 */
import { describe, expect, it } from 'vitest';
import { AggHistory } from '../src/simulator/agg-history';
import type { AggTrade } from '../src/simulator/feed';

const trade = (a: number, T: number): AggTrade => ({ a, f: a * 2, l: a * 2 + 1, T, pU: 100, qU: 1, m: false, E: T, n: 1 });
const trades = (from: number, to: number): AggTrade[] => Array.from({ length: to - from + 1 }, (_, i) => trade(from + i, (from + i) * 10));

describe('AggHistory.prepend', () => {
  it('puts a past that ends just before the kept trades in front of them', () => {
    const h = new AggHistory();
    for (const t of trades(100, 199)) h.push(t);
    h.prepend(trades(0, 99));
    expect(h.size).toBe(200);
  });

  it('leaves out a past older than trades the retention already pruned (no gap, no throw)', () => {
    const h = new AggHistory();
    for (const t of trades(100, 199)) h.push(t);
    h.pruneBefore(1500); // forgets ids 100–149
    const kept = h.size;
    expect(kept).toBeLessThan(100);
    expect(() => h.prepend(trades(0, 99))).not.toThrow();
    expect(h.size).toBe(kept);
  });

  it('refuses a past that overlaps the kept trades', () => {
    const h = new AggHistory();
    for (const t of trades(100, 199)) h.push(t);
    expect(() => h.prepend(trades(50, 149))).toThrow(/prepended aggTrades end at 149/);
  });
});

/**
 * The rolling baseline keeps its values sorted as they come and go (src/core/baseline.ts), so a
 * percentile needs no sort. Its answers must be exactly those of sorting the same values: checked
 * after every push against `percentile()` on the ring's contents, over random, repetitive, monotone
 * and non-finite sequences, for every percentile the rule sets ask and the ends.
 */
import { describe, expect, it } from 'vitest';
import { Baseline } from '../src/core/baseline';
import { percentile } from '../src/core/percentile';
import { mulberry32 } from './helpers';

const PS = [0, 10, 50, 90, 95, 100];

function checkAgainstSort(values: readonly number[], capacity: number): number {
  const b = new Baseline(capacity);
  let checked = 0;
  for (const v of values) {
    b.push(v);
    const held = b.values();
    for (const p of PS) {
      const want = percentile(held, p);
      const got = b.percentile(p);
      // === rather than Object.is: a zero's sign is no part of a threshold (x >= -0 iff x >= 0).
      if (!(got === want || (Number.isNaN(got) && Number.isNaN(want)))) {
        throw new Error(`after ${held.length} of cap ${capacity} values, P${p}: sorted-as-kept ${got} vs sort ${want} (held ${held.join(',')})`);
      }
      checked++;
    }
  }
  return checked;
}

describe('Baseline percentile equals a sort of the held values after every push', () => {
  it('random values, capacities 1, 2, 7 and 60, many evictions', () => {
    const rnd = mulberry32(20261201);
    let checked = 0;
    for (const cap of [1, 2, 7, 60]) {
      const values = Array.from({ length: 1500 }, () => rnd() * 1e6);
      checked += checkAgainstSort(values, cap);
    }
    expect(checked).toBe(4 * 1500 * PS.length);
  });

  it('heavy duplicates, zeros of both signs, monotone runs up and down', () => {
    const rnd = mulberry32(7);
    const dup = Array.from({ length: 1000 }, () => Math.floor(rnd() * 4));
    const zeros = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : 1));
    const up = Array.from({ length: 300 }, (_, i) => i);
    const down = Array.from({ length: 300 }, (_, i) => 300 - i);
    for (const seq of [dup, zeros, up, down, [...up, ...down, ...dup]]) expect(checkAgainstSort(seq, 60)).toBe(seq.length * PS.length);
  });

  it('a non-finite value held falls back to sorting, and bisection resumes once it leaves', () => {
    const seq = [...Array.from({ length: 70 }, (_, i) => i + 0.5), Number.NaN, Infinity, -Infinity, ...Array.from({ length: 130 }, (_, i) => 100 - i)];
    expect(checkAgainstSort(seq, 60)).toBe(seq.length * PS.length);
  });

  it('the values of a real-looking baseline: window abs_flow in quote units', () => {
    const rnd = mulberry32(99);
    // Heavy-tailed like real flow: mostly small windows, a few huge ones.
    const flow = Array.from({ length: 2000 }, () => Math.round(1e8 * Math.pow(rnd(), 6)) / 100);
    expect(checkAgainstSort(flow, 60)).toBe(2000 * PS.length);
  });
});

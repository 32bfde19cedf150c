/** RecentKeys answers exactly as a Set with FIFO eviction does (the structure it replaces for speed). */
import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../src/core/recent-keys';
import { mulberry32 } from './helpers';

class Reference {
  private readonly set = new Set<number>();
  private readonly fifo: number[] = [];
  constructor(private readonly capacity: number) {}
  has(k: number): boolean {
    return this.set.has(k);
  }
  add(k: number): boolean {
    if (this.set.has(k)) return false;
    this.set.add(k);
    this.fifo.push(k);
    if (this.fifo.length > this.capacity) this.set.delete(this.fifo.shift() as number);
    return true;
  }
  get size(): number {
    return this.set.size;
  }
}

describe('RecentKeys', () => {
  it.each([1, 2, 7, 64, 1000])('agrees with Set + FIFO on mixed in-order, replayed and out-of-order keys (capacity %i)', (capacity) => {
    const rnd = mulberry32(capacity * 7919);
    const fast = new RecentKeys(capacity);
    const ref = new Reference(capacity);
    let next = 5_000_000_000_000; // trade-id sized keys, above the small-integer range
    for (let i = 0; i < 60_000; i++) {
      const r = rnd();
      let key: number;
      if (r < 0.7)
        key = next++; // in order
      else if (r < 0.85)
        key = next - 1 - Math.floor(rnd() * Math.min(3 * capacity + 5, 50)); // replay after reconnect
      else if (r < 0.95)
        key = next + Math.floor(rnd() * 20); // out of order ahead
      else key = next - Math.floor(rnd() * 100_000); // long ago
      const q = next - Math.floor(rnd() * 2 * capacity);
      expect(fast.has(q)).toBe(ref.has(q));
      expect(fast.add(key)).toBe(ref.add(key));
      expect(fast.size).toBe(ref.size);
    }
  });

  it('refuses a capacity below 1', () => {
    expect(() => new RecentKeys(0)).toThrow(/at least 1/);
  });
});

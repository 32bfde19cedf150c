/** Ring answers exactly as a plain array trimmed to its capacity does, and holds no more than that alive. */
import { describe, expect, it } from 'vitest';
import { Ring } from '../src/core/ring';
import { mulberry32 } from './helpers';

/** The items a ring still references, whether or not they are in its window (what it keeps alive). */
function referenced(ring: Ring<object>): Set<unknown> {
  const slots = (ring as unknown as { items: unknown[] }).items;
  return new Set(slots.filter((x) => x !== undefined));
}

describe('Ring', () => {
  it.each([1, 2, 3, 7, 500])('toArray(n), length, last and version agree with a trimmed array (capacity %i)', (capacity) => {
    const rnd = mulberry32(capacity * 104_729);
    const ring = new Ring<object>(capacity);
    const ref: object[] = [];
    expect(ring.toArray()).toEqual([]);
    expect(ring.last()).toBeUndefined();
    for (let i = 0; i < capacity * 7 + 13; i++) {
      const item = { i };
      ring.push(item);
      ref.push(item);
      if (ref.length > capacity) ref.shift();
      expect(ring.length).toBe(ref.length);
      expect(ring.version).toBe(i + 1);
      expect(ring.last()).toBe(ref[ref.length - 1]);
      const n = Math.floor(rnd() * (capacity + 3)) - 1;
      const want = ref.slice(Math.max(0, ref.length - Math.max(0, n)));
      const got = ring.toArray(n);
      expect(got).toHaveLength(want.length);
      expect(got.every((x, j) => x === want[j])).toBe(true);
      // The whole window, around every wrap for small rings and at random points of a large one.
      if (capacity <= 7 || rnd() < 0.01) {
        const all = ring.toArray();
        expect(all.every((x, j) => x === ref[j])).toBe(true);
        // Evicted items are no longer referenced: the ring keeps exactly its window alive.
        const held = referenced(ring);
        expect(held.size).toBe(ref.length);
        expect(ref.every((x) => held.has(x))).toBe(true);
      }
    }
  });

  it('returns a fresh array that later pushes do not change', () => {
    const ring = new Ring<object>(3);
    const a = { a: 1 };
    ring.push(a);
    const before = ring.toArray();
    for (let i = 0; i < 10; i++) ring.push({ i });
    expect(before).toEqual([a]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Ring(0)).toThrow(/positive integer/);
    expect(() => new Ring(1.5)).toThrow(/positive integer/);
  });
});

/**
 * A rolling baseline: the last `capacity` values of one window metric, with percentile queries.
 * Only non-empty windows are appended, and always after the window was judged (SPEC §5.1), so a
 * window never raises its own bar.
 *
 * The values are also kept sorted, updated on each push (one removal and one insertion by
 * bisection, at most `capacity` moves), so a percentile is two reads instead of a copy and a sort:
 * every window close asks for one and every snapshot commit asks again, twice a second per symbol.
 * The answer is the one `percentile()` of src/core/percentile.ts gives on the same values
 * (test/baseline.test.ts checks it against that on random and adversarial sequences). A value that
 * is not a finite number would break the bisection, so while one is held the sorted copy is
 * rebuilt by a full sort instead.
 */
import { percentileSorted } from './percentile';

export class Baseline {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  private size = 0;
  /** Non-finite values currently held; while above zero `sorted` is rebuilt by sorting. */
  private nonFinite = 0;
  private sortedStale = false;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  push(value: number): void {
    const evicting = this.size === this.capacity;
    const old = this.ring[this.next] as number;
    this.ring[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (evicting && !Number.isFinite(old)) this.nonFinite--;
    if (!Number.isFinite(value)) this.nonFinite++;
    if (this.nonFinite > 0 || this.sortedStale) {
      if (!evicting) this.size++;
      this.sortedStale = true;
      if (this.nonFinite === 0) this.rebuildSorted();
      return;
    }
    const s = this.sorted;
    let n = this.size;
    if (evicting) {
      // Remove one occurrence of the evicted value (equal values are interchangeable).
      const at = lowerBound(s, n, old);
      s.copyWithin(at, at + 1, n);
      n--;
    }
    const v = value === 0 ? 0 : value; // -0 and +0 are one value to the bisection
    const at = lowerBound(s, n, v);
    s.copyWithin(at + 1, at, n);
    s[at] = v;
    this.size = n + 1;
  }

  /** Percentile of the current contents; null while empty. */
  percentile(p: number): number | null {
    if (this.size === 0) return null;
    if (this.sortedStale) this.rebuildSorted();
    return percentileSorted(this.sorted.subarray(0, this.size), p);
  }

  /** Oldest → newest, for inspection and tests. */
  values(): number[] {
    const out: number[] = [];
    const start = this.size === this.capacity ? this.next : 0;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity] as number);
    return out;
  }

  private rebuildSorted(): void {
    const view = this.sorted.subarray(0, this.size);
    view.set(this.size === this.capacity ? this.ring : this.ring.subarray(0, this.size));
    view.sort();
    this.sortedStale = this.nonFinite > 0;
  }
}

/** First index in `s[0..n)` whose value is not below `x`. */
function lowerBound(s: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((s[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

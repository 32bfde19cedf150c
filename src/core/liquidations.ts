/**
 * The 60-second liquidation retention buffer of one symbol (SPEC §7.3): exchange times in
 * ascending order, late arrivals inserted in place, pruned by event time (never wall clock).
 */
import { dueForCompaction } from './front-pruned';

export class LiquidationBuffer {
  private times: number[] = [];
  private head = 0;
  evictions = 0;

  constructor(private readonly cap: number) {}

  get size(): number {
    return this.times.length - this.head;
  }

  /** Slots the array holds, pruned ones not yet compacted included: what it costs in memory. */
  get slots(): number {
    return this.times.length;
  }

  insert(tsMs: number): void {
    const t = this.times;
    if (t.length === this.head || (t[t.length - 1] as number) <= tsMs) {
      t.push(tsMs);
    } else {
      t.splice(this.upperBound(tsMs), 0, tsMs);
    }
    if (this.size > this.cap) {
      this.head++;
      this.evictions++;
    }
    this.compact();
  }

  /** Drop entries with ts ≤ cutoff (half-open retention interval). */
  pruneAtOrBefore(cutoffMs: number): void {
    const t = this.times;
    while (this.head < t.length && (t[this.head] as number) <= cutoffMs) this.head++;
    this.compact();
  }

  /** Number of liquidations with from < ts ≤ to. */
  countIn(fromExclusive: number, toInclusive: number): number {
    return Math.max(0, this.upperBound(toInclusive) - this.upperBound(fromExclusive));
  }

  /** First index (≥ head) whose value is > x. */
  private upperBound(x: number): number {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(): void {
    if (dueForCompaction(this.head, this.times.length)) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}

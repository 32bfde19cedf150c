/**
 * A rolling baseline: the last `capacity` values of one window metric, with percentile queries.
 * Only non-empty windows are appended, and always after the window was judged (SPEC §5.1), so a
 * window never raises its own bar.
 */
import { percentileSorted } from './percentile';

export class Baseline {
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  push(value: number): void {
    this.ring[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Percentile of the current contents; null while empty. */
  percentile(p: number): number | null {
    if (this.size === 0) return null;
    const view = this.scratch.subarray(0, this.size);
    view.set(this.size === this.capacity ? this.ring : this.ring.subarray(0, this.size));
    view.sort();
    return percentileSorted(view, p);
  }

  /** Oldest → newest, for inspection and tests. */
  values(): number[] {
    const out: number[] = [];
    const start = this.size === this.capacity ? this.next : 0;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity] as number);
    return out;
  }
}

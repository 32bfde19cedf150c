/**
 * A bounded ring of immutable items with a version stamp, so a commit can reuse the previous
 * array when nothing changed and never copies more than `capacity` references when it did.
 *
 * The items are kept in order in a flat array of twice the capacity: a push appends, and when the
 * end is reached the newest `capacity` items move back to the front (one copy every `capacity`
 * pushes). So the newest n are always one contiguous range and `toArray` is a native slice: every
 * commit materialises the rings that changed, and a JS loop with a wrap-around index cost ten times
 * the copy (3.3 µs against 0.35 µs for 500 items). The slot of an item that leaves the ring is
 * cleared, so the ring never keeps more than `capacity` items alive.
 */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  /** One past the newest item; the held items are items[end − size, end). */
  private end = 0;
  private size = 0;
  /** Increments on every push; compare to skip rebuilding unchanged views. */
  version = 0;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new Error(`Ring capacity must be a positive integer, got ${capacity}`);
    // Filled, not holey: slices of it are packed arrays.
    this.items = new Array<T | undefined>(2 * capacity).fill(undefined);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    const items = this.items;
    const cap = this.capacity;
    if (this.end === 2 * cap) {
      // Full to the end: the newest `cap` items go to the front. Their old slots need no clearing:
      // the push that evicts an item from the front overwrites its copy at the back. A plain loop:
      // Array.prototype.copyWithin takes V8's generic path (32 µs against 1 µs for 500 items).
      for (let i = 0; i < cap; i++) items[i] = items[cap + i];
      this.end = cap;
    }
    if (this.size === cap) items[this.end - cap] = undefined;
    else this.size++;
    items[this.end++] = item;
    this.version++;
  }

  /** The newest `n` items (all by default), oldest → newest. */
  toArray(n = this.size): T[] {
    const count = Math.max(0, Math.min(n, this.size));
    return this.items.slice(this.end - count, this.end) as T[];
  }

  /** The newest item, if any. */
  last(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.end - 1];
  }
}

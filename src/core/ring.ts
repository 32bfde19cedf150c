/**
 * A bounded ring of immutable items with a version stamp, so a commit can reuse the previous
 * array when nothing changed and never copies more than `capacity` references when it did.
 */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;
  /** Increments on every push; compare to skip rebuilding unchanged views. */
  version = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.version++;
  }

  /** The newest `n` items (all by default), oldest → newest. */
  toArray(n = this.size): T[] {
    const count = Math.min(n, this.size);
    const out = new Array<T>(count);
    let idx = (this.next - count + this.capacity) % this.capacity;
    for (let i = 0; i < count; i++) {
      out[i] = this.items[idx] as T;
      idx = idx + 1 === this.capacity ? 0 : idx + 1;
    }
    return out;
  }

  /** The newest item, if any. */
  last(): T | undefined {
    return this.size === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }
}

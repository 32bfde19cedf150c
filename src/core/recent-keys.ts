/**
 * The last `capacity` distinct keys added, forgotten oldest first: one symbol's memory of recent
 * trade ids for dropping duplicates after a reconnect.
 *
 * It answers exactly as a Set with a FIFO eviction queue would, but stays cheap in the common
 * case, where ids arrive in increasing order so almost every key is a new maximum:
 *   - a key added as a new maximum (a "record") is appended to `records`, which is therefore
 *     ascending; records leave the window in insertion order, so the ones still held are always
 *     one contiguous run of that ring, searched by bisection;
 *   - any other key (arrived out of order) goes into the Set `others`;
 *   - a key above every key ever added is absent without any lookup.
 * Trade keys exceed the small-integer range, so a Set entry costs a heap number and hashing on
 * every add and eviction; for in-order ids this structure does neither.
 */
export class RecentKeys {
  /**
   * Every held key in insertion order (a ring of `capacity` slots from `head`), and which list holds
   * it. Typed rings: trade keys are not small integers, so a plain array would box each one, and a
   * pushed-then-sliced array reallocates as it grows; these never allocate after construction.
   */
  private readonly order: Float64Array;
  private readonly isRecord: Uint8Array;
  private head = 0;
  private count = 0;
  /** The held records, ascending: a ring of `recCount` slots from `recHead`. */
  private readonly records: Float64Array;
  private recHead = 0;
  private recCount = 0;
  private readonly others = new Set<number>();
  private max = -Infinity;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`RecentKeys capacity must be at least 1, got ${capacity}`);
    this.order = new Float64Array(capacity);
    this.isRecord = new Uint8Array(capacity);
    this.records = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    if (key > this.max) return false;
    if (this.others.has(key)) return true;
    // Bisection over the records' logical positions 0 … recCount − 1.
    const r = this.records;
    const cap = this.capacity;
    let lo = 0;
    let hi = this.recCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((r[(this.recHead + mid) % cap] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.recCount && r[(this.recHead + lo) % cap] === key;
  }

  /** Adds `key` unless it is held; returns false (and changes nothing) when it was. */
  add(key: number): boolean {
    const record = key > this.max;
    if (!record && this.has(key)) return false;
    // Full: the oldest leaves first (the key being added is not held, so it is never the one evicted).
    if (this.count === this.capacity) this.evictOldest();
    const cap = this.capacity;
    const at = (this.head + this.count) % cap;
    this.order[at] = key;
    this.isRecord[at] = record ? 1 : 0;
    this.count++;
    if (record) {
      this.records[(this.recHead + this.recCount) % cap] = key;
      this.recCount++;
      this.max = key;
    } else {
      this.others.add(key);
    }
    return true;
  }

  private evictOldest(): void {
    // The oldest held key; when it is a record it is also the oldest held record, records[recHead].
    const h = this.head;
    if (this.isRecord[h] === 1) {
      this.recHead = (this.recHead + 1) % this.capacity;
      this.recCount--;
    } else {
      this.others.delete(this.order[h] as number);
    }
    this.head = (h + 1) % this.capacity;
    this.count--;
  }
}

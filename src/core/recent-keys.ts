/**
 * The last `capacity` distinct keys added, forgotten oldest first: one symbol's memory of recent
 * trade ids for dropping duplicates after a reconnect.
 *
 * It answers exactly as a Set with a FIFO eviction queue would, but stays cheap in the common
 * case, where ids arrive in increasing order so almost every key is a new maximum:
 *   - a key added as a new maximum (a "record") is appended to `records`, which is therefore
 *     ascending; records leave the window in insertion order, so the ones still held are always
 *     the contiguous tail `records[recHead..]`, searched by bisection;
 *   - any other key (arrived out of order) goes into the Set `others`;
 *   - a key above every key ever added is absent without any lookup.
 * Trade keys exceed the small-integer range, so a Set entry costs a heap number and hashing on
 * every add and eviction; for in-order ids this structure does neither.
 */
export class RecentKeys {
  /** Every held key in insertion order, from `head`; `isRecord` says which list holds it. */
  private order: number[] = [];
  private isRecord: boolean[] = [];
  private head = 0;
  private records: number[] = [];
  private recHead = 0;
  private readonly others = new Set<number>();
  private max = -Infinity;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`RecentKeys capacity must be at least 1, got ${capacity}`);
  }

  get size(): number {
    return this.order.length - this.head;
  }

  has(key: number): boolean {
    if (key > this.max) return false;
    if (this.others.has(key)) return true;
    const r = this.records;
    let lo = this.recHead;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((r[mid] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo < r.length && r[lo] === key;
  }

  /** Adds `key` unless it is held; returns false (and changes nothing) when it was. */
  add(key: number): boolean {
    const record = key > this.max;
    if (!record && this.has(key)) return false;
    this.order.push(key);
    this.isRecord.push(record);
    if (record) {
      this.records.push(key);
      this.max = key;
    } else {
      this.others.add(key);
    }
    if (this.order.length - this.head > this.capacity) this.evictOldest();
    return true;
  }

  private evictOldest(): void {
    // The oldest held key; when it is a record it is also the oldest held record, records[recHead].
    if (this.isRecord[this.head]) this.recHead++;
    else this.others.delete(this.order[this.head] as number);
    this.head++;
    if (this.head > this.capacity) {
      this.order = this.order.slice(this.head);
      this.isRecord = this.isRecord.slice(this.head);
      this.records = this.records.slice(this.recHead);
      this.head = 0;
      this.recHead = 0;
    }
  }
}

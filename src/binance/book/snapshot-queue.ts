/**
 * The driver's half of snapshot pacing (SPEC §18, BINANCE.md §7–§8): which of the books' REST
 * snapshot requests to send now. The books already ask at most once per symbol per 10 s; this
 * queue keeps a reconnect's ten requests (200 of the 2,400 weight a minute) from leaving at once —
 * at most `maxInFlight` at a time, oldest first — and never has two requests for one symbol queued
 * or in flight (a book that re-asks because an answer is late gets that late answer instead). The
 * weight itself is checked where every request of the IP is: the shared REST client, which paces
 * at 90 % of X-MBX-USED-WEIGHT-1M and holds everything back after a 429/418 Retry-After.
 */
import type { SnapshotRequest } from './order-book';

export class SnapshotQueue {
  private readonly queue: SnapshotRequest[] = [];
  private readonly inFlight = new Set<string>();
  /** Requests not queued because one for the same symbol was queued or in flight. */
  merged = 0;

  constructor(private readonly maxInFlight = 2) {
    if (!(maxInFlight >= 1)) throw new Error(`SnapshotQueue: maxInFlight must be at least 1, got ${maxInFlight}`);
  }

  /** Take the books' new requests (BookRoom.takeRequests()). */
  add(requests: readonly SnapshotRequest[]): void {
    for (const r of requests) {
      if (this.inFlight.has(r.symbol) || this.queue.some((q) => q.symbol === r.symbol)) this.merged++;
      else this.queue.push(r);
    }
  }

  /** The next request to send now (marked in flight), or null when none may go. */
  next(): SnapshotRequest | null {
    if (this.inFlight.size >= this.maxInFlight) return null;
    const r = this.queue.shift();
    if (r === undefined) return null;
    this.inFlight.add(r.symbol);
    return r;
  }

  /** The request for `symbol` was answered or failed: another may go. */
  settle(symbol: string): void {
    this.inFlight.delete(symbol);
  }

  get queued(): number {
    return this.queue.length;
  }

  get sending(): number {
    return this.inFlight.size;
  }
}

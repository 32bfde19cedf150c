/**
 * The worker's side of posting snapshots to the main thread, bounded: at most one snapshot is in
 * flight (posted, not yet acknowledged by the main thread) and at most one waits behind it. A
 * newer snapshot replaces the waiting one (counted as coalesced), so a main thread that is slow
 * (a busy Qt event loop, a paused debugger) costs at most two snapshots of memory, never a queue
 * of structured clones growing at two a second. Snapshots are whole states, so the newest one
 * loses nothing; the events promoted meanwhile ride with the next one posted (src/ipc/ui-feed.ts
 * counts them from the snapshot's totals, not per message). Pure: the caller posts.
 */
export class SnapshotMailbox<T> {
  private inFlight = false;
  private waiting: T | null = null;
  /** Snapshots replaced by a newer one before they could be posted. */
  coalesced = 0;

  constructor(private readonly post: (item: T) => void) {}

  /** A new snapshot: posted now when nothing is in flight, else it waits (replacing the one waiting). */
  offer(item: T): void {
    if (!this.inFlight) {
      this.inFlight = true;
      this.post(item);
      return;
    }
    if (this.waiting !== null) this.coalesced++;
    this.waiting = item;
  }

  /** The main thread has taken the one in flight: the waiting one, if any, goes now. */
  ack(): void {
    const next = this.waiting;
    this.waiting = null;
    this.inFlight = next !== null;
    if (next !== null) this.post(next);
  }
}

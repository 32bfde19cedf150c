/**
 * The live half of book sync (SPEC §18, BINANCE.md §8): the books ask for REST snapshots, this
 * fetches them through the shared REST client (which paces the IP's weight and honours 429/418),
 * a few at a time through SnapshotQueue. The bodies come back as `rest:/fapi/v1/depth…` frames
 * through the client's onBody — captured and ingested like every frame — so a replay rebuilds the
 * same books. A failed fetch is told to the book, which asks again no sooner than 10 s later.
 */
import type { BookRoom } from '../binance/book/book-room';
import { snapshotPath } from '../binance/book/order-book';
import { SnapshotQueue } from '../binance/book/snapshot-queue';
import type { Clock, Timer } from '../clock/clock';
import type { RestClient } from './rest';

export interface DepthSyncOptions {
  clock: Clock;
  /** How often deferred requests are looked at (machine ms). */
  pollEveryMs: number;
  timeoutMs: number;
  onFailed?: (symbol: string, message: string) => void;
}

export class DepthSync {
  private readonly queue = new SnapshotQueue();
  private timer: Timer | null = null;
  fetched = 0;
  failed = 0;

  constructor(
    private readonly books: BookRoom,
    private readonly rest: RestClient,
    private readonly opts: DepthSyncOptions,
  ) {}

  start(): void {
    this.timer ??= this.opts.clock.every(this.opts.pollEveryMs, () => {
      this.books.poll(this.opts.clock.now());
      this.pump();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private pump(): void {
    this.queue.add(this.books.takeRequests());
    for (let r = this.queue.next(); r !== null; r = this.queue.next()) {
      const symbol = r.symbol;
      // Queued requests leave later than the book asked: its 10 s per symbol counts from here.
      this.books.snapshotSent(symbol, this.opts.clock.now());
      this.rest.get(snapshotPath(r), { timeoutMs: this.opts.timeoutMs, weight: r.weight }).then(
        () => {
          this.fetched++;
          this.queue.settle(symbol);
        },
        (e: unknown) => {
          this.failed++;
          this.queue.settle(symbol);
          this.books.snapshotFailed(symbol, this.opts.clock.now());
          this.opts.onFailed?.(symbol, e instanceof Error ? e.message : String(e));
        },
      );
    }
  }
}

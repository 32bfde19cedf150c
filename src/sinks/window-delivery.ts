/**
 * Closed windows to the sinks that asked for them (`?windows=1`, SPEC §22): inspection data, so
 * bounded rather than durable. The collector hands each commit's windows over (`add`); each such
 * sink has its own queue of at most `cap` rows — the oldest are dropped, counted, when a sink is
 * down longer than the queue lasts (20,000 rows: half an hour of ten symbols) — and its own loop,
 * which sends batches in order, retries a failed batch with backoff, and only then drops it from
 * the queue. Nothing here waits on the collector or makes it wait: `add` only appends.
 * Re-sending is harmless: the table is keyed by observer, symbol and window start.
 */
import type { Clock, Timer } from '../clock/clock';
import { errorLine, type Sink } from './sink';
import type { WindowRow } from './window-row';

export const WINDOW_QUEUE_CAP = 20_000;

export interface WindowsStatus {
  queued: number;
  delivered: number;
  dropped: number;
}

interface WindowLane {
  sink: Sink & { deliverWindows: NonNullable<Sink['deliverWindows']> };
  queue: WindowRow[];
  /** Rows ever taken off the head of the queue (sent or dropped): where a batch sent meanwhile now starts. */
  removed: number;
  delivered: number;
  dropped: number;
  failures: number;
  done: Promise<void>;
}

export interface WindowDeliveryOptions {
  sinks: readonly Sink[];
  clock: Clock;
  batchSize: number;
  idlePollMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  cap?: number;
  log?: (level: 'warn' | 'info', msg: string, fields: Record<string, unknown>) => void;
}

export class WindowDelivery {
  private readonly lanes: WindowLane[];
  private readonly cap: number;
  private observerId: string | null = null;
  private stopping = false;
  private draining = false;
  private readonly sleeping = new Set<{ timer: Timer; resolve: () => void }>();

  constructor(private readonly opts: WindowDeliveryOptions) {
    this.cap = opts.cap ?? WINDOW_QUEUE_CAP;
    this.lanes = opts.sinks
      .filter((s): s is WindowLane['sink'] => s.deliverWindows !== undefined)
      .map((sink) => ({ sink, queue: [], removed: 0, delivered: 0, dropped: 0, failures: 0, done: Promise.resolve() }));
  }

  /** Whether any sink takes windows (else the collector need not build them). */
  get wanted(): boolean {
    return this.lanes.length > 0;
  }

  /** Append a commit's windows to every lane (oldest dropped beyond the cap). */
  add(rows: readonly WindowRow[]): void {
    if (rows.length === 0) return;
    for (const l of this.lanes) {
      l.queue.push(...rows);
      const over = l.queue.length - this.cap;
      if (over > 0) {
        if (l.dropped === 0) this.opts.log?.('warn', 'window rows dropped: the sink has not taken them for too long', { sink: l.sink.name, cap: this.cap });
        l.queue.splice(0, over);
        l.removed += over;
        l.dropped += over;
      }
    }
    this.wake();
  }

  /** Start sending, once the observer id (the local store's) is known. */
  start(observerId: string): void {
    if (this.observerId !== null) return;
    this.observerId = observerId;
    for (const l of this.lanes) l.done = this.loop(l, observerId);
  }

  status(sink: string): WindowsStatus | undefined {
    const l = this.lanes.find((x) => x.sink.name === sink);
    return l === undefined ? undefined : { queued: l.queue.length, delivered: l.delivered, dropped: l.dropped };
  }

  /** Keep sending for up to `drainMs` while the queues empty and the sinks take batches, then stop the loops. */
  async stop(drainMs: number): Promise<void> {
    this.draining = true;
    this.wake();
    const all = Promise.all(this.lanes.map((l) => l.done));
    let t: Timer | undefined;
    await Promise.race([all, new Promise<void>((r) => (t = this.opts.clock.after(Math.max(0, drainMs), r)))]);
    t?.cancel();
    this.stopping = true;
    this.wake();
    await Promise.race([all, new Promise<void>((r) => (t = this.opts.clock.after(1_000, r)))]);
    t?.cancel();
  }

  private wake(): void {
    for (const s of [...this.sleeping]) {
      s.timer.cancel();
      this.sleeping.delete(s);
      s.resolve();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const s = { timer: this.opts.clock.after(ms, () => this.wake()), resolve };
      this.sleeping.add(s);
    });
  }

  private async loop(l: WindowLane, observerId: string): Promise<void> {
    let backoff = this.opts.retryMinMs;
    while (!this.stopping) {
      if (l.queue.length === 0) {
        if (this.draining) return;
        await this.sleep(this.opts.idlePollMs);
        continue;
      }
      const batch = l.queue.slice(0, this.opts.batchSize);
      const from = l.removed;
      try {
        await l.sink.deliverWindows(observerId, batch);
      } catch (e) {
        if (l.failures++ === 0) this.opts.log?.('warn', 'window rows not delivered; retrying with backoff', { sink: l.sink.name, err: errorLine(e) });
        if (this.draining) return;
        await this.sleep(backoff);
        backoff = Math.min(this.opts.retryMaxMs, backoff * 2);
        continue;
      }
      // Rows the cap dropped meanwhile were the oldest, maybe some of this batch: remove the rest of it.
      const left = Math.max(0, from + batch.length - l.removed);
      l.queue.splice(0, left);
      l.removed += left;
      l.delivered += batch.length;
      l.failures = 0;
      backoff = this.opts.retryMinMs;
    }
  }
}

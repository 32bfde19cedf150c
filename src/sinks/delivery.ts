/**
 * Delivery from the outbox to the sinks (SPEC §22): at least once, in order, nothing lost.
 *
 * Each sink has its own loop and cursor: read the next bounded batch after the cursor, hand it to
 * the sink, and only once the sink has it durably move the cursor (in memory, then in the store).
 * A failure leaves the cursor where it was and retries the same batch with exponential backoff, so
 * a sink that is down or slow only grows its own backlog — the rows wait in the store, bounded by
 * disk — and never delays another sink, the collector or the UI. A process killed at any moment
 * restarts from the last stored cursor: the batch in flight is sent again (a duplicate at worst).
 */
import { type Clock, type Timer, wallClock } from '../clock/clock';
import type { SinkStatus } from '../core/contracts/sink-status';
import type { RunRow } from '../store/contract';
import { type Outbox, type OutboxBatch } from '../store/outbox';
import { type DeliveryResult, type Sink, errorLine } from './sink';

export interface DeliveryTuning {
  /** Rows per batch (one MULTI / one transaction). */
  batchSize: number;
  /** With nothing to send, look again after this long (a `wake()` comes sooner). */
  idlePollMs: number;
  /** Backoff after a failure: doubles from min to max. */
  retryMinMs: number;
  retryMaxMs: number;
  /** A batch the sink has not taken after this long counts as failed (and is retried). */
  batchTimeoutMs: number;
  /** How often the local runs table is compared with what the sinks have. */
  runsSyncMs: number;
}

export const DEFAULT_TUNING: DeliveryTuning = Object.freeze({
  batchSize: 500,
  idlePollMs: 250,
  retryMinMs: 500,
  retryMaxMs: 30_000,
  batchTimeoutMs: 20_000,
  runsSyncMs: 5_000,
});

export type DeliveryLog = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;

export interface DeliveryOptions {
  outbox: Outbox;
  sinks: readonly Sink[];
  tuning?: Partial<DeliveryTuning>;
  /** Time, backoff and poll timers (default: the wall clock). */
  clock?: Clock;
  log?: DeliveryLog;
  /** After each acknowledged batch (benchmarks measure lag with it). */
  onDelivered?: (sink: string, batch: OutboxBatch, nowMs: number) => void;
}

interface Lane {
  sink: Sink;
  cursor: number;
  deliveredTotal: number;
  delivered: number;
  lastDeliveredMs: number | null;
  state: SinkStatus['state'];
  failures: number;
  failingSince: number | null;
  lastError: string | null;
  skipped: number;
  rejected: number;
  backoffMs: number;
  /** What each run looked like when this sink last received it. */
  runsSent: Map<string, string>;
  done: Promise<void>;
}

interface Sleeper {
  resolve: () => void;
  timer: Timer;
  wakeable: boolean;
}

function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = clock.after(ms, () => reject(new Error(`${what}: no answer within ${ms} ms`)));
  });
  return Promise.race([p, timeout]).finally(() => t?.cancel());
}

/** `p`, or nothing once `ms` passed on `clock` (the timer is cancelled either way). */
async function within(clock: Clock, p: Promise<unknown>, ms: number): Promise<void> {
  let t: Timer | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = clock.after(Math.max(0, ms), r)))]);
  t?.cancel();
}

export class Delivery {
  private readonly tuning: DeliveryTuning;
  private readonly clock: Clock;
  private readonly lanes: Lane[];
  private readonly sleepers = new Set<Sleeper>();
  private runs = new Map<string, RunRow>();
  private runsReadMs = Number.NEGATIVE_INFINITY;
  private stopping = false;
  /** While draining at stop: loops end when their backlog is empty or a batch fails. */
  private draining = false;
  private started = false;

  constructor(private readonly opts: DeliveryOptions) {
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.clock = opts.clock ?? wallClock;
    this.lanes = opts.sinks.map((sink) => {
      const c = opts.outbox.cursor(sink.name);
      return {
        sink,
        cursor: c.delivered_seq,
        deliveredTotal: c.delivered,
        delivered: 0,
        lastDeliveredMs: null,
        state: 'CONNECTING' as const,
        failures: 0,
        failingSince: null,
        lastError: null,
        skipped: 0,
        rejected: 0,
        backoffMs: this.tuning.retryMinMs,
        runsSent: new Map<string, string>(),
        done: Promise.resolve(),
      };
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes) lane.done = this.loop(lane);
  }

  /** New rows were committed: idle loops look now instead of at their next poll. */
  wake(): void {
    for (const s of [...this.sleepers]) if (s.wakeable) this.endSleep(s);
  }

  status(): SinkStatus[] {
    let head: number | null;
    try {
      head = this.opts.outbox.head();
    } catch {
      head = null;
    }
    return this.lanes.map((l) => {
      const backlog = head === null ? 0 : Math.max(0, head - l.cursor);
      let oldest: number | null = null;
      if (backlog > 0) {
        try {
          oldest = this.opts.outbox.oldestAfter(l.cursor);
        } catch {
          oldest = null;
        }
      }
      return {
        sink: l.sink.name,
        kind: l.sink.kind,
        state: l.state,
        backlog,
        delivered: l.delivered,
        delivered_total: l.deliveredTotal,
        delivered_seq: l.cursor,
        last_delivered_ms: l.lastDeliveredMs,
        oldest_pending_ms: oldest,
        failures: l.failures,
        failing_since_ms: l.failingSince,
        last_error: l.lastError,
        warning: l.sink.warning(),
        skipped: l.skipped,
        rejected: l.rejected,
      };
    });
  }

  /**
   * Stops every loop: first keeps delivering for up to `drainMs` while the sinks take batches (so a
   * clean stop leaves nothing behind when they are up), then closes the sinks. The cursors are
   * in the store; whatever was not delivered is delivered by the next start.
   */
  async stop(drainMs = 0): Promise<void> {
    this.draining = true;
    if (drainMs <= 0) this.stopping = true;
    this.wake();
    const all = Promise.all(this.lanes.map((l) => l.done));
    await within(this.clock, all, drainMs);
    this.stopping = true;
    for (const s of [...this.sleepers]) this.endSleep(s);
    await Promise.all(this.lanes.map((l) => l.sink.close().catch(() => undefined)));
    // A batch still in flight fails once its sink is closed; its loop then ends.
    await within(this.clock, all, 1_000);
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const s: Sleeper = { resolve, timer: this.clock.after(ms, () => this.endSleep(s)), wakeable };
      this.sleepers.add(s);
    });
  }

  private endSleep(s: Sleeper): void {
    s.timer.cancel();
    this.sleepers.delete(s);
    s.resolve();
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
  }

  /** The runs of a batch, read again from the store when one is unknown or the copy is old. */
  private runsFor(batch: OutboxBatch, now: number): RunRow[] {
    const ids = new Set(batch.items.map((i) => i.run_id));
    const unknown = [...ids].some((id) => !this.runs.has(id));
    if (unknown || now - this.runsReadMs >= this.tuning.runsSyncMs) this.refreshRuns(now);
    return [...ids].map((id) => this.runs.get(id)).filter((r): r is RunRow => r !== undefined);
  }

  private refreshRuns(now: number): void {
    this.runs = new Map(this.opts.outbox.runs().map((r) => [r.run_id, r]));
    this.runsReadMs = now;
  }

  private async loop(lane: Lane): Promise<void> {
    while (!this.stopping) {
      let batch: OutboxBatch;
      let runs: RunRow[];
      const now = this.clock.now();
      try {
        batch = this.opts.outbox.read(lane.cursor, this.tuning.batchSize);
        runs = this.runsFor(batch, now);
      } catch (e) {
        this.failed(lane, `reading the local store failed (${errorLine(e)})`, now);
        await this.sleep(this.backoff(lane), false);
        continue;
      }
      if (batch.items.length === 0 && batch.throughSeq === lane.cursor) {
        if (this.draining) {
          // A clean stop ends the run in the store after its last rows: that end goes out too.
          await this.syncRuns(lane, now, true);
          return;
        }
        if (!(await this.syncRuns(lane, now))) continue;
        if (lane.state === 'CONNECTING') await this.probe(lane, now);
        await this.sleep(this.tuning.idlePollMs, true);
        continue;
      }
      let result: DeliveryResult = { rejected: [] };
      if (batch.items.length > 0) {
        try {
          result = await withTimeout(
            this.clock,
            lane.sink.deliver({ observerId: this.opts.outbox.observerId, items: batch.items, runs }),
            this.tuning.batchTimeoutMs,
            `${lane.sink.name}: a batch of ${batch.items.length}`,
          );
        } catch (e) {
          this.failed(lane, errorLine(e), this.clock.now());
          if (this.draining) return;
          await this.sleep(this.backoff(lane), false);
          continue;
        }
      }
      this.acknowledged(lane, batch, result, this.clock.now());
    }
  }

  /** Before the first row: an empty batch tells whether the sink answers, so the status says so. */
  private async probe(lane: Lane, now: number): Promise<void> {
    try {
      await withTimeout(
        this.clock,
        lane.sink.deliver({ observerId: this.opts.outbox.observerId, items: [], runs: [] }),
        this.tuning.batchTimeoutMs,
        lane.sink.name,
      );
      this.ok(lane);
    } catch (e) {
      this.failed(lane, errorLine(e), now);
      await this.sleep(this.backoff(lane), false);
    }
  }

  /** Sends the runs whose local row changed (an end, its symbols); false after a failure. */
  private async syncRuns(lane: Lane, now: number, fresh = false): Promise<boolean> {
    if (lane.sink.syncRuns === undefined || lane.state !== 'OK') return true;
    if (fresh || now - this.runsReadMs >= this.tuning.runsSyncMs) {
      try {
        this.refreshRuns(now);
      } catch {
        return true;
      }
    }
    const changed = [...this.runs.values()].filter((r) => lane.runsSent.has(r.run_id) && lane.runsSent.get(r.run_id) !== JSON.stringify(r));
    if (changed.length === 0) return true;
    try {
      await withTimeout(this.clock, lane.sink.syncRuns(this.opts.outbox.observerId, changed), this.tuning.batchTimeoutMs, `${lane.sink.name}: runs`);
      for (const r of changed) lane.runsSent.set(r.run_id, JSON.stringify(r));
      return true;
    } catch (e) {
      this.failed(lane, errorLine(e), this.clock.now());
      if (!this.draining) await this.sleep(this.backoff(lane), false);
      return false;
    }
  }

  private acknowledged(lane: Lane, batch: OutboxBatch, result: DeliveryResult, now: number): void {
    const n = batch.items.length - result.rejected.length;
    lane.cursor = batch.throughSeq;
    lane.delivered += n;
    lane.deliveredTotal += n;
    lane.skipped += batch.skipped;
    lane.rejected += result.rejected.length;
    lane.lastDeliveredMs = now;
    for (const r of result.rejected) this.log('error', 'sink refused a row; it is not retried', { sink: lane.sink.name, seq: r.seq, reason: r.reason });
    if (batch.skipped > 0) this.log('warn', 'outbox rows without a readable event or audit row were skipped', { sink: lane.sink.name, skipped: batch.skipped });
    if (lane.sink.syncRuns !== undefined) for (const id of new Set(batch.items.map((i) => i.run_id))) this.markRunSent(lane, id);
    this.ok(lane);
    try {
      this.opts.outbox.advance(lane.sink.name, lane.cursor, n, now);
    } catch (e) {
      // The next batch's cursor write carries this one too; a kill before it re-sends the batch (at least once).
      this.log('warn', 'storing the sink cursor failed', { sink: lane.sink.name, err: errorLine(e) });
    }
    this.opts.onDelivered?.(lane.sink.name, batch, now);
  }

  private markRunSent(lane: Lane, runId: string): void {
    const r = this.runs.get(runId);
    if (r !== undefined) lane.runsSent.set(runId, JSON.stringify(r));
  }

  private ok(lane: Lane): void {
    if (lane.state !== 'OK' && lane.failures > 0) this.log('info', 'sink delivering again', { sink: lane.sink.name, after_failures: lane.failures });
    lane.state = 'OK';
    lane.failures = 0;
    lane.failingSince = null;
    lane.lastError = null;
    lane.backoffMs = this.tuning.retryMinMs;
  }

  private failed(lane: Lane, message: string, now: number): void {
    if (lane.failures === 0) this.log('warn', 'sink delivery failed; retrying with backoff', { sink: lane.sink.name, err: message });
    lane.state = 'DEGRADED';
    lane.failures++;
    lane.failingSince ??= now;
    lane.lastError = message;
  }

  private backoff(lane: Lane): number {
    const ms = lane.backoffMs;
    lane.backoffMs = Math.min(this.tuning.retryMaxMs, lane.backoffMs * 2);
    return ms;
  }
}

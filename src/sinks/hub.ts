/**
 * The sinks as the collector sees them (SPEC §22): `startSinks(…)` once the store is open,
 * `nudge()` after each commit that stored rows, `status()` for the snapshot's `sinks` section at
 * each commit, `stop()` before the store is closed. Nothing here blocks or throws into the caller.
 *
 * By default the delivery runs in its own worker thread (`thread: 'worker'`, bench "sinks"
 * measures why): reading batches from SQLite, building them and the clients' parsing then cost the
 * collector's event loop nothing. `thread: 'inline'` runs it on the caller's loop (tests, tools).
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { z } from 'zod';
import { type Clock, type Timer, wallClock } from '../clock/clock';
import { type SinkStatus, SinkStatusSchema } from '../core/contracts/sink-status';
import { Outbox } from '../store/outbox';
import { DEFAULT_TUNING, Delivery, type DeliveryLog, type DeliveryTuning } from './delivery';
import { PostgresSink } from './postgres-sink';
import { RedisSink } from './redis-sink';
import { type Sink, errorLine } from './sink';
import { WindowDelivery } from './window-delivery';
import { type WindowRow, WindowRowSchema } from './window-row';
import { type SinkSpec, SinkSpecSchema, wantsWindows } from './spec';

export interface SinkHub {
  /** Rows were committed to the store: deliver now rather than at the next poll. */
  nudge(): void;
  /** The latest status of every sink, in the order given. */
  status(): SinkStatus[];
  /** Closed windows for the sinks that take them (`?windows=1`); returns at once, never throws. */
  windows(rows: readonly WindowRow[]): void;
  /** Delivers what it can within `drainMs`, then closes the sinks (the rest waits in the store). */
  stop(drainMs?: number): Promise<void>;
}

export interface SinkHubOptions {
  storePath: string;
  sinks: readonly SinkSpec[];
  thread?: 'worker' | 'inline';
  tuning?: Partial<DeliveryTuning>;
  log?: DeliveryLog;
  /** How often the worker reports status (and the store is retried while it cannot be opened). */
  statusEveryMs?: number;
  /** The worker's bundled entry (default: sink-worker.js beside this bundle). */
  workerFile?: string;
  /** A module the worker requires before its entry (tests: the TypeScript loader). */
  workerPreload?: string;
  /** Retry and restart timers, and inline delivery's time (default: the wall clock; the delivery thread always runs on it). */
  clock?: Clock;
}

export function createSink(spec: SinkSpec): Sink {
  return spec.kind === 'redis' ? new RedisSink(spec) : new PostgresSink(spec);
}

/** What a sink's status says before delivery runs (store not open yet, thread starting). */
function pendingStatus(spec: SinkSpec, error: string | null): SinkStatus {
  return {
    sink: spec.name,
    kind: spec.kind,
    state: error === null ? 'CONNECTING' : 'DEGRADED',
    backlog: 0,
    delivered: 0,
    delivered_total: 0,
    delivered_seq: 0,
    last_delivered_ms: null,
    oldest_pending_ms: null,
    failures: error === null ? 0 : 1,
    failing_since_ms: null,
    last_error: error,
    warning: null,
    skipped: 0,
    rejected: 0,
  };
}

export function startSinks(opts: SinkHubOptions): SinkHub {
  return (opts.thread ?? 'worker') === 'worker' ? new WorkerHub(opts) : new InlineHub(opts);
}

/** Delivery on this thread's event loop; opens the outbox, retrying while the store cannot be opened. */
export class InlineHub implements SinkHub {
  private delivery: Delivery | null = null;
  private readonly sinks: Sink[];
  private readonly windowDelivery: WindowDelivery;
  private outbox: Outbox | null = null;
  private openError: string | null = null;
  private retry: Timer | null = null;
  private stopped = false;
  /** The status as the delivery stopped (the outbox is closed after it). */
  private final: SinkStatus[] | null = null;

  constructor(private readonly opts: SinkHubOptions) {
    this.sinks = opts.sinks.map(createSink);
    const t = { ...DEFAULT_TUNING, ...opts.tuning };
    this.windowDelivery = new WindowDelivery({
      sinks: this.sinks,
      clock: opts.clock ?? wallClock,
      batchSize: t.batchSize,
      idlePollMs: t.idlePollMs,
      retryMinMs: t.retryMinMs,
      retryMaxMs: t.retryMaxMs,
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.tryOpen();
  }

  private tryOpen(): void {
    if (this.stopped) return;
    try {
      this.outbox = Outbox.open(this.opts.storePath);
    } catch (e) {
      this.openError = `the local store cannot be read (${errorLine(e)}); delivery starts once it can`;
      this.retry = (this.opts.clock ?? wallClock).after(this.opts.statusEveryMs ?? 2_000, () => this.tryOpen());
      return;
    }
    this.openError = null;
    this.delivery = new Delivery({
      outbox: this.outbox,
      sinks: this.sinks,
      ...(this.opts.tuning ? { tuning: this.opts.tuning } : {}),
      ...(this.opts.log ? { log: this.opts.log } : {}),
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
    });
    this.delivery.start();
    this.windowDelivery.start(this.outbox.observerId);
  }

  nudge(): void {
    this.delivery?.wake();
  }

  windows(rows: readonly WindowRow[]): void {
    if (!this.stopped) this.windowDelivery.add(rows);
  }

  status(): SinkStatus[] {
    if (this.final !== null) return this.final;
    const base = this.delivery?.status() ?? this.opts.sinks.map((s) => pendingStatus(s, this.openError));
    return base.map((s) => {
      const w = this.windowDelivery.status(s.sink);
      return w === undefined ? s : { ...s, windows: w };
    });
  }

  async stop(drainMs = 2_000): Promise<void> {
    this.stopped = true;
    this.retry?.cancel();
    // Windows first: the event delivery closes the sinks when it stops.
    await this.windowDelivery.stop(this.delivery === null ? 0 : drainMs);
    await this.delivery?.stop(drainMs);
    if (this.delivery === null) await Promise.all(this.sinks.map((s) => s.close().catch(() => undefined)));
    this.final = this.status();
    this.outbox?.close();
  }
}

// ---- the worker thread ------------------------------------------------------------------------

export const SinkWorkerDataSchema = z.object({
  storePath: z.string(),
  sinks: z.array(SinkSpecSchema),
  tuning: z.record(z.string(), z.number()).optional(),
  statusEveryMs: z.number().int().positive(),
});
export type SinkWorkerData = z.infer<typeof SinkWorkerDataSchema>;

export const ToSinkWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('wake') }),
  z.object({ type: z.literal('windows'), rows: z.array(WindowRowSchema) }),
  z.object({ type: z.literal('stop'), drainMs: z.number().nonnegative() }),
]);
export type ToSinkWorker = z.infer<typeof ToSinkWorkerSchema>;

export const FromSinkWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), sinks: z.array(SinkStatusSchema) }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), msg: z.string(), fields: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('stopped') }),
]);
export type FromSinkWorker = z.infer<typeof FromSinkWorkerSchema>;

/** V8 limits of the delivery thread: it holds one batch per sink (≤ 500 rows) at a time. */
export const SINK_WORKER_LIMITS = Object.freeze({ maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 8 });

/** After the delivery thread died (a bug), it is started again this much later. */
const RESTART_AFTER_MS = 5_000;

export class WorkerHub implements SinkHub {
  private worker: Worker | null = null;
  private latest: SinkStatus[];
  private stopping: Promise<void> | null = null;
  private restart: Timer | null = null;
  /** Times the thread died and was started again. */
  restarts = 0;

  constructor(private readonly opts: SinkHubOptions) {
    this.latest = opts.sinks.map((s) => pendingStatus(s, null));
    this.spawn();
  }

  private spawn(): void {
    const data: SinkWorkerData = {
      storePath: this.opts.storePath,
      sinks: this.opts.sinks.map((s) => ({ ...s })),
      ...(this.opts.tuning ? { tuning: { ...this.opts.tuning } as Record<string, number> } : {}),
      statusEveryMs: this.opts.statusEveryMs ?? 500,
    };
    const file = this.opts.workerFile ?? join(__dirname, 'sink-worker.js');
    const w =
      this.opts.workerPreload === undefined
        ? new Worker(file, { workerData: data, resourceLimits: { ...SINK_WORKER_LIMITS } })
        : new Worker(`require(${JSON.stringify(this.opts.workerPreload)}); require(${JSON.stringify(file)});`, {
            eval: true,
            workerData: data,
            resourceLimits: { ...SINK_WORKER_LIMITS },
          });
    this.worker = w;
    w.on('message', (raw: unknown) => {
      const m = FromSinkWorkerSchema.safeParse(raw);
      if (!m.success) return;
      if (m.data.type === 'status') this.latest = m.data.sinks;
      else if (m.data.type === 'log') this.opts.log?.(m.data.level, m.data.msg, m.data.fields);
    });
    w.on('error', (e) => this.opts.log?.('error', 'sink delivery thread failed', { err: errorLine(e) }));
    w.on('exit', (code) => {
      this.worker = null;
      if (this.stopping !== null) return;
      // Delivery is never the reason the collector stops: report it, start it again later.
      const why = `the sink delivery thread exited (code ${code}); it is restarted in ${RESTART_AFTER_MS / 1000} s`;
      this.latest = this.latest.map((s) => ({ ...s, state: 'DEGRADED', last_error: why, failures: s.failures + 1 }));
      this.restart = (this.opts.clock ?? wallClock).after(RESTART_AFTER_MS, () => {
        this.restarts++;
        this.spawn();
      });
    });
  }

  private post(msg: ToSinkWorker): void {
    this.worker?.postMessage(msg);
  }

  nudge(): void {
    this.post({ type: 'wake' });
  }

  windows(rows: readonly WindowRow[]): void {
    if (rows.length > 0 && wantsWindows(this.opts.sinks)) this.post({ type: 'windows', rows: [...rows] });
  }

  status(): SinkStatus[] {
    return this.latest.map((s) => ({ ...s }));
  }

  stop(drainMs = 2_000): Promise<void> {
    if (this.stopping) return this.stopping;
    this.restart?.cancel();
    this.stopping = new Promise<void>((resolve) => {
      const w = this.worker;
      if (w === null) return resolve();
      // The thread closes its sinks within drainMs plus a second for a batch in flight.
      const force = (this.opts.clock ?? wallClock).after(drainMs + 3_000, () => void w.terminate());
      w.once('exit', () => {
        force.cancel();
        resolve();
      });
      this.post({ type: 'stop', drainMs });
    });
    return this.stopping;
  }
}

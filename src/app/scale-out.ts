/**
 * The wiring hook for SPEC §22 (`--sink URL`, `--http 127.0.0.1:PORT`): what the collector worker
 * starts beside the collector, and the calls the collector makes to it (its `sinks` option,
 * CollectorSinks). Nothing starts and no port opens unless a flag asks for it.
 *
 *   const scale = await ScaleOut.start({ spec, snapshot: () => collector.snapshot(), clock, log, say });
 *   scale.nudge();                 // after each store commit that wrote rows
 *   scale.windows(rows);           // at each commit, its closed windows (only when a sink has ?windows=1)
 *   scale.sinkStatus();            // at each commit, for the snapshot's `sinks` section
 *   scale.health();                // merged into the health verdict (SINK_DEGRADED)
 *   await scale.stop();            // after the store's last write and close
 */
import { type Clock, wallClock } from '../clock/clock';
import type { SinkStatus } from '../core/contracts/sink-status';
import type { Snapshot } from '../core/contracts/snapshot';
import type { ReasonCode } from '../core/contracts/vocabulary';
import { ApiServer } from '../http/api-server';
import type { DeliveryLog } from '../sinks/delivery';
import { sinkHealth } from '../sinks/health';
import { type SinkHub, startSinks } from '../sinks/hub';
import type { WindowRow } from '../sinks/window-row';
import type { StoredEventRow } from '../store/contract';
import { DEFAULT_STORE_PATH, EventStore } from '../store/store';
import { errorLine } from '../sinks/sink';
import type { ScaleOutSpec } from './scale-out-spec';

export interface ScaleOutOptions {
  spec: ScaleOutSpec;
  /** The latest committed snapshot (null before the first). */
  snapshot: () => Snapshot | null;
  log: DeliveryLog;
  /** One console line (stage-change style). */
  say: (line: string) => void;
  /** The delivery thread's bundle (default: sink-worker.js beside this one). */
  workerFile?: string;
  workerPreload?: string;
  /** The collector's clock (default: the wall clock). */
  clock?: Clock;
}

/** /api/events reads the store through its own read-only connection, opened when first needed. */
class StoreReader {
  private store: EventStore | null = null;

  constructor(
    private readonly path: string,
    private readonly clock: Clock,
  ) {}

  events(q: { sinceMs?: number; limit: number }): readonly StoredEventRow[] | null {
    if (this.store === null) {
      const s = EventStore.open({ path: this.path, readonly: true });
      if (!s.isOpen) return null;
      this.store = s;
    }
    try {
      return [...this.store.iterateEvents({ ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}), limit: q.limit })];
    } catch {
      this.close();
      return null;
    }
  }

  close(): void {
    this.store?.close(this.clock.now(), 'open');
    this.store = null;
  }
}

export class ScaleOut {
  private constructor(
    private readonly hub: SinkHub | null,
    private readonly api: ApiServer | null,
    private readonly reader: StoreReader,
  ) {}

  static async start(o: ScaleOutOptions): Promise<ScaleOut> {
    const storePath = o.spec.storePath ?? DEFAULT_STORE_PATH;
    const hub =
      o.spec.sinks.length === 0
        ? null
        : startSinks({
            storePath,
            sinks: o.spec.sinks,
            log: o.log,
            ...(o.workerFile !== undefined ? { workerFile: o.workerFile } : {}),
            ...(o.workerPreload !== undefined ? { workerPreload: o.workerPreload } : {}),
          });
    if (hub !== null) o.say(`sinks: delivering ${storePath} to ${o.spec.sinks.map((s) => s.name).join(', ')}`);
    const clock = o.clock ?? wallClock;
    const reader = new StoreReader(storePath, clock);
    let api: ApiServer | null = null;
    if (o.spec.http !== null) {
      try {
        api = await ApiServer.start({
          listen: o.spec.http,
          sources: { snapshot: o.snapshot, events: (q) => reader.events(q), sinks: () => hub?.status() ?? [] },
          clock,
        });
        o.say(`HTTP API on ${api.url} (read-only: /api/snapshot /api/events /api/health /metrics /api/stream)`);
      } catch (e) {
        // The collector runs on without it: the observer's job is detection, not serving.
        o.say(`HTTP API not started on ${o.spec.http.host}:${o.spec.http.port}: ${errorLine(e)} (choose another port with --http)`);
        o.log('error', 'HTTP API not started', { err: errorLine(e), listen: o.spec.http });
      }
    }
    return new ScaleOut(hub, api, reader);
  }

  /** The store committed rows: deliver them now. */
  nudge(): void {
    this.hub?.nudge();
  }

  /** A commit's closed windows, for the sinks that take them (`?windows=1`). */
  windows(rows: readonly WindowRow[]): void {
    this.hub?.windows(rows);
  }

  /** For the snapshot's `sinks` section; undefined when no sink is configured (the section stays absent). */
  sinkStatus(): SinkStatus[] | undefined {
    return this.hub?.status();
  }

  health(): { reasons: ReasonCode[]; detail: string } {
    return sinkHealth(this.sinkStatus());
  }

  get httpUrl(): string | null {
    return this.api?.url ?? null;
  }

  /** Closes the API, then lets the sinks deliver for up to `drainMs` what the store holds. */
  async stop(drainMs = 2_000): Promise<void> {
    await this.api?.close();
    this.reader.close();
    await this.hub?.stop(drainMs);
  }
}

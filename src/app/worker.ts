/**
 * The collector worker thread: collector, core, SystemState and the event store live here. It
 * posts every committed snapshot, cut to what the window renders (src/ipc/ui-feed.ts), every alert
 * and, once at start, the earlier runs' events from the store to the main thread, and obeys one
 * command: stop. It never loads NodeGui (a second QApplication would abort the process).
 */
import { wantsWindows } from '../sinks/spec';
import type { WindowRow } from '../sinks/window-row';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Collector, type CollectorSinks } from '../collector/collector';
import { consoleLine, fileLogger } from '../collector/log';
import { clockFromSpec } from '../clock/accelerated';
import { IPC_VERSION, parseMainMessage, type WorkerToMain, WorkerDataSchema } from '../ipc/messages';
import { UiFeed } from '../ipc/ui-feed';
import { SnapshotMailbox } from '../ipc/mailbox';
import type { Snapshot } from '../core/contracts/snapshot';
import type { ScaleOut } from './scale-out';
import { safeMessage } from '../text/safe';
import { SymbolConfigError } from '../binance/symbols';
import { wallClock } from '../clock/clock';

/** After a crash, how long stopping (capture flush, last snapshot) may take before the thread exits anyway. */
const CRASH_STOP_GRACE_MS = 10_000;

function post(msg: WorkerToMain): void {
  parentPort?.postMessage(msg);
}

function main(): void {
  if (!parentPort) throw new Error('worker.js must run as a worker thread (started by the app or `peak-pressure live`)');
  const parsed = WorkerDataSchema.safeParse(workerData);
  if (!parsed.success) {
    post({ v: IPC_VERSION, type: 'fatal', reason: 'WORKER_EXITED', detail: `invalid worker data: ${parsed.error.message}` });
    return;
  }
  const { config, runId, clock, snapshots, consoleColor, scaleOut, restart } = parsed.data;
  const feed = new UiFeed();
  // At most one snapshot in flight to the main thread and one waiting; newer ones replace the waiting one.
  const mailbox = new SnapshotMailbox<Snapshot>((snapshot) => {
    const update = feed.next(snapshot);
    post({ v: IPC_VERSION, type: 'snapshot', snapshot: update.snapshot, events: update.events });
  });
  const logger = fileLogger(join(config.debugDir, 'collector.log'), config.logLevel, runId);
  const clk = clockFromSpec(clock);
  // --sink / --http (SPEC §22) run beside the collector; its commits read the sinks' status (null
  // until they started, a moment after the collector).
  let scale: ScaleOut | null = null;
  const sinks: CollectorSinks | undefined =
    scaleOut && scaleOut.sinks.length > 0
      ? {
          status: () => scale?.sinkStatus() ?? [],
          health: () => scale?.health() ?? { reasons: [], detail: '' },
          nudge: () => scale?.nudge(),
          ...(wantsWindows(scaleOut.sinks) ? { windows: (rows: readonly WindowRow[]) => scale?.windows(rows) } : {}),
        }
      : undefined;
  const collector = new Collector({
    config,
    runId,
    logger,
    clock: clk,
    publish: (snapshot) => {
      if (snapshots !== false) mailbox.offer(snapshot);
    },
    uiSnapshotsCoalesced: () => mailbox.coalesced,
    console: (line) => post({ v: IPC_VERSION, type: 'console', line }),
    ...(sinks ? { sinks } : {}),
    ...(consoleColor ? { consoleColor } : {}),
    ...(restart ? { restart } : {}),
    onAlert: (alert) => post({ v: IPC_VERSION, type: 'alert', alert }),
  });
  // The store is open (or its fault is known) once the collector exists: the window gets the
  // earlier runs' events before this run's first snapshot.
  if (snapshots !== false) post({ v: IPC_VERSION, type: 'history', ...collector.history() });
  let dying = false;
  const crash = (e: unknown): void => {
    // Messages may quote the outside world (a URL, a server's bytes): one safe line each; the
    // stack goes to the log only, escaped too.
    const detail = safeMessage(e instanceof Error ? e.message : String(e));
    const stack = e instanceof Error ? safeMessage(e.stack ?? '', 8000) : '';
    const reason = e instanceof SymbolConfigError ? 'SYMBOLS_INVALID' : 'WORKER_EXITED';
    logger.fatal({ err: detail, stack }, 'collector worker crashed');
    post({ v: IPC_VERSION, type: 'fatal', reason, detail });
    if (dying) return;
    dying = true;
    // A crashed collector is a dead worker, never a silent one: the snapshot file says why, what can
    // be flushed is (capture, dead letters), and the thread ends with code 1, which the host reports
    // (headless: the process exits non-zero). A stop that hangs does not keep it alive.
    process.exitCode = 1;
    wallClock.after(CRASH_STOP_GRACE_MS, () => process.exit(1));
    void collector
      .fail(reason, detail)
      .then(() => collector.stop())
      .catch((err: unknown) => logger.error({ err: safeMessage(String(err)) }, 'stopping after the crash failed'))
      .finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  // Loaded only when --sink or --http asked for it: the sinks' Redis and PostgreSQL clients and the
  // HTTP server cost the collector's heap a few MB when merely loaded.
  const scaleStarted = scaleOut
    ? import('./scale-out')
        .then(({ ScaleOut }) =>
          ScaleOut.start({
            // The sinks drain, and /api/events reads, the store this collector writes.
            spec: { ...scaleOut, storePath: scaleOut.storePath ?? config.store.path },
            snapshot: () => collector.snapshot(),
            clock: clk,
            log: (level, msg, fields) => logger[level](fields, msg),
            say: (line) => post({ v: IPC_VERSION, type: 'console', line: consoleLine(clk.now(), line) }),
          }),
        )
        .then((s) => {
          scale = s;
          return s;
        })
    : null;
  parentPort.on('message', (raw: unknown) => {
    const m = parseMainMessage(raw);
    if (!m.ok) {
      logger.warn({ error: m.error }, 'ignored an invalid message from the main thread');
      return;
    }
    if (m.msg.type === 'snapshot_ack') mailbox.ack();
    else if (m.msg.type === 'stop') {
      collector
        .stop()
        .then(async () => (await scaleStarted)?.stop())
        .catch(crash)
        .finally(() => {
          post({ v: IPC_VERSION, type: 'stopped' });
          parentPort?.close();
        });
    }
  });
  collector.start().catch(crash);
}

main();

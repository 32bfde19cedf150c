/**
 * The collector worker thread: collector, core, SystemState and the event store live here. It
 * posts every committed snapshot, cut to what the window renders (src/ipc/ui-feed.ts), every alert
 * and, once at start, the earlier runs' events from the store to the main thread, and obeys one
 * command: stop. It never loads NodeGui (a second QApplication would abort the process).
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Collector } from '../collector/collector';
import { fileLogger } from '../collector/log';
import { clockFromSpec } from '../clock/accelerated';
import { IPC_VERSION, parseMainMessage, type WorkerToMain, WorkerDataSchema } from '../ipc/messages';
import { UiFeed } from '../ipc/ui-feed';

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
  const { config, runId, clock, snapshots, consoleColor } = parsed.data;
  const feed = new UiFeed();
  const logger = fileLogger(join(config.debugDir, 'collector.log'), config.logLevel, runId);
  const collector = new Collector({
    config,
    runId,
    logger,
    clock: clockFromSpec(clock),
    publish: (snapshot) => {
      if (snapshots === false) return;
      const update = feed.next(snapshot);
      post({ v: IPC_VERSION, type: 'snapshot', snapshot: update.snapshot, events: update.events });
    },
    console: (line) => post({ v: IPC_VERSION, type: 'console', line }),
    ...(consoleColor ? { consoleColor } : {}),
    onAlert: (alert) => post({ v: IPC_VERSION, type: 'alert', alert }),
  });
  // The store is open (or its fault is known) once the collector exists: the window gets the
  // earlier runs' events before this run's first snapshot.
  if (snapshots !== false) post({ v: IPC_VERSION, type: 'history', ...collector.history() });
  const crash = (e: unknown): void => {
    const detail = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    logger.fatal({ err: detail }, 'collector worker crashed');
    post({ v: IPC_VERSION, type: 'fatal', reason: 'WORKER_EXITED', detail });
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  parentPort.on('message', (raw: unknown) => {
    const m = parseMainMessage(raw);
    if (!m.ok) {
      logger.warn({ error: m.error }, 'ignored an invalid message from the main thread');
      return;
    }
    if (m.msg.type === 'stop') {
      collector
        .stop()
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

/**
 * The sink delivery thread (bundled as dist/sink-worker.js, started by `startSinks` in hub.ts):
 * an InlineHub on its own event loop, reporting status to the thread that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { wallClock } from '../clock/clock';
import { type FromSinkWorker, InlineHub, SinkWorkerDataSchema, ToSinkWorkerSchema } from './hub';

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('sink-worker.js must run as a worker thread (started by startSinks)');
  const data = SinkWorkerDataSchema.parse(workerData);
  const post = (m: FromSinkWorker): void => port.postMessage(m);
  const hub = new InlineHub({
    storePath: data.storePath,
    sinks: data.sinks,
    thread: 'inline',
    ...(data.tuning ? { tuning: data.tuning } : {}),
    statusEveryMs: data.statusEveryMs,
    log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
  });
  // Its own thread, so the wall clock: delivery is machine work at any simulator speed.
  const report = wallClock.every(data.statusEveryMs, () => post({ type: 'status', sinks: hub.status() }));
  post({ type: 'status', sinks: hub.status() });
  port.on('message', (raw: unknown) => {
    const m = ToSinkWorkerSchema.safeParse(raw);
    if (!m.success) return;
    if (m.data.type === 'wake') hub.nudge();
    else if (m.data.type === 'windows') hub.windows(m.data.rows);
    else {
      report.cancel();
      void hub.stop(m.data.drainMs).finally(() => {
        post({ type: 'status', sinks: hub.status() });
        post({ type: 'stopped' });
        port.close();
      });
    }
  });
}

main();

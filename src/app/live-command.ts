/** `peak-pressure live --headless`: the collector without Qt, console lines and files only. */
import { join } from 'node:path';
import { WorkerHost } from '../ipc/host';
import { safeMessage } from '../text/safe';
import { UsageError } from './cli-errors';
import { LIVE_OPTIONS_HELP, newRunId, parseLiveArgs, prepareRunDirs } from './live-options';

export const LIVE_USAGE = `usage: peak-pressure live --headless [options]

Runs the collector without a window: console lines on stage and health changes,
JSON logs in <debug-dir>/collector.log, the snapshot in <debug-dir>/latest_snapshot.json.
The window is \`npm start\`.

${LIVE_OPTIONS_HELP}`;

export async function liveCommand(argv: string[]): Promise<number> {
  const { config, headless, help, clock } = parseLiveArgs(argv, process.env);
  if (help) {
    process.stderr.write(LIVE_USAGE);
    return 0;
  }
  if (!headless) throw new UsageError('live runs only with --headless here (the window is `npm start`)');
  prepareRunDirs(config);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const host = new WorkerHost({
      config,
      runId: newRunId(),
      // An accelerated simulator's clock, so receive times and exchange times advance together.
      ...(clock ? { clock } : {}),
      // Headless mode reads nothing from snapshots (the worker writes the file and the console
      // lines), so the worker posts none: no clone and no validation of them on this thread.
      snapshots: false,
      onSnapshot: () => undefined,
      onConsole: (line) => process.stdout.write(`${line}\n`),
      // One safe line; the full detail (a stack, for a crash) is in the log file.
      onFatal: (reason, detail) =>
        process.stderr.write(`collector ${reason}: ${safeMessage(detail.split('\n')[0] ?? '')} (details: ${join(config.debugDir, 'collector.log')})\n`),
      onInvalid: (e) => process.stderr.write(`ignored an invalid message from the collector: ${safeMessage(e)}\n`),
      onExit: (code) => {
        if (!stopping) {
          process.stderr.write(`collector worker exited unexpectedly (code ${code})\n`);
          resolve(1);
        }
      },
    });
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`${sig}: stopping (flushing capture and snapshot)…\n`);
      void host.stop().then(() => resolve(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

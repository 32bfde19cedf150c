/** `peak-pressure live --headless`: the collector without Qt, console lines and files only. */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Timer, wallClock } from '../clock/clock';
import { crashPolicy, WorkerHost } from '../ipc/host';
import { safeMessage } from '../text/safe';
import { UsageError } from './cli-errors';
import { LIVE_OPTIONS_HELP, newRunId, parseLiveArgs, prepareRunDirs } from './live-options';
import { STOP_SIGNALS } from './platform';

/** How often the stop file is looked for. */
const STOP_FILE_POLL_MS = 250;

const HEADLESS_HELP = `  --stop-file FILE      stop cleanly (as on Ctrl+C) when FILE appears, and delete it. Windows has no
                        signal another program can send for a clean stop, so schedulers and scripts
                        use this there; a FILE left from an earlier run is deleted at start
`;

export const LIVE_USAGE = `usage: peak-pressure live --headless [options]

Runs the collector without a window: console lines on stage and health changes,
JSON logs in <debug-dir>/collector.log, the snapshot in <debug-dir>/latest_snapshot.json.
The window is \`npm start\`.

${LIVE_OPTIONS_HELP}${HEADLESS_HELP}`;

export async function liveCommand(argv: string[]): Promise<number> {
  const { config, headless, help, clock, stopFile, scaleOut } = parseLiveArgs(argv, process.env);
  if (help) {
    process.stderr.write(LIVE_USAGE);
    return 0;
  }
  if (!headless) throw new UsageError('live runs only with --headless here (the window is `npm start`)');
  prepareRunDirs(config);
  const stopPath = stopFile === undefined ? undefined : resolve(stopFile);
  if (stopPath !== undefined && existsSync(stopPath)) {
    rmSync(stopPath, { force: true });
    process.stdout.write(`deleted a stop file left from an earlier run: ${stopPath}\n`);
  }
  return new Promise<number>((done) => {
    let stopping = false;
    let stopTimer: Timer | undefined;
    // A collector that failed (or a worker that had to be forced to stop) ends the process non-zero.
    let failed = false;
    const host = new WorkerHost({
      config,
      // Headless: a crash ends the process (exit 1) unless the config asks for restarts; a
      // supervisor (systemd, a scheduler) then sees it and owns the policy.
      crashPolicy: crashPolicy(config, 'exit'),
      runId: newRunId(),
      // An accelerated simulator's clock, so receive times and exchange times advance together.
      ...(clock ? { clock } : {}),
      scaleOut,
      // Headless mode reads nothing from snapshots (the worker writes the file and the console
      // lines), so the worker posts none: no clone and no validation of them on this thread.
      snapshots: false,
      // NO_COLOR (no-color.org) or output to a file or pipe: plain lines.
      consoleColor: process.stdout.isTTY === true && !process.env.NO_COLOR,
      onSnapshot: () => undefined,
      onConsole: (line) => process.stdout.write(`${line}\n`),
      // One safe line; the full detail (a stack, for a crash) is in the log file.
      onFatal: (reason, detail) => {
        failed = true;
        process.stderr.write(`collector ${reason}: ${safeMessage(detail.split('\n')[0] ?? '')} (details: ${join(config.debugDir, 'collector.log')})\n`);
      },
      onRestartScheduled: ({ restart: r, runId }) =>
        process.stderr.write(
          `collector worker crashed (${r.reason}: ${safeMessage(r.detail.split('\n')[0] ?? '')}); restarting it as run ${runId} in ${r.backoff_ms} ms (${r.in_window} of at most ${r.max} restarts in the window)\n`,
        ),
      onInvalid: (e) => process.stderr.write(`ignored an invalid message from the collector: ${safeMessage(e)}\n`),
      onExit: (code) => {
        if (code !== 0) failed = true;
        if (!stopping) {
          stopTimer?.cancel();
          process.stderr.write(`collector worker exited unexpectedly (code ${code})\n`);
          done(1);
        }
      },
    });
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      stopTimer?.cancel();
      process.stdout.write(`${why}: stopping (flushing capture and snapshot)…\n`);
      void host.stop().then(() => {
        if (host.forcedStop)
          process.stderr.write(
            'the collector did not finish stopping in time and was terminated: the last capture part may lack its end (it replays up to its last flush) and the snapshot file may be older\n',
          );
        done(failed || host.forcedStop ? 1 : 0);
      });
    };
    for (const sig of STOP_SIGNALS) process.on(sig, () => stop(sig));
    if (stopPath !== undefined) {
      stopTimer = wallClock.every(STOP_FILE_POLL_MS, () => {
        if (!existsSync(stopPath)) return;
        rmSync(stopPath, { force: true });
        stop(`stop file ${stopPath}`);
      });
    }
  });
}

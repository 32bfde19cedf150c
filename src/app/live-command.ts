/** `peak-pressure live --headless`: the collector without Qt, console lines and files only. */
import { WorkerHost } from '../ipc/host';
import { LIVE_OPTIONS_HELP, newRunId, parseLiveArgs } from './live-options';

export async function liveCommand(argv: string[]): Promise<number> {
  const { config, headless, help, clock } = parseLiveArgs(argv, process.env);
  if (help || !headless) {
    process.stderr.write(
      `usage: peak-pressure live --headless [options]\n\nRuns the collector without a window: console lines on stage and health changes,\nJSON logs in <debug-dir>/collector.log, the snapshot in <debug-dir>/latest_snapshot.json.\nThe window is \`npm start\`.\n\n${LIVE_OPTIONS_HELP}`,
    );
    return help ? 0 : 2;
  }
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
      onFatal: (reason, detail) => process.stderr.write(`collector ${reason}: ${detail}\n`),
      onInvalid: (e) => process.stderr.write(`ignored an invalid message from the collector: ${e}\n`),
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

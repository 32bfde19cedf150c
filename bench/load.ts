/**
 * `--load`: a CPU-bound process beside the measurement, the condition the throughput figures must
 * survive (issue 15). It is a bare integer loop in its own node process, so it competes for a core
 * (and the shared caches) without touching the benchmark's memory; it ends with the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const BUSY_LOOP = 'let x = 1; for (;;) x = (Math.imul(x, 1103515245) + 12345) | 0;';

export interface Load {
  pid: number | undefined;
  stop: () => void;
}

export function startLoad(): Load {
  const child: ChildProcess = spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A crash of the benchmark must not leave the loop spinning.
  process.once('exit', stop);
  return { pid: child.pid, stop };
}

/**
 * `--load`: a CPU-bound process beside the measurement, the condition the throughput figures must
 * survive (issue 15). It is a bare integer loop in its own node process, so it competes for a core
 * (and the shared caches) without touching the benchmark's memory; it ends with the benchmark.
 *
 * "Beside" means on the other core: where the OS lets us (Linux, `taskset` from util-linux), the
 * measuring child is pinned to one core and the loop to another. Left to the scheduler, the two
 * busy processes were now and then put on the same core or swapped between cores, and each move
 * costs the measured thread its warm private caches (L1/L2) — CPU time it then spends refilling
 * them, which the CPU clock counts. That is a cost of where the scheduler put things, not of the
 * variant, and it fell on short samples more than on long ones, so it shifted ratios.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const BUSY_LOOP = 'let x = 1; for (;;) x = (Math.imul(x, 1103515245) + 12345) | 0;';

export interface Load {
  pid: number | undefined;
  /** The core the loop is pinned to, or null when it runs where the scheduler puts it. */
  cpu: number | null;
  stop: () => void;
}

/** Which cores the measurement and the load run on, with the command prefix that pins a process to one. */
export interface Placement {
  measure: number;
  load: number;
  prefix: (cpu: number) => string[];
}

/** Pinning is possible here: Linux with `taskset` and at least two cores (else null: the scheduler decides). */
export function placement(): Placement | null {
  if (process.platform !== 'linux' || availableParallelism() < 2) return null;
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { measure: 0, load: 1, prefix: (cpu) => ['taskset', '-c', String(cpu)] };
}

export function startLoad(where: Placement | null): Load {
  const argv = [process.execPath, '-e', BUSY_LOOP];
  const [cmd, ...rest] = (where === null ? argv : [...where.prefix(where.load), ...argv]) as [string, ...string[]];
  const child: ChildProcess = spawn(cmd, rest, { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A crash of the benchmark must not leave the loop spinning.
  process.once('exit', stop);
  return { pid: child.pid, cpu: where === null ? null : where.load, stop };
}

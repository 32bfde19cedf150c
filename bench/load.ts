/**
 * `--load`: a CPU-bound process beside the measurement, the condition the throughput figures must
 * survive (issue 15). It is a bare integer loop in its own node process, so it competes for a core
 * (and the shared caches) without touching the benchmark's memory; it ends with the benchmark.
 *
 * "Beside" means on the other core, as the issue says: where the OS lets us (Linux, `taskset` from
 * util-linux), the measuring child is pinned to one core and the loop to another, so the loop never
 * shares the measured core and the measured thread is never moved (a move costs it its warm private
 * caches, CPU time the clock counts). Measured: pinning alone does not bring every ratio of a quiet
 * and a loaded run within 10 % (README, the throughput section's "Earlier designs").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { nodeCommand } from './child';

const BUSY_LOOP = 'let x = 1; for (;;) x = (Math.imul(x, 1103515245) + 12345) | 0;';

export interface Load {
  pid: number | undefined;
  /** The core the loop is pinned to, or null when it runs where the scheduler puts it. */
  cpu: number | null;
  stop: () => void;
}

/** Which cores the measurement and the load run on. */
export interface Placement {
  measure: number;
  load: number;
}

/** The command prefix that runs a process on that core alone. */
export const pinTo = (cpu: number): string[] => ['taskset', '-c', String(cpu)];

/** The command prefix works here: it runs `true` (the tool exists and the kernel lets it do what it asks). */
function runs(prefix: readonly string[]): boolean {
  const [cmd, ...args] = prefix as [string, ...string[]];
  try {
    execFileSync(cmd, [...args, 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pinning is possible here: Linux with `taskset` and at least two cores (else null: the scheduler decides). */
export function placement(): Placement | null {
  if (process.platform !== 'linux' || availableParallelism() < 2) return null;
  return runs(['taskset', '-c', '0']) ? { measure: 0, load: 1 } : null;
}

/**
 * The command prefix that starts a process with address-space randomisation off (Linux,
 * `setarch -R` from util-linux; empty where that is not possible). With it and V8's seeds fixed
 * (THROUGHPUT_LAYOUT_FLAGS), every measuring process places its heap, its code and the frames at
 * the same addresses, so one process's layout luck is every process's, run after run.
 */
export function fixedLayoutPrefix(): string[] {
  if (process.platform !== 'linux') return [];
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : null;
  if (arch === null) return [];
  const prefix = ['setarch', arch, '-R'];
  return runs(prefix) ? prefix : [];
}

/**
 * V8's own randomness fixed: `--random-seed` seeds the addresses V8 asks the OS for (its heap and
 * code reservations) as well as Math.random, `--hash-seed` the string hash (so every Map and Set of
 * strings lays out the same).
 */
export const THROUGHPUT_LAYOUT_FLAGS = ['--random-seed=1', '--hash-seed=1'] as const;

export function startLoad(where: Placement | null): Load {
  const [cmd, rest] = nodeCommand(where === null ? [] : pinTo(where.load), ['-e', BUSY_LOOP]);
  const child: ChildProcess = spawn(cmd, rest, { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A crash of the benchmark must not leave the loop spinning.
  process.once('exit', stop);
  return { pid: child.pid, cpu: where === null ? null : where.load, stop };
}

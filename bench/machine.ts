/** Where and on what a run happened: hardware, runtime, and the exact source revision. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

function git(root: string, args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  available_parallelism: number;
  total_mem_gib: number;
  node: string;
  v8: string;
  os: string;
  load_avg_at_start: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    available_parallelism: os.availableParallelism(),
    total_mem_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    load_avg_at_start: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export interface GitInfo {
  commit: string | null;
  /** Files with uncommitted changes when the run started (the figures include them). */
  dirty_files: number | null;
}

export function gitInfo(root: string): GitInfo {
  const status = git(root, ['status', '--porcelain', '--untracked-files=no']);
  return {
    commit: git(root, ['rev-parse', 'HEAD']),
    dirty_files: status === null ? null : status.split('\n').filter((l) => l.length > 0).length,
  };
}

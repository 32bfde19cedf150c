/**
 * Temp files of atomic writes (`<target>.<pid>.<ms>.tmp`, then rename) and their clean-up after a
 * crash: a SIGKILL between create and rename leaves the temp behind for ever. Only our own names
 * next to the target are touched, and only when the writer is certainly gone.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { wallClock } from '../clock/clock';

export function tempPathFor(target: string, pid = process.pid, nowMs = wallClock.now()): string {
  return `${target}.${pid}.${nowMs}.tmp`;
}

/** `{pid, ms}` when `name` is a temp of the file called `base` (or a rotated part of one: `.tmp.N`), else null. */
export function parseTempName(name: string, base: string): { pid: number; ms: number } | null {
  if (!name.startsWith(`${base}.`)) return null;
  const m = /^(\d{1,10})\.(\d{1,16})\.tmp(?:\.\d{1,4})?$/.exec(name.slice(base.length + 1));
  if (!m) return null;
  return { pid: Number(m[1]), ms: Number(m[2]) };
}

/** Whether a process with this id exists (EPERM: it does, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StaleTempOptions {
  nowMs?: number;
  isAlive?: (pid: number) => boolean;
  /** This process: a temp with our pid from before we started is a previous run's (pid reuse in containers). */
  selfPid?: number;
  selfStartMs?: number;
  /** Older than this, a temp is stale whatever its pid says (the pid may have been reused). */
  maxAgeMs?: number;
}

export interface StaleTempResult {
  removed: string[];
  /** Temps that looked stale but could not be removed: path → cause. */
  failed: { path: string; error: string }[];
}

/**
 * Remove the stale temps of `target` (same directory, `<name>.<pid>.<ms>.tmp`). A temp is stale
 * when its writer is not running, is this process but from before it started, or is older than
 * `maxAgeMs` (24 h). A missing directory is not an error: there is nothing to clean.
 */
export function removeStaleTemps(target: string, opts: StaleTempOptions = {}): StaleTempResult {
  const dir = dirname(target);
  const base = basename(target);
  const now = opts.nowMs ?? wallClock.now();
  const isAlive = opts.isAlive ?? pidAlive;
  const selfPid = opts.selfPid ?? process.pid;
  const selfStart = opts.selfStartMs ?? now - process.uptime() * 1000;
  const maxAge = opts.maxAgeMs ?? 24 * 3600 * 1000;
  const out: StaleTempResult = { removed: [], failed: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const t = parseTempName(name, base);
    if (t === null) continue;
    const stale = now - t.ms > maxAge || (t.pid === selfPid ? t.ms < selfStart : !isAlive(t.pid));
    if (!stale) continue;
    const path = join(dir, name);
    try {
      unlinkSync(path);
      out.removed.push(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') out.failed.push({ path, error: (e as Error).message });
    }
  }
  return out;
}

/**
 * node-sqlite3-wasm locks a database by creating the folder `<db>.lock` (mkdir is atomic on every
 * file system Node runs on) and removes it when the lock is released. The wasm driver holds it for
 * the connection's whole life (locking_mode EXCLUSIVE), so a process killed while the store is
 * open leaves the folder behind, and every later open would report BUSY forever. The driver
 * therefore writes who holds it into `<db>.lock.owner`; a lock whose owner is a dead process on
 * this host is stale and is removed. A lock without an owner file, or held from another host, is
 * never broken: it is reported as BUSY, and the advice says which folder to remove.
 */
import { readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockHolder {
  pid: number;
  host: string;
  /** Alive, or unknown (another host, no owner file): only a dead process on this host is stale. */
  alive: boolean;
}

export const lockDir = (path: string): string => `${path}.lock`;
const ownerFile = (path: string): string => `${path}.lock.owner`;

/** Whether process `pid` runs on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds the wasm lock on `path`, or null when nobody does. */
export function lockHolder(path: string): LockHolder | null {
  try {
    if (!statSync(lockDir(path)).isDirectory()) return null;
  } catch {
    return null;
  }
  try {
    const o = JSON.parse(readFileSync(ownerFile(path), 'utf8')) as { pid?: unknown; host?: unknown };
    if (typeof o.pid !== 'number' || typeof o.host !== 'string') throw new Error('owner file without pid and host');
    return { pid: o.pid, host: o.host, alive: o.host !== hostname() || processAlive(o.pid) };
  } catch {
    return { pid: 0, host: '', alive: true };
  }
}

/** Records this process as the holder (right after the lock was taken). */
export function claimLock(path: string): void {
  try {
    writeFileSync(ownerFile(path), JSON.stringify({ pid: process.pid, host: hostname() }));
  } catch {
    // an unwritable folder: the lock then stays anonymous (never broken, reported as BUSY)
  }
}

/** Forgets the holder record (the lock folder itself is removed by SQLite's unlock). */
export function releaseLock(path: string): void {
  rmSync(ownerFile(path), { force: true });
}

/** Removes a lock left by a dead process on this host; true when it did. */
export function breakStaleLock(path: string): boolean {
  const h = lockHolder(path);
  if (h === null || h.alive) return false;
  try {
    rmdirSync(lockDir(path));
  } catch {
    return false;
  }
  rmSync(ownerFile(path), { force: true });
  return true;
}

/**
 * The store's files on disk, read with plain fs calls (no SQLite): sizes of the database and its
 * write-ahead log and the free space beside them, for the snapshot's storage section, the periodic
 * disk check and `peak-pressure doctor`, which must work even where the store cannot be opened.
 */
import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** SPEC §21 [PROP]: relative to the working directory, like debug/ and captures/. */
export const DEFAULT_STORE_PATH = 'data/peak-pressure.db';
/** `npm run demo` keeps the simulator's events apart from the market's. */
export const DEMO_STORE_PATH = 'data/demo.db';

export interface StoreFiles {
  db_bytes: number;
  wal_bytes: number;
  /** Free bytes on the volume that holds the store (null when it cannot be read). */
  free_bytes: number | null;
}

/** What statfs reports that matters here: blocks an unprivileged user may still take, and their size. */
export type StatFs = (path: string) => { bavail: number; bsize: number };

/** Free bytes for an unprivileged user on the volume of `path`, or null when it cannot be read. */
export function freeBytes(path: string, statfs: StatFs = statfsSync): number | null {
  try {
    const fs = statfs(path);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}

/** Sizes of `path` and `path-wal` (0 when absent) and the free space of the store's folder. */
export function storeFilesAt(path: string, statfs: StatFs = statfsSync): StoreFiles {
  const size = (p: string): number => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return { db_bytes: size(path), wal_bytes: size(`${path}-wal`), free_bytes: freeBytes(dirname(path), statfs) };
}

/**
 * The snapshot's storage section (SPEC §21, seed 002 HealthSnapshot disk_free/sqlite/wal bytes):
 * what the event store and the captures take and what is left on their disks. Sampled by the
 * collector from the file system; the detection core never reads it.
 */
import { z } from 'zod';
import { count } from './primitives';

export const StorageSchema = z.object({
  /** Local time of the sample, epoch ms. */
  sampled_ms: z.number().int().nonnegative(),
  store_path: z.string(),
  /** The store's main file and its write-ahead log (0 when absent). */
  db_bytes: count,
  wal_bytes: count,
  /** Free bytes for an unprivileged user on the store's volume; null when it cannot be read. */
  store_free_bytes: count.nullable(),
  captures_dir: z.string(),
  /** Bytes the capture files take; null when the folder cannot be listed (or captures are off). */
  captures_bytes: count.nullable(),
  captures_free_bytes: count.nullable(),
  /** Growth of store + WAL per hour between the last two samples; null until there are two. */
  store_growth_bytes_per_hour: z.number().finite().nullable(),
});
export type Storage = z.infer<typeof StorageSchema>;

/**
 * The books' section of the snapshot (additive; SPEC §18: state, resyncs, gaps and age per symbol
 * in the health panel and the snapshot). Prices are the exchange's decimal strings.
 */
import { z } from 'zod';
import { symbolString } from '../../core/contracts/primitives';

const count = z.number().int().nonnegative();

export const BookStateSchema = z.enum(['SYNCING', 'LIVE', 'RESYNCING']);
export const ResyncReasonSchema = z.enum(['pu_gap', 'bad_level', 'reconnect']);

export const BookStatusSchema = z.object({
  state: BookStateSchema,
  best_bid: z.string().nullable(),
  best_ask: z.string().nullable(),
  /** Levels held, both sides (within the prune band of mid). */
  levels: count,
  /** `u` of the last applied diff. */
  last_update_id: count.nullable(),
  /** Exchange event time of the last applied diff. */
  last_event_ms: count.nullable(),
  /** Local time since the last applied diff was received. */
  age_ms: count.nullable(),
  buffered_diffs: count,
  diffs_applied: count,
  pu_gaps: count,
  resyncs: count,
  last_resync_reason: ResyncReasonSchema.nullable(),
  levels_pruned: count,
  snapshots_applied: count,
  snapshots_stale: count,
  snapshot_requests: count,
  snapshot_failures: count,
});
export type BookStatus = z.infer<typeof BookStatusSchema>;

export const BooksSectionSchema = z.object({
  per_symbol: z.record(symbolString, BookStatusSchema),
  depth_frames: count,
  diffs: count,
  snapshots: count,
  malformed: count,
  not_allowed: count,
  snapshots_unattributed: count,
});
export type BooksSection = z.infer<typeof BooksSectionSchema>;

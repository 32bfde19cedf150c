/**
 * The order books' section of the snapshot (additive; SPEC §18: state, resyncs, gaps and age per
 * symbol in the health panel and the snapshot). Exchange-neutral: any diff-depth book has these
 * states; the Binance adapter's books (src/binance/book) fill it. Prices are the exchange's decimal
 * strings, never re-formatted numbers.
 */
import { z } from 'zod';
import { count, symbolString } from './primitives';

export const BookStateSchema = z.enum(['SYNCING', 'LIVE', 'RESYNCING']);
export type BookState = z.infer<typeof BookStateSchema>;

/** Why a live book lost continuity: a break of the update-id chain (Binance: `pu ≠ previous u`), an unkeyable level, a reconnect. */
export const ResyncReasonSchema = z.enum(['pu_gap', 'bad_level', 'reconnect']);
export type ResyncReason = z.infer<typeof ResyncReasonSchema>;

export const BookStatusSchema = z.object({
  state: BookStateSchema,
  best_bid: z.string().nullable(),
  best_ask: z.string().nullable(),
  /** Levels held, both sides (within the prune band of mid). */
  levels: count,
  /** Update id of the last applied diff (Binance: `u`). */
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
  /** New connections on the depth route recorded in the stream; each makes every book resync. */
  connections: count,
});
export type BooksSection = z.infer<typeof BooksSectionSchema>;

/**
 * Order-book numbers (SPEC §18, BINANCE.md §7–§8). Not part of any rule set: they decide how the
 * book is kept, never what is promoted; the policy that reads the book records its own numbers.
 */
export const BOOK = Object.freeze({
  /** Levels further than this fraction from mid are pruned (counted) to bound memory [PROP]. */
  PRUNE_BAND: 0.05,
  /** Diffs buffered while waiting for a snapshot; the oldest are dropped (counted) beyond it (flowsurface: 512). */
  MAX_BUFFERED_DIFFS: 512,
  /**
   * Levels (both sides, all buffered diffs) at most, as the diffs' size is the exchange's: packed
   * (./diff-buffer) ~22 bytes a level, so ~1.1 MB a book [PROP]; 512 of the recorded 58-level diffs fit.
   */
  MAX_BUFFERED_LEVELS: 50_000,
  /** Ask for a snapshot only once the socket delivers: this many buffered diffs (tardis, cryptostore#57). */
  MIN_BUFFERED_BEFORE_SNAPSHOT: 2,
  /** Never more than one snapshot request per symbol in this long (SPEC §18; also the request's give-up time). */
  MIN_SNAPSHOT_INTERVAL_MS: 10_000,
  /** `GET /fapi/v1/depth?limit=` and its request weight (BINANCE.md §7: ten books cost 200 of 2,400/min). */
  SNAPSHOT_LIMIT: 1000,
  SNAPSHOT_WEIGHT: 20,
  /** As-of-window-end samples kept per book; windows close within ~2 s of their end, so this is ample. */
  AS_OF_SAMPLES_KEPT: 64,
});

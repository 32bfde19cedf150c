/**
 * When a time-ordered array that is pruned from the front (a `head` index past the pruned entries)
 * is copied down to its live part. The pruned slots still reference their entries, so they are
 * memory bounded only by this rule: compacting once they number at least MIN and at least as many
 * as the live ones keeps the array within 2 × live + MIN slots, at an amortized O(1) copy per entry.
 *
 * The rule used to wait for 1024 pruned slots: at a market's liquidation rate (tens per symbol per
 * hour) that is more than a day, so every liquidation buffer and tape kept growing for the whole
 * 24 h memory benchmark (heap snapshots of the collector worker: the tape's entries +185 KB between
 * exchange hours 8 and 13, linearly).
 */
export const FRONT_PRUNED_MIN = 64;

export function dueForCompaction(head: number, length: number): boolean {
  return head >= FRONT_PRUNED_MIN && head * 2 >= length;
}

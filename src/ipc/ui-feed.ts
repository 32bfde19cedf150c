/**
 * What the collector worker posts to the window: only what the window renders. The committed
 * snapshot holds up to 1000 promoted events and 500 trades + 200 liquidations per symbol; the
 * window shows the newest 20 trades and liquidations across all symbols, and keeps its own events
 * table, to which each event needs to cross the thread boundary once. So each message carries the
 * snapshot with its raw buffers cut to the rows the feed tables can show and its promoted events
 * replaced by the ones promoted since the previous message. With a full events ring this is about
 * 40 KB instead of 800 KB of structured clone and zod validation twice a second on the UI thread.
 * The "why silent?" near misses (20 per symbol, about 8 KB each symbol) change for one symbol in
 * ten to twenty seconds, so a message carries only the symbols whose list changed since the previous
 * one, whole; the window's NearMissMirror keeps the others (demo, books on: the message went from
 * about 113 to 47 KB, and its clone plus validation from 1.8 to 0.6 ms).
 * Pure: the worker owns one UiFeed and calls next() per commit.
 */
import type { PromotedEvent } from '../core/contracts/promoted';
import type { NearMisses } from '../core/contracts/near-miss';
import type { RawRow, Snapshot } from '../core/contracts/snapshot';
import { pickNewest } from '../widgets/view-model';

/** The raw rows the feed tables can show, per symbol, in buffer order. */
function feedRows(s: Snapshot, rec: Record<string, RawRow[]>): Record<string, RawRow[]> {
  const picked = new Map<string, { row: RawRow; idx: number }[]>();
  for (const p of pickNewest(s, rec)) {
    const list = picked.get(p.row.symbol) ?? [];
    list.push(p);
    picked.set(p.row.symbol, list);
  }
  const out: Record<string, RawRow[]> = {};
  for (const [sym, list] of picked) out[sym] = list.sort((a, b) => a.idx - b.idx).map((p) => p.row);
  return out;
}

export interface UiUpdate {
  /**
   * The snapshot as the window renders it: feed rows only, `promoted_events` empty, and in
   * `near_misses` only the symbols whose list changed since the previous update (NearMissMirror).
   */
  snapshot: Snapshot;
  /** Events promoted since the previous update, oldest first (the last of counters.peak_pressure_events). */
  events: PromotedEvent[];
}

export class UiFeed {
  /** counters.peak_pressure_events when the previous update was made. */
  private posted = 0;
  /** The near-miss lists as of the previous update: the log hands out the same frozen array while a symbol's list is unchanged. */
  private nearMisses: NearMisses = {};

  next(s: Snapshot): UiUpdate {
    const total = s.counters.peak_pressure_events;
    const fresh = Math.min(Math.max(0, total - this.posted), s.promoted_events.length);
    this.posted = Math.max(this.posted, total);
    return {
      snapshot: {
        ...s,
        raw_buffers: { trades: feedRows(s, s.raw_buffers.trades), liquidations: feedRows(s, s.raw_buffers.liquidations) },
        promoted_events: [],
        near_misses: this.changedNearMisses(s.near_misses),
      },
      events: fresh > 0 ? s.promoted_events.slice(s.promoted_events.length - fresh) : [],
    };
  }

  private changedNearMisses(now: NearMisses): NearMisses {
    const changed: NearMisses = {};
    for (const [symbol, list] of Object.entries(now)) if (this.nearMisses[symbol] !== list) changed[symbol] = list;
    this.nearMisses = now;
    return changed;
  }
}

/**
 * The window's half of the near-miss feed: every symbol's latest list, from the updates that
 * carried it. A new run (a restarted worker has a new UiFeed and sends every symbol again) starts
 * from nothing, so no list of the run before is left behind.
 */
export class NearMissMirror {
  private runId: string | null = null;
  private lists: NearMisses = {};

  /** `s` as posted, with the near misses of every symbol: call for each update received, in order. */
  merge(s: Snapshot): Snapshot {
    if (s.run_id !== this.runId) {
      this.runId = s.run_id;
      this.lists = {};
    }
    // Most updates carry no list: the merged record then stays the same object.
    if (Object.keys(s.near_misses).length > 0) this.lists = { ...this.lists, ...s.near_misses };
    return { ...s, near_misses: this.lists };
  }
}

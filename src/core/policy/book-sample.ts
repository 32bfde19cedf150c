/**
 * What a policy may know about a symbol's order book "as of a window's end" (SPEC §17 pillar 4):
 * the book after the last diff with event time `E ≤ window_end` was applied and before any later
 * one. The Binance adapter's book produces it (src/binance/book); the core only reads it, so the
 * core never depends on the adapter.
 */

/** Why no depth is available as of a window's end. */
export type BookUnavailableReason =
  /** Never synced yet, or syncing after a restart. */
  | 'SYNCING'
  /** Was live, lost continuity (`pu` break, reconnect) and is waiting for a new snapshot. */
  | 'RESYNCING'
  /** Live, but one side is empty, so there is no mid. */
  | 'one_sided'
  /** No book for this symbol, or the window ended before the book's first diff or before its oldest kept sample. */
  | 'not_sampled';

export type BookSample =
  | {
      live: true;
      /** Σ price × quantity of bids within `depth_bps` below mid, and of asks within `depth_bps` above. */
      bid_depth: number;
      ask_depth: number;
      depth_bps: number;
      mid: number;
      /** The exchange's decimal strings. */
      best_bid: string;
      best_ask: string;
      /** Event time `E` of the last diff applied to this state. */
      last_event_ms: number;
    }
  | { live: false; reason: BookUnavailableReason };

/** Book samples by symbol and window end; `BookRoom` implements it. */
export interface BookAsOf {
  sampleAt(symbol: string, windowEndMs: number): BookSample;
}

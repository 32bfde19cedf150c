/**
 * The places the window keeps for panels whose issues have not landed yet (SPEC Part II). Each
 * says what will appear there, so a user knows the empty tab is a plan, not a fault.
 */

export interface ComingPanel {
  /** Stable key for the saved layout (which tab was open). */
  key: string;
  title: string;
  text: string;
}

export const COMING_PANELS: readonly ComingPanel[] = Object.freeze([
  {
    key: 'history',
    title: 'Event history',
    text: [
      'Events of earlier runs will appear here, read from the event store (SQLite, data/peak-pressure.db; SPEC §21),',
      "below this run's events and labelled with their run and date. Counters stay per run.",
      'Until then every promoted event of every run is in debug/audit.jsonl.',
    ].join('\n'),
  },
  {
    key: 'liquidation-tape',
    title: 'Liquidation tape',
    text: [
      'The liquidation tape by price will appear here (SPEC §19): per symbol, the liquidations of the last 60 min',
      'in price buckets of 0.1 % of the latest price: bucket low–high, count and notional per side',
      '(SELL = longs liquidated), first and last time, newest activity first. A table, no chart.',
      'Binance sends at most one liquidation per symbol per second, so the counts are lower bounds.',
    ].join('\n'),
  },
  {
    key: 'order-books',
    title: 'Order books',
    text: [
      'The reconstructed order books will appear here (SPEC §18): per symbol, the book state',
      '(SYNCING, LIVE, RESYNCING), resyncs and their reasons, best bid and ask, and the notional resting',
      'within 10 bps of the mid price on each side, from the Binance diff-depth stream.',
    ].join('\n'),
  },
  {
    key: 'four-pillars',
    title: 'Four pillars',
    text: [
      'Policy four-pillars-001 v1 will appear here (SPEC §17): its own per-symbol counters (not warm,',
      'imbalance failed, velocity failed, liquidation cluster failed, book unavailable, exhaustion failed,',
      'promoted) and its own events, never mixed into the Promoted Events list or counts.',
    ].join('\n'),
  },
]);

/**
 * Policy `four-pillars-001` version 1 (SPEC §17): every number that decides its verdicts.
 *
 * Frozen like M3's rule set: changing a value is a new policy version, never a silent edit. Every
 * policy event records the id, the version and these numbers. M3 (src/core/constants.ts) never
 * reads them and this policy never reads or writes M3's counters.
 */
export const POLICY_ID = 'four-pillars-001' as const;
export const POLICY_VERSION = 1 as const;

export const PILLARS = Object.freeze({
  /** Each history holds this many judged windows; warm ⇔ all three full (the M4 machinery). */
  BASELINE_WINDOWS: 60,
  /** Pillar 1: dominant_share = max(buy, sell) / abs_flow must exceed this (strict). */
  IMBALANCE_MIN_SHARE: 0.7,
  /** Pillar 2: |velocity| ≥ this percentile of the |velocity| history [PROP]. */
  VELOCITY_PERCENTILE: 90,
  /** Pillar 3: at least this many dominant-side liquidations … [PROP] */
  CLUSTER_MIN_COUNT: 2,
  /** … within this long before the window's end, half-open like M3's retention buffer (SPEC §7.3). */
  CLUSTER_WINDOW_MS: 60_000,
  /** Pillar 4: depth = notional within this many basis points of mid, per side [PROP]. */
  DEPTH_BAND_BPS: 10,
  /** Pillar 4: the passive side is exhausted when its depth ≤ this percentile of its history [PROP]. */
  EXHAUSTION_PERCENTILE: 10,
});

export type Pillars = typeof PILLARS;

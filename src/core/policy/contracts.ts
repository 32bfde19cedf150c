/**
 * Contracts of policy `four-pillars-001` (SPEC §17): its event (the M3 event shape with
 * `policy: {id, version}` instead of `rule_set`, plus the inputs of its four pillars), its counter
 * partition, and its section of the snapshot (additive; the snapshot gains it as `policies`).
 */
import { z } from 'zod';
import { symbolString } from '../contracts/binance';
import { SideSchema } from '../contracts/canonical';
import { StressSourceSchema } from '../contracts/promoted';
import { POLICY_ID, POLICY_VERSION } from './constants';

const count = z.number().int().nonnegative();

export const PolicyEventSchema = z.object({
  /** Deterministic and distinct from M3's `<SYMBOL>-<window_start_ms>`: `four-pillars-001:<SYMBOL>-<window_start_ms>`. */
  event_id: z.string(),
  symbol: symbolString,
  /** Window end, float seconds (as M3's). */
  timestamp: z.number(),
  window_start_ms: z.number().int(),
  window_end_ms: z.number().int(),
  window_size: z.literal(1),
  /** The side with the larger notional (pillar 1). */
  dominant_side: SideSchema,
  /** Always `["liquidations"]`: pillar 3 is this policy's stress. */
  stress_sources: z.array(StressSourceSchema).min(1),
  metrics: z.object({
    abs_flow: z.number(),
    trade_count: z.number().int(),
    buy_notional: z.number(),
    sell_notional: z.number(),
    net_aggression: z.number(),
    mean_trade_size: z.number(),
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    /** Pillar 1. */
    dominant_share: z.number(),
    /** Pillar 2: (close − open) / open of the window's trade candle, and P90 of |velocity| it beat. */
    velocity: z.number(),
    velocity_p90: z.number(),
    /** Pillar 3: dominant-side liquidations in (end − 60 s, end]; `liq_count` counts both sides. */
    cluster_count: z.number().int(),
    liq_count: z.number().int(),
    /** Pillar 4: asks for a BUY-dominant window, bids for SELL; notional within depth_bps of mid. */
    passive_side: z.enum(['bid', 'ask']),
    passive_depth: z.number(),
    passive_depth_p10: z.number(),
    bid_depth: z.number(),
    ask_depth: z.number(),
    depth_bps: z.number(),
    /** The book as of the window's end (exchange decimal strings for the best prices). */
    mid: z.number(),
    best_bid: z.string(),
    best_ask: z.string(),
    book_last_event_ms: z.number().int(),
    thresholds: z.object({
      imbalance_min_share: z.number(),
      velocity_percentile: z.number(),
      cluster_min_count: z.number().int(),
      cluster_window_ms: z.number().int(),
      depth_band_bps: z.number(),
      exhaustion_percentile: z.number(),
      baseline_windows: z.number().int(),
    }),
  }),
  policy: z.object({ id: z.literal(POLICY_ID), version: z.literal(POLICY_VERSION) }),
  /** The watermark that closed the window (exchange ms). */
  closed_at_watermark_ms: z.number().int(),
});
export type PolicyEvent = z.infer<typeof PolicyEventSchema>;

/** The verdicts, in the frozen order of evaluation; exactly one per judged window. */
export const POLICY_OUTCOMES = [
  'not_warm',
  'imbalance_failed',
  'velocity_failed',
  'liquidation_cluster_failed',
  'book_unavailable',
  'exhaustion_failed',
  'promoted',
] as const;
export const PolicyOutcomeSchema = z.enum(POLICY_OUTCOMES);
export type PolicyOutcome = z.infer<typeof PolicyOutcomeSchema>;

/** Per-symbol counters: `judged = Σ POLICY_OUTCOMES`, `windows_seen = judged + empty`. */
export const PolicyCountersSchema = z.object({
  windows_seen: count,
  /** Closed windows with no trades or `abs_flow = 0`: not judged. */
  empty: count,
  judged: count,
  not_warm: count,
  imbalance_failed: count,
  velocity_failed: count,
  liquidation_cluster_failed: count,
  book_unavailable: count,
  exhaustion_failed: count,
  promoted: count,
  /** Liquidations the policy's retention buffers received. */
  liquidations: count,
});
export type PolicyCounters = z.infer<typeof PolicyCountersSchema>;

export const PolicySymbolStateSchema = z.object({
  warm: z.boolean(),
  velocity_history_len: count,
  bid_depth_history_len: count,
  ask_depth_history_len: count,
  /** Current bars (null while the history is empty). */
  velocity_p90: z.number().nullable(),
  bid_depth_p10: z.number().nullable(),
  ask_depth_p10: z.number().nullable(),
  counters: PolicyCountersSchema,
});
export type PolicySymbolState = z.infer<typeof PolicySymbolStateSchema>;

export const PolicySectionSchema = z.object({
  policy: z.object({ id: z.literal(POLICY_ID), version: z.literal(POLICY_VERSION), constants: z.record(z.string(), z.number()) }),
  counters: PolicyCountersSchema,
  per_symbol: z.record(symbolString, PolicySymbolStateSchema),
  /** The newest events, oldest → newest. */
  events: z.array(PolicyEventSchema),
});
export type PolicySection = z.infer<typeof PolicySectionSchema>;

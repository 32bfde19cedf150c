/**
 * Contracts of policy `four-pillars-001` (SPEC §17): its event (the M3 event shape with
 * `policy: {id, version}` instead of `rule_set`, plus the inputs of its four pillars), its counter
 * partition, and its section of the snapshot (additive; the snapshot gains it as `policies`).
 */
import { z } from 'zod';
import { symbolString } from '../contracts/primitives';
import { PromotedEventSchema } from '../contracts/promoted';
import { POLICY_ID, POLICY_VERSION } from './constants';

const count = z.number().int().nonnegative();

/** What the policy's event shares with M3's: the window, its trade metrics, the watermark that closed it. */
const M3_SHAPE = PromotedEventSchema.pick({
  symbol: true,
  timestamp: true,
  window_start_ms: true,
  window_end_ms: true,
  window_size: true,
  dominant_side: true,
  stress_sources: true,
  closed_at_watermark_ms: true,
});
const M3_METRICS = PromotedEventSchema.shape.metrics.pick({
  abs_flow: true,
  trade_count: true,
  buy_notional: true,
  sell_notional: true,
  net_aggression: true,
  mean_trade_size: true,
  open: true,
  high: true,
  low: true,
  close: true,
  liq_count: true,
});

/**
 * `dominant_side` is the side with the larger notional (pillar 1); `stress_sources` is always
 * `["liquidations"]` (pillar 3 is this policy's stress); `liq_count` counts both sides.
 */
export const PolicyEventSchema = M3_SHAPE.extend({
  /** Deterministic and distinct from M3's `<SYMBOL>-<window_start_ms>`: `four-pillars-001:<SYMBOL>-<window_start_ms>`. */
  event_id: z.string(),
  metrics: M3_METRICS.extend({
    /** Pillar 1. */
    dominant_share: z.number(),
    /** Pillar 2: (close − open) / open of the window's trade candle, and the P90 of |velocity| it beat. */
    velocity: z.number(),
    velocity_p90: z.number(),
    /** Pillar 3: dominant-side liquidations in (end − 60 s, end]. */
    cluster_count: z.number().int(),
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

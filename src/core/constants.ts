/**
 * Rule set `peak-pressure-m3` version 1: every number that decides a promotion.
 *
 * These are frozen. Changing any value is a new rule-set version (bump RULE_SET_VERSION),
 * never a silent edit: every promoted event records the id, the version and the thresholds
 * it was judged with, so an old capture can be re-judged by replay. See docs/SPEC.md §1.
 */
import type { KlineSource } from './contracts/vocabulary';

export const RULE_SET_ID = 'peak-pressure-m3' as const;
export const RULE_SET_VERSION = 1 as const;

export const RULES = Object.freeze({
  /** Window length on the exchange-time epoch grid (SPEC §4.2.1). */
  WINDOW_MS: 1000,
  /** A window closes when the watermark passes its end by this much (SPEC §4.2.3, PROP). */
  GRACE_MS: 1000,
  /** A watermark jump larger than this resumes the grid instead of emitting empty windows (§4.2.5). */
  GAP_RESET_MS: 60_000,
  /** Events older than watermark − this are late whatever their window (§4.2.6, GOV 30 s). */
  LATE_TOLERANCE_MS: 30_000,
  /** Events stamped further than this ahead of their local receipt do not move the watermark (§4.2.2). */
  FUTURE_TOLERANCE_MS: 5_000,
  /** Both baseline rings hold this many non-empty windows; warm ⇔ both full (§5.1, §5.3). */
  BASELINE_WINDOWS: 60,
  /** Condition 1: abs_flow ≥ P90 of abs_flow_history (§6.2). */
  FLOW_PERCENTILE: 90,
  /** Condition 2: at least one trade notional ≥ P95 of trade_size_history (§6.2). */
  TRADE_SIZE_PERCENTILE: 95,
  /** Condition 2 needs at least this many large trades. */
  MIN_LARGE_TRADES: 1,
  /** Condition 3, Option A: compressed ⇔ body_ratio ≤ this (§6.3, PROP). */
  COMPRESSION_MAX_BODY_RATIO: 0.3,
  /** Condition 3, Option A: expanded ⇔ body_ratio ≥ this (§6.3, PROP). */
  EXPANSION_MIN_BODY_RATIO: 0.7,
  /** Condition 4: liquidations retained for this long before window end, half-open (§6.4, §7.3). */
  LIQUIDATION_RETENTION_MS: 60_000,
  /** OI is stale (→ missing_streams instead of stress_failed) without a poll this recent (§6.4, PROP). */
  OI_STALE_MS: 10_000,
  /** Where 1 s candles come from (§6.3, PROP): built from trades; Binance has no 1 s futures klines. */
  KLINE_SOURCE: 'synthetic' as KlineSource,
});

export type Rules = typeof RULES;

/** Capacities of display/inspection buffers. Bounded on purpose; not part of the rule set. */
export const LIMITS = Object.freeze({
  /** Raw trade rows kept per symbol (SPEC §1, M1 default). */
  RAW_TRADES_PER_SYMBOL: 500,
  /** Raw liquidation rows kept per symbol (SPEC §1, M1 default). */
  RAW_LIQUIDATIONS_PER_SYMBOL: 200,
  /** Promoted events kept in memory (SPEC §7.1, M3 port cap); the audit JSONL keeps all. */
  PROMOTED_EVENTS_KEPT: 1000,
  /** Rows per raw table the UI shows (SPEC §9). */
  DISPLAY_ROWS: 20,
  /** Hard cap of the liquidation retention buffer; the exchange pushes ≤ 1/s/symbol, so 60 are expected. */
  LIQUIDATION_BUFFER_CAP: 5_000,
  /** Recently seen trade ids remembered per symbol to drop duplicates after reconnects. */
  SEEN_TRADE_IDS: 8_192,
  /** Recently seen liquidations remembered per symbol to drop the copies a rotation overlap delivers. */
  SEEN_LIQUIDATIONS: 256,
  /**
   * A jump in a symbol's trade ids is counted as a gap once this much receipt time has passed
   * without the missing ids arriving late (a rotation overlap or a reordering proxy delivers them
   * within milliseconds), or when more than TRADE_ID_HOLES runs of missing ids are open.
   */
  TRADE_ID_HOLE_WAIT_MS: 5_000,
  TRADE_ID_HOLES: 256,
  /** Frames larger than this are refused as oversized (a REST exchangeInfo body is ~1–2 MB). */
  MAX_WS_FRAME_BYTES: 1 << 20,
  /**
   * The most one WebSocket message may hold before the socket refuses it (and the connection
   * closes): frames between MAX_WS_FRAME_BYTES and this are still recorded and dead-lettered as
   * oversized; past it a hostile server cannot make one message cost more memory.
   */
  MAX_WS_MESSAGE_BYTES: 4 << 20,
  /** REST bodies are read up to this many bytes and refused beyond (never read whole first). */
  MAX_REST_BODY_BYTES: 16 << 20,
  /** Of an error answer (4xx/5xx) only this much is read: the message quotes 200 characters of it. */
  MAX_REST_ERROR_BODY_BYTES: 64 << 10,
  /** Dead-letter raw text is truncated to this many characters (SPEC §2.4). */
  DEAD_LETTER_RAW_CHARS: 2_048,
  /**
   * Warm start (SPEC §20): backfilled trades kept until the end marker. The planner's budget
   * (half the free weight, 20 a page) allows at most 60 pages of 1000; twice that is refused.
   */
  WARM_START_MAX_TRADES: 120_000,
  /** Live events held back during the warm start; when full, the warm start ends with what it has. */
  WARM_START_MAX_HELD_EVENTS: 50_000,
  /** "Why silent?": near misses kept per symbol (SPEC §21, PROP 20). */
  NEAR_MISSES_PER_SYMBOL: 20,
});

export const TOP_N_SYMBOLS = 10;

/** Everything recorded in a promoted event's `rule_set` so it can be re-judged later. */
export function ruleSetDescriptor(): {
  id: typeof RULE_SET_ID;
  version: typeof RULE_SET_VERSION;
  constants: Rules;
} {
  return { id: RULE_SET_ID, version: RULE_SET_VERSION, constants: RULES };
}

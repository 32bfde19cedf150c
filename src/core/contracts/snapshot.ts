/**
 * The committed snapshot (SPEC §8.2): what `debug/latest_snapshot.json` holds and what the worker
 * posts to the UI. The legacy keys keep their exact names and types; everything else is additive.
 */
import { z } from 'zod';
import { POLICY_ID } from '../policy/constants';
import { PolicySectionSchema } from '../policy/contracts';
import { BooksSectionSchema } from './books';
import { SymbolCountersSchema } from './counters';
import { LiquidationTapeSectionSchema } from './liquidation-tape';
import { NearMissesSchema } from './near-miss';
import { StorageSchema } from './storage';
import { count, SideSchema, symbolString } from './primitives';
import { PromotedEventSchema } from './promoted';
import { SinkStatusSchema } from './sink-status';
import {
  HealthStateSchema,
  HeapLiveMethodSchema,
  ModeSchema,
  OiPollingStateSchema,
  ReasonCodeSchema,
  StageNameSchema,
  StreamFlowSchema,
  WsStateSchema,
} from './vocabulary';
import { WarmStartStatusSchema } from './warm-start';

export const RawRowSchema = z.object({
  /** Exchange time, float seconds. */
  timestamp: z.number(),
  symbol: symbolString,
  price: z.number(),
  base_qty: z.number(),
  quote_qty: z.number(),
  side: SideSchema,
});
export type RawRow = z.infer<typeof RawRowSchema>;

export const SymbolStateSchema = z.object({
  warm: z.boolean(),
  rank: z.number().int().positive(),
  abs_flow_history_len: count,
  trade_size_history_len: count,
  p90_abs_flow: z.number().nullable(),
  p95_trade_size: z.number().nullable(),
  liquidation_buffer_size: count,
  last_trade_ms: z.number().int().nullable(),
  last_price: z.number().nullable(),
  mark_price: z.number().nullable(),
  last_oi: z.number().nullable(),
  last_oi_ms: z.number().int().nullable(),
  /** Age of the last OI poll against the watermark, seconds. */
  last_oi_age_s: z.number().nullable(),
  price_precision: z.number().int().nonnegative(),
  qty_precision: z.number().int().nonnegative(),
  counters: SymbolCountersSchema,
  /**
   * Where the baselines come from (SPEC §20): cold until warm; warm_backfilled while some of the
   * 60 values still come from the warm start's backfill; warm_observed once live windows replaced them all.
   */
  baseline_state: z.enum(['cold', 'warm_backfilled', 'warm_observed']),
  /** How many of the baseline values came from backfilled windows. */
  baseline_backfilled: count,
});
export type SymbolState = z.infer<typeof SymbolStateSchema>;

export const StreamStateSchema = z.object({
  state: StreamFlowSchema,
  last_msg_ms: z.number().int().nullable(),
  msgs: count,
  /** Longest gap tolerated before the stream is reported silent; 0 = silence is normal (liquidations). */
  silence_limit_ms: z.number().int().nonnegative(),
});

export const ProcessMemorySchema = z.object({
  rss_bytes: count,
  heap_used_bytes: count,
  heap_total_bytes: count,
  external_bytes: count,
  array_buffers_bytes: count,
  /** The worker heap's live size: bytes still reachable right after its latest full GC (null before the first). */
  heap_live_bytes: count.nullable(),
  /** How heap_live_bytes was taken: observed after V8's own full GCs, or by a forced GC (benchmark diagnostics). */
  heap_live_method: HeapLiveMethodSchema,
  /**
   * Of heap_live_bytes, V8's compiled code and bytecode with their metadata, read at the same
   * moment (null before the first full GC): bounded by the program's size, so a leak shows in
   * heap_live_bytes minus this.
   */
  heap_code_bytes: count.nullable(),
  /** Full (mark-sweep) collections of the worker heap since start. */
  major_gcs: count,
});
export type ProcessMemory = z.infer<typeof ProcessMemorySchema>;

/** The collector worker this snapshot comes from: how many crashed before it in this process, and the last crash. */
export const WorkerSectionSchema = z.object({
  /** Workers the host started after a crash, this one included (0: the first worker). */
  restarts: count,
  /** Of those, within the configured window (`worker.restartWindowMs`), and the most allowed there. */
  restarts_in_window: count,
  max_restarts: count,
  last_exit: z
    .object({
      run_id: z.string(),
      reason: ReasonCodeSchema,
      detail: z.string(),
      exit_code: z.number().int(),
      exited_ms: z.number().int(),
      backoff_ms: count,
    })
    .nullable(),
});
export type WorkerSection = z.infer<typeof WorkerSectionSchema>;

/**
 * What the bounded queues between the socket and the disk dropped or coalesced (README "Memory
 * bound"); the capture's own count is `ingestion_health`'s capture figures and the audit's
 * CAPTURE_GAP, the dead letters' is `dead_letter_stats.dropped`, the store's `store.dropped_events`.
 */
export const QueuesSectionSchema = z.object({
  /** Snapshots for the window replaced by a newer one while the main thread had not taken the previous one (src/ipc/mailbox.ts). */
  ui_snapshots_coalesced: count,
  /** Frames received before detection started (symbol selection) beyond the early bound, oldest first: not captured, marked as a gap in the capture. */
  early_frames_dropped: count,
  /** debug/audit.jsonl lines not written because the disk had not yet taken the bound of earlier ones (the store keeps its own copy). */
  audit_lines_dropped: count,
});
export type QueuesSection = z.infer<typeof QueuesSectionSchema>;

/**
 * The live capture (src/capture/writer.ts) at commit: every frame received is on disk, in a marked
 * gap, or in a part the total cap (`capture.maxTotalBytes`) deleted, so
 * `frames + refused = frames on disk + frames_removed` and `not_captured` is the gaps' sum.
 */
export const CaptureSectionSchema = z.object({
  /** Frames written, and frames the socket refused (written too, marked). */
  frames: count,
  refused: count,
  /** Frames received but not captured (backlog full), in `gaps` marked gaps. */
  not_captured: count,
  gaps: count,
  /** Parts this run opened; the newest is being written. */
  parts_written: count,
  /** Parts the total cap deleted (earlier runs' included), and the frames this run's deleted parts held. */
  parts_removed: count,
  frames_removed: count,
  /** Bytes waiting for gzip and the disk. */
  backlog_bytes: count,
});
export type CaptureSection = z.infer<typeof CaptureSectionSchema>;

/**
 * The dead-letter sink's accounting (src/capture/dead-letter.ts): accepted = written + dropped +
 * failed + queued at every moment, so a letter never disappears unaccounted.
 */
export const DeadLetterStatsSchema = z.object({
  /** Letters handed to the sink (every malformed or refused input). */
  accepted: count,
  /** Lines on disk (or handed to a device such as /dev/null). */
  written: count,
  /** Not written because the queue was full: the price of never blocking the collector. */
  dropped: count,
  /** Lost to a disk error (see last_error). */
  failed: count,
  /** Waiting in the queue or in the write under way. */
  queued: count,
  /** Bytes written. */
  bytes: count,
  /** Times the file rotated; parts beyond the kept number were deleted. */
  rotations: count,
  last_error: z.string().nullable(),
});
export type DeadLetterStats = z.infer<typeof DeadLetterStatsSchema>;

/**
 * The event store as the collector sees it at commit (SPEC §21). A promoted event enters
 * `promoted_events` only once the store has committed it; while the store fails, detection goes on
 * and the events wait here (`pending_events`, bounded) until a later commit stores them.
 */
/**
 * The store's SQLite driver: native (the better-sqlite3 addon) or wasm (SQLite compiled to
 * WebAssembly, used where the addon cannot load, e.g. the portable Windows bundle). Same file format.
 */
export const StoreDriverSchema = z.enum(['native', 'wasm']);
export type StoreDriver = z.infer<typeof StoreDriverSchema>;

export const StoreStatusSchema = z.object({
  path: z.string(),
  driver: StoreDriverSchema,
  /** OK; FAILING: open, the last write failed; UNAVAILABLE: the file could not be opened. */
  state: z.enum(['OK', 'FAILING', 'UNAVAILABLE']),
  /** The health reason while not OK (STORE_DISK_FULL, STORE_READ_ONLY, STORE_BUSY, STORE_UNAVAILABLE). */
  reason: ReasonCodeSchema.nullable(),
  /** What failed and what to do; null when OK. */
  fault: z.string().nullable(),
  /** When the current fault began (local ms); null when OK. */
  since_ms: z.number().int().nullable(),
  /** Promoted events detected but not committed yet: shown once stored. */
  pending_events: count,
  /** Events lost because the waiting queue overflowed during a long failure (still in debug/audit.jsonl). */
  dropped_events: count,
  /** Events this run committed to the store. */
  events_written: count,
  /** Latency of the store's commits (one `persist` per collector commit that had rows to write), ms. */
  persist: z.object({
    /** Commits that wrote (or tried to) since start. */
    writes: count,
    /** How many of the latest writes the figures below cover (at most 1000). */
    window: count,
    p50_ms: z.number().nullable(),
    p99_ms: z.number().nullable(),
    max_ms: z.number().nullable(),
  }),
});
export type StoreStatusSection = z.infer<typeof StoreStatusSchema>;

export const SnapshotSchema = z.object({
  // ---- legacy keys (SNAP) ----
  timestamp: z.number(),
  symbols_active: z.array(symbolString),
  ingestion_health: z.object({
    trades_rate: z.number(),
    liquidations_rate: z.number(),
    klines_rate: z.number(),
    oi_rate: z.number(),
    degraded: z.boolean(),
    degraded_reason: z.string(),
  }),
  baseline_status: z.object({ ready_symbols: count, total_symbols: count }),
  counters: z.object({
    windows_processed: count,
    peak_pressure_events: count,
    dropped_events: z.object({
      symbol_not_allowed: count,
      baseline_not_ready: count,
      window_not_closed: count,
      missing_streams: count,
    }),
    // ---- additive ----
    flow_surge_failed: count,
    large_trade_failed: count,
    compression_failed: count,
    stress_failed: count,
    baseline_not_warm: count,
    empty_windows: count,
    gap_resets: count,
    malformed_events: count,
    duplicate_trades: count,
    trade_id_gaps: count,
    non_market_trades: count,
    ignored_frames: count,
    frames_received: count,
    /** Warm start (SPEC §20): windows that only filled baselines, and live aggTrades it had delivered already. */
    backfilled_windows: count,
    backfill_duplicates: count,
  }),
  raw_buffers: z.object({
    trades: z.record(z.string(), z.array(RawRowSchema)),
    liquidations: z.record(z.string(), z.array(RawRowSchema)),
  }),
  promoted_events: z.array(PromotedEventSchema),
  // ---- additive ----
  schema_version: z.literal(1),
  run_id: z.string(),
  snapshot_seq: count,
  mode: ModeSchema,
  stage: StageNameSchema,
  health_state: HealthStateSchema,
  health_reasons: z.array(ReasonCodeSchema),
  /** Human detail for FAILED/DEGRADED (what failed, what to do). */
  health_detail: z.string(),
  watermark_ms: z.number().int().nullable(),
  rule_set: z.object({
    id: z.string(),
    version: z.number().int(),
    constants: z.record(z.string(), z.union([z.number(), z.string()])),
  }),
  per_symbol: z.record(z.string(), SymbolStateSchema),
  oi_polling: z.object({
    state: OiPollingStateSchema,
    polls_per_min: z.number(),
    errors: count,
    last_error: z.string().nullable(),
    backoff_until_ms: z.number().int().nullable(),
    used_weight_1m: z.number().int().nullable(),
  }),
  streams: z.object({
    ws_state: WsStateSchema,
    url: z.string(),
    reconnects: count,
    last_msg_ms: z.number().int().nullable(),
    per_stream: z.record(z.string(), StreamStateSchema),
  }),
  /** Dead letters accepted so far (as counted at the commit: queued ones included). */
  dead_letters: count,
  warm_start: WarmStartStatusSchema,
  dead_letter_stats: DeadLetterStatsSchema,
  /**
   * Memory of the process running the collector, sampled at commit: `rss_bytes` is the whole
   * process (UI thread included); the heap figures are the collector worker's own V8 heap.
   * Null where no live collector runs (replay).
   */
  process: ProcessMemorySchema.nullable(),
  // ---- beside M3 (SPEC Part II; null where that part does not run) ----
  /** The order books per symbol (SPEC §18): state, best prices, resyncs, gaps, age. */
  books: BooksSectionSchema.nullable(),
  /** M6 policies by id, each with its own counter partition per symbol and its recent events (SPEC §17). */
  policies: z.object({ [POLICY_ID]: PolicySectionSchema.nullable() }),
  /** Liquidations of the last 60 min by price bucket, per symbol (SPEC §19). */
  liquidation_tape: LiquidationTapeSectionSchema.nullable(),
  /** The live collector's event store; null where there is none (replay). */
  store: StoreStatusSchema.nullable(),
  /**
   * "Why silent?" (SPEC §21): per symbol, the last judged windows stopped at condition 3 or 4, with
   * their margins. Inspection only, never read by the rule; `{}` where nobody keeps them.
   */
  near_misses: NearMissesSchema,
  /** Disk free, store and WAL bytes (seed 002 HealthSnapshot), sampled by the collector; null where none runs (replay) or before the first sample. */
  storage: StorageSchema.nullable(),
  /** The sinks of SPEC §22 (Redis Streams, PostgreSQL); absent when none is configured. */
  sinks: z.array(SinkStatusSchema).optional(),
  /** The live collector worker's restarts (src/ipc/host.ts); absent where no live collector runs (replay). */
  worker: WorkerSectionSchema.optional(),
  /** The live collector's bounded queues: what they dropped or coalesced; absent in replay. */
  queues: QueuesSectionSchema.optional(),
  /** The live capture's accounting; absent in replay or when captures are off. */
  capture: CaptureSectionSchema.optional(),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

/**
 * Closed vocabularies (SPEC §12.1): a field typed with one of these accepts nothing else, so a
 * typo is a compile error and a log/audit consumer can enumerate every value.
 */
import { z } from 'zod';

/** DOCTOR_CHECKS (seed 002): the doctor's checks at boot, between BOOT and SYMBOL_SELECT; failures are soft. */
export const StageNameSchema = z.enum(['BOOT', 'DOCTOR_CHECKS', 'SYMBOL_SELECT', 'CONNECT_STREAMS', 'WARM_START', 'WARMUP', 'OBSERVE', 'DEGRADED', 'SHUTDOWN']);
export type StageName = z.infer<typeof StageNameSchema>;

export const AuditEventTypeSchema = z.enum([
  'STAGE_CHANGED',
  'SYMBOLS_SELECTED',
  'WS_CONNECTED',
  'WS_DISCONNECTED',
  'OI_POLL_FAILED',
  'HEALTH_CHANGED',
  'BASELINE_WARM',
  'PEAK_PRESSURE_PROMOTED',
  'ALERT_RAISED',
  'SNAPSHOT_WRITE_FAILED',
  /** Cumulative counters of the run so far (payload: CountersSample); the daily summary takes deltas. */
  'COUNTERS_SAMPLED',
  /** A daily summary was made (payload: its day and totals; the full summary is a store row). */
  'DAILY_SUMMARY',
  /** At start: the snapshot file was left by a run that never reached SHUTDOWN, and is now marked so. */
  'PREVIOUS_RUN_UNCLEAN',
  /** The doctor's checks ran inside the collector (payload: DoctorChecked, every result). */
  'DOCTOR_CHECKED',
  /** Frames the capture could not take (its backlog was full): exactly how many, between which receive times. */
  'CAPTURE_GAP',
  /** This run's worker replaced one that crashed (payload: the restart count, the crashed run, its reason and exit code, the backoff). */
  'WORKER_RESTARTED',
]);
export type AuditEventType = z.infer<typeof AuditEventTypeSchema>;

export const ReasonCodeSchema = z.enum([
  'WS_RECONNECTING',
  'WS_STALE',
  'STREAM_SILENT',
  'TRADES_RATE_LOW',
  'NO_TRADES',
  'DATA_STALE',
  'OI_STALE',
  'REST_RATE_LIMITED_429',
  'REST_BANNED_418',
  'REST_FORBIDDEN_403_451',
  'REST_SERVER_ERROR',
  'KLINE_MISSING',
  'SYMBOL_LEAK',
  'TIME_REGRESSION',
  'MALFORMED_PAYLOAD',
  'SYMBOLS_FALLBACK_USED',
  'SYMBOLS_UNAVAILABLE',
  /** None of the configured symbols (`--symbols`) is a trading USDT perpetual: nothing can be observed. */
  'SYMBOLS_INVALID',
  'DETECTOR_EXCEPTION',
  'WORKER_EXITED',
  /** The host restarted a crashed collector worker (a new run): DEGRADED for a minute after, the crash's reason in the detail. */
  'WORKER_RESTARTED',
  /** The snapshot file is from a run that ended without a clean shutdown (killed, crashed, power lost). */
  'PREVIOUS_RUN_UNCLEAN',
  /** The capture's backlog (frames waiting for gzip and the disk) hit its bound: frames were not captured (gap-marked). */
  'CAPTURE_BACKLOG',
  /** Frames wait too long before detection sees them: the collector's thread falls behind its input. */
  'INGEST_BACKLOG',
  /** The event store (SPEC §21) cannot be written: disk full, read-only, locked, or unusable. */
  'STORE_DISK_FULL',
  'STORE_READ_ONLY',
  'STORE_BUSY',
  'STORE_UNAVAILABLE',
  /** A sink of SPEC §22 (Redis, PostgreSQL) cannot be written: rows wait in the local store (the snapshot's `sinks` says which, and how many). */
  'SINK_DEGRADED',
  /** An alert about a promotion (SPEC §21): the reason code of its ALERT_RAISED record. */
  'PEAK_PRESSURE_PROMOTED',
  /** The warm-start backfill (SPEC §20) failed for at least one symbol, which starts cold. */
  'WARM_START_FAILED',
  /** Doctor checks (at boot and periodically, src/doctor): too little free disk for the store or the captures' budget. */
  'DISK_LOW',
  /** The store's write-ahead log is far past SQLite's checkpoint size: a reader keeps checkpoints from finishing. */
  'STORE_WAL_GROWING',
  /** The local clock is more than 1 s off the exchange's serverTime: receive-time tolerances no longer hold. */
  'CLOCK_SKEW',
  /** debug/ or captures/ cannot be written: snapshots, logs or captures would be lost. */
  'DIR_NOT_WRITABLE',
]);
export type ReasonCode = z.infer<typeof ReasonCodeSchema>;

export const HealthStateSchema = z.enum(['STARTING', 'OK', 'DEGRADED', 'FAILED']);
export type HealthState = z.infer<typeof HealthStateSchema>;

/** What the status bar shows after `Mode:`. */
export const ModeSchema = z.enum(['LOADING', 'LIVE_PEAK_PRESSURE', 'DEMO', 'REPLAY']);
export type Mode = z.infer<typeof ModeSchema>;

/** Where 1 s candles come from (SPEC §6.3): built from the window's trades, or the exchange's closed 1 s klines. */
export const KlineSourceSchema = z.enum(['synthetic', 'exchange']);
export type KlineSource = z.infer<typeof KlineSourceSchema>;
// ---- operational vocabularies (the collector writes them, the snapshot carries them) ----

/** The market connection's state (src/collector/ws-session.ts says which transitions are legal). */
export const WsStateSchema = z.enum(['IDLE', 'CONNECTING', 'OPEN', 'RECONNECTING', 'CLOSED']);
export type WsState = z.infer<typeof WsStateSchema>;

/** One subscribed stream: not yet seen, delivering, or acknowledged but silent past its limit. */
export const StreamFlowSchema = z.enum(['WAITING', 'FLOWING', 'SILENT']);
export type StreamFlow = z.infer<typeof StreamFlowSchema>;

export const OiPollingStateSchema = z.enum(['IDLE', 'OK', 'DEGRADED', 'BACKOFF']);
export type OiPollingState = z.infer<typeof OiPollingStateSchema>;

/** The exchange restricting our REST access (a subset of the reason codes). */
export const RestBlockSchema = ReasonCodeSchema.extract(['REST_RATE_LIMITED_429', 'REST_BANNED_418', 'REST_FORBIDDEN_403_451']);
export type RestBlock = z.infer<typeof RestBlockSchema>;

/** How the worker heap's live size was taken (src/collector/heap-live.ts). */
export const HeapLiveMethodSchema = z.enum(['after_major_gc', 'forced_gc']);
export type HeapLiveMethod = z.infer<typeof HeapLiveMethodSchema>;

/**
 * Ingestion health (SPEC §8.4): rates over the trailing 60 s of local receipt time, and the
 * STARTING / OK / DEGRADED / FAILED decision with reason codes. Pure: callers pass `now`.
 */
import type { HealthState, KlineSource, ReasonCode, RestBlock, WsState } from '../core/contracts/vocabulary';
import type { OpsStaging } from '../core/system-state';
import { safeMessage } from '../text/safe';

/** Counts per local second over a trailing window; O(1) per event, bounded memory. */
export class RateMeter {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;

  constructor(private readonly windowS = 60) {
    this.buckets = new Float64Array(windowS);
    this.stamps = new Float64Array(windowS).fill(-1);
  }

  add(nowMs: number, n = 1): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % this.windowS;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] as number) + n;
  }

  /** Events in the trailing window (excluding the current, partial second). */
  total(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < this.windowS; i++) {
      const s = this.stamps[i] as number;
      if (s >= sec - this.windowS && s < sec) sum += this.buckets[i] as number;
    }
    return sum;
  }

  perSecond(nowMs: number): number {
    return this.total(nowMs) / this.windowS;
  }

  perMinute(nowMs: number): number {
    return (this.total(nowMs) * 60) / this.windowS;
  }
}

export interface HealthInputs {
  nowMs: number;
  startedMs: number;
  /** Set when an invariant broke; FAILED wins over everything. */
  fatal: { reason: ReasonCode; detail: string } | null;
  wsState: WsState;
  lastTradeRecvMs: number | null;
  tradesPerSecond: number;
  klineSource: KlineSource;
  klinesPerSecond: number;
  /** Local receipt time of each symbol's last successful OI poll (null = never). */
  oiLastSuccessMs: Record<string, number | null>;
  silentStreams: string[];
  restBlock: RestBlock | null;
  symbolsFallback: boolean;
  symbolsUnavailable: string | null;
  /** A scale-out sink fails (SPEC §22, src/sinks/health.ts): SINK_DEGRADED and what waits; absent or null when none does. */
  sinks?: { reasons: readonly ReasonCode[]; detail: string } | null;
  /**
   * The warm start (SPEC §20) failed for symbols whose baselines are still cold: what failed and
   * why. Listed, not degrading: those symbols warm from live windows as in a cold start.
   */
  warmStartFailed?: string | null;
  /** The capture dropping frames now (`backlogged`), how many it could not take in the trailing minute and in all. */
  captureBacklog: { backlogged: boolean; lastMinute: number; total: number } | null;
  /** How late the last timed commit ran: frames wait in the socket buffers about as long. */
  ingestLagMs: number;
  /** This worker replaced a crashed one less than HEALTH.WORKER_RESTARTED_MS ago: what crashed and why. */
  workerRestarted?: string | null;
  /** Malformed inputs (frames, refused frames, REST bodies) in the trailing minute. */
  malformedPerMinute: number;
  /** Symbols whose last OI poll was answered with a 5xx, and that status. */
  restServerErrors: Readonly<Record<string, number>>;
  /** The stale watchdog cut the connection and no connection has delivered data since. */
  wsStale: { atMs: number; silentForMs: number } | null;
  /** How long the watermark has not moved while data frames arrive; null while none arrive. */
  watermarkStillForMs: number | null;
  /** The event store cannot be written (SPEC §21): its reason and what to do; absent or null when it works. */
  store?: { reason: ReasonCode; detail: string } | null;
  /**
   * The doctor's lasting findings (low disk, WAL growth, clock skew, a folder that cannot be
   * written): listed among the reasons without degrading, since detection itself is unaffected.
   */
  notes?: readonly { reason: ReasonCode; detail: string }[];
}

export const HEALTH = Object.freeze({
  STARTING_MS: 60_000,
  NO_TRADES_MS: 5_000,
  MIN_TRADES_PER_S: 10,
  MIN_KLINES_PER_S: 1,
  OI_STALE_MS: 10_000,
  /**
   * MALFORMED_PAYLOAD at this many malformed inputs in the trailing minute (one a second on
   * average): a stray bad frame is counted and dead-lettered, a flood means the feed is broken
   * (a proxy, a changed schema). Binance sends none in normal operation.
   */
  MALFORMED_PER_MIN: 60,
  /** DATA_STALE: exchange time has not moved for this long although data frames kept arriving. */
  DATA_STALE_MS: 10_000,
  /** Data frames count as arriving when the last one is at most this old. */
  DATA_FLOWING_MS: 2_000,
  /**
   * INGEST_BACKLOG when a commit runs this late: the collector's thread was busy for a second
   * beyond its cadence, so frames waited about that long before detection saw them (overload).
   */
  INGEST_LAG_MS: 1_000,
  /**
   * WORKER_RESTARTED (DEGRADED) for this long after a restart: the new worker starts a new run
   * (baselines warm again, the crashed run's last frames are in its own capture), and an operator
   * glancing at the window within a minute sees that it happened.
   */
  WORKER_RESTARTED_MS: 60_000,
});

/** Reasons that are listed in health without degrading it: detection itself is unaffected. */
const INFORMATIVE_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['SYMBOLS_FALLBACK_USED', 'WARM_START_FAILED']);

export interface HealthVerdict {
  state: HealthState;
  reasons: ReasonCode[];
  detail: string;
}

export function evaluateHealth(h: HealthInputs): HealthVerdict {
  if (h.fatal) return { state: 'FAILED', reasons: [h.fatal.reason], detail: h.fatal.detail };
  const reasons: ReasonCode[] = [];
  const details: string[] = [];
  const add = (r: ReasonCode, d: string): void => {
    if (!reasons.includes(r)) reasons.push(r);
    details.push(d);
  };
  if (h.symbolsUnavailable) add('SYMBOLS_UNAVAILABLE', h.symbolsUnavailable);
  if (h.symbolsFallback) add('SYMBOLS_FALLBACK_USED', 'using the fallback symbol list');
  if (h.warmStartFailed) add('WARM_START_FAILED', h.warmStartFailed);
  if (h.workerRestarted) add('WORKER_RESTARTED', h.workerRestarted);
  if (h.wsState === 'RECONNECTING' || h.wsState === 'CLOSED') add('WS_RECONNECTING', 'market stream reconnecting');
  if (h.restBlock) add(h.restBlock, 'REST access limited by the exchange');
  for (const r of h.sinks?.reasons ?? []) add(r, h.sinks?.detail ?? '');
  const serverErrors = Object.entries(h.restServerErrors);
  if (serverErrors.length > 0)
    add(
      'REST_SERVER_ERROR',
      `the exchange answers OI polls with a server error (${serverErrors.map(([s, status]) => `${s} HTTP ${status}`).join(', ')}); polling continues`,
    );
  if (h.wsStale) add('WS_STALE', `no frame at all for ${Math.round(h.wsStale.silentForMs / 1000)} s: the stale watchdog cut the connection; reconnecting`);
  if (h.malformedPerMinute >= HEALTH.MALFORMED_PER_MIN)
    add(
      'MALFORMED_PAYLOAD',
      `${Math.round(h.malformedPerMinute)} malformed inputs in the last minute (≥ ${HEALTH.MALFORMED_PER_MIN}): the feed is broken; see debug/dead_letters.jsonl`,
    );
  if (h.ingestLagMs >= HEALTH.INGEST_LAG_MS)
    add(
      'INGEST_BACKLOG',
      `the collector runs ${(h.ingestLagMs / 1000).toFixed(1)} s behind its input (a commit came that late): frames wait that long before detection sees them; the machine is overloaded`,
    );
  const cb = h.captureBacklog;
  if (cb && (cb.backlogged || cb.lastMinute > 0))
    add(
      'CAPTURE_BACKLOG',
      `the capture cannot keep up (gzip or the disk is slower than the feed): ${cb.lastMinute} frames not captured in the last minute, ${cb.total} in all${cb.backlogged ? ', still dropping' : ''}; each gap is marked in the capture with its count`,
    );
  if (h.watermarkStillForMs !== null && h.watermarkStillForMs >= HEALTH.DATA_STALE_MS)
    add(
      'DATA_STALE',
      `frames arrive but exchange time has not moved for ${Math.round(h.watermarkStillForMs / 1000)} s (events from the future or the past: is the local clock right?)`,
    );
  if (h.store) add(h.store.reason, h.store.detail);
  const up = h.nowMs - h.startedMs;
  const starting = up < HEALTH.STARTING_MS || h.lastTradeRecvMs === null;
  if (!starting) {
    if (h.nowMs - (h.lastTradeRecvMs as number) > HEALTH.NO_TRADES_MS)
      add('NO_TRADES', `no trade for ${Math.round((h.nowMs - (h.lastTradeRecvMs as number)) / 1000)} s`);
    else if (h.tradesPerSecond < HEALTH.MIN_TRADES_PER_S) add('TRADES_RATE_LOW', `trades ${h.tradesPerSecond.toFixed(1)}/s < ${HEALTH.MIN_TRADES_PER_S}/s`);
    if (h.klineSource === 'exchange' && h.klinesPerSecond < HEALTH.MIN_KLINES_PER_S) add('KLINE_MISSING', 'exchange klines below 1/s');
    const stale = Object.entries(h.oiLastSuccessMs).filter(([, t]) => t === null || h.nowMs - t > HEALTH.OI_STALE_MS);
    if (stale.length > 0) add('OI_STALE', `OI older than ${HEALTH.OI_STALE_MS / 1000} s for ${stale.map(([s]) => s).join(', ')}`);
  }
  if (h.silentStreams.length > 0) add('STREAM_SILENT', `subscribed but silent: ${h.silentStreams.join(', ')}`);
  const listedOnly = new Set<ReasonCode>(INFORMATIVE_REASONS);
  for (const n of h.notes ?? []) {
    if (!reasons.includes(n.reason)) listedOnly.add(n.reason);
    add(n.reason, n.detail);
  }
  const degradingReasons = reasons.filter((r) => !listedOnly.has(r));
  if (degradingReasons.length > 0) return { state: 'DEGRADED', reasons, detail: details.join('; ') };
  if (starting) return { state: 'STARTING', reasons, detail: details.join('; ') };
  return { state: 'OK', reasons, detail: details.join('; ') };
}

/**
 * Health application: write a verdict into the staging. True when the state or the reasons
 * changed — a change is what gets reported and what may move the stage; a new detail alone is not.
 */
export function applyVerdict(ops: Pick<OpsStaging, 'health_state' | 'health_reasons' | 'health_detail'>, v: HealthVerdict): boolean {
  const changed = ops.health_state !== v.state || ops.health_reasons.join() !== v.reasons.join();
  ops.health_state = v.state;
  ops.health_reasons = v.reasons;
  // The detail quotes error messages from outside (REST bodies, undici, symbol selection).
  ops.health_detail = safeMessage(v.detail);
  return changed;
}

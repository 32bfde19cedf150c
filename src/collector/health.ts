/**
 * Ingestion health (SPEC §8.4): rates over the trailing 60 s of local receipt time, and the
 * STARTING / OK / DEGRADED / FAILED decision with reason codes. Pure: callers pass `now`.
 */
import type { HealthState, KlineSource, ReasonCode, RestBlock, WsState } from '../core/contracts/vocabulary';
import type { OpsStaging } from '../core/system-state';

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
});

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
  if (h.wsState === 'RECONNECTING' || h.wsState === 'CLOSED') add('WS_RECONNECTING', 'market stream reconnecting');
  if (h.restBlock) add(h.restBlock, 'REST access limited by the exchange');
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
  const listedOnly = new Set<ReasonCode>(['SYMBOLS_FALLBACK_USED']);
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
  ops.health_detail = v.detail;
  return changed;
}

/**
 * The durable side of a run (SPEC §21): the event store, and the rule that a promoted event
 * reaches a snapshot only after the store has committed it.
 *
 *   detected  → `promoted(e)`: waits for the next commit
 *   commit    → `persist(now)`: one store transaction with the waiting events, audit envelopes and
 *               alerts; on success every waiting event moves to `shown`, the ring snapshots read
 *   failing   → the events stay waiting (bounded like the store's own queue, oldest dropped first
 *               and counted) and are retried at later commits; detection goes on, health says why
 *
 * So `promoted_events` in a snapshot (and in debug/latest_snapshot.json) only ever holds stored
 * events, and while the store fails the snapshot counts the waiting ones in `store.pending_events`.
 */
import { performance } from 'node:perf_hooks';
import { type Clock, machineMs } from '../clock/clock';
import { LIMITS } from '../core/constants';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { StoreStatusSection } from '../core/contracts/snapshot';
import type { ReasonCode } from '../core/contracts/vocabulary';
import { Ring } from '../core/ring';
import { type StoreFault, storeReasonCode } from '../store/faults';
import { historyOf, type History, HISTORY_LIMIT } from '../store/history';
import type { RunStart } from '../store/contract';
import { EventStore, type PersistResult, type RunEnd } from '../store/store';
import type { CollectorConfig } from './config';

/** Rows of each kind kept while the store cannot be written (the store's queue and ours alike). */
export const PENDING_MAX = 10_000;
/** The persist latency figures cover this many of the latest writes. */
export const LATENCY_WINDOW = 1_000;
/** After a failure the store is retried no sooner than this (wall ms, a machine cadence). */
const RETRY_EVERY_MS = 1_000;

export interface PersistOutcome {
  result: PersistResult;
  /** A new failure (not a retry deferred by the retry interval). */
  failure: StoreFault | null;
  /** The store works again: how long it failed (clock ms) and how many waiting events it took. */
  recovered: { failedForMs: number; stored: number } | null;
}

export class EventRecord {
  readonly store: EventStore;
  /** Committed events, the newest 1000: what snapshots show. */
  readonly shown = new Ring<PromotedEvent>(LIMITS.PROMOTED_EVENTS_KEPT);
  /** Detected since the last persist. */
  private fresh: PromotedEvent[] = [];
  /** Handed to the store, not committed yet (the same events, in the same order, as its queue). */
  private awaiting: PromotedEvent[] = [];
  private readonly latencies = new Float64Array(LATENCY_WINDOW);
  private writes = 0;
  private figures: StoreStatusSection['persist'] = { writes: 0, window: 0, p50_ms: null, p99_ms: null, max_ms: null };

  constructor(config: CollectorConfig['store'], clock: Clock) {
    this.store = EventStore.open(
      { path: config.path, synchronous: config.synchronous, maxPending: PENDING_MAX, retryEveryMs: machineMs(clock, RETRY_EVERY_MS) },
      clock.now(),
    );
  }

  startRun(run: RunStart, nowMs: number): ReturnType<EventStore['startRun']> {
    return this.store.startRun(run, nowMs);
  }

  promoted(e: PromotedEvent): void {
    this.fresh.push(e);
  }

  /** Earlier runs' events for the window, newest first. */
  history(runId: string, limit = HISTORY_LIMIT): History {
    return historyOf(this.store.history(runId, limit));
  }

  /** Commit what waits; on success the waiting events become visible. Never throws. */
  persist(nowMs: number): PersistOutcome {
    const wasFailingSince = this.store.status.since_ms;
    const fresh = this.fresh;
    this.fresh = [];
    const t0 = performance.now();
    const result = this.store.persist({ events: fresh }, nowMs);
    const ms = performance.now() - t0;
    for (const e of fresh) this.awaiting.push(e);
    // The store drops its oldest queued event past PENDING_MAX; so do we, so both stay the same list.
    if (this.awaiting.length > PENDING_MAX) this.awaiting.splice(0, this.awaiting.length - PENDING_MAX);
    const wrote = result.ok ? result.events_inserted + result.duplicates + result.audit_inserted + result.alerts_inserted > 0 : !result.deferred;
    if (wrote) this.noteLatency(ms);
    if (!result.ok) return { result, failure: result.deferred ? null : result.fault, recovered: null };
    const stored = this.awaiting.length;
    for (const e of this.awaiting) this.shown.push(e);
    this.awaiting = [];
    return { result, failure: null, recovered: wasFailingSince === null ? null : { failedForMs: nowMs - wasFailingSince, stored } };
  }

  /** The health input: null while the store works. */
  health(): { reason: ReasonCode; detail: string } | null {
    const s = this.store.status;
    if (s.state === 'OK' || s.fault === null) return null;
    const waiting = this.awaiting.length + this.fresh.length;
    return {
      reason: storeReasonCode(s.fault.kind),
      detail: `${s.fault.message}${waiting > 0 ? `; ${waiting} promoted event${waiting === 1 ? '' : 's'} wait to be stored and shown` : ''}`,
    };
  }

  get waiting(): number {
    return this.awaiting.length + this.fresh.length;
  }

  /** The snapshot's `store` section. */
  section(): StoreStatusSection {
    const s = this.store.status;
    return {
      path: this.store.path,
      driver: s.driver,
      state: s.state,
      reason: s.fault === null || s.state === 'OK' ? null : storeReasonCode(s.fault.kind),
      fault: s.state === 'OK' ? null : (s.fault?.message ?? null),
      since_ms: s.since_ms,
      pending_events: this.waiting,
      dropped_events: s.dropped_events,
      events_written: s.events_written,
      persist: this.latencyFigures(),
    };
  }

  /** The last write (anything still waiting) and the run's end: clean, or unclean after a crash. */
  close(nowMs: number, end: RunEnd = 'clean'): PersistResult {
    return this.store.close(nowMs, end);
  }

  private noteLatency(ms: number): void {
    this.latencies[this.writes % LATENCY_WINDOW] = ms;
    this.writes++;
  }

  private latencyFigures(): StoreStatusSection['persist'] {
    if (this.figures.writes === this.writes) return { ...this.figures };
    const n = Math.min(this.writes, LATENCY_WINDOW);
    const sorted = this.latencies.slice(0, n).sort();
    const at = (p: number): number => round3(sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] as number);
    this.figures = { writes: this.writes, window: n, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: round3(sorted[n - 1] as number) };
    return { ...this.figures };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

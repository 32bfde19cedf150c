/**
 * SystemState (SPEC §8.1): a mutable staging side written only by its owner (the collector
 * worker or the replay loop) and an immutable `active` snapshot replaced atomically by `commit()`.
 *
 * A reader holding `active` never sees a partial update: commit builds a whole new deep-frozen
 * object and swaps one reference. Bounded raw buffers are materialised only when their ring
 * changed since the previous commit, so an idle symbol costs nothing and a busy one at most
 * `capacity` reference copies.
 */
import type { BesideM3 } from './beside-m3';
import { LIMITS, RULES, ruleSetDescriptor } from './constants';
import { emptySymbolCounters, SYMBOL_COUNTER_NAMES, type SymbolCounters } from './contracts/counters';
import type { PromotedEvent } from './contracts/promoted';
import type { SinkStatus } from './contracts/sink-status';
import type {
  DeadLetterStats,
  ProcessMemory,
  RawRow,
  Snapshot,
  StoreStatusSection,
  SymbolState,
  WorkerSection,
  QueuesSection,
  CaptureSection,
} from './contracts/snapshot';
import type { Storage } from './contracts/storage';
import type { HealthState, Mode, ReasonCode, StageName } from './contracts/vocabulary';
import { type Engine, type EngineCounters, emptyEngineCounters } from './engine';
import { deepFreeze } from './freeze';
import type { NearMissLog } from './near-miss';
import { emptyFrameCounters, type FrameCounters } from './pipeline';
import type { TapePricing } from './liquidation-tape';
import { POLICY_ID } from './policy/constants';
import type { PolicyEvent, PolicySection } from './policy/contracts';
import type { FourPillarsPolicy } from './policy/four-pillars';
import type { Ring } from './ring';
import type { SymbolDetector } from './symbol-detector';
import type { WarmStartStatus } from './contracts/warm-start';
import { offWarmStartStatus } from './warm-start';

export type OiPolling = Snapshot['oi_polling'];
export type Streams = Snapshot['streams'];
export type IngestionRates = Pick<Snapshot['ingestion_health'], 'trades_rate' | 'liquidations_rate' | 'klines_rate' | 'oi_rate'>;

/** Operational staging that the owner (collector or replay) writes; the engine holds the market side. */
export interface OpsStaging {
  mode: Mode;
  stage: StageName;
  run_id: string;
  health_state: HealthState;
  health_reasons: ReasonCode[];
  health_detail: string;
  rates: IngestionRates;
  oi_polling: OiPolling;
  streams: Streams;
  dead_letters: number;
  dead_letter_stats: DeadLetterStats;
  precisions: Record<string, { price: number; qty: number }>;
  /** The live collector's process memory at the last commit; null in replay. */
  process: ProcessMemory | null;
  /** The sinks' delivery status (SPEC §22), set by the collector at each commit when sinks are configured. */
  sinks?: readonly SinkStatus[];
  /** The live collector's event store at the last commit; null in replay. */
  store: StoreStatusSection | null;
  /** The collector's last disk reading (src/doctor/disk.ts storageSection); null in replay. */
  storage: Storage | null;
  /** The live collector worker's restarts; absent in replay. */
  worker?: WorkerSection;
  /** The live collector's bounded queues; absent in replay. */
  queues?: QueuesSection;
  /** The live capture's accounting; absent in replay or with captures off. */
  capture?: CaptureSection;
}

export function defaultOps(runId: string, mode: Mode): OpsStaging {
  return {
    mode,
    stage: 'BOOT',
    run_id: runId,
    health_state: 'STARTING',
    health_reasons: [],
    health_detail: '',
    rates: { trades_rate: 0, liquidations_rate: 0, klines_rate: 0, oi_rate: 0 },
    oi_polling: { state: 'IDLE', polls_per_min: 0, errors: 0, last_error: null, backoff_until_ms: null, used_weight_1m: null },
    streams: { ws_state: 'IDLE', url: '', reconnects: 0, last_msg_ms: null, per_stream: {} },
    dead_letters: 0,
    dead_letter_stats: emptyDeadLetterStats(),
    precisions: {},
    process: null,
    store: null,
    storage: null,
  };
}

function workerSection(w: WorkerSection): WorkerSection {
  return { ...w, last_exit: w.last_exit === null ? null : { ...w.last_exit } };
}

export function emptyDeadLetterStats(): DeadLetterStats {
  return { accepted: 0, written: 0, dropped: 0, failed: 0, queued: 0, bytes: 0, rotations: 0, last_error: null };
}

interface CachedView<T> {
  version: number;
  array: readonly T[];
}

export interface SystemStateOptions {
  /** The staging and numbering of the boot phase, when there was one. */
  carry?: { ops: OpsStaging; seq: number };
  /** The frame pipeline's counters (absent when events are fed to the engine directly). */
  frames?: Readonly<FrameCounters>;
  /** The frame pipeline's warm-start status (`pipeline.warmStart.status`); OFF when absent. */
  warmStart?: Readonly<WarmStartStatus>;
  /** The books, policy and tape beside M3 (the frame pipeline's `beside`); their sections are null without it. */
  beside?: BesideM3 | null;
  /**
   * The promoted events the snapshot shows (default: the engine's own ring). The live collector
   * passes the ring of events its store has committed, so an event appears only once durable.
   */
  promotions?: Ring<PromotedEvent>;
  /** "Why silent?": the near-miss log hooked on the engine's onWindow (absent: the section is `{}`). */
  nearMisses?: NearMissLog;
}

export class SystemState {
  readonly ops: OpsStaging;
  private readonly frames: Readonly<FrameCounters>;
  private readonly warmStart: Readonly<WarmStartStatus>;
  private readonly shown: Ring<PromotedEvent>;
  private readonly nearMisses: NearMissLog | null;
  private activeSnapshot: Snapshot | null = null;
  private seq = 0;
  private readonly tradeViews = new Map<string, CachedView<RawRow>>();
  private readonly liqViews = new Map<string, CachedView<RawRow>>();
  private promotedView: CachedView<PromotedEvent> = { version: -1, array: Object.freeze([]) };
  private policyEventsView: CachedView<PolicyEvent> = { version: -1, array: Object.freeze([]) };
  private readonly beside: BesideM3 | null;
  private readonly ruleSet: Snapshot['rule_set'] = deepFreeze({
    id: ruleSetDescriptor().id,
    version: ruleSetDescriptor().version,
    constants: { ...ruleSetDescriptor().constants },
  });
  /** Frozen copies of the staging's small records, reused while their values stay the same. */
  private readonly copies = new FrozenCopies();

  constructor(
    private readonly engine: Engine,
    runId: string,
    mode: Mode,
    opts: SystemStateOptions = {},
  ) {
    this.ops = opts.carry?.ops ?? defaultOps(runId, mode);
    this.seq = opts.carry?.seq ?? 0;
    this.frames = opts.frames ?? emptyFrameCounters();
    this.warmStart = opts.warmStart ?? offWarmStartStatus();
    this.beside = opts.beside ?? null;
    this.shown = opts.promotions ?? engine.promotions;
    this.nearMisses = opts.nearMisses ?? null;
  }

  /** The last committed snapshot (null before the first commit). */
  get active(): Snapshot | null {
    return this.activeSnapshot;
  }

  /** Publish the staging as a new immutable snapshot. `nowMs` is local wall time, injected. */
  commit(nowMs: number): Snapshot {
    const e = this.engine;
    const ops = this.ops;
    const trades: Record<string, readonly RawRow[]> = {};
    const liquidations: Record<string, readonly RawRow[]> = {};
    const perSymbol: Record<string, SymbolState> = {};
    // The tape's prices per symbol; only the tape beside M3 reads them.
    const pricing: Record<string, TapePricing> | null = this.beside === null ? null : {};
    let ready = 0;
    const w = e.watermark;
    for (const d of e.detectorsInRankOrder) {
      const c = d.counters;
      trades[d.symbol] = view(this.tradeViews, d.symbol, d.rawTrades);
      liquidations[d.symbol] = view(this.liqViews, d.symbol, d.rawLiquidations);
      if (d.warm) ready++;
      const prec = ops.precisions[d.symbol] ?? d.inferredPrecision();
      if (pricing !== null) pricing[d.symbol] = { latestPrice: d.lastPrice, tick: 10 ** -prec.price };
      // Frozen as built: the deepFreeze walk below then skips the entry (and its counters) at a glance.
      perSymbol[d.symbol] = Object.freeze({
        warm: d.warm,
        rank: d.rank,
        abs_flow_history_len: d.flowHistory.length,
        trade_size_history_len: d.sizeHistory.length,
        p90_abs_flow: d.flowHistory.percentile(RULES.FLOW_PERCENTILE),
        p95_trade_size: d.sizeHistory.percentile(RULES.TRADE_SIZE_PERCENTILE),
        liquidation_buffer_size: w === null ? d.liquidations.size : d.liquidations.countIn(w - RULES.LIQUIDATION_RETENTION_MS, Number.MAX_SAFE_INTEGER),
        last_trade_ms: d.lastTradeMs,
        last_price: d.lastPrice,
        mark_price: d.markPrice,
        last_oi: d.lastOi,
        last_oi_ms: d.lastOiMs,
        last_oi_age_s: d.lastOiMs === null || w === null ? null : (w - d.lastOiMs) / 1000,
        price_precision: prec.price,
        qty_precision: prec.qty,
        counters: Object.freeze(copySymbolCounters(c)),
        baseline_state: baselineState(d),
        baseline_backfilled: d.backfilledValues,
      });
    }
    if (this.promotedView.version !== this.shown.version) {
      this.promotedView = { version: this.shown.version, array: Object.freeze(this.shown.toArray()) };
    }
    const degraded = ops.health_state === 'DEGRADED' || ops.health_state === 'FAILED';
    const snap: Snapshot = {
      timestamp: nowMs / 1000,
      // The engine's symbol list is frozen and never changes.
      symbols_active: e.symbols as string[],
      ingestion_health: this.copies.keep('ingestion_health', ingestionHealth(ops.rates, degraded, ops.health_reasons)),
      baseline_status: this.copies.keep('baseline_status', { ready_symbols: ready, total_symbols: e.symbols.length }),
      counters: snapshotCounters(e.detectorsInRankOrder, e.counters, this.frames),
      // Cached arrays are already frozen and shared between snapshots; the record is fresh.
      raw_buffers: { trades: trades as Record<string, RawRow[]>, liquidations: liquidations as Record<string, RawRow[]> },
      promoted_events: this.promotedView.array as PromotedEvent[],
      schema_version: 1,
      run_id: ops.run_id,
      snapshot_seq: ++this.seq,
      mode: ops.mode,
      stage: ops.stage,
      health_state: ops.health_state,
      health_reasons: this.copies.list('health_reasons', ops.health_reasons),
      health_detail: ops.health_detail,
      watermark_ms: w,
      rule_set: this.ruleSet,
      per_symbol: perSymbol,
      oi_polling: this.copies.of('oi_polling', ops.oi_polling),
      // Copies all the way down: the snapshot must never freeze the owner's staging objects.
      streams: this.streamsCopy(ops.streams),
      dead_letters: ops.dead_letters,
      warm_start: this.warmStartCopy(this.warmStart),
      dead_letter_stats: this.copies.of('dead_letter_stats', ops.dead_letter_stats),
      process: ops.process === null ? null : this.copies.of('process', ops.process),
      books: this.beside?.books?.status(nowMs) ?? null,
      policies: { [POLICY_ID]: this.beside?.policy ? this.policySection(this.beside.policy) : null },
      liquidation_tape: this.beside ? this.beside.tape.section((symbol) => pricing?.[symbol] ?? { latestPrice: null, tick: 0 }) : null,
      store: storeSection(ops.store),
      // Arrays of unchanged symbols are the previous commit's (already frozen); the record is fresh.
      near_misses: this.nearMisses === null ? {} : this.nearMisses.view(),
      storage: ops.storage === null ? null : this.copies.of('storage', ops.storage),
      ...(ops.sinks === undefined ? {} : { sinks: ops.sinks.map((x) => ({ ...x })) }),
      ...(ops.worker === undefined ? {} : { worker: workerSection(ops.worker) }),
      ...(ops.queues === undefined ? {} : { queues: { ...ops.queues } }),
      ...(ops.capture === undefined ? {} : { capture: { ...ops.capture } }),
      ...(ops.capture === undefined ? {} : { capture: { ...ops.capture } }),
    };
    // Most parts are frozen already (cached, or reused while unchanged), so this walk is short:
    // Object.freeze is a runtime call, and freezing every part anew was most of a commit's cost.
    this.activeSnapshot = deepFreeze(snap);
    return this.activeSnapshot;
  }

  /** Entries, then the per-stream record, then the streams record: each reused while its fields are the same references. */
  private streamsCopy(st: Streams): Streams {
    const perStream: Streams['per_stream'] = {};
    for (const k in st.per_stream) perStream[k] = this.copies.of(`stream:${k}`, st.per_stream[k] as Streams['per_stream'][string]);
    return this.copies.keep('streams', {
      ws_state: st.ws_state,
      url: st.url,
      reconnects: st.reconnects,
      last_msg_ms: st.last_msg_ms,
      per_stream: this.copies.keep('per_stream', perStream),
    });
  }

  /** A copy the snapshot may freeze (the pipeline keeps writing its own status object), reused while it says the same. */
  private warmStartCopy(w: Readonly<WarmStartStatus>): WarmStartStatus {
    const failed: WarmStartStatus['failed'] = {};
    for (const k in w.failed) failed[k] = this.copies.of(`warm_start:failed:${k}`, w.failed[k] as WarmStartStatus['failed'][string]);
    return this.copies.keep('warm_start', {
      state: w.state,
      span_ms: w.span_ms,
      pages: w.pages,
      page_trades: w.page_trades,
      unused_pages: w.unused_pages,
      held_events: w.held_events,
      held_events_max: w.held_events_max,
      backfilled: this.copies.list('warm_start:backfilled', w.backfilled),
      failed: this.copies.keep('warm_start:failed', failed),
    });
  }

  /** The policy's section, its events ring materialised only when it changed (like M3's promotions). */
  private policySection(p: FourPillarsPolicy): PolicySection {
    if (this.policyEventsView.version !== p.events.version) {
      this.policyEventsView = { version: p.events.version, array: Object.freeze(p.events.toArray()) };
    }
    return { ...p.section(0), events: this.policyEventsView.array as PolicyEvent[] };
  }
}

/** The snapshot's totals under their published names (legacy first, then additive), summed over the symbols in one pass. */
function snapshotCounters(symbols: readonly { counters: SymbolCounters }[], e: EngineCounters, f: Readonly<FrameCounters>): Snapshot['counters'] {
  const t = copySymbolCounters(ZERO_COUNTERS);
  // Every counter by the catalog's names: a new one is summed without a line here.
  for (const s of symbols) for (const k of SYMBOL_COUNTER_NAMES) t[k] += s.counters[k];
  return {
    windows_processed: t.windows_processed,
    peak_pressure_events: t.peak_pressure_count,
    dropped_events: {
      symbol_not_allowed: e.symbol_not_allowed,
      baseline_not_ready: t.baseline_not_warm,
      window_not_closed: t.window_not_closed,
      missing_streams: t.missing_streams,
    },
    flow_surge_failed: t.flow_surge_failed,
    large_trade_failed: t.large_trade_failed,
    compression_failed: t.compression_failed,
    stress_failed: t.stress_failed,
    baseline_not_warm: t.baseline_not_warm,
    empty_windows: t.empty_windows,
    gap_resets: e.gap_resets,
    malformed_events: f.malformed_events,
    duplicate_trades: t.duplicate_trades,
    trade_id_gaps: t.trade_id_gaps,
    non_market_trades: t.non_market_trades,
    ignored_frames: f.ignored_frames,
    frames_received: f.frames_received,
    backfilled_windows: t.backfilled_windows,
    backfill_duplicates: t.backfill_duplicates,
  };
}

function baselineState(d: SymbolDetector): SymbolState['baseline_state'] {
  if (!d.warm) return 'cold';
  return d.backfilledValues > 0 ? 'warm_backfilled' : 'warm_observed';
}

const ZERO_COUNTERS: Readonly<SymbolCounters> = Object.freeze(emptySymbolCounters());

/**
 * The snapshot's copy of one symbol's counters, field by field in snapshot order. Written out
 * because every commit copies every symbol's counters, and on Node 20 a frozen copy built as an
 * object literal costs ~0.1 µs where `Object.freeze({ ...c })` costs ~2.5 µs (freezing a spread's
 * clone is the slow part); the return type makes the compiler refuse a missing or an extra name.
 */
function copySymbolCounters(c: Readonly<SymbolCounters>): SymbolCounters {
  return {
    windows_processed: c.windows_processed,
    empty_windows: c.empty_windows,
    baseline_not_warm: c.baseline_not_warm,
    flow_surge_failed: c.flow_surge_failed,
    large_trade_failed: c.large_trade_failed,
    compression_failed: c.compression_failed,
    missing_streams: c.missing_streams,
    stress_failed: c.stress_failed,
    peak_pressure_count: c.peak_pressure_count,
    window_not_closed: c.window_not_closed,
    trades: c.trades,
    duplicate_trades: c.duplicate_trades,
    trade_id_gaps: c.trade_id_gaps,
    non_market_trades: c.non_market_trades,
    liquidations: c.liquidations,
    duplicate_liquidations: c.duplicate_liquidations,
    klines: c.klines,
    oi_polls: c.oi_polls,
    oi_changes: c.oi_changes,
    oi_changes_carried_forward: c.oi_changes_carried_forward,
    mark_prices: c.mark_prices,
    future_events: c.future_events,
    liquidation_buffer_evictions: c.liquidation_buffer_evictions,
    backfilled_windows: c.backfilled_windows,
    backfill_duplicates: c.backfill_duplicates,
  };
}

/** The snapshot's ingestion_health, as a literal (a spread plus two more fields cost ~3 µs a commit). */
function ingestionHealth(r: IngestionRates, degraded: boolean, reasons: readonly string[]): Snapshot['ingestion_health'] {
  return {
    trades_rate: r.trades_rate,
    liquidations_rate: r.liquidations_rate,
    klines_rate: r.klines_rate,
    oi_rate: r.oi_rate,
    degraded,
    degraded_reason: reasons.join(';'),
  };
}

/**
 * Frozen shallow copies by name: `of(name, source)` returns the previous copy while every field of
 * `source` is the same (===), else a new frozen copy of it, kept for next time. Only for records
 * whose fields are primitives or already-frozen values, so a reused copy is as immutable as a new
 * one. The source is compared before anything is copied, and copied with Object.assign, not a
 * spread: V8 freezes an object built by assignments through a cached shape, a spread's clone anew
 * each time (0.3 against 0.8 µs for six fields).
 */
class FrozenCopies {
  private readonly last = new Map<string, object>();

  of<T extends object>(name: string, source: Readonly<T>): T {
    const prev = this.last.get(name) as T | undefined;
    if (prev !== undefined && sameFields(prev, source)) return prev;
    return this.set(name, Object.assign({}, source) as T);
  }

  /** As `of`, for a record built for this call and shared with no one: kept itself when it differs, not copied. */
  keep<T extends object>(name: string, fresh: T): T {
    const prev = this.last.get(name) as T | undefined;
    if (prev !== undefined && sameFields(prev, fresh)) return prev;
    return this.set(name, fresh);
  }

  /** An array of primitives, reused while its elements are the same. */
  list<T>(name: string, items: readonly T[]): T[] {
    const prev = this.last.get(name) as T[] | undefined;
    if (prev !== undefined && prev.length === items.length && prev.every((x, i) => x === items[i])) return prev;
    return this.set(name, [...items]);
  }

  private set<T extends object>(name: string, fresh: T): T {
    Object.freeze(fresh);
    this.last.set(name, fresh);
    return fresh;
  }
}

/** Same own keys, same values (===). Plain records only (for…in also walks inherited keys, which they have none of); no allocation. */
function sameFields(prev: object, source: object): boolean {
  const a = prev as Record<string, unknown>;
  const b = source as Record<string, unknown>;
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k] || !(k in a)) return false;
    n++;
  }
  // Every key of source is one of prev's; as many keys, so the same ones.
  for (const _k in a) if (--n < 0) return false;
  return n === 0;
}

function view(cache: Map<string, CachedView<RawRow>>, symbol: string, ring: Ring<RawRow>): readonly RawRow[] {
  const hit = cache.get(symbol);
  if (hit !== undefined && hit.version === ring.version) return hit.array;
  const array = Object.freeze(ring.toArray());
  cache.set(symbol, { version: ring.version, array });
  return array;
}

/**
 * The snapshot trimmed for the UI: raw buffers cut to the newest `rows` per symbol (the UI shows
 * the newest 20 across all symbols, so 20 per symbol always suffice). Everything else is shared.
 */
export function displaySnapshot(s: Snapshot, rows: number = LIMITS.DISPLAY_ROWS): Snapshot {
  const cut = (rec: Record<string, RawRow[]>): Record<string, RawRow[]> => {
    const out: Record<string, RawRow[]> = {};
    for (const [k, v] of Object.entries(rec)) out[k] = v.length > rows ? v.slice(v.length - rows) : v;
    return out;
  };
  return { ...s, raw_buffers: { trades: cut(s.raw_buffers.trades), liquidations: cut(s.raw_buffers.liquidations) } };
}

/**
 * The snapshot published before the symbol universe is known (stage BOOT / SYMBOL_SELECT):
 * no symbols, no market data, only the operational staging — so the UI can show LOADING and,
 * when the exchange is unreachable, DEGRADED with the reason.
 */
export function bootSnapshot(ops: OpsStaging, seq: number, nowMs: number): Snapshot {
  const degraded = ops.health_state === 'DEGRADED' || ops.health_state === 'FAILED';
  return deepFreeze({
    timestamp: nowMs / 1000,
    symbols_active: [],
    ingestion_health: { ...ops.rates, degraded, degraded_reason: ops.health_reasons.join(';') },
    baseline_status: { ready_symbols: 0, total_symbols: 0 },
    counters: snapshotCounters([], emptyEngineCounters(), emptyFrameCounters()),
    raw_buffers: { trades: {}, liquidations: {} },
    promoted_events: [],
    schema_version: 1,
    run_id: ops.run_id,
    snapshot_seq: seq,
    mode: ops.mode,
    stage: ops.stage,
    health_state: ops.health_state,
    health_reasons: [...ops.health_reasons],
    health_detail: ops.health_detail,
    watermark_ms: null,
    rule_set: { id: ruleSetDescriptor().id, version: ruleSetDescriptor().version, constants: { ...ruleSetDescriptor().constants } },
    per_symbol: {},
    oi_polling: { ...ops.oi_polling },
    streams: { ...ops.streams, per_stream: { ...ops.streams.per_stream } },
    dead_letters: ops.dead_letters,
    warm_start: offWarmStartStatus(),
    dead_letter_stats: { ...ops.dead_letter_stats },
    process: ops.process === null ? null : { ...ops.process },
    books: null,
    policies: { [POLICY_ID]: null },
    liquidation_tape: null,
    store: storeSection(ops.store),
    near_misses: {},
    storage: ops.storage === null ? null : { ...ops.storage },
    ...(ops.sinks === undefined ? {} : { sinks: ops.sinks.map((x) => ({ ...x })) }),
    ...(ops.worker === undefined ? {} : { worker: workerSection(ops.worker) }),
    ...(ops.queues === undefined ? {} : { queues: { ...ops.queues } }),
    ...(ops.capture === undefined ? {} : { capture: { ...ops.capture } }),
  });
}

/** A copy (deepFreeze must never freeze the owner's staging). */
function storeSection(s: StoreStatusSection | null): StoreStatusSection | null {
  return s === null ? null : { ...s, persist: { ...s.persist } };
}

/**
 * The per-commit operational state: ingestion rates, the market session, OI polling, dead letters
 * and process memory, staged into the snapshot's operational fields; and the inputs the health
 * verdict is made of. What the collector observes about itself, as opposed to the market.
 */
import type { DeadLetterFile } from '../capture/dead-letter';
import type { CaptureWriter } from '../capture/writer';
import { RULES } from '../core/constants';
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { Engine } from '../core/engine';
import type { FrameCounters } from '../core/pipeline';
import type { OpsStaging } from '../core/system-state';
import type { HeapLiveSampler } from './heap-live';
import { redactUrl } from '../text/safe';
import { HEALTH, type HealthInputs, RateMeter } from './health';
import type { OiPoller } from './oi-poller';
import type { RestClient } from './rest';
import type { WsSession } from './ws-session';

/** What exists at a commit: everything but the heap sampler is absent until symbols are selected. */
export interface CommitSources {
  engine: Engine | null;
  /** The frame pipeline's counters (malformed frames for MALFORMED_PAYLOAD). */
  frames: Readonly<FrameCounters> | null;
  market: WsSession | null;
  oi: OiPoller | null;
  rest: RestClient;
  deadLetters: Pick<DeadLetterFile, 'stats'>;
  /** The capture writer (null: capture off or not started): frames it could not take. */
  capture: Pick<CaptureWriter, 'notCaptured' | 'backlogged'> | null;
  heap: HeapLiveSampler;
}

/** What health needs beyond the operational figures. */
export interface RunFacts {
  startedMs: number;
  fatal: { reason: ReasonCode; detail: string } | null;
  symbolsFallback: boolean;
  symbolsUnavailable: string | null;
  /** Warm-start failures of symbols still cold (health lists WARM_START_FAILED while there are any). */
  warmStartFailed: string | null;
  /** How late the last timed commit ran (wall ms): the thread is that far behind its input. */
  ingestLagMs: number;
  /** The crash this worker replaced, while health still reports it; null otherwise. */
  workerRestarted: string | null;
}

export class Operations {
  private readonly trades = new RateMeter();
  private readonly liqs = new RateMeter();
  private readonly klines = new RateMeter();
  private readonly malformed = new RateMeter();
  private lastKlineTotal = 0;
  private lastMalformedTotal = 0;
  private readonly notCaptured = new RateMeter();
  private lastNotCapturedTotal = 0;
  /** The watermark at the last commit, and since when it has not moved while data frames arrive. */
  private lastWatermark: number | null = null;
  private watermarkStillSince: number | null = null;
  private lastTradeRecvMs: number | null = null;
  /** Streams reported silent and not seen flowing since. */
  private readonly silent = new Set<string>();
  private readonly warmAnnounced = new Set<string>();

  /** A trade of an observed symbol, at its local receipt time. */
  trade(recvMs: number): void {
    this.trades.add(recvMs);
    this.lastTradeRecvMs = recvMs;
  }

  liquidation(recvMs: number): void {
    this.liqs.add(recvMs);
  }

  streamSilent(stream: string): void {
    this.silent.add(stream);
  }

  /**
   * How long exchange time (the watermark) has not moved although data frames keep arriving; null
   * while none arrive (then NO_TRADES or a connection reason tells the story, not DATA_STALE).
   */
  private watermarkStill(now: number, engine: Engine | null, market: WsSession | null): number | null {
    const flowing = engine !== null && market !== null && market.lastMsgMs !== null && now - market.lastMsgMs <= HEALTH.DATA_FLOWING_MS;
    const wm = engine?.watermark ?? null;
    if (!flowing || wm !== this.lastWatermark || this.watermarkStillSince === null) {
      this.lastWatermark = wm;
      this.watermarkStillSince = now;
    }
    return flowing ? now - this.watermarkStillSince : null;
  }

  /** A fresh connection: every stream gets a new chance. */
  connected(): void {
    this.silent.clear();
  }

  /**
   * Stage this commit's operational figures into `ops`; returns the health inputs and the
   * symbols whose baseline became warm since the last commit.
   */
  commit(now: number, ops: OpsStaging, src: CommitSources, facts: RunFacts): { health: HealthInputs; newlyWarm: string[] } {
    const newlyWarm: string[] = [];
    if (src.engine) {
      let totalKlines = 0;
      for (const d of src.engine.detectorsInRankOrder) totalKlines += d.counters.klines;
      if (totalKlines > this.lastKlineTotal) this.klines.add(now, totalKlines - this.lastKlineTotal);
      this.lastKlineTotal = totalKlines;
      for (const d of src.engine.detectorsInRankOrder) {
        if (d.warm && !this.warmAnnounced.has(d.symbol)) {
          this.warmAnnounced.add(d.symbol);
          newlyWarm.push(d.symbol);
        }
      }
    }
    const malformedTotal = src.frames?.malformed_events ?? 0;
    if (malformedTotal > this.lastMalformedTotal) this.malformed.add(now, malformedTotal - this.lastMalformedTotal);
    this.lastMalformedTotal = malformedTotal;
    const notCapturedTotal = src.capture?.notCaptured ?? 0;
    if (notCapturedTotal > this.lastNotCapturedTotal) this.notCaptured.add(now, notCapturedTotal - this.lastNotCapturedTotal);
    this.lastNotCapturedTotal = notCapturedTotal;
    ops.rates = {
      trades_rate: round1(this.trades.perSecond(now)),
      liquidations_rate: round1(this.liqs.perMinute(now)),
      klines_rate: round1(this.klines.perSecond(now)),
      oi_rate: round1(src.oi ? src.oi.polls.perMinute(now) : 0),
    };
    const m = src.market;
    if (m) {
      ops.streams = {
        ws_state: m.state,
        url: redactUrl(m.url),
        reconnects: m.reconnects,
        last_msg_ms: m.lastMsgMs,
        per_stream: Object.fromEntries([...m.perStream].map(([k, v]) => [k, { ...v }])),
      };
      for (const [name, st] of m.perStream) if (st.state === 'FLOWING') this.silent.delete(name);
    }
    if (src.oi) {
      ops.oi_polling = {
        state: src.oi.state,
        polls_per_min: ops.rates.oi_rate,
        errors: src.oi.errors,
        last_error: src.oi.lastError,
        backoff_until_ms: src.oi.backoffUntilMs,
        used_weight_1m: src.rest.usedWeight1m,
      };
    }
    // Accepted, not written: the disk is written in batches after the commit, and the snapshot
    // must not lag a batch behind the malformed count it explains.
    const dl = src.deadLetters.stats();
    ops.dead_letters = dl.accepted;
    ops.dead_letter_stats = dl;
    // Inside the worker: rss is the whole process, the heap figures are this thread's isolate.
    const mem = process.memoryUsage();
    ops.process = {
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      heap_total_bytes: mem.heapTotal,
      external_bytes: mem.external,
      array_buffers_bytes: mem.arrayBuffers,
      heap_live_bytes: src.heap.liveBytes,
      heap_live_method: src.heap.method,
      heap_code_bytes: src.heap.codeBytes,
      major_gcs: src.heap.majorGcs,
    };
    const health: HealthInputs = {
      nowMs: now,
      startedMs: facts.startedMs,
      fatal: facts.fatal,
      wsState: m?.state ?? 'IDLE',
      lastTradeRecvMs: this.lastTradeRecvMs,
      tradesPerSecond: this.trades.perSecond(now),
      klineSource: RULES.KLINE_SOURCE,
      klinesPerSecond: this.klines.perSecond(now),
      oiLastSuccessMs: src.oi ? src.oi.lastSuccessMs : {},
      silentStreams: [...this.silent],
      restBlock: src.oi?.block ?? null,
      symbolsFallback: facts.symbolsFallback,
      symbolsUnavailable: facts.symbolsUnavailable,
      warmStartFailed: facts.warmStartFailed,
      malformedPerMinute: this.malformed.perMinute(now),
      ingestLagMs: facts.ingestLagMs,
      workerRestarted: facts.workerRestarted,
      captureBacklog: src.capture
        ? { backlogged: src.capture.backlogged, lastMinute: this.notCaptured.total(now + 1000), total: src.capture.notCaptured }
        : null,
      restServerErrors: src.oi ? Object.fromEntries(src.oi.serverErrors) : {},
      wsStale: m?.staleCut ?? null,
      watermarkStillForMs: this.watermarkStill(now, src.engine, m),
    };
    return { health, newlyWarm };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * The per-commit operational state: ingestion rates, the market session, OI polling, dead letters
 * and process memory, staged into the snapshot's operational fields; and the inputs the health
 * verdict is made of. What the collector observes about itself, as opposed to the market.
 */
import { RULES } from '../core/constants';
import type { ReasonCode } from '../core/contracts/vocabulary';
import type { Engine } from '../core/engine';
import type { OpsStaging } from '../core/system-state';
import type { HeapLiveSampler } from './heap-live';
import { type HealthInputs, RateMeter } from './health';
import type { OiPoller } from './oi-poller';
import type { RestClient } from './rest';
import type { WsSession } from './ws-session';

/** What exists at a commit: everything but the heap sampler is absent until symbols are selected. */
export interface CommitSources {
  engine: Engine | null;
  market: WsSession | null;
  oi: OiPoller | null;
  rest: RestClient;
  deadLetters: { written: number };
  heap: HeapLiveSampler;
}

/** What health needs beyond the operational figures. */
export interface RunFacts {
  startedMs: number;
  fatal: { reason: ReasonCode; detail: string } | null;
  symbolsFallback: boolean;
  symbolsUnavailable: string | null;
}

export class Operations {
  private readonly trades = new RateMeter();
  private readonly liqs = new RateMeter();
  private readonly klines = new RateMeter();
  private lastKlineTotal = 0;
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
        url: m.url,
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
    ops.dead_letters = src.deadLetters.written;
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
    };
    return { health, newlyWarm };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

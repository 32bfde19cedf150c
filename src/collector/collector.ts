/**
 * The live collector: startup orchestration, the market WebSocket, OI polling, capture, dead
 * letters, health, and the 500 ms commit that publishes snapshots. Every received frame takes the
 * same path as a replayed one — `FramePipeline.ingest` — so a capture of this run replays to the
 * same promoted events.
 *
 * Runs inside the collector worker thread (src/app/worker.ts); tests also run it in-process.
 */
import { join } from 'node:path';
import { binanceUsdm } from '../binance/adapter';
import { DeadLetterFile } from '../capture/dead-letter';
import { CaptureWriter } from '../capture/writer';
import { RULES } from '../core/constants';
import type { Snapshot } from '../core/contracts/snapshot';
import type { HealthState, ReasonCode, StageName } from '../core/contracts/vocabulary';
import { Engine } from '../core/engine';
import { FramePipeline } from '../core/pipeline';
import type { Frame } from '../core/source';
import { InvariantError } from '../core/symbol-detector';
import { bootSnapshot, defaultOps, type OpsStaging, SystemState } from '../core/system-state';
import { AuditTrail } from './audit';
import { HeapLiveSampler } from './heap-live';
import type { CollectorConfig } from './config';
import { evaluateHealth, RateMeter } from './health';
import { consoleLine, type Logger } from './log';
import { MarketStream } from './market-stream';
import { OiPoller } from './oi-poller';
import { RestClient } from './rest';
import { writeFileAtomic } from './snapshot-file';
import { formatRanking, selectSymbols, type SymbolSelection } from './symbols';

export interface CollectorOptions {
  config: CollectorConfig;
  runId: string;
  logger: Logger;
  clock?: () => number;
  /** Every commit's snapshot (the worker posts a display-trimmed copy to the UI). */
  publish: (snapshot: Snapshot) => void;
  /** Short human lines for stage and health changes. */
  console?: (line: string) => void;
}

/** How long each stream may stay silent before the cadence watchdog reports it. */
export function silenceLimitMs(stream: string): number {
  if (stream.endsWith('@markPrice@1s')) return 5_000; // pushed every second: the best canary
  if (stream.endsWith('@aggTrade')) return 60_000; // top-10 perpetuals trade every second
  return Number.POSITIVE_INFINITY; // liquidations: silence is normal
}

export class Collector {
  readonly ops: OpsStaging;
  engine: Engine | null = null;
  pipeline: FramePipeline | null = null;
  state: SystemState | null = null;
  selection: SymbolSelection | null = null;
  readonly deadLetters: DeadLetterFile;
  capture: CaptureWriter | null = null;
  stream: MarketStream | null = null;
  oi: OiPoller | null = null;

  private readonly clock: () => number;
  private readonly rest: RestClient;
  private readonly audit: AuditTrail;
  private readonly abort = new AbortController();
  private readonly startedMs: number;
  private readonly trades = new RateMeter();
  private readonly liqs = new RateMeter();
  private readonly klines = new RateMeter();
  private readonly heap = new HeapLiveSampler();
  private lastKlineTotal = 0;
  private lastTradeRecvMs: number | null = null;
  private pending: Frame[] = [];
  private bootSeq = 0;
  private commitTimer: NodeJS.Timeout | null = null;
  private fileTimer: NodeJS.Timeout | null = null;
  private heapProbeTimer: NodeJS.Timeout | null = null;
  private fatal: { reason: ReasonCode; detail: string } | null = null;
  private silent = new Set<string>();
  private symbolsUnavailable: string | null = null;
  private writingSnapshot = false;
  /** The snapshot-file write in progress (or the last one). */
  private snapshotWrite: Promise<void> = Promise.resolve();
  private stopped = false;
  private warmAnnounced = new Set<string>();
  /** The last published snapshot, boot phase included, for the support file. */
  lastSnapshot: Snapshot | null = null;

  constructor(private readonly opts: CollectorOptions) {
    this.clock = opts.clock ?? Date.now;
    this.startedMs = this.clock();
    this.ops = defaultOps(opts.runId, opts.config.mode);
    const dir = opts.config.debugDir;
    this.deadLetters = new DeadLetterFile(join(dir, 'dead_letters.jsonl'));
    this.audit = new AuditTrail(join(dir, 'audit.jsonl'), opts.runId, this.clock, () => this.ops.stage);
    this.rest = new RestClient({
      baseUrl: opts.config.restUrl,
      clock: this.clock,
      tcpKeepAlive: opts.config.tcpKeepAlive,
      onBody: (source, text, recv) => this.onFrame(text, recv, source),
    });
  }

  private say(message: string): void {
    this.opts.console?.(consoleLine(Date.now(), message));
  }

  private setStage(stage: StageName, detail: string): void {
    if (this.ops.stage === stage) return;
    this.ops.stage = stage;
    this.say(`stage ${stage}${detail ? ` — ${detail}` : ''}`);
    this.opts.logger.info({ stage, detail }, 'stage changed');
    this.audit.record({ event_type: 'STAGE_CHANGED', payload: { stage, detail } });
  }

  /** Start everything; resolves once streams are started (symbol selection may retry for a while). */
  async start(): Promise<void> {
    this.say(`MARKET EVENT COLLECTOR - Peak Pressure Infrastructure (run ${this.opts.runId})`);
    this.say(`REST ${this.opts.config.restUrl}  WS ${this.opts.config.wsUrl}/market`);
    this.commitTimer = setInterval(() => this.commit(), this.opts.config.commitIntervalMs);
    this.fileTimer = setInterval(() => void this.writeSnapshotFile(), this.opts.config.snapshotFileIntervalMs);
    if (this.opts.config.heapProbeIntervalMs > 0) {
      if (this.heap.probe()) this.heapProbeTimer = setInterval(() => this.heap.probe(), this.opts.config.heapProbeIntervalMs);
      else
        this.opts.logger.warn(
          { heapProbeIntervalMs: this.opts.config.heapProbeIntervalMs },
          'heap probe requested but gc is not exposed: start node with --expose-gc',
        );
    }
    this.commit();
    this.setStage('SYMBOL_SELECT', 'fetching exchangeInfo and the 24h ticker');
    let sel: SymbolSelection;
    try {
      sel = await selectSymbols(this.rest, {
        ...(this.opts.config.symbols ? { fixed: this.opts.config.symbols } : {}),
        signal: this.abort.signal,
        sleep: (ms) => this.sleep(ms),
        onAttemptFailed: (what, err, attempt, delay) => {
          this.symbolsUnavailable = `${what} failed (attempt ${attempt}): ${err.message}; retrying in ${Math.round(delay / 1000)} s`;
          this.opts.logger.warn({ what, attempt, delay, err: err.message }, 'symbol selection attempt failed');
          if (attempt === 1 || attempt % 10 === 0) this.say(`cannot reach the exchange: ${this.symbolsUnavailable}`);
        },
      });
    } catch (e) {
      if (this.stopped) return;
      throw e;
    }
    if (this.stopped) return;
    this.symbolsUnavailable = null;
    this.selection = sel;
    this.say('[SYMBOL CONFIG] Fetched TOP 10 symbols by 24h volume:');
    for (const line of formatRanking(sel)) this.say(`  ${line}`);
    if (sel.fallbackUsed) this.say(`SYMBOLS_FALLBACK_USED: ${sel.fallbackReason ?? ''}`);
    this.audit.record({
      event_type: 'SYMBOLS_SELECTED',
      reasons: sel.fallbackUsed ? ['SYMBOLS_FALLBACK_USED'] : [],
      payload: { symbols: sel.symbols, ranked: sel.ranked, fallback_reason: sel.fallbackReason },
    });

    this.engine = new Engine({ symbols: sel.symbols, klineSource: RULES.KLINE_SOURCE });
    this.pipeline = new FramePipeline(binanceUsdm, this.engine, (d) => this.deadLetters.write(d));
    this.ops.precisions = sel.precisions;
    this.state = new SystemState(this.engine, this.opts.runId, this.opts.config.mode, {
      carry: { ops: this.ops, seq: this.bootSeq },
      frames: this.pipeline.counters,
    });
    this.say('[NATIVE APP] SystemState initialized with TOP_10 symbols');

    if (this.opts.config.capture.enabled) {
      this.capture = new CaptureWriter({
        dir: this.opts.config.capture.dir,
        runId: this.opts.runId,
        header: { run_id: this.opts.runId, symbols: sel.symbols, started_ms: this.startedMs, mode: this.opts.config.mode },
        maxFileBytes: this.opts.config.capture.maxFileBytes,
        maxTotalBytes: this.opts.config.capture.maxTotalBytes,
        onError: (e) => this.opts.logger.error({ err: e.message }, 'capture write failed'),
      });
      this.say(`capture recording to ${this.capture.currentFile ?? ''}`);
    }
    // Bodies received during selection go through the engine (and the capture) in arrival order.
    const early = this.pending;
    this.pending = [];
    for (const f of early) this.ingest(f);

    this.setStage('CONNECT_STREAMS', `${sel.symbols.length} symbols`);
    const streams = binanceUsdm.subscriptions(sel.symbols, { markPrice: this.opts.config.markPrice });
    this.stream = new MarketStream({
      wsUrl: this.opts.config.wsUrl,
      streams,
      clock: this.clock,
      silenceLimitMs,
      staleAfterMs: this.opts.config.staleAfterMs,
      rotateAfterMs: this.opts.config.rotateAfterMs,
      onFrame: (text, recv, source) => this.onFrame(text, recv, source),
      onBadFrame: (reason, recv, source, raw) => this.reject(reason, recv, source, raw),
      onStateChange: (s, detail) => {
        this.opts.logger.info({ ws_state: s, detail }, 'market stream state');
        if (s === 'OPEN') {
          this.audit.record({ event_type: 'WS_CONNECTED', payload: { url: this.stream?.url ?? '' } });
          this.say(`market stream connected (${streams.length} streams)`);
          this.silent.clear();
        } else if (s === 'RECONNECTING') {
          this.audit.record({ event_type: 'WS_DISCONNECTED', reasons: ['WS_RECONNECTING'], payload: { detail } });
          this.say(`market stream ${detail}`);
        }
      },
      onSilentStream: (name, ms) => {
        this.silent.add(name);
        this.opts.logger.warn({ stream: name, silent_ms: ms }, 'subscribed stream delivers no data');
        this.say(`stream ${name} acknowledged but silent for ${Math.round(ms / 1000)} s`);
      },
    });
    this.stream.start();
    this.oi = new OiPoller(this.rest, {
      symbols: sel.symbols,
      intervalMs: this.opts.config.oiPollIntervalMs,
      timeoutMs: this.opts.config.oiTimeoutMs,
      clock: this.clock,
      onError: (symbol, err) => {
        this.opts.logger.warn({ symbol, kind: err.kind, status: err.status, err: err.message }, 'OI poll failed');
        if (this.oi && (this.oi.errors === 1 || this.oi.errors % 50 === 0)) {
          this.audit.record({
            event_type: 'OI_POLL_FAILED',
            symbol,
            payload: { kind: err.kind, status: err.status, message: err.message, errors: this.oi.errors },
          });
        }
      },
    });
    this.oi.start();
    this.setStage('WARMUP', 'baselines need 60 non-empty 1 s windows per symbol');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Every received frame (WS text or REST body). */
  private onFrame(text: string, recv: number, source: string): void {
    const frame: Frame = { recv_ms: recv, source, text };
    if (this.engine === null) {
      this.pending.push(frame);
      return;
    }
    this.ingest(frame);
  }

  private ingest(frame: Frame): void {
    if (this.fatal !== null || this.engine === null || this.pipeline === null) return;
    this.capture?.write(frame);
    try {
      const r = this.pipeline.ingest(frame);
      // Rates count what the observer watches: events of the 10 symbols, not the whole market feed.
      if (r.kind === 'event' && this.engine.detector(r.event.symbol) !== undefined) {
        if (r.event.type === 'TRADE') {
          this.trades.add(frame.recv_ms);
          this.lastTradeRecvMs = frame.recv_ms;
        } else if (r.event.type === 'LIQUIDATION') this.liqs.add(frame.recv_ms);
      }
      for (const e of this.engine.takeNewPromotions()) {
        this.opts.logger.info({ event_id: e.event_id, symbol: e.symbol, stress: e.stress_sources }, 'peak pressure event promoted');
        this.audit.record({ event_type: 'PEAK_PRESSURE_PROMOTED', symbol: e.symbol, severity: 'INFO', payload: e as unknown as Record<string, unknown> });
        this.say(`PEAK PRESSURE ${e.symbol} ${e.dominant_side} at ${new Date(e.window_end_ms).toISOString()} (stress: ${e.stress_sources.join(', ')})`);
      }
    } catch (e) {
      const reason: ReasonCode = e instanceof InvariantError ? e.reason : 'DETECTOR_EXCEPTION';
      const detail = `${(e as Error).message}. Detection stopped to protect correctness; the capture up to here replays the fault. Restart the app; report the capture and debug/latest_snapshot.json.`;
      this.fail(reason, detail);
    }
  }

  /** A frame the socket itself refused (binary, oversized): counted and dead-lettered like the rest. */
  private reject(reason: string, recv: number, source: string, raw: string): void {
    const letter = { recv_ms: recv, source, reason, raw };
    // Before symbol selection there is no pipeline to count it; the dead letter is written either way.
    if (this.pipeline) this.pipeline.reject(letter);
    else this.deadLetters.write(letter);
  }

  private fail(reason: ReasonCode, detail: string): void {
    if (this.fatal) return;
    this.fatal = { reason, detail };
    this.opts.logger.fatal({ reason, detail }, 'collector failed');
    this.audit.record({ event_type: 'ALERT_RAISED', severity: 'CRIT', reasons: [reason], payload: { detail } });
    this.say(`FAILED (${reason}): ${detail}`);
    this.commit();
  }

  private commit(): void {
    const now = this.clock();
    const ops = this.ops;
    if (this.engine) {
      let totalKlines = 0;
      for (const d of this.engine.detectorsInRankOrder) totalKlines += d.counters.klines;
      if (totalKlines > this.lastKlineTotal) this.klines.add(now, totalKlines - this.lastKlineTotal);
      this.lastKlineTotal = totalKlines;
      for (const d of this.engine.detectorsInRankOrder) {
        if (d.warm && !this.warmAnnounced.has(d.symbol)) {
          this.warmAnnounced.add(d.symbol);
          this.audit.record({ event_type: 'BASELINE_WARM', symbol: d.symbol });
        }
      }
    }
    ops.rates = {
      trades_rate: round1(this.trades.perSecond(now)),
      liquidations_rate: round1(this.liqs.perMinute(now)),
      klines_rate: round1(this.klines.perSecond(now)),
      oi_rate: round1(this.oi ? this.oi.polls.perMinute(now) : 0),
    };
    if (this.stream) {
      ops.streams = {
        ws_state: this.stream.state,
        url: this.stream.url,
        reconnects: this.stream.reconnects,
        last_msg_ms: this.stream.lastMsgMs,
        per_stream: Object.fromEntries([...this.stream.perStream].map(([k, v]) => [k, { ...v }])),
      };
      for (const [name, st] of this.stream.perStream) if (st.state === 'FLOWING') this.silent.delete(name);
    }
    if (this.oi) {
      ops.oi_polling = {
        state: this.oi.state,
        polls_per_min: ops.rates.oi_rate,
        errors: this.oi.errors,
        last_error: this.oi.lastError,
        backoff_until_ms: this.oi.pausedUntil > Date.now() ? this.oi.pausedUntil : null,
        used_weight_1m: this.rest.usedWeight1m,
      };
    }
    ops.dead_letters = this.deadLetters.written;
    // Inside the worker: rss is the whole process, the heap figures are this thread's isolate.
    const mem = process.memoryUsage();
    ops.process = {
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      heap_total_bytes: mem.heapTotal,
      external_bytes: mem.external,
      array_buffers_bytes: mem.arrayBuffers,
      heap_live_bytes: this.heap.liveBytes,
      heap_live_method: this.heap.method,
      major_gcs: this.heap.majorGcs,
    };
    const verdict = evaluateHealth({
      nowMs: now,
      startedMs: this.startedMs,
      fatal: this.fatal,
      wsState: this.stream?.state ?? 'IDLE',
      lastTradeRecvMs: this.lastTradeRecvMs,
      tradesPerSecond: this.trades.perSecond(now),
      klineSource: RULES.KLINE_SOURCE,
      klinesPerSecond: this.klines.perSecond(now),
      oiLastSuccessMs: this.oi ? this.oi.lastSuccessMs : {},
      silentStreams: [...this.silent],
      restBlock: this.oi?.block ?? null,
      symbolsFallback: this.selection?.fallbackUsed ?? false,
      symbolsUnavailable: this.symbolsUnavailable,
    });
    // A deliberate shutdown closes the stream; that is not a health problem to report.
    if (!this.stopped) this.applyHealth(verdict.state, verdict.reasons, verdict.detail);
    if (this.engine && this.ops.stage === 'WARMUP' && this.engine.detectorsInRankOrder.every((d) => d.warm)) {
      this.setStage('OBSERVE', 'all baselines warm');
    }
    const snap = this.state ? this.state.commit(now) : bootSnapshot(ops, ++this.bootSeq, now);
    this.lastSnapshot = snap;
    try {
      this.opts.publish(snap);
    } catch (e) {
      this.opts.logger.error({ err: (e as Error).message }, 'publishing a snapshot failed');
    }
  }

  private applyHealth(state: HealthState, reasons: ReasonCode[], detail: string): void {
    const ops = this.ops;
    const changed = ops.health_state !== state || ops.health_reasons.join() !== reasons.join();
    ops.health_state = state;
    ops.health_reasons = reasons;
    ops.health_detail = detail;
    if (!changed) return;
    this.opts.logger.info({ health: state, reasons, detail }, 'health changed');
    this.audit.record({
      event_type: 'HEALTH_CHANGED',
      reasons,
      severity: state === 'FAILED' ? 'CRIT' : state === 'DEGRADED' ? 'WARN' : 'INFO',
      payload: { state, detail },
    });
    this.say(`health ${state}${reasons.length ? ` (${reasons.join(', ')})` : ''}${detail ? ` — ${detail}` : ''}`);
    if (state === 'DEGRADED' && (ops.stage === 'OBSERVE' || ops.stage === 'WARMUP')) this.setStage('DEGRADED', reasons.join(', '));
    else if (state === 'OK' && ops.stage === 'DEGRADED')
      this.setStage(this.engine?.detectorsInRankOrder.every((d) => d.warm) ? 'OBSERVE' : 'WARMUP', 'recovered');
  }

  /** The full snapshot (raw buffers included) as `debug/latest_snapshot.json`. */
  async writeSnapshotFile(): Promise<void> {
    if (this.writingSnapshot) return;
    const snap = this.lastSnapshot;
    if (!snap) return;
    this.writingSnapshot = true;
    const write = this.writeSnapshotNow(snap);
    this.snapshotWrite = write;
    await write;
  }

  private async writeSnapshotNow(snap: Snapshot): Promise<void> {
    try {
      await writeFileAtomic(join(this.opts.config.debugDir, 'latest_snapshot.json'), `${JSON.stringify(snap, null, 2)}\n`);
    } catch (e) {
      this.opts.logger.error({ err: (e as Error).message }, 'snapshot write failed');
      this.audit.record({ event_type: 'SNAPSHOT_WRITE_FAILED', severity: 'WARN', payload: { message: (e as Error).message } });
    } finally {
      this.writingSnapshot = false;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.setStage('SHUTDOWN', 'stop requested');
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (this.fileTimer) clearInterval(this.fileTimer);
    if (this.heapProbeTimer) clearInterval(this.heapProbeTimer);
    this.heap.stop();
    this.oi?.stop();
    await this.stream?.stop();
    // REST answers still in flight go through the engine and the capture before the last commit,
    // so the final snapshot counts every frame the capture holds.
    await this.rest.close();
    this.commit();
    // A periodic write may be under way with an older snapshot: let it finish, then write the last.
    await this.snapshotWrite;
    await this.writeSnapshotFile();
    await this.capture?.close();
    await this.audit.close();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

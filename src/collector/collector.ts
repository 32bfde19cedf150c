/**
 * The live collector, as a small shell that wires its parts and owns its timers:
 *
 *   startup.ts     symbol selection, then the run's parts (engine, capture, market session, OI)
 *   intake.ts      every frame: capture, engine (the same call replay makes), dead letters
 *   operations.ts  per-commit operational state (rates, streams, OI, memory) and health inputs
 *   health.ts      the verdict and its application;  stage.ts  the stage machine (pure)
 *   report.ts      one fan-out of every note to console, pino log and audit trail
 *
 * Every `commitIntervalMs` the shell stages operations, applies health, moves the stage and
 * commits a snapshot. All time comes from the one injected clock.
 *
 * Runs inside the collector worker thread (src/app/worker.ts); tests also run it in-process.
 */
import { join } from 'node:path';
import type { SymbolSelection } from '../binance/symbols';
import { DeadLetterFile } from '../capture/dead-letter';
import { type Clock, machineMs, type Timer, wallClock } from '../clock/clock';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { Snapshot } from '../core/contracts/snapshot';
import type { HealthState, ReasonCode, StageName } from '../core/contracts/vocabulary';
import type { EngineCounters } from '../core/engine';
import type { FrameCounters } from '../core/pipeline';
import type { SymbolDetector } from '../core/symbol-detector';
import { bootSnapshot, defaultOps, type OpsStaging } from '../core/system-state';
import { AuditTrail } from './audit';
import type { CollectorConfig } from './config';
import { applyVerdict, evaluateHealth } from './health';
import { HeapLiveSampler } from './heap-live';
import { FrameIntake } from './intake';
import type { Logger } from './log';
import { Operations } from './operations';
import { type Note, Reporter } from './report';
import { RestClient } from './rest';
import { writeFileAtomic } from './snapshot-file';
import { nextStage, type StageInput } from './stage';
import { openRun, resolveSymbols, type Run, type StartupContext } from './startup';
import type { StreamStatus } from './ws-session';

export interface CollectorOptions {
  config: CollectorConfig;
  runId: string;
  logger: Logger;
  /** Time, timers and jitter for everything the collector does (default: the wall clock). */
  clock?: Clock;
  /** Every commit's snapshot (the worker posts a display-trimmed copy to the UI). */
  publish: (snapshot: Snapshot) => void;
  /** Short human lines for stage and health changes. */
  console?: (line: string) => void;
}

/** The collector's operational state right now (between commits too). */
export interface CollectorStats {
  stage: StageName;
  health: { state: HealthState; reasons: readonly ReasonCode[]; detail: string };
  selection: SymbolSelection | null;
  market: {
    state: Snapshot['streams']['ws_state'];
    url: string;
    reconnects: number;
    lastMsgMs: number | null;
    /** Messages received on any connection (data, control replies, refused frames, a retiring connection's). */
    received: number;
    streams: Record<string, StreamStatus>;
  } | null;
  oi: {
    state: Snapshot['oi_polling']['state'];
    errors: number;
    lastError: string | null;
    lastSuccessMs: Readonly<Record<string, number | null>>;
    /** Successful polls in the trailing minute, the current second included. */
    polls: number;
    backoffUntilMs: number | null;
  } | null;
  /** REST responses received (any status) and the exchange's used-weight figure. */
  rest: { answered: number; usedWeight1m: number | null };
  capture: { frames: number; refused: number; files: readonly string[] } | null;
  deadLetters: number;
}

/** What detection has counted so far (null before the symbols are known). */
export interface CollectorCounters {
  /** The frame pipeline's outcome counters and the engine's own (allow-list, gap resets). */
  frames: FrameCounters & EngineCounters;
  /** In rank order. `buffered`: rows held in the bounded raw buffers. */
  symbols: { symbol: string; counters: SymbolDetector['counters']; buffered: { trades: number; liquidations: number } }[];
  watermarkMs: number | null;
}

export class Collector {
  private readonly clock: Clock;
  private readonly ops: OpsStaging;
  private readonly rest: RestClient;
  private readonly audit: AuditTrail;
  private readonly reporter: Reporter;
  private readonly deadLetters: DeadLetterFile;
  private readonly intake: FrameIntake;
  private readonly operations = new Operations();
  private readonly heap = new HeapLiveSampler();
  private readonly abort = new AbortController();
  private readonly startedMs: number;
  private readonly timers: Timer[] = [];
  private run: Run | null = null;
  private selection: SymbolSelection | null = null;
  private symbolsUnavailable: string | null = null;
  private bootSeq = 0;
  private lastSnapshot: Snapshot | null = null;
  /** Snapshot-file writes, one after the other: the last one queued. */
  private snapshotWrite: Promise<void> = Promise.resolve();
  private snapshotWritesPending = 0;
  private stopped = false;

  constructor(private readonly opts: CollectorOptions) {
    this.clock = opts.clock ?? wallClock;
    this.startedMs = this.clock.now();
    this.ops = defaultOps(opts.runId, opts.config.mode);
    const dir = opts.config.debugDir;
    this.deadLetters = new DeadLetterFile(join(dir, 'dead_letters.jsonl'));
    this.audit = new AuditTrail(
      join(dir, 'audit.jsonl'),
      opts.runId,
      () => this.clock.now(),
      () => this.ops.stage,
    );
    this.reporter = new Reporter({ clock: this.clock, logger: opts.logger, audit: this.audit, ...(opts.console ? { console: opts.console } : {}) });
    this.intake = new FrameIntake({
      operations: this.operations,
      reporter: this.reporter,
      onFatal: (reason, detail) => {
        this.report({ kind: 'fatal', reason, detail });
        this.commit();
      },
    });
    this.rest = new RestClient({
      baseUrl: opts.config.restUrl,
      clock: this.clock,
      tcpKeepAlive: opts.config.tcpKeepAlive,
      onBody: (source, text, recv) => this.intake.frame(text, recv, source),
    });
  }

  private report(note: Note): void {
    this.reporter.report(note);
  }

  private advance(input: StageInput): void {
    const change = nextStage(this.ops.stage, input);
    if (change === null) return;
    this.ops.stage = change.stage;
    this.report({ kind: 'stage', ...change });
  }

  /** Start everything; resolves once streams are started (symbol selection may retry for a while). */
  async start(): Promise<void> {
    const { config, runId } = this.opts;
    this.report({ kind: 'banner', runId, restUrl: config.restUrl, wsUrl: config.wsUrl });
    this.timers.push(this.clock.every(machineMs(this.clock, config.commitIntervalMs), () => this.commit()));
    // The periodic write skips a beat while one is under way, so a slow disk never queues writes up.
    this.timers.push(
      this.clock.every(machineMs(this.clock, config.snapshotFileIntervalMs), () => {
        if (this.snapshotWritesPending === 0) void this.writeSnapshotFile();
      }),
    );
    if (config.heapProbeIntervalMs > 0) {
      if (this.heap.probe()) this.timers.push(this.clock.every(machineMs(this.clock, config.heapProbeIntervalMs), () => this.heap.probe()));
      else this.report({ kind: 'heap_probe_unavailable', intervalMs: config.heapProbeIntervalMs });
    }
    this.commit();
    this.advance({ kind: 'start' });
    const ctx: StartupContext = {
      config,
      runId,
      clock: this.clock,
      rest: this.rest,
      reporter: this.reporter,
      intake: this.intake,
      operations: this.operations,
      deadLetters: this.deadLetters,
      signal: this.abort.signal,
    };
    let sel: SymbolSelection;
    try {
      sel = await resolveSymbols(ctx, (why) => {
        this.symbolsUnavailable = why;
      });
    } catch (e) {
      if (this.stopped) return;
      throw e;
    }
    if (this.stopped) return;
    this.symbolsUnavailable = null;
    this.selection = sel;
    const run = openRun(ctx, sel, { ops: this.ops, seq: this.bootSeq, startedMs: this.startedMs });
    this.run = run;
    this.advance({ kind: 'symbols_selected', symbols: sel.symbols.length });
    run.market.start();
    run.oi.start();
    this.advance({ kind: 'streams_started' });
  }

  private commit(): void {
    const now = this.clock.now();
    const run = this.run;
    const { health, newlyWarm } = this.operations.commit(
      now,
      this.ops,
      { engine: run?.engine ?? null, market: run?.market ?? null, oi: run?.oi ?? null, rest: this.rest, deadLetters: this.deadLetters, heap: this.heap },
      {
        startedMs: this.startedMs,
        fatal: this.intake.fatal,
        symbolsFallback: this.selection?.fallbackUsed ?? false,
        symbolsUnavailable: this.symbolsUnavailable,
      },
    );
    for (const symbol of newlyWarm) this.report({ kind: 'baseline_warm', symbol });
    // A deliberate shutdown closes the stream; that is not a health problem to report.
    if (!this.stopped) {
      const verdict = evaluateHealth(health);
      const healthChanged = applyVerdict(this.ops, verdict);
      if (healthChanged) this.report({ kind: 'health', ...verdict });
      const allWarm = run !== null && run.engine.detectorsInRankOrder.every((d) => d.warm);
      this.advance({ kind: 'commit', health: verdict.state, reasons: verdict.reasons, healthChanged, allWarm });
    }
    const snap = run ? run.state.commit(now) : bootSnapshot(this.ops, ++this.bootSeq, now);
    this.lastSnapshot = snap;
    try {
      this.opts.publish(snap);
    } catch (e) {
      this.report({ kind: 'publish_failed', message: (e as Error).message });
    }
  }

  /**
   * Write the newest snapshot (raw buffers included) as `debug/latest_snapshot.json`; resolves
   * once written. A write under way finishes first (it may hold an older snapshot).
   */
  async writeSnapshotFile(): Promise<void> {
    this.snapshotWritesPending++;
    const write = this.snapshotWrite.then(() => this.writeSnapshotNow()).finally(() => this.snapshotWritesPending--);
    this.snapshotWrite = write;
    await write;
  }

  private async writeSnapshotNow(): Promise<void> {
    const snap = this.lastSnapshot;
    if (!snap) return;
    try {
      await writeFileAtomic(join(this.opts.config.debugDir, 'latest_snapshot.json'), `${JSON.stringify(snap, null, 2)}\n`, { clock: this.clock });
    } catch (e) {
      this.report({ kind: 'snapshot_write_failed', message: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.advance({ kind: 'stop' });
    for (const t of this.timers) t.cancel();
    this.heap.stop();
    this.run?.oi.stop();
    await this.run?.market.stop();
    // REST answers still in flight go through the engine and the capture before the last commit,
    // so the final snapshot counts every frame the capture holds.
    await this.rest.close();
    this.commit();
    // Queued after any periodic write under way, so the file ends with the last snapshot.
    await this.writeSnapshotFile();
    await this.run?.capture?.close();
    // Dead letters are written off the hot path: what is still queued goes to disk now.
    await this.deadLetters.close();
    await this.audit.close();
  }

  // ---- read API (tests, benchmarks, support); copies, never the live objects ----

  /** The last published snapshot, boot phase included. */
  snapshot(): Snapshot | null {
    return this.lastSnapshot;
  }

  stats(): CollectorStats {
    const run = this.run;
    const m = run?.market;
    const oi = run?.oi;
    return {
      stage: this.ops.stage,
      health: { state: this.ops.health_state, reasons: [...this.ops.health_reasons], detail: this.ops.health_detail },
      selection: this.selection,
      market: m
        ? {
            state: m.state,
            url: m.url,
            reconnects: m.reconnects,
            lastMsgMs: m.lastMsgMs,
            received: m.received,
            streams: Object.fromEntries([...m.perStream].map(([k, v]) => [k, { ...v }])),
          }
        : null,
      oi: oi
        ? {
            state: oi.state,
            errors: oi.errors,
            lastError: oi.lastError,
            lastSuccessMs: { ...oi.lastSuccessMs },
            polls: oi.polls.total(this.clock.now() + 1000),
            backoffUntilMs: oi.backoffUntilMs,
          }
        : null,
      rest: { answered: this.rest.answered, usedWeight1m: this.rest.usedWeight1m },
      capture: run?.capture ? { frames: run.capture.frames, refused: run.capture.refused, files: [...run.capture.files] } : null,
      deadLetters: this.deadLetters.written,
    };
  }

  counters(): CollectorCounters | null {
    const run = this.run;
    if (!run) return null;
    const e = run.engine;
    return {
      frames: structuredClone({ ...run.pipeline.counters, ...e.counters }),
      symbols: e.detectorsInRankOrder.map((d) => ({
        symbol: d.symbol,
        counters: { ...d.counters },
        buffered: { trades: d.rawTrades.length, liquidations: d.rawLiquidations.length },
      })),
      watermarkMs: e.watermark,
    };
  }

  /** Promoted events kept so far (the bounded panel ring), oldest first. */
  promotions(): PromotedEvent[] {
    return this.run?.engine.promotions.toArray() ?? [];
  }
}

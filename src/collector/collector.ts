/**
 * The live collector, as a small shell that wires its parts and owns its timers:
 *
 *   startup.ts     symbol selection, then the run's parts (engine, capture, market and depth sessions, snapshots, OI)
 *   warm-start.ts  the REST backfill of the last minutes (SPEC §20), bracketed by marker frames
 *   intake.ts      every frame: capture, engine (the same call replay makes), dead letters
 *   operations.ts  per-commit operational state (rates, streams, OI, memory) and health inputs
 *   health.ts      the verdict and its application;  stage.ts  the stage machine (pure)
 *   report.ts      one fan-out of every note to console, pino log and audit trail
 *   event-record.ts  the event store; an event is shown only once stored
 *   alerting.ts    alerts on promotions, critical health and store faults, to every channel
 *   counter-samples.ts  when to sample the counters and when a UTC day ended
 *   checkups.ts    the doctor's checks at boot (stage DOCTOR_CHECKS) and the periodic disk reading
 *
 * Every `commitIntervalMs` the shell stages operations, commits the new events (and audit and
 * alert rows) to the store, applies health, moves the stage, alerts, and commits a snapshot —
 * in that order, so a snapshot never shows an event the store does not hold. All time comes from
 * the one injected clock.
 *
 * Runs inside the collector worker thread (src/app/worker.ts); tests also run it in-process.
 */
import { join } from 'node:path';
import { auditChannel, type AlertChannel, consoleChannel, storeChannel } from '../alerts/channels';
import type { OrderBook } from '../binance/book/order-book';
import type { ClosedWindow } from '../core/symbol-detector';
import { type WindowRow, windowRowOf } from '../sinks/window-row';
import { SymbolConfigError, type SymbolSelection } from '../binance/symbols';
import { DeadLetterFile } from '../capture/dead-letter';
import { type Clock, machineMs, type Timer, wallClock } from '../clock/clock';
import { RULE_SET_ID, RULE_SET_VERSION } from '../core/constants';
import type { Alert } from '../core/contracts/alert';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { SinkStatus } from '../core/contracts/sink-status';
import type { Snapshot } from '../core/contracts/snapshot';
import type { HealthState, ReasonCode, StageName } from '../core/contracts/vocabulary';
import type { EngineCounters } from '../core/engine';
import type { FrameCounters } from '../core/pipeline';
import type { SymbolDetector } from '../core/symbol-detector';
import { bootSnapshot, defaultOps, type OpsStaging } from '../core/system-state';
import { WARM_START_SOURCE } from '../core/warm-start';
import { redactUrl, safeMessage } from '../text/safe';
import type { DoctorIo } from '../doctor/checks';
import { realDoctorIo } from '../doctor/io';
import { buildDailySummary } from '../store/daily-summary';
import { type StoreFault, storeReasonCode } from '../store/faults';
import type { History } from '../store/history';
import { APP_VERSION, configHash } from '../store/run-info';
import { Alerting } from './alerting';
import { AuditTrail } from './audit';
import { Checkups, DISK_CHECK_EVERY_MS } from './checkups';
import type { CollectorConfig } from './config';
import { countersSample, SampleSchedule } from './counter-samples';
import { EventRecord } from './event-record';
import { applyVerdict, evaluateHealth, HEALTH } from './health';
import type { WorkerRestart } from '../ipc/messages';
import type { CaptureTuning } from '../capture/writer';
import { HeapLiveSampler } from './heap-live';
import { FrameIntake } from './intake';
import { consoleLine, type Logger } from './log';
import { Operations } from './operations';
import { type Note, Reporter } from './report';
import { RestClient } from './rest';
import { markUncleanEnd, removeStaleSnapshotTemps, writeFileAtomic } from './snapshot-file';
import { nextStage, type StageInput } from './stage';
import { openRun, resolveSymbols, type Run, type StartupContext } from './startup';
import { runWarmStart, warmStartCondition } from './warm-start';
import type { StreamStatus } from './ws-session';

export interface CollectorOptions {
  config: CollectorConfig;
  runId: string;
  logger: Logger;
  /** Time, timers and jitter for everything the collector does (default: the wall clock). */
  clock?: Clock;
  /** Every commit's snapshot (the worker posts a display-trimmed copy to the UI). */
  publish: (snapshot: Snapshot) => void;
  /** Short human lines for stage and health changes, and alerts. */
  console?: (line: string) => void;
  /** Highlight alert lines with ANSI colours (a terminal reads `console`). */
  consoleColor?: boolean;
  /** Every alert, for the window's channels (toast, tray, sound); console, audit and store get it anyway. */
  onAlert?: (alert: Alert) => void;
  /** The doctor's effects on the world (default: the real ones; tests replace statfs or a probe). */
  doctorIo?: DoctorIo;
  /** The scale-out sinks (SPEC §22, src/app/scale-out.ts), when `--sink` asked for any. */
  sinks?: CollectorSinks;
  /** Set when the host started this collector's worker in place of one that crashed. */
  restart?: WorkerRestart;
  /** Snapshots the worker's mailbox to the window coalesced (src/ipc/mailbox.ts), for the snapshot's `queues`. */
  uiSnapshotsCoalesced?: () => number;
  /** The capture's backlog bound and disk stage (tests: a stalling disk); default CAPTURE_MAX_BACKLOG_BYTES and the file itself. */
  captureTuning?: CaptureTuning;
}

/** What the collector asks of the sinks at each commit; none of it blocks or throws. */
export interface CollectorSinks {
  /** For the snapshot's `sinks` section. */
  status(): readonly SinkStatus[];
  /** SINK_DEGRADED while a sink fails (merged into the health verdict). */
  health(): { reasons: ReasonCode[]; detail: string };
  /** This commit's rows are in the store: deliver them now rather than at the next idle poll. */
  nudge(): void;
  /** Present when a sink takes closed windows (`?windows=1`): each commit's windows, handed over without waiting. */
  windows?(rows: readonly WindowRow[]): void;
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
  /** The /public depth connection (books); null without books. `received` as for `market`. */
  depth: { state: Snapshot['streams']['ws_state']; reconnects: number; received: number } | null;
  /** REST responses received (any status) and the exchange's used-weight figure. */
  rest: { answered: number; usedWeight1m: number | null };
  /** notCaptured: frames received but not captured (backlog full), in `gaps` marked gaps; backlogBytes: waiting for gzip and the disk. */
  /** partsRemoved/framesRemoved: what the total cap deleted (framesRemoved: this run's parts' frames). */
  capture: {
    frames: number;
    refused: number;
    notCaptured: number;
    /** Frames handed to the capture after its close (a bug in the stop order if ever above 0). */
    lateFrames: number;
    gaps: number;
    backlogBytes: number;
    files: readonly string[];
    partsRemoved: number;
    framesRemoved: number;
  } | null;
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
  private readonly record: EventRecord;
  private readonly alerts: Alerting;
  private readonly samples: SampleSchedule;
  private readonly checkups: Checkups;
  private readonly reporter: Reporter;
  private readonly deadLetters: DeadLetterFile;
  private readonly intake: FrameIntake;
  private readonly operations = new Operations();
  private readonly heap = new HeapLiveSampler();
  private readonly abort = new AbortController();
  private readonly startedMs: number;
  private readonly timers: Timer[] = [];
  private run: Run | null = null;
  /** Closed windows since the last commit, for a sink that takes them (empty otherwise; bounded by the commit cadence). */
  private readonly windowRows: WindowRow[] = [];
  private selection: SymbolSelection | null = null;
  private symbolsUnavailable: string | null = null;
  /** Why the run cannot go on (start failed, the worker crashed); detection's own failures are the intake's. */
  private failure: { reason: ReasonCode; detail: string } | null = null;
  private lastTimedCommitMs: number | null = null;
  private ingestLagMs = 0;
  private bootSeq = 0;
  private lastSnapshot: Snapshot | null = null;
  /** Snapshot-file writes, one after the other: the last one queued. */
  private snapshotWrite: Promise<void> = Promise.resolve();
  private snapshotWritesPending = 0;
  private stopped = false;
  /** The warm start under way (resolves once its end marker went in); null when none runs. */
  private warmStartTask: Promise<void> | null = null;

  constructor(private readonly opts: CollectorOptions) {
    this.clock = opts.clock ?? wallClock;
    this.startedMs = this.clock.now();
    this.ops = defaultOps(opts.runId, opts.config.mode);
    const r = opts.restart;
    this.ops.worker = {
      restarts: r?.count ?? 0,
      restarts_in_window: r?.in_window ?? 0,
      max_restarts: r?.max ?? opts.config.worker.maxRestarts,
      last_exit:
        r === undefined
          ? null
          : { run_id: r.previous_run_id, reason: r.reason, detail: r.detail, exit_code: r.exit_code, exited_ms: r.exited_ms, backoff_ms: r.backoff_ms },
    };
    const dir = opts.config.debugDir;
    this.deadLetters = new DeadLetterFile(join(dir, 'dead_letters.jsonl'));
    // Opened first: a store that cannot be used is a health reason and an alert, never a crash.
    this.record = new EventRecord(opts.config.store, this.clock);
    const store = this.record.store;
    this.audit = new AuditTrail(
      join(dir, 'audit.jsonl'),
      opts.runId,
      () => this.clock.now(),
      () => this.ops.stage,
      (envelope) => store.queueAudit(envelope),
    );
    this.reporter = new Reporter({ clock: this.clock, logger: opts.logger, audit: this.audit, ...(opts.console ? { console: opts.console } : {}) });
    const out = opts.console;
    const channels: AlertChannel[] = [
      ...(out ? [consoleChannel(out, { color: opts.consoleColor ?? false, format: consoleLine })] : []),
      auditChannel(this.audit),
      storeChannel(store),
      ...(opts.onAlert ? [{ name: 'ui', deliver: opts.onAlert }] : []),
    ];
    this.alerts = new Alerting(opts.config.alerts, channels);
    this.samples = new SampleSchedule(this.startedMs);
    const { config } = opts;
    this.checkups = new Checkups(opts.doctorIo ?? realDoctorIo({ now: () => this.clock.now(), tcpKeepAlive: config.tcpKeepAlive }), {
      restUrl: config.restUrl,
      wsUrl: config.wsUrl,
      storePath: store.path,
      debugDir: config.debugDir,
      capturesDir: config.capture.dir,
      captureBudgetBytes: config.capture.enabled ? config.capture.maxTotalBytes : null,
      window: false,
    });
    this.intake = new FrameIntake({
      operations: this.operations,
      reporter: this.reporter,
      onFatal: (reason, detail) => {
        this.report({ kind: 'fatal', reason, detail });
        this.commit();
      },
      onPromoted: (e) => {
        this.record.promoted(e);
        this.alerts.promotion(e, this.clock.now());
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
    const restart = this.opts.restart;
    if (restart !== undefined) {
      this.report({ kind: 'worker_restarted', restart });
      this.alerts.raise(
        [
          {
            reason: 'WORKER_RESTARTED',
            severity: 'CRIT',
            summary: `the collector worker crashed (${restart.reason}: ${restart.detail}) and was restarted (${restart.in_window} of at most ${restart.max} in the window)`,
          },
        ],
        this.clock.now(),
      );
    }
    await this.clearLeftovers();
    this.startRunRecord();
    this.timers.push(
      this.clock.every(machineMs(this.clock, config.commitIntervalMs), () => {
        // How late this commit runs, in wall ms like the cadence itself (clock ms / speed): the thread
        // was busy that long, and frames waited in the socket buffers as long (INGEST_BACKLOG).
        const now = this.clock.now();
        this.ingestLagMs = this.lastTimedCommitMs === null ? 0 : Math.max(0, (now - this.lastTimedCommitMs) / this.clock.speed - config.commitIntervalMs);
        this.lastTimedCommitMs = now;
        this.commit();
      }),
    );
    // The periodic write skips a beat while one is under way, so a slow disk never queues writes up.
    this.timers.push(
      this.clock.every(machineMs(this.clock, config.snapshotFileIntervalMs), () => {
        if (this.snapshotWritesPending === 0) void this.writeSnapshotFile();
      }),
    );
    if (config.heapProbeIntervalMs > 0) {
      if (this.heap.probe()) this.timers.push(this.clock.every(machineMs(this.clock, config.heapProbeIntervalMs), () => this.probeHeap()));
      else this.report({ kind: 'heap_probe_unavailable', intervalMs: config.heapProbeIntervalMs });
    }
    this.checkDisks();
    this.timers.push(this.clock.every(machineMs(this.clock, DISK_CHECK_EVERY_MS), () => this.checkDisks()));
    this.commit();
    this.advance({ kind: 'start', doctor: config.doctorAtBoot });
    if (config.doctorAtBoot) {
      const boot = await this.checkups.boot(() => this.clock.now());
      if (this.stopped) return;
      this.report({ kind: 'doctor_checked', results: boot.results, lines: boot.lines });
      this.alerts.raise(boot.alerts, this.clock.now());
      this.advance({ kind: 'doctor_done', failed: boot.results.filter((r) => !r.ok).length });
    }
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
      ...(this.opts.captureTuning ? { captureTuning: this.opts.captureTuning } : {}),
    };
    let sel: SymbolSelection;
    try {
      sel = await resolveSymbols(ctx, (why) => {
        this.symbolsUnavailable = why;
      });
    } catch (e) {
      if (this.stopped) return;
      await this.fail(e instanceof SymbolConfigError ? 'SYMBOLS_INVALID' : 'WORKER_EXITED', (e as Error).message);
      throw e;
    }
    if (this.stopped) return;
    this.symbolsUnavailable = null;
    this.selection = sel;
    this.record.store.setRunSymbols(sel.symbols);
    const windowTap = this.opts.sinks?.windows ? (w: ClosedWindow): void => void this.windowRows.push(windowRowOf(runId, w)) : undefined;
    const run = openRun(ctx, sel, {
      ops: this.ops,
      seq: this.bootSeq,
      startedMs: this.startedMs,
      shown: this.record.shown,
      ...(windowTap ? { windowTap } : {}),
    });
    this.run = run;
    this.advance({ kind: 'symbols_selected', symbols: sel.symbols.length });
    // The begin marker goes in before the stream opens, so every live event is held until the end marker.
    if (config.warmStart) this.warmStartTask = this.warmStart(run);
    run.market.start();
    run.depth?.start();
    run.depthSync?.start();
    run.oi.start();
    this.advance({ kind: 'streams_started', ...(config.warmStart ? { warmStart: { symbols: sel.symbols.length, spanMs: config.warmStartSpanMs } } : {}) });
  }

  /** SPEC §20: backfill, then the end marker; never rejects (a failure starts its symbols cold). */
  private async warmStart(run: Run): Promise<void> {
    const { config } = this.opts;
    const outcome = await runWarmStart({
      symbols: run.selection.symbols,
      rest: this.rest,
      clock: this.clock,
      spanMs: config.warmStartSpanMs,
      deadlineMs: machineMs(this.clock, config.warmStartTimeoutMs),
      requestTimeoutMs: machineMs(this.clock, config.oiTimeoutMs),
      marker: (m, recv) => this.intake.frame(JSON.stringify(m), recv, WARM_START_SOURCE),
      isLive: (symbol) => run.pipeline.warmStart.liveSeen(symbol),
      signal: this.abort.signal,
    });
    const engine = run.engine;
    const status = run.pipeline.warmStart.status;
    const windows = engine.detectorsInRankOrder.reduce((n, d) => n + d.counters.backfilled_windows, 0);
    this.report({ kind: 'warm_start_done', outcome, status: structuredClone(status), windows });
    const alert = warmStartCondition(status);
    if (alert !== null) this.alerts.raise([alert], this.clock.now());
    if (this.stopped) return;
    this.advance({
      kind: 'warm_start_done',
      backfilled: status.backfilled.length,
      symbols: run.selection.symbols.length,
      tookMs: outcome.tookMs,
      allWarm: engine.detectorsInRankOrder.every((d) => d.warm),
      health: this.ops.health_state,
    });
    // The snapshot shows the warm baselines at once, not at the next commit.
    this.commit();
  }

  /** The crash this worker replaced, for health during the first minute of its run. */
  private workerRestarted(now: number): string | null {
    const r = this.opts.restart;
    if (r === undefined || now - this.startedMs >= machineMs(this.clock, HEALTH.WORKER_RESTARTED_MS)) return null;
    return `the collector worker crashed (${r.reason}: ${r.detail}) and was restarted as run ${this.opts.runId} (restart ${r.in_window} of at most ${r.max} in the window); a new run: baselines warm again`;
  }

  /** Warm-start failures of symbols whose baselines are still cold, for health; null when none. */
  private warmStartFailed(run: Run | null): string | null {
    if (run === null) return null;
    const cold = Object.entries(run.pipeline.warmStart.status.failed).filter(([symbol]) => run.engine.detector(symbol)?.warm === false);
    if (cold.length === 0) return null;
    return `warm start failed for ${cold.map(([symbol, f]) => `${symbol} (${f.reason})`).join(', ')}: cold until 60 live windows`;
  }

  /**
   * Before this run's first snapshot write: delete the temp files a killed run's snapshot writes
   * left, and mark a snapshot from a run that never shut down as such (until the first write of
   * this run, a reader would otherwise take the dead run for one still observing).
   */
  private async clearLeftovers(): Promise<void> {
    const path = join(this.opts.config.debugDir, 'latest_snapshot.json');
    try {
      const temps = removeStaleSnapshotTemps(path);
      if (temps.removed.length > 0 || temps.failed.length > 0) this.report({ kind: 'stale_temps', ...temps });
      const unclean = await markUncleanEnd(path, { runId: this.opts.runId, clock: this.clock });
      if (unclean.marked) this.report({ kind: 'previous_run_unclean', previousRunId: unclean.previousRunId, previousStage: unclean.previousStage, path });
    } catch (e) {
      this.report({ kind: 'leftovers_failed', message: (e as Error).message });
    }
  }

  /**
   * The run cannot go on (start failed, the worker is crashing): health FAILED with `reason`, told
   * on every output, committed and written to the snapshot file at once, so the window and the file
   * say why even if nothing else runs. The first failure wins; the caller then stops the collector.
   */
  async fail(reason: ReasonCode, detail: string): Promise<void> {
    if (this.failure !== null || this.intake.fatal !== null || this.stopped) return;
    this.failure = { reason, detail: safeMessage(detail) };
    this.report({ kind: 'fatal', reason, detail: this.failure.detail });
    this.commit();
    await this.writeSnapshotFile();
  }

  /** The snapshot's storage section, and an alert for each disk finding that is new. */
  private checkDisks(): void {
    const now = this.clock.now();
    const r = this.checkups.readDisks(now);
    this.ops.storage = r.storage;
    this.alerts.raise(r.alerts, now);
  }

  /** The run's row in the store; earlier runs still open there were killed or crashed. */
  private startRunRecord(): void {
    const { config, runId } = this.opts;
    const st = this.record.store.status;
    if (st.state !== 'UNAVAILABLE')
      this.report({ kind: 'store_opened', path: this.record.store.path, schema: st.schema_version, migratedFrom: st.migrated_from });
    const r = this.record.startRun(
      {
        run_id: runId,
        started_ms: this.startedMs,
        mode: config.mode,
        rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
        config_hash: configHash(config),
        app_version: APP_VERSION,
      },
      this.clock.now(),
    );
    if (r.ok && r.unclean.length > 0) this.report({ kind: 'store_unclean_runs', runs: r.unclean });
    // Told at once; later commits retry the run row with everything else.
    if (!r.ok) this.storeFailed(r.fault, this.clock.now());
  }

  private storeFailed(fault: StoreFault, now: number): void {
    const waiting = this.record.waiting;
    const failures = this.record.store.status.failures;
    this.report({ kind: 'store_failed', reason: storeReasonCode(fault.kind), message: fault.message, failures, waiting });
    this.alerts.storeFault(fault, waiting, now);
  }

  /**
   * Durable before visible: this commit's promotions, audit envelopes and alerts go to the store
   * in one transaction before the snapshot below is built; only what it committed is shown.
   */
  private persist(now: number): void {
    const p = this.record.persist(now);
    if (p.failure !== null) this.storeFailed(p.failure, now);
    if (p.recovered !== null) this.report({ kind: 'store_recovered', ...p.recovered });
  }

  /** COUNTERS_SAMPLED every 5 min, before each UTC midnight and at stop; a day's summary once it ended. */
  private sampleAndSummarize(now: number, final: boolean): void {
    const due = this.samples.atCommit(now, machineMs(this.clock, this.opts.config.commitIntervalMs));
    const run = this.run;
    if (run !== null && (due.sample || final)) {
      const oiEvery = machineMs(this.clock, this.opts.config.oiPollIntervalMs);
      this.report({ kind: 'counters_sampled', sample: countersSample(run.engine, run.market.reconnects, run.oi.errors, oiEvery) });
    }
    if (due.dayEnded !== null && this.record.store.isOpen) {
      try {
        const summary = buildDailySummary(this.record.store, due.dayEnded, now);
        const saved = this.record.store.saveDailySummary(summary, now);
        this.report({
          kind: 'daily_summary',
          day: summary.day,
          events: summary.events.total,
          complete: summary.complete,
          saved: saved.ok ? null : saved.fault.message,
        });
      } catch (e) {
        this.report({ kind: 'daily_summary', day: due.dayEnded, events: 0, complete: false, saved: (e as Error).message });
      }
    }
  }

  private commit(final = false): void {
    const now = this.clock.now();
    const run = this.run;
    const { health, newlyWarm } = this.operations.commit(
      now,
      this.ops,
      {
        engine: run?.engine ?? null,
        frames: run?.pipeline.counters ?? null,
        market: run?.market ?? null,
        oi: run?.oi ?? null,
        rest: this.rest,
        deadLetters: this.deadLetters,
        capture: run?.capture ?? null,
        heap: this.heap,
      },
      {
        startedMs: this.startedMs,
        fatal: this.intake.fatal ?? this.failure,
        symbolsFallback: this.selection?.fallbackUsed ?? false,
        symbolsUnavailable: this.symbolsUnavailable,
        warmStartFailed: this.warmStartFailed(run),
        ingestLagMs: this.ingestLagMs,
        workerRestarted: this.workerRestarted(now),
      },
    );
    for (const symbol of newlyWarm) this.report({ kind: 'baseline_warm', symbol });
    this.persist(now);
    // A deliberate shutdown closes the stream; that is not a health problem to report.
    if (!this.stopped) {
      const verdict = evaluateHealth({ ...health, store: this.record.health(), notes: this.checkups.notes(), sinks: this.opts.sinks?.health() ?? null });
      const healthChanged = applyVerdict(this.ops, verdict);
      if (healthChanged) this.report({ kind: 'health', ...verdict });
      const allWarm = run !== null && run.engine.detectorsInRankOrder.every((d) => d.warm);
      this.advance({ kind: 'commit', health: verdict.state, reasons: verdict.reasons, healthChanged, allWarm });
      this.alerts.health(verdict, now);
    }
    this.alerts.tick(now);
    this.sampleAndSummarize(now, final);
    this.ops.store = this.record.section();
    this.ops.queues = {
      ui_snapshots_coalesced: this.opts.uiSnapshotsCoalesced?.() ?? 0,
      early_frames_dropped: this.intake.earlyDropped,
      audit_lines_dropped: this.audit.dropped,
    };
    if (run?.capture) this.ops.capture = run.capture.section();
    if (this.opts.sinks) {
      this.opts.sinks.nudge();
      if (this.windowRows.length > 0) this.opts.sinks.windows?.(this.windowRows.splice(0));
      this.ops.sinks = this.opts.sinks.status();
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
    const write = this.snapshotWrite
      .then(() => this.writeSnapshotNow())
      .finally(() => {
        this.snapshotWritesPending--;
        if (this.snapshotWritesPending === 0) this.heap.settled();
      });
    this.snapshotWrite = write;
    await write;
  }

  /**
   * The diagnostic heap probe (heapProbeIntervalMs), never during a snapshot file write: the file's
   * text (the pretty JSON of a snapshot with its raw buffers and 1000 events, ~3 MB) is live until
   * the write ends. At the soak rig's 1 s file cadence on a loaded machine a write is under way
   * most of the time: 3 of 5 heap snapshots of the worker, taken on a timer as the probe is, held
   * 2.9–3.5 MB in the write's FSReqPromise, the other two none, so the live heap read as two levels
   * 3 MB apart. Deferred to the write's end, the probe reads what stays.
   */
  private probeHeap(): void {
    this.heap.probeUnless(this.snapshotWritesPending > 0);
  }

  private async writeSnapshotNow(): Promise<void> {
    const snap = this.lastSnapshot;
    if (!snap) return;
    try {
      await writeFileAtomic(join(this.opts.config.debugDir, 'latest_snapshot.json'), [JSON.stringify(snap, null, 2), '\n'], { clock: this.clock });
    } catch (e) {
      this.report({ kind: 'snapshot_write_failed', message: (e as Error).message });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.advance({ kind: 'stop' });
    // Aborted, the warm start ends at once with its end marker, so the held live events are counted.
    await this.warmStartTask;
    for (const t of this.timers) t.cancel();
    this.heap.stop();
    this.run?.oi.stop();
    this.run?.depthSync?.stop();
    await this.run?.depth?.stop();
    await this.run?.market.stop();
    // REST answers still in flight go through the engine and the capture before the last commit,
    // so the final snapshot counts every frame the capture holds.
    await this.rest.close();
    // The capture and the dead letters finish before the last commit: closing the capture ends its
    // last part and enforces the total cap once more (a 24 h day lost one deleted part of ~476k
    // frames from the final counts when the commit came first), and the dead letters still queued
    // go to disk. The final snapshot then says what is on disk, nothing in flight.
    await this.run?.capture?.close();
    await this.deadLetters.close();
    this.commit(true);
    // Queued after any periodic write under way, so the file ends with the last snapshot.
    await this.writeSnapshotFile();
    await this.audit.close();
    // Last: the audit rows of the steps above, then the run's clean end.
    // A crashed worker's run ends unclean in the store, as a killed one's would.
    this.record.close(this.clock.now(), this.failure?.reason === 'WORKER_EXITED' ? 'unclean' : 'clean');
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
            url: redactUrl(m.url),
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
      depth: run?.depth ? { state: run.depth.state, reconnects: run.depth.reconnects, received: run.depth.received } : null,
      rest: { answered: this.rest.answered, usedWeight1m: this.rest.usedWeight1m },
      capture: run?.capture
        ? {
            frames: run.capture.frames,
            refused: run.capture.refused,
            notCaptured: run.capture.notCaptured,
            lateFrames: run.capture.lateFrames,
            gaps: run.capture.gaps,
            backlogBytes: run.capture.backlogBytes,
            files: [...run.capture.files],
            partsRemoved: run.capture.partsRemoved,
            framesRemoved: run.capture.framesRemoved,
          }
        : null,
      deadLetters: this.deadLetters.written,
    };
  }

  /** `symbol`'s order book (tests and tools compare it level for level; read it, never feed it); undefined without books. */
  orderBook(symbol: string): OrderBook | undefined {
    return this.run?.books?.book(symbol);
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

  /** Promoted events detected so far (the engine's bounded ring, stored or not), oldest first. */
  promotions(): PromotedEvent[] {
    return this.run?.engine.promotions.toArray() ?? [];
  }

  /** Earlier runs' events from the store, newest first (sent to the window once at start). */
  history(limit?: number): History {
    return this.record.history(this.opts.runId, limit);
  }

  /** The store's own figures (tests, support). */
  storeStatus(): ReturnType<EventRecord['section']> {
    return this.record.section();
  }
}

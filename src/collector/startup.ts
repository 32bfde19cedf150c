/**
 * Startup orchestration (SPEC §3, §10): resolve the symbol universe, retrying for as long as the
 * exchange cannot be reached; then open the run for those symbols — engine and SystemState, the
 * capture, the market session and the OI poller — wired to intake, operations and reporting.
 * The shell (collector.ts) starts what this opens and walks the stages.
 */
import { binanceUsdm } from '../binance/adapter';
import { BookRoom, DEPTH_ROUTE } from '../binance/book/book-room';
import { marketProtocol } from '../binance/market-protocol';
import { depthStreams } from '../binance/streams';
import { selectSymbols, type SymbolSelection } from '../binance/symbols';
import type { DeadLetterFile } from '../capture/dead-letter';
import { type CaptureTuning, CaptureWriter } from '../capture/writer';
import { type Clock, machineMs } from '../clock/clock';
import { RULES } from '../core/constants';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { Engine } from '../core/engine';
import { NearMissLog, withNearMisses } from '../core/near-miss';
import type { ClosedWindow } from '../core/symbol-detector';
import { createPipeline, type FramePipeline } from '../core/pipeline';
import { PILLARS } from '../core/policy/constants';
import type { Ring } from '../core/ring';
import { CONNECTION_OPEN, LOCAL_SOURCE_PREFIX } from '../core/source';
import { type OpsStaging, SystemState } from '../core/system-state';
import type { CollectorConfig } from './config';
import { DepthSync } from './depth-sync';
import type { FrameIntake } from './intake';
import { OiPoller } from './oi-poller';
import type { Operations } from './operations';
import type { Reporter } from './report';
import type { RestClient } from './rest';
import { WsSession } from './ws-session';

export interface StartupContext {
  config: CollectorConfig;
  runId: string;
  clock: Clock;
  rest: RestClient;
  reporter: Reporter;
  intake: FrameIntake;
  operations: Operations;
  /** Where the frame pipeline dead-letters what it cannot use. */
  deadLetters: DeadLetterFile;
  /** Ends the selection retries (shutdown). */
  signal: AbortSignal;
  /** The capture's backlog bound and disk stage, when not the defaults (tests). */
  captureTuning?: CaptureTuning;
}

/** The parts of a run, once its symbols are known. */
export interface Run {
  selection: SymbolSelection;
  engine: Engine;
  /** The one frame pipeline (adapter → engine), the same replay uses. */
  pipeline: FramePipeline;
  state: SystemState;
  /** "Why silent?": fed by the engine's window hook after each verdict, shown in every snapshot. */
  nearMisses: NearMissLog;
  capture: CaptureWriter | null;
  market: WsSession;
  /** `<s>@depth@100ms` for every symbol on the /public route (depth on /market delivers nothing). */
  depth: WsSession | null;
  /** The books' REST snapshots, inside the shared weight budget; null without books. */
  depthSync: DepthSync | null;
  /** The order books the pipeline feeds (null without books): read them, never feed them. */
  books: BookRoom | null;
  oi: OiPoller;
}

/**
 * The symbols to observe. `unavailable` is told why the exchange cannot be reached after each
 * failed attempt (health shows it as SYMBOLS_UNAVAILABLE). Rejects when aborted.
 */
export async function resolveSymbols(ctx: StartupContext, unavailable: (why: string) => void): Promise<SymbolSelection> {
  const { config, reporter } = ctx;
  const sel = await selectSymbols(ctx.rest, {
    clock: ctx.clock,
    ...(config.symbols ? { fixed: config.symbols } : {}),
    signal: ctx.signal,
    onAttemptFailed: (what, err, attempt, delayMs) => {
      const summary = `${what} failed (attempt ${attempt}): ${err.message}; retrying in ${Math.round(delayMs / 1000)} s`;
      unavailable(summary);
      reporter.report({ kind: 'symbols_attempt_failed', what, attempt, delayMs, message: err.message, summary });
    },
  });
  reporter.report({ kind: 'symbols_selected', selection: sel });
  return sel;
}

/**
 * Open the run for `sel` (nothing is started yet): the staging and the snapshot numbering of the
 * boot phase carry over into SystemState, and the frames intake held during selection go through.
 */
export function openRun(
  ctx: StartupContext,
  sel: SymbolSelection,
  boot: { ops: OpsStaging; seq: number; startedMs: number; shown?: Ring<PromotedEvent>; windowTap?: (w: ClosedWindow) => void },
): Run {
  const { config, runId, clock, reporter, intake, operations } = ctx;
  // The engine's one window hook: the collector has no other use for it (replay composes with withNearMisses).
  const nearMisses = new NearMissLog(sel.symbols);
  // Books, policy four-pillars-001 and the liquidation tape beside M3, built as replay builds them.
  const books = config.books ? new BookRoom({ symbols: sel.symbols, sampleDepthBps: PILLARS.DEPTH_BAND_BPS }) : null;
  const pipeline = createPipeline({
    adapter: binanceUsdm,
    symbols: sel.symbols,
    klineSource: RULES.KLINE_SOURCE,
    // The near-miss log, and the closed windows for a sink that takes them (both only read the report).
    onWindow: withNearMisses(boot.windowTap, nearMisses),
    deadLetter: (d) => ctx.deadLetters.write(d),
    beside: { books: books ?? false },
  });
  const engine = pipeline.engine;
  boot.ops.precisions = sel.precisions;
  // `shown`: the events the store has committed (src/collector/event-record.ts), not the engine's own ring.
  const state = new SystemState(engine, runId, config.mode, {
    carry: { ops: boot.ops, seq: boot.seq },
    frames: pipeline.counters,
    warmStart: pipeline.warmStart.status,
    beside: pipeline.beside,
    nearMisses,
    ...(boot.shown ? { promotions: boot.shown } : {}),
  });
  reporter.report({ kind: 'state_ready' });

  let capture: CaptureWriter | null = null;
  if (config.capture.enabled) {
    capture = new CaptureWriter({
      dir: config.capture.dir,
      runId,
      clock,
      header: { run_id: runId, symbols: sel.symbols, started_ms: boot.startedMs, mode: config.mode },
      maxFileBytes: config.capture.maxFileBytes,
      maxTotalBytes: config.capture.maxTotalBytes,
      // At least once per commit: a SIGKILL then loses no more of the recording than one commit interval.
      flushEveryMs: machineMs(clock, Math.min(config.capture.flushIntervalMs, config.commitIntervalMs)),
      onError: (e) => reporter.report({ kind: 'capture_failed', message: e.message }),
      onGap: (gap) => reporter.report({ kind: 'capture_gap', gap }),
      onRemoved: (r) => reporter.report({ kind: 'capture_part_removed', ...r }),
      ...ctx.captureTuning,
    });
    reporter.report({ kind: 'capture_started', file: capture.currentFile ?? '' });
  }
  intake.attach(pipeline, capture);

  const streams = binanceUsdm.subscriptions(sel.symbols, { markPrice: config.markPrice });
  // Both routes' sessions: the same watchdogs, rotation and intake (every frame captured first).
  const session = {
    clock,
    staleAfterMs: config.staleAfterMs,
    livenessEveryMs: machineMs(clock, config.livenessCheckMs),
    rotateAfterMs: config.rotateAfterMs,
    onFrame: (text: string, recv: number, source: string) => intake.frame(text, recv, source),
    onRefused: (reason: string, recv: number, source: string, raw: string) => intake.refused(reason, recv, source, raw),
  };
  const market: WsSession = new WsSession({
    ...session,
    protocol: marketProtocol({ wsUrl: config.wsUrl, streams }),
    onStateChange: (state, detail) => {
      if (state === 'OPEN') operations.connected();
      reporter.report({ kind: 'ws_state', state, detail, url: market.url, streams: streams.length });
    },
    onSilentStream: (stream, silentForMs) => {
      operations.streamSilent(stream);
      reporter.report({ kind: 'stream_silent', stream, silentForMs });
    },
  });
  const dStreams = depthStreams(sel.symbols);
  // Without books (config `books: false`) nothing is asked of /public or GET /fapi/v1/depth.
  const depth: WsSession | null =
    books === null
      ? null
      : new WsSession({
          ...session,
          protocol: marketProtocol({ wsUrl: config.wsUrl, streams: dStreams, route: DEPTH_ROUTE }),
          onStateChange: (wsState, detail) => {
            // Recorded in the stream before the new connection's first diff: live and replay resync every book here.
            if (wsState === 'OPEN') intake.frame(CONNECTION_OPEN, clock.now(), `${LOCAL_SOURCE_PREFIX}${DEPTH_ROUTE}`);
            reporter.report({ kind: 'depth_ws_state', state: wsState, detail, streams: dStreams.length });
          },
          onSilentStream: (stream, silentForMs) => reporter.report({ kind: 'stream_silent', stream, silentForMs }),
        });
  const depthSync =
    books === null ? null : new DepthSync(books, ctx.rest, { clock, pollEveryMs: machineMs(clock, 250), timeoutMs: machineMs(clock, config.oiTimeoutMs) });
  const oi: OiPoller = new OiPoller(ctx.rest, {
    symbols: sel.symbols,
    intervalMs: machineMs(clock, config.oiPollIntervalMs),
    timeoutMs: machineMs(clock, config.oiTimeoutMs),
    clock,
    onError: (symbol, err) => reporter.report({ kind: 'oi_failed', symbol, errorKind: err.kind, status: err.status, message: err.message, errors: oi.errors }),
  });
  return { selection: sel, engine, pipeline, state, nearMisses, capture, market, depth, depthSync, books, oi };
}

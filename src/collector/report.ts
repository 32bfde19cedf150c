/**
 * Reporting, in one place: every noteworthy thing the collector does is one `Note`, and
 * `renderNote` says, purely, what it becomes in each of the three outputs — the short human
 * console line(s), the pino record of debug/collector.log, the audit record of debug/audit.jsonl
 * (SPEC §12.1). `Reporter.report` fans one note out to all three.
 */
import type { Clock } from '../clock/clock';
import type { CountersSample } from '../core/contracts/audit';
import type { CheckResult, DoctorChecked } from '../core/contracts/doctor';
import type { PromotedEvent } from '../core/contracts/promoted';
import type { WarmStartStatus } from '../core/contracts/warm-start';
import type { HealthState, ReasonCode, StageName, WsState } from '../core/contracts/vocabulary';
import { formatRanking, type SymbolSelection } from '../binance/symbols';
import type { CaptureGap } from '../capture/format';
import type { AuditRecord, AuditTrail } from './audit';
import { formatInt } from '../text/numbers';
import { redactUrl, safeStrings } from '../text/safe';
import { consoleLine, type Logger } from './log';
import type { RestErrorKind } from './rest';
import type { WarmStartOutcome } from './warm-start';
import type { WorkerRestart } from '../ipc/messages';

export type Note =
  | { kind: 'banner'; runId: string; restUrl: string; wsUrl: string }
  | { kind: 'stage'; stage: StageName; detail: string }
  | { kind: 'heap_probe_unavailable'; intervalMs: number }
  | { kind: 'symbols_attempt_failed'; what: string; attempt: number; delayMs: number; message: string; summary: string }
  | { kind: 'symbols_selected'; selection: SymbolSelection }
  | { kind: 'state_ready' }
  | { kind: 'capture_started'; file: string }
  | { kind: 'capture_failed'; message: string }
  /** The total cap deleted the oldest part (retention as configured); `frames` null for an earlier run's part. */
  | { kind: 'capture_part_removed'; file: string; bytes: number; frames: number | null }
  /** The capture could not take `gap.frames` frames (its backlog was full); the gap is marked in it. */
  | { kind: 'capture_gap'; gap: CaptureGap }
  | { kind: 'ws_state'; state: WsState; detail: string; url: string; streams: number }
  /** The /public depth connection (books); its outages resync the books and do not stop detection. */
  | { kind: 'depth_ws_state'; state: WsState; detail: string; streams: number }
  | { kind: 'stream_silent'; stream: string; silentForMs: number }
  | { kind: 'oi_failed'; symbol: string; errorKind: RestErrorKind; status: number | null; message: string; errors: number }
  | { kind: 'promoted'; event: PromotedEvent }
  | { kind: 'baseline_warm'; symbol: string }
  /** The end marker went in: the REST side (`outcome`) and what the pipeline made of it (`status`, backfilled windows). */
  | { kind: 'warm_start_done'; outcome: WarmStartOutcome; status: WarmStartStatus; windows: number }
  | { kind: 'health'; state: HealthState; reasons: readonly ReasonCode[]; detail: string }
  | { kind: 'fatal'; reason: ReasonCode; detail: string }
  | { kind: 'publish_failed'; message: string }
  /** Start-up found the snapshot of a run that never shut down cleanly and marked it so. */
  | { kind: 'previous_run_unclean'; previousRunId: string; previousStage: string; path: string }
  /** This worker replaced a crashed one (src/ipc/host.ts): a new run after `restart.backoff_ms`. */
  | { kind: 'worker_restarted'; restart: WorkerRestart }
  /** Start-up removed the temp files of snapshot writes a killed run left (failed: could not). */
  | { kind: 'stale_temps'; removed: readonly string[]; failed: readonly { path: string; error: string }[] }
  /** Start-up could not check or mark the previous run's snapshot. */
  | { kind: 'leftovers_failed'; message: string }
  | { kind: 'snapshot_write_failed'; message: string }
  | { kind: 'store_opened'; path: string; schema: number | null; migratedFrom: number | null }
  | { kind: 'store_unclean_runs'; runs: readonly { run_id: string; started_ms: number; ended_ms: number | null }[] }
  | { kind: 'store_failed'; reason: ReasonCode; message: string; failures: number; waiting: number }
  | { kind: 'store_recovered'; failedForMs: number; stored: number }
  | { kind: 'counters_sampled'; sample: CountersSample }
  | { kind: 'daily_summary'; day: string; events: number; complete: boolean; saved: string | null }
  | { kind: 'doctor_checked'; results: readonly CheckResult[]; lines: readonly string[] };

export interface LogEntry {
  level: 'info' | 'warn' | 'error' | 'fatal';
  fields: Record<string, unknown>;
  msg: string;
}

/** What one note becomes: console lines (without the time prefix), a log entry, an audit record. */
export interface Rendered {
  console: string[];
  log: LogEntry | null;
  audit: AuditRecord | null;
}

const render = (console: string[], log: LogEntry | null = null, audit: AuditRecord | null = null): Rendered => ({ console, log, audit });
/** Repeated failures are logged each time but told on the console / audited only now and then. */
const firstOrEvery = (n: number, every: number): boolean => n === 1 || n % every === 0;

export function renderNote(n: Note): Rendered {
  switch (n.kind) {
    case 'banner':
      return render([
        `MARKET EVENT COLLECTOR - Peak Pressure Infrastructure (run ${n.runId})`,
        `REST ${redactUrl(n.restUrl)}  WS ${redactUrl(n.wsUrl)}/market`,
      ]);
    case 'stage':
      return render(
        [`stage ${n.stage}${n.detail ? ` — ${n.detail}` : ''}`],
        { level: 'info', fields: { stage: n.stage, detail: n.detail }, msg: 'stage changed' },
        { event_type: 'STAGE_CHANGED', payload: { stage: n.stage, detail: n.detail } },
      );
    case 'heap_probe_unavailable':
      return render([], {
        level: 'warn',
        fields: { heapProbeIntervalMs: n.intervalMs },
        msg: 'heap probe requested but gc is not exposed: start node with --expose-gc',
      });
    case 'symbols_attempt_failed':
      return render(firstOrEvery(n.attempt, 10) ? [`cannot reach the exchange: ${n.summary}`] : [], {
        level: 'warn',
        fields: { what: n.what, attempt: n.attempt, delay: n.delayMs, err: n.message },
        msg: 'symbol selection attempt failed',
      });
    case 'symbols_selected': {
      const sel = n.selection;
      return render(
        [
          sel.configured
            ? `[SYMBOL CONFIG] Observing the ${sel.symbols.length} configured symbol(s):`
            : sel.fallbackUsed
              ? `[SYMBOL CONFIG] Using ${sel.symbols.length} fallback symbols (the 24h ranking is unavailable):`
              : `[SYMBOL CONFIG] Fetched TOP ${sel.symbols.length} symbols by 24h volume:`,
          ...formatRanking(sel).map((line) => `  ${line}`),
          ...(sel.ignored.length > 0
            ? [`[SYMBOL CONFIG] WARNING: not observed, not a trading USDT perpetual on the exchange: ${sel.ignored.join(', ')} (check --symbols)`]
            : []),
          ...(sel.fallbackUsed ? [`SYMBOLS_FALLBACK_USED: ${sel.fallbackReason ?? ''}`] : []),
        ],
        sel.ignored.length > 0 ? { level: 'warn', fields: { ignored: sel.ignored }, msg: 'configured symbols not observed' } : null,
        {
          event_type: 'SYMBOLS_SELECTED',
          reasons: sel.fallbackUsed ? ['SYMBOLS_FALLBACK_USED'] : [],
          payload: { symbols: sel.symbols, ranked: sel.ranked, fallback_reason: sel.fallbackReason, ignored: sel.ignored },
        },
      );
    }
    case 'state_ready':
      return render(['[NATIVE APP] SystemState initialized with TOP_10 symbols']);
    case 'capture_started':
      return render([`capture recording to ${n.file}`]);
    case 'capture_failed':
      return render([], { level: 'error', fields: { err: n.message }, msg: 'capture write failed' });
    case 'capture_part_removed':
      return render([], {
        level: 'info',
        fields: { file: n.file, bytes: n.bytes, frames: n.frames },
        msg: 'oldest capture part deleted (capture.maxTotalBytes)',
      });
    case 'ws_state': {
      const log: LogEntry = { level: 'info', fields: { ws_state: n.state, detail: n.detail }, msg: 'market stream state' };
      if (n.state === 'OPEN')
        return render([`market stream connected (${n.streams} streams)`], log, { event_type: 'WS_CONNECTED', payload: { url: redactUrl(n.url) } });
      if (n.state === 'RECONNECTING')
        return render([`market stream ${n.detail}`], log, { event_type: 'WS_DISCONNECTED', reasons: ['WS_RECONNECTING'], payload: { detail: n.detail } });
      return render([], log);
    }
    case 'depth_ws_state': {
      const log: LogEntry = { level: 'info', fields: { ws_state: n.state, detail: n.detail }, msg: 'depth stream state' };
      if (n.state === 'OPEN') return render([`depth stream connected (${n.streams} streams)`], log);
      if (n.state === 'RECONNECTING') return render([`depth stream ${n.detail}`], log);
      return render([], log);
    }
    case 'stream_silent':
      return render([`stream ${n.stream} acknowledged but silent for ${Math.round(n.silentForMs / 1000)} s`], {
        level: 'warn',
        fields: { stream: n.stream, silent_ms: n.silentForMs },
        msg: 'subscribed stream delivers no data',
      });
    case 'oi_failed':
      return render(
        [],
        { level: 'warn', fields: { symbol: n.symbol, kind: n.errorKind, status: n.status, err: n.message }, msg: 'OI poll failed' },
        firstOrEvery(n.errors, 50)
          ? { event_type: 'OI_POLL_FAILED', symbol: n.symbol, payload: { kind: n.errorKind, status: n.status, message: n.message, errors: n.errors } }
          : null,
      );
    case 'promoted': {
      const e = n.event;
      return render(
        [`PEAK PRESSURE ${e.symbol} ${e.dominant_side} at ${new Date(e.window_end_ms).toISOString()} (stress: ${e.stress_sources.join(', ')})`],
        { level: 'info', fields: { event_id: e.event_id, symbol: e.symbol, stress: e.stress_sources }, msg: 'peak pressure event promoted' },
        { event_type: 'PEAK_PRESSURE_PROMOTED', symbol: e.symbol, severity: 'INFO', payload: e as unknown as Record<string, unknown> },
      );
    }
    case 'baseline_warm':
      return render([], null, { event_type: 'BASELINE_WARM', symbol: n.symbol });
    case 'warm_start_done': {
      const o = n.outcome;
      const st = n.status;
      const failed = Object.entries(st.failed);
      const summary = `warm start: ${st.backfilled.length} symbol${st.backfilled.length === 1 ? '' : 's'} backfilled in ${(o.tookMs / 1000).toFixed(1)} s (${o.calls} pages, ${o.weight} of ${o.budget} weight, ${formatInt(st.page_trades)} trades, ${formatInt(n.windows)} windows)`;
      const fields = {
        backfilled: st.backfilled,
        calls: o.calls,
        weight: o.weight,
        budget: o.budget,
        trades: st.page_trades,
        windows: n.windows,
        took_ms: o.tookMs,
        failed: st.failed,
      };
      if (failed.length === 0) return render([summary], { level: 'info', fields, msg: 'warm start done' });
      // The alert itself goes through the collector's alerting (warmStartCondition), to every channel.
      return render([summary, ...failed.map(([symbol, f]) => `WARM_START_FAILED ${symbol} starts cold: ${f.reason}: ${f.detail}`)], {
        level: 'warn',
        fields,
        msg: 'warm start failed for some symbols; they start cold',
      });
    }
    case 'health':
      return render(
        [`health ${n.state}${n.reasons.length ? ` (${n.reasons.join(', ')})` : ''}${n.detail ? ` — ${n.detail}` : ''}`],
        { level: 'info', fields: { health: n.state, reasons: n.reasons, detail: n.detail }, msg: 'health changed' },
        {
          event_type: 'HEALTH_CHANGED',
          reasons: [...n.reasons],
          severity: n.state === 'FAILED' ? 'CRIT' : n.state === 'DEGRADED' ? 'WARN' : 'INFO',
          payload: { state: n.state, detail: n.detail },
        },
      );
    case 'fatal':
      return render(
        [`FAILED (${n.reason}): ${n.detail}`],
        { level: 'fatal', fields: { reason: n.reason, detail: n.detail }, msg: 'collector failed' },
        { event_type: 'ALERT_RAISED', severity: 'CRIT', reasons: [n.reason], payload: { detail: n.detail } },
      );
    case 'capture_gap': {
      const g = n.gap;
      const fields = { frames: g.frames, first_recv_ms: g.first_recv_ms, last_recv_ms: g.last_recv_ms, reason: g.reason };
      return render(
        [
          `${g.reason === 'early_backlog' ? 'frames held before detection started past their bound' : 'capture backlog full'}: ${g.frames} frames not captured over ${g.last_recv_ms - g.first_recv_ms} ms (gap marked in the capture)`,
        ],
        { level: 'warn', fields, msg: 'frames not captured' },
        { event_type: 'CAPTURE_GAP', reasons: ['CAPTURE_BACKLOG'], severity: 'WARN', payload: fields },
      );
    }
    case 'publish_failed':
      return render([], { level: 'error', fields: { err: n.message }, msg: 'publishing a snapshot failed' });
    case 'previous_run_unclean':
      return render(
        [`previous run ${n.previousRunId} ended uncleanly (last stage ${n.previousStage}); ${n.path} now says so`],
        { level: 'warn', fields: { previous_run_id: n.previousRunId, previous_stage: n.previousStage, path: n.path }, msg: 'previous run ended uncleanly' },
        {
          event_type: 'PREVIOUS_RUN_UNCLEAN',
          reasons: ['PREVIOUS_RUN_UNCLEAN'],
          severity: 'WARN',
          payload: { previous_run_id: n.previousRunId, previous_stage: n.previousStage },
        },
      );
    case 'worker_restarted': {
      const r = n.restart;
      const payload = {
        restarts: r.count,
        in_window: r.in_window,
        max_restarts: r.max,
        previous_run_id: r.previous_run_id,
        reason: r.reason,
        detail: r.detail,
        exit_code: r.exit_code,
        backoff_ms: r.backoff_ms,
      };
      return render(
        [
          `collector worker restarted (${r.in_window} of at most ${r.max} in the window, ${r.count} in all) after run ${r.previous_run_id} crashed: ${r.reason}: ${r.detail} (exit code ${r.exit_code}; waited ${r.backoff_ms} ms)`,
        ],
        { level: 'warn', fields: payload, msg: 'collector worker restarted after a crash' },
        { event_type: 'WORKER_RESTARTED', reasons: ['WORKER_RESTARTED', r.reason], severity: 'CRIT', payload },
      );
    }
    case 'stale_temps':
      return render(
        n.failed.length > 0
          ? [`could not remove ${n.failed.length} stale snapshot temp file(s): ${n.failed.map((f) => `${f.path} (${f.error})`).join(', ')}`]
          : [],
        { level: n.failed.length > 0 ? 'warn' : 'info', fields: { removed: n.removed, failed: n.failed }, msg: 'stale snapshot temp files of killed runs' },
      );
    case 'leftovers_failed':
      return render([], { level: 'error', fields: { err: n.message }, msg: 'checking the previous run’s snapshot failed' });
    case 'snapshot_write_failed':
      return render(
        [],
        { level: 'error', fields: { err: n.message }, msg: 'snapshot write failed' },
        { event_type: 'SNAPSHOT_WRITE_FAILED', severity: 'WARN', payload: { message: n.message } },
      );
    case 'store_opened':
      return render(
        [
          `event store ${n.path} (schema v${n.schema ?? '?'}${n.migratedFrom !== null && n.migratedFrom !== n.schema ? `, migrated from v${n.migratedFrom}` : ''})`,
        ],
        { level: 'info', fields: { path: n.path, schema: n.schema, migrated_from: n.migratedFrom }, msg: 'event store opened' },
      );
    case 'store_unclean_runs':
      return render(
        n.runs.map(
          (r) =>
            `earlier run ${r.run_id} (started ${new Date(r.started_ms).toISOString()}) ended uncleanly (killed or crashed); its last write was at ${r.ended_ms === null ? '?' : new Date(r.ended_ms).toISOString()}`,
        ),
        { level: 'warn', fields: { runs: n.runs.map((r) => r.run_id) }, msg: 'earlier runs ended uncleanly' },
      );
    case 'store_failed':
      return render(
        n.failures === 1 ? [`event store cannot be written (${n.reason}): ${n.message}`] : [],
        firstOrEvery(n.failures, 60)
          ? { level: 'error', fields: { reason: n.reason, err: n.message, failures: n.failures, waiting: n.waiting }, msg: 'event store write failed' }
          : null,
      );
    case 'store_recovered':
      return render([`event store writable again after ${Math.round(n.failedForMs / 1000)} s; ${n.stored} waiting event${n.stored === 1 ? '' : 's'} stored`], {
        level: 'info',
        fields: { failed_for_ms: n.failedForMs, stored: n.stored },
        msg: 'event store recovered',
      });
    case 'counters_sampled':
      return render([], null, { event_type: 'COUNTERS_SAMPLED', payload: n.sample as unknown as Record<string, unknown> });
    case 'daily_summary':
      return render(
        [`daily summary ${n.day} (UTC): ${n.events} event${n.events === 1 ? '' : 's'}; \`peak-pressure report --day ${n.day}\` prints it`],
        { level: n.saved === null ? 'info' : 'warn', fields: { day: n.day, events: n.events, err: n.saved }, msg: 'daily summary' },
        { event_type: 'DAILY_SUMMARY', payload: { day: n.day, events: n.events, complete: n.complete } },
      );
    case 'doctor_checked': {
      const failed = n.results.filter((r) => !r.ok);
      const payload: DoctorChecked = { when: 'boot', results: [...n.results] };
      return render(
        [...n.lines],
        { level: failed.length === 0 ? 'info' : 'warn', fields: { failed: failed.map((r) => r.id) }, msg: 'doctor checks at boot' },
        {
          event_type: 'DOCTOR_CHECKED',
          ...(failed.length > 0 ? { severity: 'WARN' as const } : {}),
          reasons: [...new Set(failed.flatMap((r) => (r.reason === null ? [] : [r.reason])))],
          payload,
        },
      );
    }
  }
}

export interface ReporterSinks {
  clock: Clock;
  logger: Logger;
  audit: AuditTrail;
  /** Short human lines (`[HH:MM:SS] …`); none when not given. */
  console?: (line: string) => void;
}

/**
 * What a note may carry into the outputs: every string in its log fields and audit payload is
 * redacted and escaped (`safeStrings`), as the console line is (`consoleLine`). Notes quote the
 * outside world — REST error bodies, close reasons, undici messages, URLs given on the command
 * line — so this is the one place where that text is made safe, whatever note carried it.
 */
export function safeRendered(r: Rendered): Rendered {
  return {
    console: r.console,
    log: r.log ? { level: r.log.level, fields: safeStrings(r.log.fields), msg: safeStrings(r.log.msg) } : null,
    audit: r.audit ? { ...r.audit, ...(r.audit.payload ? { payload: safeStrings(r.audit.payload) } : {}) } : null,
  };
}

/** The one fan-out: a note goes to the console, the log and the audit trail as `renderNote` says, made safe. */
export class Reporter {
  constructor(private readonly sinks: ReporterSinks) {}

  report(note: Note): void {
    const r = safeRendered(renderNote(note));
    const { console: out, logger, audit, clock } = this.sinks;
    if (out) for (const line of r.console) out(consoleLine(clock.now(), line));
    if (r.log) logger[r.log.level](r.log.fields, r.log.msg);
    if (r.audit) audit.record(r.audit);
  }
}

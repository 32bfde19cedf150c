/**
 * Where an alert goes (SPEC §21): a highlighted console line, an ALERT_RAISED audit record, a row
 * of the store's `alerts` table — all observable headless — and the window's toast, tray
 * notification and sound, which the UI implements (`UiAlertSink`) on the main thread. A channel that
 * fails never stops the others and never reaches the caller: it is counted.
 */
import type { Alert } from '../core/contracts/alert';
import type { AuditEnvelope } from '../core/contracts/audit';

export interface AlertChannel {
  readonly name: string;
  deliver(alert: Alert): void;
}

export class AlertDispatcher {
  /** Failed deliveries per channel name. */
  readonly errors = new Map<string, number>();
  lastError: string | null = null;

  constructor(private readonly channels: readonly AlertChannel[]) {}

  deliver(alerts: readonly Alert[]): void {
    for (const a of alerts) {
      for (const c of this.channels) {
        try {
          c.deliver(a);
        } catch (e) {
          this.errors.set(c.name, (this.errors.get(c.name) ?? 0) + 1);
          this.lastError = `${c.name}: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
  }
}

const ANSI = { CRIT: '\x1b[1;97;41m', WARN: '\x1b[1;30;43m', INFO: '\x1b[1;97;44m', reset: '\x1b[0m' } as const;

/** The alert as one line: `!! ALERT <severity> <reason> [symbol] [×count since first] — summary`. */
export function alertText(a: Alert): string {
  const sym = a.symbol ? ` ${a.symbol}` : '';
  const agg = a.count > 1 ? ` ×${a.count} since ${new Date(a.first_ts_ms).toISOString()}` : '';
  return `!! ALERT ${a.severity} ${a.reason_code}${sym}${agg} — ${a.summary}`;
}

/**
 * `write` gets one line per alert; `format` adds the time the way the app's other console lines
 * do (the collector passes its consoleLine). `color`: ANSI highlight of the whole formatted line,
 * for a terminal — around it, since a safe formatter escapes control characters inside it.
 */
export function consoleChannel(write: (line: string) => void, opts: { color: boolean; format?: (nowMs: number, message: string) => string }): AlertChannel {
  const format = opts.format ?? ((ms, m) => `[${new Date(ms).toISOString()}] ${m}`);
  return {
    name: 'console',
    deliver: (a) => {
      const line = format(a.ts_ms, alertText(a));
      write(opts.color ? `${ANSI[a.severity]}${line}${ANSI.reset}` : line);
    },
  };
}

/** What an audit recorder takes (src/collector/audit.ts `AuditTrail.record` has this shape). */
export type AuditRecordInput = Pick<AuditEnvelope, 'event_type' | 'symbol' | 'reasons' | 'severity' | 'payload'>;

export function auditRecordOf(a: Alert): AuditRecordInput {
  return {
    event_type: 'ALERT_RAISED',
    symbol: a.symbol,
    reasons: [a.reason_code],
    severity: a.severity,
    payload: { reason_code: a.reason_code, count: a.count, first_ts_ms: a.first_ts_ms, last_ts_ms: a.last_ts_ms, kind: a.kind, summary: a.summary },
  };
}

export function auditChannel(recorder: { record(r: AuditRecordInput): void }): AlertChannel {
  return { name: 'audit', deliver: (a) => recorder.record(auditRecordOf(a)) };
}

/** Rows of the store's `alerts` table, written with the collector's next persist (its commit). */
export function storeChannel(store: { queueAlert(a: Alert): void }): AlertChannel {
  return { name: 'store', deliver: (a) => store.queueAlert(a) };
}

// ---- the window's channels: implemented by the UI (main thread) --------------------------------

/** UI-local preferences: nothing here is sent to the collector. */
export interface UiAlertPrefs {
  /** Optional sound, off by default. */
  sound: boolean;
  /** Silences sound and tray notifications; toasts still show (non-modal, they go away by themselves). */
  muted: boolean;
  /** Tray notifications where the platform has a tray (NodeGui QSystemTrayIcon). */
  tray: boolean;
}

export const DEFAULT_UI_ALERT_PREFS: Readonly<UiAlertPrefs> = Object.freeze({ sound: false, muted: false, tray: true });

/** What the window does with one alert. */
export function uiActions(prefs: UiAlertPrefs, trayAvailable: boolean): { toast: boolean; tray: boolean; sound: boolean } {
  const loud = !prefs.muted;
  return { toast: true, tray: loud && prefs.tray && trayAvailable, sound: loud && prefs.sound };
}

/** Implemented by the window. */
export interface UiAlertSink {
  readonly trayAvailable: boolean;
  toast(a: Alert): void;
  tray(a: Alert): void;
  sound(a: Alert): void;
}

export function uiChannel(sink: UiAlertSink, prefs: () => UiAlertPrefs): AlertChannel {
  return {
    name: 'ui',
    deliver: (a) => {
      const act = uiActions(prefs(), sink.trayAvailable);
      if (act.toast) sink.toast(a);
      if (act.tray) sink.tray(a);
      if (act.sound) sink.sound(a);
    },
  };
}

/**
 * A toast as the window shows it (pure): a title line with severity, reason and symbol, the
 * alert's summary, the aggregation when it stands for more than one occurrence, and a colour by
 * severity. The stack itself is src/alerts/inbox.ts (AlertInbox) / toasts.ts (ToastStack).
 */
import type { Toast } from '../alerts/toasts';
import { COLORS, formatClock, formatInt } from './view-model';

export interface ToastView {
  id: number;
  title: string;
  body: string;
  color: string;
}

const SEVERITY_COLOR = { CRIT: COLORS.red, WARN: COLORS.orange, INFO: COLORS.green } as const;

export function toastView(t: Toast): ToastView {
  const a = t.alert;
  const what = a.reason_code === 'PEAK_PRESSURE_PROMOTED' ? (a.kind === 'digest' ? 'Peak Pressure digest' : 'Peak Pressure') : a.reason_code;
  const agg = a.count > 1 ? `\n${formatInt(a.count)} times, ${formatClock(a.first_ts_ms)} – ${formatClock(a.last_ts_ms)}` : '';
  return {
    id: t.id,
    title: `${a.severity} ${what}${a.symbol ? ` ${a.symbol}` : ''} · ${formatClock(a.ts_ms)}`,
    body: `${a.summary}${agg}`,
    color: SEVERITY_COLOR[a.severity],
  };
}

export function toastViews(toasts: readonly Toast[]): ToastView[] {
  return toasts.map(toastView);
}

/** Characters of a toast's body shown; the whole alert is in the console line and the audit trail. */
export const TOAST_BODY_MAX = 220;

/** What a toast label shows: the title, then the body clipped to TOAST_BODY_MAX (a toast must not cover the window). */
export function toastText(v: ToastView): string {
  const body = v.body.length > TOAST_BODY_MAX ? `${v.body.slice(0, TOAST_BODY_MAX - 1)}…` : v.body;
  return `${v.title}\n${body}`;
}

/**
 * The in-app toast stack as data (pure, `now` passed in): non-modal, newest on top, at most a few
 * visible, each dismissed by itself after a while (longer for CRIT) or by a click. The window
 * renders `visible(now)`; tests drive it with numbers.
 */
import type { Alert } from '../core/contracts/alert';

export interface Toast {
  id: number;
  alert: Alert;
  shown_ms: number;
  until_ms: number;
}

export interface ToastOptions {
  maxVisible: number;
  /** How long INFO/WARN toasts stay. */
  showMs: number;
  /** How long CRIT toasts stay. */
  critShowMs: number;
}

export const DEFAULT_TOAST_OPTIONS: Readonly<ToastOptions> = Object.freeze({ maxVisible: 4, showMs: 8_000, critShowMs: 30_000 });

export class ToastStack {
  private toasts: Toast[] = [];
  private nextId = 1;
  /** Toasts pushed out by newer ones before their time. */
  overflowed = 0;

  constructor(private readonly opts: ToastOptions = DEFAULT_TOAST_OPTIONS) {}

  push(alert: Alert, now: number): Toast {
    const t: Toast = { id: this.nextId++, alert, shown_ms: now, until_ms: now + (alert.severity === 'CRIT' ? this.opts.critShowMs : this.opts.showMs) };
    this.toasts.unshift(t);
    while (this.toasts.length > this.opts.maxVisible) {
      this.toasts.pop();
      this.overflowed++;
    }
    return t;
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Newest first; expired toasts are dropped. */
  visible(now: number): readonly Toast[] {
    this.toasts = this.toasts.filter((t) => t.until_ms > now);
    return this.toasts;
  }
}

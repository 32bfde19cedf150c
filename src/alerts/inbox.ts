/**
 * The window's side of the alerts (main thread): every alert the worker posts (IPC `alert`) goes
 * to the toast stack, and — as the UI-local preferences allow — to the tray and the sound of the
 * window's `UiAlertSink`. Mute and sound are preferences of this object alone: nothing here is
 * sent to the collector, which alerts, audits and stores exactly the same either way. Pure apart
 * from the sink's calls; `now` is passed in.
 */
import type { Alert } from '../core/contracts/alert';
import { DEFAULT_UI_ALERT_PREFS, type UiAlertPrefs, type UiAlertSink, uiChannel } from './channels';
import { DEFAULT_TOAST_OPTIONS, type Toast, type ToastOptions, ToastStack } from './toasts';

export class AlertInbox {
  readonly toasts: ToastStack;
  private prefsNow: UiAlertPrefs;
  /** Alerts received since start. */
  received = 0;
  private now = 0;
  private readonly channel;

  /** `sink` null: no tray and no sound yet (toasts only). */
  constructor(sink: UiAlertSink | null, prefs: UiAlertPrefs = DEFAULT_UI_ALERT_PREFS, toastOptions: ToastOptions = DEFAULT_TOAST_OPTIONS) {
    this.toasts = new ToastStack(toastOptions);
    this.prefsNow = { ...prefs };
    this.channel = uiChannel(
      {
        trayAvailable: sink?.trayAvailable ?? false,
        toast: (a) => this.toasts.push(a, this.now),
        tray: (a) => sink?.tray(a),
        sound: (a) => sink?.sound(a),
      },
      () => this.prefsNow,
    );
  }

  get prefs(): Readonly<UiAlertPrefs> {
    return this.prefsNow;
  }

  setPrefs(p: Partial<UiAlertPrefs>): void {
    this.prefsNow = { ...this.prefsNow, ...p };
  }

  receive(a: Alert, nowMs: number): void {
    this.received++;
    this.now = nowMs;
    this.channel.deliver(a);
  }

  /** Newest first; expired ones are gone. */
  visible(nowMs: number): readonly Toast[] {
    return this.toasts.visible(nowMs);
  }

  dismiss(id: number): void {
    this.toasts.dismiss(id);
  }
}

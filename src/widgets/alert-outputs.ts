/**
 * The window's tray notification and sound for alerts (SPEC §21) — the `UiAlertSink` the main
 * thread's AlertInbox calls as the UI-local preferences allow. The tray is NodeGui's
 * QSystemTrayIcon where the platform has one; where it has none (the offscreen and minimal Qt
 * platforms; a desktop without a tray) it is tried once, said once on stderr, and left out:
 * alerts still show as toasts and console lines. The sound is the terminal bell, off by default.
 */
import { QIcon, QPixmap, QSystemTrayIcon } from '@nodegui/nodegui';
import type { UiAlertSink } from '../alerts/channels';
import type { Alert } from '../core/contracts/alert';
import { alertText } from '../alerts/channels';

/** A 16×16 orange square (the app has no icon file; a tray entry needs one). */
const ICON_PNG = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGklEQVR42mP4P4PhPyWYYdSAUQNGDRguBgAATt+WH+9YG9QAAAAASUVORK5CYII=';
/** Qt platforms that never have a system tray. */
const NO_TRAY_PLATFORMS = new Set(['offscreen', 'minimal', 'vnc']);

export interface TrayAttempt {
  tray: QSystemTrayIcon | null;
  /** One line saying what happened (logged by the caller). */
  line: string;
}

export function tryTray(platform: string | undefined): TrayAttempt {
  try {
    const pixmap = new QPixmap();
    pixmap.loadFromData(Buffer.from(ICON_PNG, 'base64'), 'PNG');
    const tray = new QSystemTrayIcon();
    tray.setIcon(new QIcon(pixmap));
    tray.setToolTip('Peak Pressure');
    if (platform !== undefined && NO_TRAY_PLATFORMS.has(platform))
      return { tray: null, line: `system tray: not available on the ${platform} Qt platform; alerts show as in-app toasts and console lines` };
    tray.show();
    if (!tray.isVisible())
      return { tray: null, line: 'system tray: the icon could not be shown (no tray on this desktop); alerts show as in-app toasts and console lines' };
    return { tray, line: 'system tray: icon shown; alerts also arrive as tray notifications (mute in the window silences them)' };
  } catch (e) {
    return { tray: null, line: `system tray: failed (${e instanceof Error ? e.message : String(e)}); alerts show as in-app toasts and console lines` };
  }
}

/** The sink for AlertInbox: tray messages when a tray was found, the bell when a terminal is attached. */
export function alertOutputs(t: TrayAttempt, bell: ((a: Alert) => void) | null): UiAlertSink & { trayMessages: number; sounds: number } {
  const out = {
    trayAvailable: t.tray !== null,
    trayMessages: 0,
    sounds: 0,
    toast: (): void => undefined,
    tray: (a: Alert): void => {
      t.tray?.showMessage(`Peak Pressure: ${a.severity} ${a.reason_code}`, alertText(a), new QIcon(), a.severity === 'CRIT' ? 30_000 : 8_000);
      out.trayMessages++;
    },
    sound: (a: Alert): void => {
      bell?.(a);
      out.sounds++;
    },
  };
  return out;
}

/**
 * Where the window layout lives between runs: Qt's per-user settings (QSettings, organization
 * `PeakPressure`, application `peak-pressure`: on Linux `$XDG_CONFIG_HOME/PeakPressure/peak-pressure.conf`
 * or `~/.config/…`, on Windows the registry under HKCU\Software\PeakPressure, on macOS a plist),
 * one key holding the layout as JSON. A value that does not parse or validate is reported once
 * and ignored: the window opens with the default layout and the next save replaces it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { QSettings } from '@nodegui/nodegui';
import { type Layout, type LayoutRead, parseLayout } from './layout';

const ORGANIZATION = 'PeakPressure';
const APPLICATION = 'peak-pressure';
const KEY = 'layout';

/** Where QSettings keeps it, for log lines (QSettings.fileName() is not wrapped by NodeGui). */
export function layoutLocation(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') return `HKCU\\Software\\${ORGANIZATION}\\${APPLICATION}`;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Preferences', `com.${ORGANIZATION.toLowerCase()}.${APPLICATION}.plist`);
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), ORGANIZATION, `${APPLICATION}.conf`);
}

export class LayoutStore {
  private readonly settings = new QSettings(ORGANIZATION, APPLICATION);

  read(): LayoutRead {
    return parseLayout(this.settings.value(KEY).toString());
  }

  write(layout: Layout): void {
    this.settings.setValue(KEY, JSON.stringify(layout));
    this.settings.sync();
  }
}

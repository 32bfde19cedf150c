/**
 * Structured logs: pino JSON lines to a file (for support), never to the console — the console
 * gets only the short human lines of stage and health changes.
 */
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { ensureDirSync } from '../files/dirs';
import { safeMessage } from '../text/safe';

export type { Logger };

export function fileLogger(path: string, level: string, runId: string): Logger {
  // Not pino's `mkdir: true`: Node's recursive mkdir never returns on procfs-like file systems.
  ensureDirSync(dirname(path));
  // sync: a crash must not lose the lines that explain it; volume is low (no per-frame logging).
  const dest = pino.destination({ dest: path, sync: true });
  return pino({ level, base: { run_id: runId }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * `[HH:MM:SS] message` in local time. The message often quotes the outside world (a REST error
 * body, a close reason, a URL), so it is escaped to one printable line and its URLs are redacted:
 * a body carrying ESC or CR LF cannot forge or repaint a console line.
 */
export function consoleLine(nowMs: number, message: string): string {
  const d = new Date(nowMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `[${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}] ${safeMessage(message)}`;
}

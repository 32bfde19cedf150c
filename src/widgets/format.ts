/**
 * Number and time formatting for the window, without `Intl` (src/text/numbers.ts says why).
 */
export { formatFixed, formatInt } from '../text/numbers';

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Local time HH:MM:SS. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local date and time YYYY-MM-DD HH:MM:SS. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms)}`;
}

/** Local MM-DD HH:MM:SS: the events table's time column (the year is in the detail pane). */
export function formatMonthDayTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms)}`;
}

/**
 * An age in seconds, short and in whole units: "0 s", "12 s", "4 min", "2.5 h". Whole seconds on
 * purpose: a tenth of a second is noise to a reader, and a cell whose text does not change is not
 * repainted (the per-symbol grid otherwise repaints its age cells on every render).
 */
export function formatAge(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 120) return `${Math.floor(s)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A share as a percentage with one decimal: 0.1234 → "12.3 %"; nothing of nothing is "—". */
export function formatShare(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : '—';
}

/**
 * Earlier runs' events in the Promoted Events panel (issue 10 item 3), as pure text: below this
 * run's events, newest first, grouped by run and labelled with its id, mode and start. The worker
 * sends the history once at start (src/store/history.ts, at most 500 events); the panel writes
 * the first HISTORY_SHOWN of them in full, like this run's (EVENTS_SHOWN), and counts the rest.
 * This run's counters (the status bar, the health panel) are never mixed with history.
 */
import type { History, HistoryEntry } from '../store/history';
import { eventCells } from './events-model';
import { type Cell, COLORS, eventBlock, formatDateTime, formatInt, type GridModel } from './view-model';

/** Earlier events written in full; the rest are counted (all are in the store: `peak-pressure events`). */
export const HISTORY_SHOWN = 100;

export interface HistoryGroup {
  run_id: string;
  /** `Run lx3k9a1b — LIVE_PEAK_PRESSURE — started 2026-01-06 14:02:11` */
  label: string;
  /** One text block per event, newest first (eventBlock of the view-model). */
  blocks: string[];
}

export interface HistoryView {
  title: string;
  groups: HistoryGroup[];
  /** "… N older events not shown" when the history holds more than is written out. */
  more: string | null;
  /** The whole section as the panel shows it below this run's events. */
  text: string;
}

export function runLabel(e: Pick<HistoryEntry, 'run_id' | 'run_mode' | 'run_started_ms'>): string {
  const started = e.run_started_ms === null ? 'start unknown' : `started ${formatDateTime(e.run_started_ms)}`;
  return `Run ${e.run_id} — ${e.run_mode ?? 'mode unknown'} — ${started}`;
}

/**
 * The history section. `precision` gives a symbol's price decimals where this run knows them
 * (snapshot `per_symbol`), else 2. Null history (not received, or headless): no section.
 */
export function historyView(h: History | null, precision: (symbol: string) => number | undefined = () => undefined, shown = HISTORY_SHOWN): HistoryView | null {
  if (h === null) return null;
  const n = h.entries.length;
  const title = `=== EARLIER RUNS (${formatInt(n)} event${n === 1 ? '' : 's'}, newest first) ===`;
  if (n === 0) return { title, groups: [], more: null, text: `${title}\n\nNo events from earlier runs in the store.` };
  const groups: HistoryGroup[] = [];
  for (const e of h.entries.slice(0, shown)) {
    let g = groups[groups.length - 1];
    // Consecutive events of one run share a label; runs that overlapped in time may alternate.
    if (g === undefined || g.run_id !== e.run_id) {
      g = { run_id: e.run_id, label: runLabel(e), blocks: [] };
      groups.push(g);
    }
    g.blocks.push(eventBlock(e.event, precision(e.event.symbol) ?? 2));
  }
  const older = n - Math.min(n, shown);
  const more = older > 0 ? `… ${formatInt(older)} older event${older === 1 ? '' : 's'} not shown (all are in the store: peak-pressure events)` : null;
  const body = groups.map((g) => [`--- ${g.label} ---`, '', g.blocks.join('\n\n')].join('\n'));
  return { title, groups, more, text: [title, '', [...body, ...(more ? [more] : [])].join('\n\n')].join('\n') };
}

/** This run's panel text (eventsPanel) with the history section below it. */
export function eventsWithHistory(thisRun: string, h: HistoryView | null): string {
  return h === null ? thisRun : `${thisRun}\n\n${h.text}`;
}

/** The history table's columns: the run and its start, then the events table's own columns. */
export const HISTORY_COLUMNS = [
  'Run (started)',
  'Time',
  'Symbol',
  'Side',
  'Stress',
  'Flow (USDT)',
  'Trades',
  'Large trades',
  'Body ratio',
  'Rule set / policy',
] as const;

export interface HistoryTable {
  title: string;
  grid: GridModel;
  /** Shown instead of the table when the store holds no earlier event. */
  empty: string | null;
}

/** `earlier1 · 2026-01-06 00:00:00` (the run's id and the date it started). */
export function runCell(e: Pick<HistoryEntry, 'run_id' | 'run_started_ms'>): string {
  return `${e.run_id} · ${e.run_started_ms === null ? 'start unknown' : formatDateTime(e.run_started_ms)}`;
}

/**
 * The history as the Promoted Events tab shows it, below this run's table: one row per earlier
 * event (all the worker sent, at most HISTORY_LIMIT), newest first, each labelled with its run and
 * the run's start; the run's colour alternates so consecutive runs stand apart. Null: not received.
 */
export function historyTable(h: History | null): HistoryTable | null {
  if (h === null) return null;
  const n = h.entries.length;
  const title = `=== EARLIER RUNS (${formatInt(n)} event${n === 1 ? '' : 's'}, newest first) ===`;
  const rows: Cell[][] = [];
  let run = '';
  let shade = true;
  for (const e of h.entries) {
    if (e.run_id !== run) {
      run = e.run_id;
      shade = !shade;
    }
    const runColor = shade ? COLORS.grey : COLORS.white;
    const side = e.event.dominant_side === 'BUY' ? COLORS.buy : COLORS.sell;
    rows.push([{ text: runCell(e), color: runColor }, ...eventCells(e.event).map((text, i) => ({ text, color: i === 2 ? side : COLORS.text }))]);
  }
  return { title, grid: { columns: HISTORY_COLUMNS, rows }, empty: n === 0 ? 'No events from earlier runs in the store.' : null };
}

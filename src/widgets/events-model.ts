/**
 * The promoted-events table without Qt: one row per event, the rows of this run kept in arrival
 * order (capped), and the display order after the user's filter and sort. Snapshots carry the
 * newest events (a ring of 1000); `EventLog.ingest` appends the ones it has not seen, so a row is
 * added once and never rebuilt. Every change to the display order is announced through
 * `RowChanges` before and after it happens, which is what a Qt item model needs
 * (src/widgets/events-table.ts binds it to a QAbstractTableModel).
 */
import type { PromotedEvent, StressSource } from '../core/contracts/promoted';
import { formatDateTime, formatFixed, formatInt, formatMonthDayTime } from './format';
import { COLORS, eventBlock } from './view-model';

/** Rows the table keeps (this run's newest); older ones leave the table, not debug/audit.jsonl. */
export const EVENT_ROWS_MAX = 10_000;

export interface EventColumn {
  title: string;
  /** Right-aligned, sorted by value. */
  numeric: boolean;
  /** Text that sizes the column by default (the widest value it usually holds). */
  sample: string;
}

export const EVENT_COLUMNS: readonly EventColumn[] = Object.freeze([
  { title: 'Time', numeric: false, sample: '12-31 23:59:59' },
  { title: 'Symbol', numeric: false, sample: '1000PEPEUSDT' },
  { title: 'Side', numeric: false, sample: 'SELL' },
  // Sized for the usual single source; "liquidations, oi_change" elides (the tooltip has it whole), so the table fits at 1280 px.
  { title: 'Stress', numeric: false, sample: 'liquidations, oi' },
  { title: 'Flow (USDT)', numeric: true, sample: '12,345,678.90' },
  { title: 'Trades', numeric: true, sample: '12,345' },
  { title: 'Large trades', numeric: true, sample: 'Large trades' },
  { title: 'Body ratio', numeric: true, sample: 'Body ratio' },
  { title: 'Rule set / policy', numeric: false, sample: 'peak-pressure-m3 v1' },
]);

export interface EventRow {
  /** Arrival ordinal in this run: 1 = the run's first promoted event. */
  ordinal: number;
  event: PromotedEvent;
  /** Display texts, one per EVENT_COLUMNS entry. */
  cells: readonly string[];
  sideColor: string;
  pricePrecision: number;
}

export function ruleSetLabel(e: PromotedEvent): string {
  return `${e.rule_set.id} v${e.rule_set.version}`;
}

export function eventCells(e: PromotedEvent): string[] {
  const m = e.metrics;
  return [
    formatMonthDayTime(e.window_end_ms),
    e.symbol,
    e.dominant_side,
    e.stress_sources.join(', '),
    formatFixed(m.abs_flow, 2),
    formatInt(m.trade_count),
    formatInt(m.large_trade_count),
    m.body_ratio.toFixed(2),
    ruleSetLabel(e),
  ];
}

export function eventRow(e: PromotedEvent, ordinal: number, pricePrecision = 2): EventRow {
  return { ordinal, event: e, cells: eventCells(e), sideColor: e.dominant_side === 'BUY' ? COLORS.buy : COLORS.sell, pricePrecision };
}

/** Epoch milliseconds after 2001: worth a readable local time next to the number. */
const looksLikeEpochMs = (key: string, v: number): boolean => key.endsWith('_ms') && Number.isInteger(v) && v > 1e12;

function fieldLines(prefix: string, value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    out.push(`${prefix}: ${value.map((v) => String(v)).join(', ')}`);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) fieldLines(prefix ? `${prefix}.${k}` : k, v, out);
  } else if (typeof value === 'number' && looksLikeEpochMs(prefix, value)) {
    out.push(`${prefix}: ${value} (${formatDateTime(value)}.${String(value % 1000).padStart(3, '0')})`);
  } else {
    out.push(`${prefix}: ${String(value)}`);
  }
}

/** Every field of the event, exact values (numbers unrounded), nested keys dotted, in contract order. */
export function eventFields(e: PromotedEvent): string[] {
  const out: string[] = [];
  fieldLines('', e, out);
  return out;
}

/** The detail pane for a selected event: the SPEC §9 block, then every field. */
export function eventDetail(row: EventRow): string {
  return `${eventBlock(row.event, row.pricePrecision)}\n\nAll fields (event #${formatInt(row.ordinal)} of this run)\n${eventFields(row.event).join('\n')}`;
}

export interface EventFilter {
  symbol: string | null;
  source: StressSource | null;
  /** Case-insensitive; matched against the row's cell texts. */
  text: string;
}

export interface EventSort {
  /** Index into EVENT_COLUMNS. */
  column: number;
  descending: boolean;
}

export const DEFAULT_SORT: EventSort = Object.freeze({ column: 0, descending: true });
export const NO_FILTER: EventFilter = Object.freeze({ symbol: null, source: null, text: '' });

function sortKey(row: EventRow, column: number): number | string {
  const e = row.event;
  const m = e.metrics;
  switch (column) {
    case 0:
      return e.window_end_ms;
    case 4:
      return m.abs_flow;
    case 5:
      return m.trade_count;
    case 6:
      return m.large_trade_count;
    case 7:
      return m.body_ratio;
    default:
      return row.cells[column] ?? '';
  }
}

/** Negative when `a` is shown above `b`. Ties: arrival order in the sort's direction (newest first when descending). */
export function compareRows(a: EventRow, b: EventRow, sort: EventSort): number {
  const ka = sortKey(a, sort.column);
  const kb = sortKey(b, sort.column);
  const c = ka < kb ? -1 : ka > kb ? 1 : a.ordinal - b.ordinal;
  return sort.descending ? -c : c;
}

export function matchesFilter(row: EventRow, f: EventFilter): boolean {
  if (f.symbol !== null && row.event.symbol !== f.symbol) return false;
  if (f.source !== null && !row.event.stress_sources.includes(f.source)) return false;
  if (f.text === '') return true;
  const needle = f.text.toLowerCase();
  return row.cells.some((c) => c.toLowerCase().includes(needle));
}

/** Told before and after every change of the display order, with the row position it concerns. */
export interface RowChanges {
  beforeInsert(pos: number): void;
  afterInsert(): void;
  beforeRemove(pos: number): void;
  afterRemove(): void;
  beforeReset(): void;
  afterReset(): void;
}

const SILENT: RowChanges = Object.freeze({
  beforeInsert: () => undefined,
  afterInsert: () => undefined,
  beforeRemove: () => undefined,
  afterRemove: () => undefined,
  beforeReset: () => undefined,
  afterReset: () => undefined,
});

export class EventLog {
  /** This run's rows, oldest first, at most `cap`. */
  private readonly arrival: EventRow[] = [];
  /** The rows shown, in display order. */
  private view: EventRow[] = [];
  /** Ordinal of the newest event ingested. */
  private seen = 0;
  /** Events that never reached the log (more promoted between two snapshots than a snapshot holds). */
  missed = 0;
  /** Rows that left the table to keep it within `cap`. */
  evicted = 0;
  private sortState: EventSort = DEFAULT_SORT;
  private filterState: EventFilter = NO_FILTER;
  changes: RowChanges = SILENT;

  constructor(readonly cap = EVENT_ROWS_MAX) {}

  get size(): number {
    return this.view.length;
  }

  get rows(): number {
    return this.arrival.length;
  }

  get sort(): EventSort {
    return this.sortState;
  }

  get filter(): EventFilter {
    return this.filterState;
  }

  rowAt(pos: number): EventRow | undefined {
    return this.view[pos];
  }

  positionOf(ordinal: number): number {
    return this.view.findIndex((r) => r.ordinal === ordinal);
  }

  /** The rows shown, in display order (a copy). */
  shown(): EventRow[] {
    return [...this.view];
  }

  /**
   * `newest` are the last `newest.length` of `total` events promoted since start, oldest first
   * (a snapshot's promoted_events with its counters.peak_pressure_events). Appends those not seen
   * yet; returns how many.
   */
  ingest(total: number, newest: readonly PromotedEvent[], pricePrecision: (symbol: string) => number): number {
    const first = total - newest.length + 1;
    let added = 0;
    for (let i = 0; i < newest.length; i++) {
      const ordinal = first + i;
      if (ordinal <= this.seen) continue;
      if (ordinal > this.seen + 1) this.missed += ordinal - this.seen - 1;
      const e = newest[i] as PromotedEvent;
      this.append(eventRow(e, ordinal, pricePrecision(e.symbol)));
      this.seen = ordinal;
      added++;
    }
    return added;
  }

  private append(row: EventRow): void {
    this.arrival.push(row);
    if (matchesFilter(row, this.filterState)) {
      const pos = this.insertionPoint(row);
      this.changes.beforeInsert(pos);
      this.view.splice(pos, 0, row);
      this.changes.afterInsert();
    }
    if (this.arrival.length > this.cap) {
      const old = this.arrival.shift() as EventRow;
      this.evicted++;
      const pos = this.view.lastIndexOf(old);
      if (pos >= 0) {
        this.changes.beforeRemove(pos);
        this.view.splice(pos, 1);
        this.changes.afterRemove();
      }
    }
  }

  /** First position whose row sorts after `row` (binary search in the display order). */
  private insertionPoint(row: EventRow): number {
    let lo = 0;
    let hi = this.view.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRows(this.view[mid] as EventRow, row, this.sortState) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A new sort or filter is a new display order: announced as one reset. Returns false when nothing changed. */
  arrange(sort: EventSort, filter: EventFilter): boolean {
    const same =
      sort.column === this.sortState.column &&
      sort.descending === this.sortState.descending &&
      filter.symbol === this.filterState.symbol &&
      filter.source === this.filterState.source &&
      filter.text === this.filterState.text;
    if (same) return false;
    this.changes.beforeReset();
    this.sortState = { ...sort };
    this.filterState = { ...filter };
    this.view = this.arrival.filter((r) => matchesFilter(r, filter)).sort((a, b) => compareRows(a, b, sort));
    this.changes.afterReset();
    return true;
  }
}

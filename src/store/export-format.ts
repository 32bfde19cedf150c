/**
 * How stored events are exported (`peak-pressure events`): one flat record per event with the run,
 * the rule-set/policy id and version, and every field of the event; every epoch-ms time also as
 * ISO 8601 UTC. JSONL keeps nesting; CSV flattens it to dotted columns with RFC 4180 quoting.
 * Pure: rows in, text out.
 */
import type { StoredEventRow } from './contract';

/** Epoch-ms values this large and this small are times (2001-09-09 … 2286-11-20), not durations. */
const EPOCH_MS_MIN = 1e12;
const EPOCH_MS_MAX = 1e13;

function isEpochMsKey(key: string, value: unknown): value is number {
  return key.endsWith('_ms') && typeof value === 'number' && Number.isInteger(value) && value >= EPOCH_MS_MIN && value < EPOCH_MS_MAX;
}

export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** The event's own JSON with the run and policy after its id and an `_utc` twin after each epoch-ms field. */
export function exportRecord(row: StoredEventRow): Record<string, unknown> {
  const event = JSON.parse(row.json) as Record<string, unknown>;
  const out: Record<string, unknown> = { event_id: row.event_id, run_id: row.run_id, policy_id: row.policy_id, policy_version: row.policy_version };
  for (const [k, v] of Object.entries(event)) {
    if (k === 'event_id') continue;
    out[k] = v;
    if (isEpochMsKey(k, v)) out[`${k.slice(0, -3)}_utc`] = isoUtc(v);
  }
  return out;
}

export function jsonlLine(row: StoredEventRow): string {
  return `${JSON.stringify(exportRecord(row))}\n`;
}

type Cell = string | number | boolean | null;

/**
 * Dotted keys for nested objects; an array of plain values becomes one cell joined by ";" (e.g.
 * stress sources), any other array its JSON. `rule_set` / `policy` are left out: `policy_id` and
 * `policy_version` already carry them, for both kinds of event.
 */
export function flatten(record: Record<string, unknown>, prefix = '', out: Record<string, Cell> = {}): Record<string, Cell> {
  for (const [k, v] of Object.entries(record)) {
    if (prefix === '' && (k === 'rule_set' || k === 'policy')) continue;
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (v === null || v === undefined) out[key] = null;
    else if (Array.isArray(v)) out[key] = v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x)) ? v.join(';') : JSON.stringify(v);
    else if (typeof v === 'object') flatten(v as Record<string, unknown>, key, out);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else out[key] = String(v);
  }
  return out;
}

/** RFC 4180: a field with a comma, a double quote, CR or LF is quoted, inner quotes doubled. */
export function csvField(c: Cell): string {
  if (c === null) return '';
  const s = String(c);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly Cell[]): string {
  return `${cells.map(csvField).join(',')}\r\n`;
}

/** The CSV columns of a set of rows: first-seen order, so M3 events always give the same header. */
export function csvColumns(rows: Iterable<StoredEventRow>): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const k of Object.keys(flatten(exportRecord(row)))) seen.add(k);
  return [...seen];
}

export function csvRow(row: StoredEventRow, columns: readonly string[]): string {
  const flat = flatten(exportRecord(row));
  return csvLine(columns.map((c) => flat[c] ?? null));
}

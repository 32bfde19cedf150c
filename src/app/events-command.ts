/**
 * `peak-pressure events [--since T] [--until T] [--symbol S] [--policy P] [--format jsonl|csv] [--db FILE]`:
 * the promoted events of the store, oldest first, on stdout (SPEC §21 export).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { EventQuery } from '../store/contract';
import { csvColumns, csvLine, csvRow, jsonlLine } from '../store/export-format';
import { DEFAULT_STORE_PATH, EventStore } from '../store/store';
import { wallClock } from '../clock/clock';

export const EVENTS_USAGE = `usage: peak-pressure events [options]

Prints the promoted events stored by live runs and replays (M3 and policy events), oldest first:
every field, the run, the rule-set/policy id and version, and every time as epoch ms and ISO 8601 UTC.

options:
  --since T           events whose window ends at or after T
  --until T           events whose window ends before T
                      T: epoch milliseconds (1723161300000) or ISO 8601 (2024-08-08, 2024-08-08T23:55:00Z,
                      2024-08-08T23:55:00+02:00; without a zone it is UTC)
  --symbol S[,S…]     only these symbols
  --policy P[@V]      only this rule set / policy (peak-pressure-m3, four-pillars-001), optionally one version
  --format jsonl|csv  JSON lines (default) or CSV with a header (RFC 4180, CRLF)
  --db FILE           the store (default ${DEFAULT_STORE_PATH})
`;

/** A bad command line: printed as one line plus the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const ISO = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch ms, or ISO 8601 (a date alone is UTC midnight; a time without a zone is UTC). */
export function parseTimeArg(name: string, s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (s.length <= 11)
      throw new UsageError(`--${name} ${s}: too few digits for epoch milliseconds (13, e.g. 1723161300000; seconds are not accepted) — or give ISO 8601`);
    if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} ${s}: not a usable epoch-ms number`);
    return n;
  }
  const m = ISO.exec(s);
  const ms = m ? Date.parse(m[2] === undefined ? `${m[1]}T00:00:00Z` : `${m[1]}T${m[2]}${m[3] ?? 'Z'}`) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} ${s}: not a time; use epoch milliseconds or ISO 8601 such as 2024-08-08T23:55:00Z`);
  return ms;
}

export function parsePolicyArg(s: string): { id: string; version?: number } {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:@(\d+))?$/.exec(s);
  if (!m) throw new UsageError(`--policy ${s}: expected an id such as peak-pressure-m3, optionally @VERSION`);
  return m[2] === undefined ? { id: m[1] as string } : { id: m[1] as string, version: Number(m[2]) };
}

export function parseSymbolsArg(s: string): string[] {
  const list = s
    .split(',')
    .map((x) => x.trim().toUpperCase())
    .filter((x) => x.length > 0);
  const bad = list.find((x) => !/^[A-Z0-9]{2,30}$/.test(x));
  if (list.length === 0 || bad !== undefined) throw new UsageError(`--symbol ${s}: expected symbols such as BTCUSDT or BTCUSDT,ETHUSDT`);
  return list;
}

export interface EventsArgs {
  query: EventQuery;
  format: 'jsonl' | 'csv';
  db: string;
  help: boolean;
}

export function parseEventsArgs(argv: string[]): EventsArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        symbol: { type: 'string' },
        policy: { type: 'string' },
        format: { type: 'string', default: 'jsonl' },
        db: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.format !== 'jsonl' && values.format !== 'csv') throw new UsageError(`--format ${values.format}: expected jsonl or csv`);
  const query: EventQuery = { order: 'asc' };
  if (values.since !== undefined) query.sinceMs = parseTimeArg('since', values.since);
  if (values.until !== undefined) query.untilMs = parseTimeArg('until', values.until);
  if (query.sinceMs !== undefined && query.untilMs !== undefined && query.untilMs <= query.sinceMs) {
    throw new UsageError(`--until ${values.until} is not after --since ${values.since}`);
  }
  if (values.symbol !== undefined) query.symbols = parseSymbolsArg(values.symbol);
  if (values.policy !== undefined) query.policy = parsePolicyArg(values.policy);
  return { query, format: values.format, db: resolve(values.db ?? DEFAULT_STORE_PATH), help: values.help };
}

/** Runs a command whose bad arguments print one line and the usage and exit 2. */
export async function withUsage(usage: string, name: string, run: () => Promise<number> | number): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`peak-pressure ${name}: ${e.message}\n${usage}`);
    return 2;
  }
}

/** Opens an existing store for reading, or explains on stderr why it cannot. */
export function openForReading(db: string, name: string): EventStore | null {
  if (!existsSync(db)) {
    process.stderr.write(`peak-pressure ${name}: no store at ${db} (a live run creates it; a replay writes one with --db FILE)\n`);
    return null;
  }
  const store = EventStore.open({ path: db, readonly: true });
  if (store.status.fault !== null) {
    process.stderr.write(`peak-pressure ${name}: ${store.status.fault.message}\n`);
    return null;
  }
  return store;
}

export function eventsCommand(argv: string[]): Promise<number> {
  return withUsage(EVENTS_USAGE, 'events', () => {
    const args = parseEventsArgs(argv);
    if (args.help) {
      process.stdout.write(EVENTS_USAGE);
      return 0;
    }
    const store = openForReading(args.db, 'events');
    if (store === null) return 1;
    try {
      let n = 0;
      const out = (s: string): void => {
        process.stdout.write(s);
      };
      if (args.format === 'jsonl') {
        for (const row of store.iterateEvents(args.query)) {
          out(jsonlLine(row));
          n++;
        }
      } else {
        // Two passes: the header needs every column (policy events may carry fields M3 events lack).
        const columns = csvColumns(store.iterateEvents(args.query));
        out(csvLine(columns));
        for (const row of store.iterateEvents(args.query)) {
          out(csvRow(row, columns));
          n++;
        }
      }
      process.stderr.write(`${n} event(s) from ${args.db}\n`);
      return 0;
    } finally {
      store.close(wallClock.now(), 'open');
    }
  });
}

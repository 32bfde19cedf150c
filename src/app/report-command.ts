/** `peak-pressure report [--day YYYY-MM-DD|today|yesterday] [--db FILE] [--json]`: the daily summary of one UTC day. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDailySummary, dayRange, formatDailySummary, utcDay } from '../store/daily-summary';
import { DEFAULT_STORE_PATH, EventStore } from '../store/store';
import { UsageError, withUsage } from './events-command';
import { wallClock } from '../clock/clock';

export const REPORT_USAGE = `usage: peak-pressure report [options]

The summary of one UTC day from the event store: events per policy, symbol and stress source, the
runs, alerts, and — where the collector recorded them in the store's audit table — time in each
health state, reconnects, the counter partition and OI / liquidation coverage. Printed, and kept in
the store (one row per day, replaced by a later report of the same day).

options:
  --day D      YYYY-MM-DD, today or yesterday (UTC; default today)
  --db FILE    the store (default ${DEFAULT_STORE_PATH})
  --json       the summary as one JSON object
`;

export function parseDayArg(s: string, nowMs: number): string {
  if (s === 'today') return utcDay(nowMs);
  if (s === 'yesterday') return utcDay(nowMs - 86_400_000);
  try {
    dayRange(s);
  } catch {
    throw new UsageError(`--day ${s}: expected YYYY-MM-DD (a UTC day), today or yesterday`);
  }
  return s;
}

export function reportCommand(argv: string[], nowMs = wallClock.now()): Promise<number> {
  return withUsage(REPORT_USAGE, 'report', () => {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: false,
        options: {
          day: { type: 'string' },
          db: { type: 'string' },
          json: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values } = parsed;
    if (values.help) {
      process.stdout.write(REPORT_USAGE);
      return 0;
    }
    const day = parseDayArg(values.day ?? 'today', nowMs);
    const db = resolve(values.db ?? DEFAULT_STORE_PATH);
    if (!existsSync(db)) {
      process.stderr.write(`peak-pressure report: no store at ${db} (a live run creates it; a replay writes one with --db FILE)\n`);
      return 1;
    }
    // Read-write: the summary is kept as a row, and an older store is migrated first.
    const store = EventStore.open({ path: db, busyTimeoutMs: 2_000 }, nowMs);
    try {
      if (store.status.fault !== null) {
        process.stderr.write(`peak-pressure report: ${store.status.fault.message}\n`);
        return 1;
      }
      const summary = buildDailySummary(store, day, nowMs);
      const saved = store.saveDailySummary(summary, nowMs);
      process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${formatDailySummary(summary)}\n`);
      if (!saved.ok) {
        process.stderr.write(`peak-pressure report: the summary was not kept in the store: ${saved.fault.message}\n`);
        return 1;
      }
      return 0;
    } finally {
      store.close(nowMs, 'open');
    }
  });
}

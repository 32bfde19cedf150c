/**
 * The window's history (issue 10 item 3): earlier runs' events as the worker sends them to the UI
 * once at start — newest first, bounded, each with its run's id, start and mode for the label.
 * M3 events only for now: a row whose JSON is not a promoted M3 event (an M6 policy event, once
 * they are stored) is counted as skipped rather than sent in a shape the panel cannot show.
 */
import { z } from 'zod';
import { PromotedEventSchema } from '../core/contracts/promoted';
import type { StoredEventRow } from './contract';

/** How many earlier events the window gets at start. */
export const HISTORY_LIMIT = 500;

export const HistoryEntrySchema = z.object({
  run_id: z.string(),
  /** The run's start (local ms); null when the runs table has no row for it. */
  run_started_ms: z.number().int().nullable(),
  run_mode: z.string().nullable(),
  event: PromotedEventSchema,
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

export interface History {
  entries: HistoryEntry[];
  /** Rows that are not M3 events, or whose JSON does not parse. */
  skipped: number;
}

export function historyOf(rows: readonly (StoredEventRow & { run_started_ms: number | null; run_mode: string | null })[]): History {
  const entries: HistoryEntry[] = [];
  let skipped = 0;
  for (const r of rows) {
    let json: unknown;
    try {
      json = JSON.parse(r.json);
    } catch {
      skipped++;
      continue;
    }
    const e = PromotedEventSchema.safeParse(json);
    if (!e.success) {
      skipped++;
      continue;
    }
    entries.push({ run_id: r.run_id, run_started_ms: r.run_started_ms, run_mode: r.run_mode, event: e.data });
  }
  return { entries, skipped };
}

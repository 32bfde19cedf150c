/**
 * The replay summary's parts for what runs beside M3: policy `four-pillars-001`'s partition per
 * symbol, and each book at the end of the input. Deterministic like M3's summary (no wall-clock
 * values; keys in a fixed order).
 */
import type { OrderBooks } from '../core/books';
import type { BookStatus } from '../core/contracts/books';
import { POLICY_OUTCOMES, type PolicyEvent, type PolicyOutcome } from '../core/policy/contracts';
import type { FourPillarsPolicy } from '../core/policy/four-pillars';

export interface PolicySymbolSummary {
  windows_seen: number;
  empty: number;
  judged: number;
  partition: Record<PolicyOutcome, number>;
  /** judged = Σ partition, and windows_seen = judged + empty. */
  partition_holds: boolean;
}

export interface PolicySummary {
  id: string;
  version: number;
  /** Promoted policy events (never counted in M3's `promotions`). */
  events: number;
  partition_holds: boolean;
  per_symbol: Record<string, PolicySymbolSummary>;
}

/** What a replay reports of each book at the end of its input, in this order. */
const BOOK_SUMMARY_FIELDS = [
  'state',
  'diffs_applied',
  'pu_gaps',
  'resyncs',
  'best_bid',
  'best_ask',
  'levels',
  'levels_pruned',
  'snapshots_applied',
  'snapshots_stale',
  'snapshot_requests',
] as const satisfies readonly (keyof BookStatus)[];

/** `best_bid`/`best_ask` are the exchange's decimal strings (null unless live); `snapshot_requests` are only counted in replay (the capture holds the bodies that were fetched). */
export type BookSummary = Pick<BookStatus, (typeof BOOK_SUMMARY_FIELDS)[number]>;

export interface BooksSummary {
  depth_frames: number;
  malformed: number;
  snapshots_unattributed: number;
  per_symbol: Record<string, BookSummary>;
}

/** The policy's partition per symbol, in POLICY_OUTCOMES order. */
export function summarizePolicy(policy: FourPillarsPolicy, symbols: readonly string[]): PolicySummary {
  const per: Record<string, PolicySymbolSummary> = {};
  let holds = true;
  for (const s of symbols) {
    const c = policy.counters(s);
    if (c === undefined) continue;
    const partition = Object.fromEntries(POLICY_OUTCOMES.map((k) => [k, c[k]])) as Record<PolicyOutcome, number>;
    const ok = POLICY_OUTCOMES.reduce((sum, k) => sum + c[k], 0) === c.judged && c.judged + c.empty === c.windows_seen;
    holds &&= ok;
    per[s] = { windows_seen: c.windows_seen, empty: c.empty, judged: c.judged, partition, partition_holds: ok };
  }
  const section = policy.section(0);
  return { id: section.policy.id, version: section.policy.version, events: section.counters.promoted, partition_holds: holds, per_symbol: per };
}

/** Each book as of `nowMs` (the last frame's receive time). */
export function summarizeBooks(books: OrderBooks, nowMs: number): BooksSummary {
  const status = books.status(nowMs);
  const per: Record<string, BookSummary> = {};
  for (const [symbol, b] of Object.entries(status.per_symbol)) {
    per[symbol] = Object.fromEntries(BOOK_SUMMARY_FIELDS.map((k) => [k, b[k]])) as BookSummary;
  }
  return { depth_frames: status.depth_frames, malformed: status.malformed, snapshots_unattributed: status.snapshots_unattributed, per_symbol: per };
}

/** One JSONL line per policy event; key order fixed by construction in the policy. */
export function policyEventLine(e: PolicyEvent): string {
  return `${JSON.stringify(e)}\n`;
}

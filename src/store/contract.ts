/**
 * What goes into the store and what comes out of it. An event is any promoted event of a policy:
 * M3 events carry `rule_set: {id, version}`, M6 policy events `policy: {id, version}` (SPEC §17);
 * the store indexes the common fields and keeps the whole canonical JSON.
 */
import { z } from 'zod';
import { ModeSchema } from '../core/contracts/vocabulary';

export const PolicyRefSchema = z.object({ id: z.string().min(1), version: z.number().int().nonnegative() });
export type PolicyRef = z.infer<typeof PolicyRefSchema>;

const eventKeys = {
  event_id: z.string().min(1),
  symbol: z.string().min(1),
  window_start_ms: z.number().int(),
  window_end_ms: z.number().int(),
};

export const StorableEventSchema = z.union([
  z.looseObject({ ...eventKeys, rule_set: PolicyRefSchema }),
  z.looseObject({ ...eventKeys, policy: PolicyRefSchema }),
]);
export type StorableEvent = z.infer<typeof StorableEventSchema>;

/** The rule set or policy that judged an event. */
export function policyOf(e: StorableEvent): PolicyRef {
  const m3 = PolicyRefSchema.safeParse(e.rule_set);
  return m3.success ? m3.data : PolicyRefSchema.parse(e.policy);
}

export const RunStartSchema = z.object({
  run_id: z.string().min(1),
  started_ms: z.number().int().nonnegative(),
  mode: ModeSchema,
  /** Often unknown at start: set later with `setRunSymbols`. */
  symbols: z.array(z.string()).default([]),
  rule_set: PolicyRefSchema,
  /** Further policies evaluated in this run (M6). */
  policies: z.array(PolicyRefSchema).default([]),
  config_hash: z.string(),
  app_version: z.string(),
  /** What fed the run: "" live, the capture files for a replay. */
  source: z.string().default(''),
});
export type RunStart = z.input<typeof RunStartSchema>;

const jsonArray = <T extends z.ZodType>(item: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.array(item));

/** A `runs` row as read back (JSON columns decoded). */
export const RunRowSchema = z.object({
  run_id: z.string(),
  started_ms: z.number().int(),
  ended_ms: z.number().int().nullable(),
  end_kind: z.enum(['clean', 'unclean']).nullable(),
  last_seen_ms: z.number().int(),
  mode: z.string(),
  symbols: jsonArray(z.string()),
  rule_set_id: z.string(),
  rule_set_version: z.number().int(),
  policies: jsonArray(PolicyRefSchema),
  config_hash: z.string(),
  app_version: z.string(),
  host: z.string(),
  pid: z.number().int(),
  source: z.string(),
});
export type RunRow = z.infer<typeof RunRowSchema>;

/** An `events` row: the indexed columns and the canonical JSON. */
export interface StoredEventRow {
  policy_id: string;
  policy_version: number;
  event_id: string;
  run_id: string;
  symbol: string;
  window_start_ms: number;
  window_end_ms: number;
  stored_ms: number;
  json: string;
}

export interface EventQuery {
  /** window_end_ms ≥ this. */
  sinceMs?: number;
  /** window_end_ms < this. */
  untilMs?: number;
  symbols?: readonly string[];
  policy?: { id: string; version?: number };
  runId?: string;
  /** Rows of every run but this one (the window's history of earlier runs). */
  excludeRunId?: string;
  order?: 'asc' | 'desc';
  limit?: number;
}

/**
 * The daily summary of one UTC day (seed 002 REPORT_DAILY_SUMMARY), computed from the store:
 * events per policy, symbol and stress source (events table); runs; alerts (alerts table); and,
 * from the audit table when the collector has recorded them, time in each health state
 * (HEALTH_CHANGED), reconnects (WS_DISCONNECTED), stream uptime (WS_CONNECTED/WS_DISCONNECTED),
 * and the counter partition, OI and liquidation coverage (differences of COUNTERS_SAMPLED records).
 * What the store cannot answer is listed in `missing`, never guessed.
 */
import { z } from 'zod';
import { type AuditEnvelope, CountersSampleSchema, type CountersSample } from '../core/contracts/audit';
import type { SymbolCounters } from '../core/contracts/counters';
import { PARTITION_KEYS } from '../core/contracts/counters';
import { HealthStateSchema, type HealthState } from '../core/contracts/vocabulary';
import { formatInt } from '../text/numbers';
import type { RunRow } from './contract';
import type { EventStore } from './store';

const DAY_MS = 86_400_000;
/** windows_processed and the eight outcomes that partition it (SPEC §6.1). */
const PARTITION = ['windows_processed', ...PARTITION_KEYS] as const satisfies readonly (keyof SymbolCounters)[];

const count = z.number().int().nonnegative();
const PartitionSchema = z.object(Object.fromEntries(PARTITION.map((k) => [k, count])) as Record<(typeof PARTITION)[number], typeof count>);

export const DailySummarySchema = z.object({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  from_ms: z.number().int(),
  to_ms: z.number().int(),
  generated_ms: z.number().int(),
  /** Generated after the day ended: it will not change any more. */
  complete: z.boolean(),
  runs: z.array(
    z.object({
      run_id: z.string(),
      mode: z.string(),
      started_ms: z.number().int(),
      ended_ms: z.number().int().nullable(),
      end_kind: z.enum(['clean', 'unclean']).nullable(),
      /** Milliseconds of this day the run covered. */
      observed_ms: count,
    }),
  ),
  events: z.object({
    total: count,
    rows: z.array(
      z.object({
        policy_id: z.string(),
        policy_version: z.number().int(),
        symbol: z.string(),
        events: count,
        liquidations: count,
        oi_change: count,
        both: count,
      }),
    ),
  }),
  alerts: z.array(z.object({ reason_code: z.string(), severity: z.string(), alerts: count, occurrences: count })),
  /** From HEALTH_CHANGED audit records; null when the store holds none for the day's runs. */
  health_ms: z.record(HealthStateSchema, count).nullable(),
  /** WS_DISCONNECTED records in the day; null without WS audit records. */
  reconnects: count.nullable(),
  /** Share of observed time the market stream was connected; null without WS audit records. */
  stream_up_share: z.number().min(0).max(1).nullable(),
  /** From COUNTERS_SAMPLED differences; null without samples. */
  counters: z
    .object({
      all: PartitionSchema,
      per_symbol: z.record(
        z.string(),
        z.object({ partition: PartitionSchema, liquidations: count, oi_polls: count, oi_expected: count, oi_coverage: z.number().min(0).nullable() }),
      ),
    })
    .nullable(),
  /** What could not be computed, and what would make it computable. */
  missing: z.array(z.string()),
});
export type DailySummary = z.infer<typeof DailySummarySchema>;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dayRange(day: string): { from_ms: number; to_ms: number } {
  const from = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !Number.isFinite(from) || utcDay(from) !== day) throw new Error(`not a UTC day: ${day} (expected YYYY-MM-DD)`);
  return { from_ms: from, to_ms: from + DAY_MS };
}

const overlap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));

/**
 * Where a run's time ends for accounting: its end, else the last thing it wrote (an open run may be
 * live or may have died unnoticed; counting only what it wrote never overstates).
 */
function runEnd(run: RunRow, lastAuditMs: number | undefined): number {
  return run.ended_ms ?? Math.max(run.last_seen_ms, lastAuditMs ?? 0);
}

function emptyPartition(): Record<(typeof PARTITION)[number], number> {
  return Object.fromEntries(PARTITION.map((k) => [k, 0])) as Record<(typeof PARTITION)[number], number>;
}

interface Sample {
  ts: number;
  s: CountersSample;
}

/** The audit records the summary reads: HEALTH_CHANGED, WS_CONNECTED/WS_DISCONNECTED, COUNTERS_SAMPLED. */
const SUMMARY_AUDIT_TYPES = ['HEALTH_CHANGED', 'WS_CONNECTED', 'WS_DISCONNECTED', 'COUNTERS_SAMPLED'] as const;

/**
 * How the summary reads the audit table. The accounting walks each run's records in order, but
 * what happened before the day only matters through the state it left at midnight: the health
 * state (the last HEALTH_CHANGED), whether the stream was up (the last WS record) and the counters
 * (the last COUNTERS_SAMPLED). So it reads the day's records of those types and, per run, those
 * last ones — a day's worth of rows however long the store has run. (It read every audit row
 * ever written up to the day's end, every PEAK_PRESSURE_PROMOTED payload included, at each UTC
 * midnight in the collector: ~22,000 rows a day at cascade rates, growing with every day kept.)
 */
export interface SummaryAuditReader {
  inDay(store: EventStore, fromMs: number, toMs: number): AuditEnvelope[];
  /** The run's records before `fromMs` that the accounting needs, oldest first. */
  before(store: EventStore, run: RunRow, fromMs: number): AuditEnvelope[];
}

export const boundedAuditReader: SummaryAuditReader = {
  inDay: (store, fromMs, toMs) => store.auditRows({ sinceMs: fromMs, untilMs: toMs, eventTypes: SUMMARY_AUDIT_TYPES }),
  before(store, run, fromMs) {
    if (run.started_ms >= fromMs) return [];
    const last = (types: readonly string[]): AuditEnvelope | null => {
      let best: AuditEnvelope | null = null;
      for (const eventType of types) {
        const a = store.lastAuditOfRun({ runId: run.run_id, eventType, sinceMs: run.started_ms, beforeMs: fromMs });
        if (a !== null && (best === null || a.ts_ms > best.ts_ms || (a.ts_ms === best.ts_ms && a.seq > best.seq))) best = a;
      }
      return best;
    };
    const out = [last(['HEALTH_CHANGED']), last(['WS_CONNECTED', 'WS_DISCONNECTED']), last(['COUNTERS_SAMPLED'])].filter((a): a is AuditEnvelope => a !== null);
    return out.sort((a, b) => a.ts_ms - b.ts_ms || a.seq - b.seq);
  },
};

export function buildDailySummary(store: EventStore, day: string, nowMs: number, readAudit: SummaryAuditReader = boundedAuditReader): DailySummary {
  const { from_ms, to_ms } = dayRange(day);
  const missing: string[] = [];
  const events = store.select<DailySummary['events']['rows'][number]>(
    `SELECT policy_id, policy_version, symbol, count(*) AS events,
            sum(liq) AS liquidations, sum(oi) AS oi_change, sum(liq AND oi) AS both
       FROM (SELECT e.policy_id, e.policy_version, e.symbol,
                    EXISTS (SELECT 1 FROM json_each(e.json, '$.stress_sources') AS s WHERE s.value = 'liquidations') AS liq,
                    EXISTS (SELECT 1 FROM json_each(e.json, '$.stress_sources') AS s WHERE s.value = 'oi_change') AS oi
               FROM events AS e WHERE e.window_end_ms >= @from AND e.window_end_ms < @to)
      GROUP BY policy_id, policy_version, symbol
      ORDER BY policy_id, policy_version, events DESC, symbol`,
    { from: from_ms, to: to_ms },
  );
  const alerts = store.select<DailySummary['alerts'][number]>(
    `SELECT reason_code, severity, count(*) AS alerts, sum(count) AS occurrences FROM alerts
      WHERE ts_ms >= @from AND ts_ms < @to GROUP BY reason_code, severity ORDER BY occurrences DESC, reason_code`,
    { from: from_ms, to: to_ms },
  );

  // Runs that overlap the day, each with the records the accounting needs (SummaryAuditReader).
  const inDay = readAudit.inDay(store, from_ms, to_ms);
  const byRun = new Map<string, AuditEnvelope[]>();
  for (const a of inDay) {
    const list = byRun.get(a.run_id) ?? [];
    list.push(a);
    byRun.set(a.run_id, list);
  }
  const runs = store
    .runs()
    // Cannot overlap the day: ended (or last seen) before it without a record in it, or started after it.
    .filter((r) => r.started_ms < to_ms && ((r.ended_ms ?? r.last_seen_ms) >= from_ms || byRun.has(r.run_id)))
    .map((r) => {
      const recs = [...readAudit.before(store, r, from_ms), ...(byRun.get(r.run_id) ?? [])];
      const end = runEnd(r, recs[recs.length - 1]?.ts_ms);
      return { r, end, recs, observed: overlap(r.started_ms, end, from_ms, to_ms) };
    })
    .filter((x) => x.observed > 0 || (x.r.started_ms >= from_ms && x.r.started_ms < to_ms))
    .sort((a, b) => a.r.started_ms - b.r.started_ms);

  // Health: STARTING from each run's start until its first HEALTH_CHANGED, then each state until the next.
  let healthSeen = false;
  const health: Record<HealthState, number> = { STARTING: 0, OK: 0, DEGRADED: 0, FAILED: 0 };
  let wsSeen = false;
  let up = 0;
  let reconnects = 0;
  let observedAll = 0;
  for (const { r, end, recs, observed } of runs) {
    observedAll += observed;
    let state: HealthState = 'STARTING';
    let since = r.started_ms;
    let wsUpSince: number | null = null;
    for (const a of recs) {
      if (a.event_type === 'HEALTH_CHANGED') {
        const next = HealthStateSchema.safeParse(a.payload.state);
        if (!next.success) continue;
        healthSeen = true;
        health[state] += overlap(since, a.ts_ms, from_ms, to_ms);
        state = next.data;
        since = a.ts_ms;
      } else if (a.event_type === 'WS_CONNECTED') {
        wsSeen = true;
        wsUpSince ??= a.ts_ms;
      } else if (a.event_type === 'WS_DISCONNECTED') {
        wsSeen = true;
        if (a.ts_ms >= from_ms && a.ts_ms < to_ms) reconnects++;
        if (wsUpSince !== null) up += overlap(wsUpSince, a.ts_ms, from_ms, to_ms);
        wsUpSince = null;
      }
    }
    health[state] += overlap(since, end, from_ms, to_ms);
    if (wsUpSince !== null) up += overlap(wsUpSince, end, from_ms, to_ms);
  }
  if (!healthSeen)
    missing.push('time in each health state: no HEALTH_CHANGED audit rows in the store for this day (the collector mirrors its audit trail into the store)');
  if (!wsSeen) missing.push('reconnects and stream uptime: no WS_CONNECTED / WS_DISCONNECTED audit rows for this day');

  const counters = countersOfDay(runs, from_ms, to_ms);
  if (counters === null)
    missing.push(
      'counter partition, OI and liquidation coverage: no COUNTERS_SAMPLED audit rows for this day (the collector records one every few minutes, at UTC midnight and at stop)',
    );

  return DailySummarySchema.parse({
    day,
    from_ms,
    to_ms,
    generated_ms: nowMs,
    complete: nowMs >= to_ms,
    runs: runs.map(({ r, observed }) => ({
      run_id: r.run_id,
      mode: r.mode,
      started_ms: r.started_ms,
      ended_ms: r.ended_ms,
      end_kind: r.end_kind,
      observed_ms: observed,
    })),
    events: { total: events.reduce((s, e) => s + e.events, 0), rows: events },
    alerts,
    health_ms: healthSeen ? health : null,
    reconnects: wsSeen ? reconnects : null,
    stream_up_share: wsSeen && observedAll > 0 ? Math.min(1, up / observedAll) : null,
    counters,
    missing,
  });
}

/**
 * Per run: the last sample before the day (or the run's start, when counters were zero) and the
 * last one inside it; their difference. Exact when the collector samples at UTC midnight.
 */
function countersOfDay(runs: readonly { r: RunRow; recs: readonly AuditEnvelope[] }[], from: number, to: number): DailySummary['counters'] {
  const all = emptyPartition();
  const per: NonNullable<DailySummary['counters']>['per_symbol'] = {};
  let any = false;
  for (const { r, recs } of runs) {
    const samples: Sample[] = [];
    for (const a of recs) {
      if (a.event_type !== 'COUNTERS_SAMPLED') continue;
      const p = CountersSampleSchema.safeParse(a.payload);
      if (p.success) samples.push({ ts: a.ts_ms, s: p.data });
    }
    const before = samples.filter((x) => x.ts < from).pop();
    const inside = samples.filter((x) => x.ts >= from && x.ts < to);
    const last = inside[inside.length - 1];
    if (last === undefined) continue;
    any = true;
    const t0 = before?.ts ?? r.started_ms;
    for (const [sym, c] of Object.entries(last.s.per_symbol)) {
      const b = before?.s.per_symbol[sym];
      const row = (per[sym] ??= { partition: emptyPartition(), liquidations: 0, oi_polls: 0, oi_expected: 0, oi_coverage: null });
      for (const k of PARTITION) {
        const d = c[k] - (b?.[k] ?? 0);
        row.partition[k] += d;
        all[k] += d;
      }
      row.liquidations += c.liquidations - (b?.liquidations ?? 0);
      row.oi_polls += c.oi_polls - (b?.oi_polls ?? 0);
      row.oi_expected += Math.floor((last.ts - t0) / last.s.oi_poll_interval_ms);
    }
  }
  for (const row of Object.values(per)) row.oi_coverage = row.oi_expected > 0 ? row.oi_polls / row.oi_expected : null;
  return any ? { all, per_symbol: per } : null;
}

// Not toLocaleString: the collector writes this at each UTC rollover, and ICU's number data would
// stay resident in its process (src/text/numbers.ts).
const fmt = formatInt;
const hm = (ms: number): string => `${Math.floor(ms / 3_600_000)} h ${String(Math.floor((ms % 3_600_000) / 60_000)).padStart(2, '0')} min`;

export function formatDailySummary(s: DailySummary): string {
  const out: string[] = [];
  out.push(`Daily summary ${s.day} (UTC)${s.complete ? '' : ' — day in progress'}`);
  out.push('');
  out.push(`Runs: ${s.runs.length}`);
  for (const r of s.runs) {
    out.push(
      `  ${r.run_id}  ${r.mode}  ${new Date(r.started_ms).toISOString()} → ${r.ended_ms !== null ? new Date(r.ended_ms).toISOString() : 'open'}${r.end_kind ? ` (${r.end_kind})` : ''}  observed ${hm(r.observed_ms)}`,
    );
  }
  out.push('');
  out.push(`Events: ${fmt(s.events.total)}`);
  if (s.events.rows.length > 0) {
    const head = ['policy', 'symbol', 'events', 'liquidations', 'oi_change', 'both'];
    const rows = s.events.rows.map((e) => [`${e.policy_id} v${e.policy_version}`, e.symbol, fmt(e.events), fmt(e.liquidations), fmt(e.oi_change), fmt(e.both)]);
    out.push(...table(head, rows));
  }
  out.push('');
  if (s.health_ms) {
    out.push(
      `Health: ${Object.entries(s.health_ms)
        .filter(([, ms]) => ms > 0)
        .map(([k, ms]) => `${k} ${hm(ms)}`)
        .join(', ')}`,
    );
  }
  if (s.reconnects !== null)
    out.push(
      `Reconnects: ${fmt(s.reconnects)}; market stream connected ${s.stream_up_share === null ? '–' : `${(100 * s.stream_up_share).toFixed(1)} %`} of observed time`,
    );
  if (s.counters) {
    const head = ['symbol', ...PARTITION.map((k) => k.replace(/_/g, ' ')), 'liquidations', 'OI polls', 'OI coverage'];
    const rows = Object.entries(s.counters.per_symbol).map(([sym, r]) => [
      sym,
      ...PARTITION.map((k) => fmt(r.partition[k])),
      fmt(r.liquidations),
      fmt(r.oi_polls),
      r.oi_coverage === null ? '–' : `${(100 * r.oi_coverage).toFixed(1)} %`,
    ]);
    rows.push(['all', ...PARTITION.map((k) => fmt(s.counters?.all[k] ?? 0)), '', '', '']);
    out.push('', 'Counters (this day):', ...table(head, rows));
  }
  if (s.alerts.length > 0) {
    out.push('', 'Alerts:');
    for (const a of s.alerts) out.push(`  ${a.severity} ${a.reason_code}: ${fmt(a.alerts)} alert(s), ${fmt(a.occurrences)} occurrence(s)`);
  }
  if (s.missing.length > 0) out.push('', 'Not in the store for this day:', ...s.missing.map((m) => `  - ${m}`));
  return out.join('\n');
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: readonly string[]): string => `  ${c.map((x, i) => (i === 0 ? x.padEnd(w[i] ?? 0) : x.padStart(w[i] ?? 0))).join('  ')}`;
  return [line(head), ...rows.map(line)];
}

/**
 * Shared by the sink tests: a store filled with the real promoted events of the fixture replay
 * (test/store-helpers.ts) plus the audit records a collector keeps, re-keyed copies when a test
 * needs many, and readers of what arrived in PostgreSQL and Redis.
 */
import Redis from 'ioredis';
import pg from 'pg';
import { type AuditEnvelope, AuditEnvelopeSchema } from '../src/core/contracts/audit';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { POLICY_ID, POLICY_VERSION } from '../src/core/policy/constants';
import { type PolicyEvent, PolicyEventSchema } from '../src/core/policy/contracts';
import type { StorableEvent } from '../src/store/contract';
import { EventStore } from '../src/store/store';
import { AUDIT_STREAM, EVENTS_STREAM, fieldsOf } from '../src/sinks/redis-streams';
import { runStart } from './store-helpers';

/** Copies of the fixture events with distinct ids (`<id>#<tag>-<i>`), so a test can store thousands. */
export function rekeyed(base: readonly PromotedEvent[], tag: string, n: number, from = 0): PromotedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const e = base[i % base.length] as PromotedEvent;
    return { ...e, event_id: `${e.event_id}#${tag}-${i}` };
  });
}

/**
 * A four-pillars-001 event for each M3 event: no recorded capture promotes that policy (pillar 4
 * needs a thin book in a liquidation cluster), so its pillar fields here are SYNTHETIC — made up on
 * the real window's metrics — and only the transport is under test. Each passes PolicyEventSchema.
 */
export function syntheticPolicyEvents(base: readonly PromotedEvent[]): PolicyEvent[] {
  return base.map((e) =>
    PolicyEventSchema.parse({
      event_id: `${POLICY_ID}:${e.symbol}-${e.window_start_ms}`,
      symbol: e.symbol,
      timestamp: e.timestamp,
      window_start_ms: e.window_start_ms,
      window_end_ms: e.window_end_ms,
      window_size: 1,
      dominant_side: e.dominant_side,
      stress_sources: ['liquidations'],
      closed_at_watermark_ms: e.closed_at_watermark_ms,
      metrics: {
        abs_flow: e.metrics.abs_flow,
        trade_count: e.metrics.trade_count,
        buy_notional: e.metrics.buy_notional,
        sell_notional: e.metrics.sell_notional,
        net_aggression: e.metrics.net_aggression,
        mean_trade_size: e.metrics.mean_trade_size,
        open: e.metrics.open,
        high: e.metrics.high,
        low: e.metrics.low,
        close: e.metrics.close,
        liq_count: 2,
        dominant_share: 0.9,
        velocity: (e.metrics.close - e.metrics.open) / e.metrics.open,
        velocity_p90: 0.0001,
        cluster_count: 2,
        passive_side: e.dominant_side === 'BUY' ? 'ask' : 'bid',
        passive_depth: 1,
        passive_depth_p10: 2,
        bid_depth: 10,
        ask_depth: 1,
        depth_bps: 10,
        mid: e.metrics.close,
        best_bid: String(e.metrics.close),
        best_ask: String(e.metrics.close),
        book_last_event_ms: e.window_end_ms - 1,
        thresholds: {
          imbalance_min_share: 0.7,
          velocity_percentile: 90,
          cluster_min_count: 2,
          cluster_window_ms: 60_000,
          depth_band_bps: 10,
          exhaustion_percentile: 10,
          baseline_windows: 60,
        },
      },
      policy: { id: POLICY_ID, version: POLICY_VERSION },
    }),
  );
}

/** The audit records a collector run keeps (stage, health, alert, a promotion mirror the outbox leaves out). */
export function auditOf(runId: string, t0: number, events: readonly PromotedEvent[]): AuditEnvelope[] {
  // Parsed, so the keys are in the contract's order (the audit trail's), whatever order they were written in here.
  const env = (seq: number, event_type: AuditEnvelope['event_type'], payload: Record<string, unknown>, extra: Partial<AuditEnvelope> = {}): AuditEnvelope =>
    AuditEnvelopeSchema.parse({ ts_ms: t0 + seq, run_id: runId, seq, stage: 'OBSERVE', event_type, symbol: '', reasons: [], payload, ...extra });
  const first = events[0] as PromotedEvent;
  return [
    env(1, 'STAGE_CHANGED', { stage: 'OBSERVE', detail: 'all baselines warm' }),
    env(2, 'HEALTH_CHANGED', { state: 'DEGRADED', detail: 'OI stale' }, { reasons: ['OI_STALE'], severity: 'WARN' }),
    env(3, 'PEAK_PRESSURE_PROMOTED', first as unknown as Record<string, unknown>, { symbol: first.symbol, severity: 'INFO' }),
    env(4, 'ALERT_RAISED', { reason_code: 'OI_STALE', count: 1 }, { reasons: ['OI_STALE'], severity: 'WARN' }),
  ];
}

/** A store at `path` holding `events` (+ the run's audit records) in one run. */
export function fillStore(path: string, runId: string, t0: number, events: readonly StorableEvent[], audit: readonly AuditEnvelope[] = []): void {
  const store = EventStore.open({ path, isRunAlive: () => false }, t0);
  if (store.status.state !== 'OK') throw new Error(`cannot open ${path}: ${store.status.fault?.message ?? ''}`);
  store.startRun(runStart(runId, t0), t0);
  const r = store.persist({ events, audit }, t0 + 1);
  if (!r.ok) throw new Error(`persist failed: ${r.fault.message}`);
  store.close(t0 + 2);
}

/** (policy_id, event_id) → rows in PostgreSQL's events table. */
export async function pgEventCounts(url: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ k: string; n: number }>("SELECT policy_id || '/' || event_id AS k, count(*)::int AS n FROM events GROUP BY 1");
    return new Map(r.rows.map((x) => [x.k, x.n]));
  } finally {
    await c.end();
  }
}

export async function pgQuery<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export interface RawEntry {
  entryId: string;
  fields: Record<string, string>;
}

export async function streamEntries(url: string, which: 'events' | 'audit'): Promise<RawEntry[]> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    const rows = await r.xrange(which === 'events' ? EVENTS_STREAM : AUDIT_STREAM, '-', '+');
    return rows.map(([entryId, flat]) => ({ entryId, fields: fieldsOf(flat) }));
  } finally {
    r.disconnect();
  }
}

export function key(policyId: string, eventId: string): string {
  return `${policyId}/${eventId}`;
}

/**
 * `/metrics` (SPEC §22): the latest snapshot in the Prometheus text exposition format 0.0.4 —
 * counters as `_total` counters, rates, health state and stage as gauges (one series per value, 1
 * for the current one), reconnects, the sinks' backlog and the process memory. Pure: everything it
 * shows is passed in.
 */
import type { SinkStatus } from '../core/contracts/sink-status';
import type { Snapshot } from '../core/contracts/snapshot';
import { HealthStateSchema, StageNameSchema } from '../core/contracts/vocabulary';

export interface MetricsInput {
  snapshot: Snapshot | null;
  /** Sink status when it does not come with the snapshot (the snapshot's own section wins). */
  sinks: readonly SinkStatus[];
  nowMs: number;
  rssBytes: number;
  http: { clients: number; sse_clients: number; sse_dropped: number; requests: number; refused: number };
}

type Labels = Readonly<Record<string, string>>;

/** Label values escaped as the exposition format requires: backslash, double quote, line feed. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string, samples: readonly [Labels, number][]): void {
    if (samples.length === 0) return;
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels);
      this.lines.push(`${name}${l.length === 0 ? '' : `{${l.map(([k, x]) => `${k}="${escapeLabel(x)}"`).join(',')}}`} ${num(v)}`);
    }
  }

  one(name: string, type: 'counter' | 'gauge', help: string, v: number): void {
    this.family(name, type, help, [[{}, v]]);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

const P = 'peak_pressure_';

export function renderMetrics(m: MetricsInput): string {
  const x = new Exposition();
  const s = m.snapshot;
  x.one(`${P}up`, 'gauge', 'Whether a committed snapshot is available (0 before the collector committed one).', s === null ? 0 : 1);
  if (s !== null) {
    x.family(`${P}info`, 'gauge', 'The run, its mode and rule set (value always 1).', [
      [{ run_id: s.run_id, mode: s.mode, rule_set: s.rule_set.id, rule_set_version: String(s.rule_set.version) }, 1],
    ]);
    x.one(`${P}snapshot_age_seconds`, 'gauge', 'Seconds since the snapshot served here was committed.', Math.max(0, m.nowMs / 1000 - s.timestamp));
    x.one(`${P}snapshot_seq`, 'counter', 'Snapshots committed by this run.', s.snapshot_seq);
    const c = s.counters;
    x.one(`${P}windows_processed_total`, 'counter', 'Closed 1 s windows, all symbols.', c.windows_processed);
    x.one(`${P}events_total`, 'counter', 'Promoted Peak Pressure events (M3) this run.', c.peak_pressure_events);
    x.family(`${P}condition_failed_total`, 'counter', 'Judged windows that failed at each condition, in the frozen order.', [
      [{ condition: 'flow_surge' }, c.flow_surge_failed],
      [{ condition: 'large_trade' }, c.large_trade_failed],
      [{ condition: 'compression' }, c.compression_failed],
      [{ condition: 'stress' }, c.stress_failed],
    ]);
    x.family(
      `${P}dropped_total`,
      'counter',
      'Dropped events by reason (SPEC §8.3).',
      Object.entries(c.dropped_events).map(([reason, v]) => [{ reason }, v] as [Labels, number]),
    );
    const plain: [string, number, string][] = [
      ['empty_windows', c.empty_windows, 'Windows without trades.'],
      ['gap_resets', c.gap_resets, 'Baseline resets after a data gap.'],
      ['malformed_events', c.malformed_events, 'Frames that failed their contract (dead-lettered).'],
      ['duplicate_trades', c.duplicate_trades, 'Trades seen twice (ignored).'],
      ['trade_id_gaps', c.trade_id_gaps, 'Gaps in the trade id sequence.'],
      ['non_market_trades', c.non_market_trades, 'Trades that are not market trades (ignored).'],
      ['ignored_frames', c.ignored_frames, 'Frames of streams the core does not use.'],
      ['frames_received', c.frames_received, 'Frames received (WebSocket and REST).'],
    ];
    for (const [name, v, help] of plain) x.one(`${P}${name}_total`, 'counter', help, v);
    x.one(`${P}dead_letters_total`, 'counter', 'Frames written to the dead-letter file.', s.dead_letters);
    x.one(`${P}ws_reconnects_total`, 'counter', 'Market WebSocket reconnects this run.', s.streams.reconnects);
    x.one(`${P}oi_poll_errors_total`, 'counter', 'Failed open-interest polls this run.', s.oi_polling.errors);
    const h = s.ingestion_health;
    x.one(`${P}trades_per_second`, 'gauge', 'Trades received per second (last 60 s).', h.trades_rate);
    x.one(`${P}liquidations_per_minute`, 'gauge', 'Liquidations received per minute (last 60 s).', h.liquidations_rate);
    x.one(`${P}klines_per_second`, 'gauge', '1 s klines per second (last 60 s).', h.klines_rate);
    x.one(`${P}oi_polls_per_minute`, 'gauge', 'Open-interest polls per minute (last 60 s).', h.oi_rate);
    x.family(
      `${P}health_state`,
      'gauge',
      'Health state: 1 for the current state, 0 for the others.',
      HealthStateSchema.options.map((st) => [{ state: st }, s.health_state === st ? 1 : 0] as [Labels, number]),
    );
    x.family(
      `${P}health_reason`,
      'gauge',
      'Active health reason codes (1 each).',
      s.health_reasons.map((r) => [{ reason: r }, 1] as [Labels, number]),
    );
    x.family(
      `${P}stage`,
      'gauge',
      'Startup/run stage: 1 for the current stage, 0 for the others.',
      StageNameSchema.options.map((st) => [{ stage: st }, s.stage === st ? 1 : 0] as [Labels, number]),
    );
    x.one(`${P}baselines_ready`, 'gauge', 'Symbols whose baselines are warm.', s.baseline_status.ready_symbols);
    x.one(`${P}symbols`, 'gauge', 'Symbols observed.', s.baseline_status.total_symbols);
    const per = Object.entries(s.per_symbol);
    x.family(
      `${P}symbol_windows_processed_total`,
      'counter',
      'Closed 1 s windows per symbol.',
      per.map(([symbol, st]) => [{ symbol }, st.counters.windows_processed] as [Labels, number]),
    );
    x.family(
      `${P}symbol_events_total`,
      'counter',
      'Promoted events per symbol.',
      per.map(([symbol, st]) => [{ symbol }, st.counters.peak_pressure_count] as [Labels, number]),
    );
    x.family(
      `${P}symbol_warm`,
      'gauge',
      'Whether the symbol’s baselines are warm.',
      per.map(([symbol, st]) => [{ symbol }, st.warm ? 1 : 0] as [Labels, number]),
    );
    if (s.process !== null) {
      x.one(`${P}collector_rss_bytes`, 'gauge', 'Resident memory of the collector process at the last commit.', s.process.rss_bytes);
      x.one(`${P}collector_heap_used_bytes`, 'gauge', 'Heap in use by the collector thread at the last commit.', s.process.heap_used_bytes);
      if (s.process.heap_live_bytes !== null)
        x.one(`${P}collector_heap_live_bytes`, 'gauge', 'Collector heap still reachable after its latest full GC.', s.process.heap_live_bytes);
      if (s.process.heap_code_bytes !== null)
        x.one(
          `${P}collector_heap_code_bytes`,
          'gauge',
          "Of the live heap, V8's compiled code and bytecode (bounded by the program's size).",
          s.process.heap_code_bytes,
        );
    }
  }
  const sinks = s?.sinks ?? m.sinks;
  const sl = (st: SinkStatus): Labels => ({ sink: st.sink, kind: st.kind });
  x.family(
    `${P}sink_up`,
    'gauge',
    'Whether the sink took its last batch (1) or is failing (0).',
    sinks.map((st) => [sl(st), st.state === 'OK' ? 1 : 0] as [Labels, number]),
  );
  x.family(
    `${P}sink_backlog`,
    'gauge',
    'Rows of the local store waiting for the sink.',
    sinks.map((st) => [sl(st), st.backlog] as [Labels, number]),
  );
  x.family(
    `${P}sink_delivered_total`,
    'counter',
    'Rows the sink acknowledged, all time.',
    sinks.map((st) => [sl(st), st.delivered_total] as [Labels, number]),
  );
  x.family(
    `${P}sink_rejected_total`,
    'counter',
    'Rows the sink refused as data (never retried).',
    sinks.map((st) => [sl(st), st.rejected] as [Labels, number]),
  );
  x.family(
    `${P}sink_last_delivered_timestamp_seconds`,
    'gauge',
    'When the sink last acknowledged a batch (Unix seconds).',
    sinks.filter((st) => st.last_delivered_ms !== null).map((st) => [sl(st), (st.last_delivered_ms as number) / 1000] as [Labels, number]),
  );
  x.family(
    `${P}sink_oldest_pending_age_seconds`,
    'gauge',
    'Age of the oldest row waiting for the sink.',
    sinks
      .filter((st) => st.oldest_pending_ms !== null)
      .map((st) => [sl(st), Math.max(0, (m.nowMs - (st.oldest_pending_ms as number)) / 1000)] as [Labels, number]),
  );
  x.one(`${P}process_resident_memory_bytes`, 'gauge', 'Resident memory of this process now.', m.rssBytes);
  x.one(`${P}http_connections`, 'gauge', 'Open HTTP connections to this API.', m.http.clients);
  x.one(`${P}http_sse_clients`, 'gauge', 'Open /api/stream clients.', m.http.sse_clients);
  x.one(`${P}http_sse_dropped_total`, 'counter', 'Stream clients dropped for not reading.', m.http.sse_dropped);
  x.one(`${P}http_requests_total`, 'counter', 'Requests answered.', m.http.requests);
  x.one(`${P}http_refused_total`, 'counter', 'Requests or connections refused (method, host, body, too many clients).', m.http.refused);
  return x.text();
}

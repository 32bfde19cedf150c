/**
 * The PostgreSQL sink's optional `windows` table (SPEC §22, issue 13 item 2), against the real
 * server (`bash scripts/services.sh start`): the real collector on the manual clock against the
 * simulator, its sink delivery inline (off) and in the delivery thread as the app runs it (on). Off by default: events and audit arrive, no window row.
 * With `?windows=1`: every closed window of the run arrives exactly once — per symbol as many as
 * the collector processed, each outcome as often as its counter says — with its condition margins,
 * and delivering the same rows again adds nothing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { CollectorSinks } from '../src/collector/collector';
import { OUTCOME_COUNTERS, WINDOW_OUTCOMES } from '../src/core/contracts/counters';
import { sinkHealth } from '../src/sinks/health';
import { startSinks } from '../src/sinks/hub';
import { PostgresSink } from '../src/sinks/postgres-sink';
import { migratePg } from '../src/sinks/postgres-schema';
import { parseSinkUrl, SinkSpecError } from '../src/sinks/spec';
import { WindowRowSchema } from '../src/sinks/window-row';
import { startRig } from './collector-harness';
import { REPO_ROOT } from './fixtures/paths';
import { describeWithServices, freshPgDatabase, until } from './services';
import { pgQuery } from './sink-helpers';

describe('--sink postgres://…?windows=1', () => {
  it('is off unless asked for; taken out of the URL the driver sees; the name is the same either way', () => {
    const off = parseSinkUrl('postgres://pp:secret@db.example:5432/peak?sslmode=require');
    expect(off).toMatchObject({ kind: 'postgres', windows: false, name: 'postgres://db.example:5432/peak' });
    const on = parseSinkUrl('postgres://pp:secret@db.example:5432/peak?sslmode=require&windows=1');
    expect(on).toMatchObject({ kind: 'postgres', windows: true, name: off.name, url: 'postgres://pp:secret@db.example:5432/peak?sslmode=require' });
    expect(parseSinkUrl('postgresql://db.example/peak?windows=0').windows).toBe(false);
  });

  it('is refused on Redis and with any other value, saying what to write', () => {
    expect(() => parseSinkUrl('redis://127.0.0.1:6379/0?windows=1')).toThrow(SinkSpecError);
    expect(() => parseSinkUrl('redis://127.0.0.1:6379/0?windows=1')).toThrow(/PostgreSQL option/);
    expect(() => parseSinkUrl('postgres://db.example/peak?windows=yes')).toThrow(/use windows=1/);
  });
});

const FAST = { idlePollMs: 20, retryMinMs: 20, retryMaxMs: 200, batchSize: 50, runsSyncMs: 50 };

/** A new database at this build's schema. */
async function freshDb(url: string, name: string): Promise<string> {
  const u = await freshPgDatabase(url, name);
  const c = new pg.Client({ connectionString: u });
  await c.connect();
  try {
    await migratePg(c, name, 'test');
  } finally {
    await c.end();
  }
  return u;
}

/** The collector for `clockMs` with one PostgreSQL sink at `url`, delivered on `thread`; returns its per-symbol counters at the end and the sink's last status. */
async function observe(url: string, clockMs: number, thread: 'inline' | 'worker') {
  const dir = mkdtempSync(join(tmpdir(), 'pp-windows-'));
  const spec = parseSinkUrl(url);
  const hub = startSinks({
    storePath: join(dir, 'data', 'peak-pressure.db'),
    sinks: [spec],
    thread,
    tuning: FAST,
    statusEveryMs: 50,
    // The worker runs the TypeScript sources, as in test/sinks.test.ts.
    workerFile: join(REPO_ROOT, 'src', 'sinks', 'sink-worker.ts'),
    workerPreload: join(REPO_ROOT, 'test', 'fixtures', 'ts-register.cjs'),
  });
  const sinks: CollectorSinks = {
    status: () => hub.status(),
    health: () => sinkHealth(hub.status()),
    nudge: () => hub.nudge(),
    ...(spec.windows ? { windows: (rows) => hub.windows(rows) } : {}),
  };
  const r = await startRig({ dir, sinks });
  await r.run(clockMs);
  await r.stop();
  const counters = new Map((r.collector.counters()?.symbols ?? []).map((s) => [s.symbol, s.counters]));
  // The run's last rows (and, with windows on, its last windows) go out as the hub drains.
  await until(() => hub.status().every((s) => s.state === 'OK' && s.backlog === 0 && (s.windows?.queued ?? 0) === 0), 'the sink to take everything');
  await hub.stop(10_000);
  return { counters, status: hub.status()[0] };
}

describeWithServices('PostgreSQL windows table against the real server', (urls) => {
  it('off by default: events and audit are delivered, the windows table stays empty', async () => {
    const url = await freshDb(urls.postgres, `pp_windows_off_${process.pid}`);
    const { counters, status } = await observe(url, 20_000, 'inline');
    expect([...counters.values()].reduce((n, c) => n + c.windows_processed, 0)).toBeGreaterThan(50);
    expect(Number((await pgQuery<{ n: string }>(url, 'SELECT count(*) AS n FROM audit'))[0]?.n)).toBeGreaterThan(0);
    expect(Number((await pgQuery<{ n: string }>(url, 'SELECT count(*) AS n FROM windows'))[0]?.n)).toBe(0);
    expect(status?.windows).toBeUndefined();
  });

  it('?windows=1: every closed window of the run exactly once, outcomes as counted, with margins; delivered again, nothing doubles', async () => {
    const url = await freshDb(urls.postgres, `pp_windows_on_${process.pid}`);
    // Past the 60-window baselines, so judged windows carry their margins; through the delivery thread, as the app runs it.
    const { counters, status } = await observe(`${url}?windows=1`, 75_000, 'worker');
    expect(counters.size).toBe(10);
    const rows = await pgQuery<{ observer_id: string; run_id: string; symbol: string; window_start_ms: string; outcome: string; json: string }>(
      url,
      'SELECT observer_id, run_id, symbol, window_start_ms, outcome, json FROM windows ORDER BY symbol, window_start_ms',
    );
    const parsed = rows.map((x) => WindowRowSchema.parse(JSON.parse(x.json)));
    rows.forEach((x, i) => {
      const p = parsed[i];
      expect([x.run_id, x.symbol, Number(x.window_start_ms), x.outcome]).toEqual([p?.run_id, p?.symbol, p?.window_start_ms, p?.outcome]);
    });
    expect(new Set(rows.map((x) => x.run_id))).toEqual(new Set(['test']));
    expect(new Set(rows.map((x) => x.observer_id)).size).toBe(1);
    for (const [symbol, c] of counters) {
      const mine = parsed.filter((p) => p.symbol === symbol);
      expect(mine.length, symbol).toBe(c.windows_processed);
      expect(new Set(mine.map((p) => p.window_start_ms)).size, symbol).toBe(mine.length);
      for (const o of WINDOW_OUTCOMES) expect(mine.filter((p) => p.outcome === o).length, `${symbol} ${o}`).toBe(c[OUTCOME_COUNTERS[o]]);
    }
    // Judged windows past the baselines: condition 1's margin is |flow| / p90, as recorded beside it.
    const judged = parsed.filter((p) => p.flow_margin !== null);
    expect(judged.length).toBeGreaterThan(100);
    for (const p of judged) expect(p.flow_margin).toBeCloseTo((p.abs_flow as number) / (p.p90_abs_flow as number), 9);
    expect(status?.windows).toEqual({ queued: 0, delivered: rows.length, dropped: 0 });

    // Re-delivery (a retried batch, a restarted observer): keyed by observer, symbol and window start.
    const sink = new PostgresSink(parseSinkUrl(`${url}?windows=1`));
    try {
      await sink.deliverWindows?.(rows[0]?.observer_id ?? '', parsed);
    } finally {
      await sink.close();
    }
    expect(Number((await pgQuery<{ n: string }>(url, 'SELECT count(*) AS n FROM windows'))[0]?.n)).toBe(rows.length);
  });
});

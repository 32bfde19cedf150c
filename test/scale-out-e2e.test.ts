/**
 * End to end through the built CLI (SPEC §22): `live --headless --http 127.0.0.1:0 --sink redis://…
 * --sink postgres://…` against the loopback simulator. The HTTP API serves the real collector's
 * snapshots (the sinks' status in them), /metrics reads back, and the delivery thread of the bundle
 * (dist/sink-worker.js) drains the store in the run's folder to both servers: the events an earlier
 * run left there, and the audit records (stage changes, …) the live collector writes to it as it
 * runs. SIGTERM stops it all with exit code 0, the run's clean end delivered.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RULE_SET_ID } from '../src/core/constants';
import type { SinkStatus } from '../src/core/contracts/sink-status';
import { SnapshotSchema } from '../src/core/contracts/snapshot';
import { migratePg } from '../src/sinks/postgres-schema';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { CLI, ensureCliBuilt, REPO_ROOT } from './fixtures/paths';
import { describeWithServices, flushRedis, freshPgDatabase, redisDb, until } from './services';
import { fillStore, key, pgEventCounts, pgQuery, rekeyed, streamEntries } from './sink-helpers';
import { fixtureEvents, tempDir } from './store-helpers';

const tmp = tempDir('pp-scale-e2e-');

/** A loopback port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 1));
    });
  });
}
afterAll(() => tmp.cleanup());

/**
 * A GET made by a polling loop: a connection the server closed while the client reused it
 * ("other side closed", a keep-alive race a loaded machine widens) is one more poll, not a failure.
 */
async function polled(url: string): Promise<Response | null> {
  try {
    return await fetch(url);
  } catch {
    return null;
  }
}

describeWithServices('live --headless with --http and two --sink flags', (urls) => {
  let sim: SimulatorHandle;
  let child: ChildProcess | null = null;

  /** `live --headless --http 127.0.0.1:0 …` in `cwd` against the simulator; its output and API base URL. */
  function startLive(cwd: string, extra: string[]): { child: ChildProcess; exit: Promise<number | null>; out: () => string; api: () => Promise<string> } {
    const p = spawn(
      process.execPath,
      [
        CLI,
        'live',
        '--headless',
        '--rest-url',
        sim.restUrl,
        '--ws-url',
        sim.wsUrl,
        '--debug-dir',
        join(cwd, 'debug'),
        '--no-capture',
        '--http',
        '127.0.0.1:0',
        ...extra,
      ],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = p;
    let out = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const exit = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
    const api = async (): Promise<string> => {
      await until(() => /HTTP API on http:\/\/127\.0\.0\.1:\d+/.test(out), `the HTTP API line (output so far: ${out})`, 60_000);
      return /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
    };
    return { child: p, exit, out: () => out, api };
  }

  beforeAll(async () => {
    ensureCliBuilt();
    if (!existsSync(join(REPO_ROOT, 'dist', 'sink-worker.js'))) throw new Error('dist/sink-worker.js is missing: run npm run build');
    sim = await startSimulator({ port: 0, speed: 1, seed: 11, scenario: 'steady' });
  }, 180_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await sim?.stop();
  });

  it('serves the collector’s snapshots, delivers the store to Redis and PostgreSQL, stops cleanly', async () => {
    const redisUrl = redisDb(urls.redis, 2);
    await flushRedis(redisUrl);
    const pgUrl = await freshPgDatabase(urls.postgres, `pp_e2e_${process.pid}`);
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await migratePg(c, 'e2e', 'test');
    await c.end();
    const events = rekeyed(await fixtureEvents(), 'e2e', 25);
    mkdirSync(join(tmp.dir, 'data'));
    fillStore(join(tmp.dir, 'data', 'peak-pressure.db'), 'earlier-run', Date.now() - 60_000, events);

    const run = startLive(tmp.dir, ['--sink', redisUrl, '--sink', pgUrl]);
    const p = run.child;
    const exit = run.exit;

    const base = await run.api();
    expect(run.out()).toContain(`sinks: delivering data/peak-pressure.db to ${redisUrl}, ${pgUrl.replace('postgres@', '')}`);

    // The delivery thread drains the store; its status reaches the collector's snapshots.
    let runId = '';
    await until(
      async () => {
        const r = await polled(`${base}/api/snapshot`);
        if (r === null || r.status !== 200) return false;
        const s = SnapshotSchema.parse(await r.json());
        runId = s.run_id;
        // The earlier run's events, and at least this run's first stage changes (the live collector writes them to the store).
        return (s.sinks ?? []).length === 2 && (s.sinks ?? []).every((x) => x.state === 'OK' && x.backlog === 0 && x.delivered > events.length);
      },
      'both sinks to report the store delivered, in the snapshot',
      90_000,
      250,
    );
    const counts = await pgEventCounts(pgUrl);
    for (const e of events) expect(counts.get(key(RULE_SET_ID, e.event_id))).toBe(1);
    expect((await streamEntries(redisUrl, 'events')).map((x) => x.fields.id).slice(0, events.length)).toEqual(events.map((e) => e.event_id));
    // This run's own audit records, written by the live collector, reached both sinks.
    const liveAudit = (await streamEntries(redisUrl, 'audit')).filter((x) => x.fields.run === runId);
    expect(liveAudit.map((x) => x.fields.type)).toContain('STAGE_CHANGED');
    const pgAudit = await pgQuery<{ n: number }>(pgUrl, "SELECT count(*)::int AS n FROM audit WHERE run_id = $1 AND event_type = 'STAGE_CHANGED'", [runId]);
    expect(pgAudit[0]?.n).toBeGreaterThan(0);

    await until(
      async () => {
        const r = await polled(`${base}/api/health`);
        return r !== null && ((await r.json()) as { stage: string }).stage !== 'SYMBOL_SELECT';
      },
      'symbols to be selected',
      60_000,
      250,
    );
    const m = new Map(parsePrometheusTextFormat(await (await fetch(`${base}/metrics`)).text()).map((f) => [f.name, f]));
    expect(m.get('peak_pressure_up')?.metrics[0]?.value).toBe('1');
    expect(Number(m.get('peak_pressure_frames_received_total')?.metrics[0]?.value)).toBeGreaterThan(0);
    expect(m.get('peak_pressure_sink_backlog')?.metrics.map((x) => x.value)).toEqual(['0', '0']);
    expect((await fetch(`${base}/api/snapshot`, { method: 'POST' })).status).toBe(403);

    p.kill('SIGTERM');
    expect(await exit).toBe(0);
    child = null;
    // The clean stop drained the store: this run's end is in PostgreSQL.
    expect(await pgQuery<{ end_kind: string | null }>(pgUrl, 'SELECT end_kind FROM runs WHERE run_id = $1', [runId])).toEqual([{ end_kind: 'clean' }]);
  }, 240_000);

  it('sinks that cannot be reached: health says SINK_DEGRADED with what waits, /metrics shows the backlog, SIGTERM still stops it', async () => {
    const dir = join(tmp.dir, 'down');
    mkdirSync(join(dir, 'data'), { recursive: true });
    const events = rekeyed(await fixtureEvents(), 'down', 5);
    fillStore(join(dir, 'data', 'peak-pressure.db'), 'earlier-run', Date.now() - 60_000, events);
    const port = await closedPort();
    const run = startLive(dir, ['--sink', `redis://127.0.0.1:${port}`, '--sink', `postgres://nobody:pw@127.0.0.1:${port}/x`]);
    const base = await run.api();
    type Health = { health_reasons?: string[]; health_detail?: string; sinks: SinkStatus[] };
    let health: Health = { sinks: [] };
    await until(
      async () => {
        const r = await polled(`${base}/api/health`);
        if (r === null) return false;
        health = (await r.json()) as Health;
        return (
          (health.health_reasons ?? []).includes('SINK_DEGRADED') &&
          health.sinks.length === 2 &&
          health.sinks.every((x) => x.state === 'DEGRADED' && x.backlog >= events.length)
        );
      },
      'both sinks to be reported DEGRADED with the backlog',
      60_000,
      250,
    );
    expect(health.health_detail).toContain(`sink redis://127.0.0.1:${port}: `);
    // The earlier run's events and this run's own audit records wait.
    expect(health.health_detail).toMatch(/; (\d+) rows wait in the local store/);
    expect(Number(/; (\d+) rows wait/.exec(health.health_detail ?? '')?.[1])).toBeGreaterThanOrEqual(events.length);
    expect(health.health_detail).not.toContain('pw');
    for (const st of health.sinks) expect(st.last_error).not.toBeNull();
    const m = new Map(parsePrometheusTextFormat(await (await fetch(`${base}/metrics`)).text()).map((f) => [f.name, f]));
    expect(m.get('peak_pressure_sink_up')?.metrics.map((x) => x.value)).toEqual(['0', '0']);
    const backlogs = m.get('peak_pressure_sink_backlog')?.metrics.map((x) => Number(x.value)) ?? [];
    expect(backlogs).toHaveLength(2);
    for (const b of backlogs) expect(b).toBeGreaterThanOrEqual(events.length);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    child = null;
  }, 120_000);
});

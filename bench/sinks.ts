/**
 * Section: the scale-out sinks and the local HTTP API under load (SPEC §22), with the product's own
 * wiring: the simulator (`simulate --speed S`) and the headless collector (`live --headless
 * --clock … --http 127.0.0.1:0 --sink redis://… --sink postgres://…`) in their own processes, so the
 * delivery thread and the API share the collector's process, as in use.
 *
 * 1. Sustained rate: the store in the collector's folder starts with a backlog of N real promoted
 *    events (the capture's promotions on SYNTHETIC OI, re-keyed); each sink's delivered count is read
 *    from /metrics until both are done: events per second each sink sustains beside the collector.
 * 2. Delivery lag: this process then commits 10 events every 100 ms to the same store for a while;
 *    lag = arrival at the sink (the Redis entry id's server time; PostgreSQL `received_at`) − the
 *    local commit. Nothing nudges the delivery here (the collector's own commits do), so the lag
 *    includes up to one idle poll (DEFAULT_TUNING.idlePollMs).
 * 3. HTTP: autocannon on /api/snapshot and /metrics (8 connections, half the API's limit) while the
 *    collector runs, with the collector's frames per second and commits per second beside each run
 *    and beside a run with no HTTP load.
 *
 * Needs the servers of `bash scripts/services.sh start` (its env.json or PP_TEST_* variables).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import type { PromotedEvent } from '../src/core/contracts/promoted';
import { RULE_SET_ID, RULE_SET_VERSION } from '../src/core/constants';
import { migratePg } from '../src/sinks/postgres-schema';
import { EVENTS_STREAM, fieldsOf } from '../src/sinks/redis-streams';
import { EventStore } from '../src/store/store';
import { withSyntheticOi } from './data';
import { runB } from './pipelines';
import { collectorConfig } from './soak-rig';
import { distribution, fmt, fmtInt } from './stats';
import type { Json, SectionContext, SectionResult } from './types';
import { readServiceUrls } from '../test/services-env';

const SPEED = 50;
const LAG_BATCH = 10;
const LAG_EVERY_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | null> | T | null): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`sinks bench: ${what} within ${ms / 1000} s`);
    await sleep(100);
  }
}

function lines(child: ChildProcess, fn: (line: string) => void): void {
  let buf = '';
  const on = (c: Buffer): void => {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
}

interface Metrics {
  frames: number;
  seq: number;
  delivered: Map<string, number>;
}

async function readMetrics(base: string): Promise<Metrics> {
  const fams = parsePrometheusTextFormat(await (await fetch(`${base}/metrics`)).text());
  const by = new Map(fams.map((f) => [f.name, f]));
  const one = (n: string): number => Number(by.get(n)?.metrics[0]?.value ?? NaN);
  const delivered = new Map((by.get('peak_pressure_sink_delivered_total')?.metrics ?? []).map((m) => [m.labels?.kind ?? '?', Number(m.value)]));
  return { frames: one('peak_pressure_frames_received_total'), seq: one('peak_pressure_snapshot_seq'), delivered };
}

function rekey(base: readonly PromotedEvent[], tag: string, n: number): PromotedEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const e = base[i % base.length] as PromotedEvent;
    return { ...e, event_id: `${e.event_id}#${tag}-${i}` };
  });
}

function openStore(path: string, t0: number): EventStore {
  const store = EventStore.open({ path, synchronous: 'NORMAL' }, t0);
  if (store.status.state !== 'OK') throw new Error(`sinks bench: cannot open ${path}: ${store.status.fault?.message ?? ''}`);
  return store;
}

export async function sinksSection(ctx: SectionContext): Promise<SectionResult> {
  const urls = readServiceUrls();
  // The other sections need no servers: a run without them says so here instead of stopping.
  if (urls === null) {
    ctx.log('sinks: no Redis/PostgreSQL (run `bash scripts/services.sh start` first); section not run');
    return { tables: [], notes: ['Not run: no Redis/PostgreSQL test servers (`bash scripts/services.sh start`).'], checks: [], data: null };
  }
  const cli = join(ctx.root, 'dist', 'cli.js');
  if (!existsSync(join(ctx.root, 'dist', 'sink-worker.js'))) throw new Error('sinks bench: dist/sink-worker.js is missing: run npm run build');
  const { frames } = withSyntheticOi(ctx.dataset);
  const base = runB(frames, ctx.dataset.symbols).engine.promotions.toArray();
  if (base.length === 0) throw new Error('sinks bench: the replay with synthetic OI promoted nothing');
  const backlogN = ctx.quick ? 5_000 : 50_000;
  const lagS = ctx.quick ? 5 : 20;
  const httpS = ctx.quick ? 5 : 10;

  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-sinks-'));
  const children: ChildProcess[] = [];
  try {
    // Fresh targets: Redis database 9, a PostgreSQL database of this run.
    const redisUrl = new URL(urls.redis);
    redisUrl.pathname = '/9';
    const r = new Redis(redisUrl.toString());
    await r.flushdb();
    const admin = new pg.Client({ connectionString: urls.postgres });
    await admin.connect();
    const dbName = `pp_bench_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const pgUrl = new URL(urls.postgres);
    pgUrl.pathname = `/${dbName}`;
    const pc = new pg.Client({ connectionString: pgUrl.toString() });
    await pc.connect();
    await migratePg(pc, dbName, 'bench');

    // The backlog, in the store the collector's sinks drain (data/peak-pressure.db in its folder).
    mkdirSync(join(dir, 'data'));
    const storePath = join(dir, 'data', 'peak-pressure.db');
    const t0 = Date.now();
    const store = openStore(storePath, t0);
    store.startRun(
      {
        run_id: 'bench-writer',
        started_ms: t0,
        mode: 'REPLAY',
        rule_set: { id: RULE_SET_ID, version: RULE_SET_VERSION },
        config_hash: 'bench',
        app_version: 'bench',
      },
      t0,
    );
    const backlog = rekey(base, 'backlog', backlogN);
    for (let i = 0; i < backlog.length; i += 1_000) {
      const p = store.persist({ events: backlog.slice(i, i + 1_000), audit: [] }, t0);
      if (!p.ok) throw new Error(`sinks bench: persist failed: ${p.fault.message}`);
    }
    ctx.log(`sinks: ${fmtInt(backlogN)} events stored; starting simulator (speed ${SPEED}) and collector`);

    // Simulator, then the collector on its clock.
    const sim = spawn(process.execPath, [cli, 'simulate', '--port', '0', '--speed', String(SPEED), '--scenario', 'steady', '--seed', '1'], {
      cwd: ctx.root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(sim);
    let clockLine: string | null = null;
    let restUrl: string | null = null;
    let wsUrl: string | null = null;
    lines(sim, (l) => {
      restUrl ??= /REST\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(l)?.[1] ?? null;
      wsUrl ??= /WS\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(l)?.[1] ?? null;
      if (l.startsWith('clock ')) clockLine = l.slice(6);
    });
    await waitFor('the simulator to listen', 60_000, () => (clockLine !== null && restUrl !== null && wsUrl !== null ? true : null));
    const { config } = collectorConfig(SPEED, 5_000);
    writeFileSync(join(dir, 'collector.json'), JSON.stringify(config));
    const col = spawn(
      process.execPath,
      [
        cli,
        'live',
        '--headless',
        '--config',
        join(dir, 'collector.json'),
        '--clock',
        clockLine as unknown as string,
        '--rest-url',
        restUrl as unknown as string,
        '--ws-url',
        wsUrl as unknown as string,
        '--debug-dir',
        join(dir, 'debug'),
        '--no-capture',
        '--http',
        '127.0.0.1:0',
        '--sink',
        redisUrl.toString(),
        '--sink',
        pgUrl.toString(),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(col);
    let out = '';
    lines(col, (l) => (out = (out + l + '\n').slice(-8000)));
    const api = await waitFor('the HTTP API line', 60_000, () => /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? null);

    // 1. The backlog drains: rate from 10 % to 100 % delivered, per sink.
    const marks = new Map<string, { t10: number | null; t100: number | null }>([
      ['redis', { t10: null, t100: null }],
      ['postgres', { t10: null, t100: null }],
    ]);
    await waitFor('both sinks to deliver the backlog', 600_000, async () => {
      const m = await readMetrics(api);
      const now = performance.now();
      for (const [k, mk] of marks) {
        const d = m.delivered.get(k) ?? 0;
        if (mk.t10 === null && d >= backlogN * 0.1) mk.t10 = now;
        if (mk.t100 === null && d >= backlogN) mk.t100 = now;
      }
      return [...marks.values()].every((x) => x.t100 !== null) ? true : null;
    });
    const rate = (k: string): number => {
      const mk = marks.get(k) as { t10: number; t100: number };
      return (backlogN * 0.9) / ((mk.t100 - mk.t10) / 1000);
    };
    ctx.log(`sinks: backlog delivered (redis ${fmtInt(rate('redis'))}/s, postgres ${fmtInt(rate('postgres'))}/s)`);

    // 2. Lag: commits of LAG_BATCH events every LAG_EVERY_MS.
    const committed = new Map<string, number>();
    const lagEvents = rekey(base, 'lag', Math.round((lagS * 1000) / LAG_EVERY_MS) * LAG_BATCH);
    const lagStart = performance.now();
    for (let i = 0; i < lagEvents.length; i += LAG_BATCH) {
      const batch = lagEvents.slice(i, i + LAG_BATCH);
      const p = store.persist({ events: batch, audit: [] }, Date.now());
      if (!p.ok) throw new Error(`sinks bench: persist failed: ${p.fault.message}`);
      const at = Date.now();
      for (const e of batch) committed.set(e.event_id, at);
      const next = lagStart + ((i + LAG_BATCH) / LAG_BATCH) * LAG_EVERY_MS;
      await sleep(Math.max(0, next - performance.now()));
    }
    const total = backlogN + lagEvents.length;
    await waitFor('the lag events to arrive', 120_000, async () => {
      const m = await readMetrics(api);
      return (m.delivered.get('redis') ?? 0) >= total && (m.delivered.get('postgres') ?? 0) >= total ? true : null;
    });
    const redisLag: number[] = [];
    for (const [entryId, flat] of await r.xrange(EVENTS_STREAM, '-', '+')) {
      const at = committed.get(fieldsOf(flat).id ?? '');
      if (at !== undefined) redisLag.push(Number(entryId.split('-')[0]) - at);
    }
    const pgRows = await pc.query<{ event_id: string; ms: string }>(
      "SELECT event_id, (extract(epoch FROM received_at) * 1000)::bigint AS ms FROM events WHERE event_id LIKE '%#lag-%'",
    );
    const pgLag = pgRows.rows.map((x) => Number(x.ms) - (committed.get(x.event_id) as number));
    await pc.end();
    r.disconnect();

    // 3. HTTP under load, with the collector's throughput beside it.
    const window = async (load: (() => Promise<autocannon.Result>) | null): Promise<{ fps: number; cps: number; res: autocannon.Result | null }> => {
      const a = await readMetrics(api);
      const ta = performance.now();
      const res = load === null ? (await sleep(httpS * 1000), null) : await load();
      const b = await readMetrics(api);
      const s = (performance.now() - ta) / 1000;
      return { fps: (b.frames - a.frames) / s, cps: (b.seq - a.seq) / s, res };
    };
    const cannon = (path: string) => (): Promise<autocannon.Result> => autocannon({ url: `${api}${path}`, connections: 8, duration: httpS });
    const idle = await window(null);
    const snap = await window(cannon('/api/snapshot'));
    const metr = await window(cannon('/metrics'));
    const idle2 = await window(null);

    col.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => col.once('exit', (c) => res(c)));
    store.close(Date.now());

    const rl = distribution(redisLag);
    const pl = distribution(pgLag);
    const httpRow = (name: string, w: Awaited<ReturnType<typeof window>>): string[] => [
      name,
      w.res === null ? '—' : fmtInt(w.res.requests.average),
      w.res === null ? '—' : `${fmt(w.res.latency.p50, 1)} / ${fmt(w.res.latency.p99, 1)}`,
      w.res === null ? '—' : fmtInt(w.res.non2xx + w.res.errors),
      fmtInt(w.fps),
      fmt(w.cps, 2),
    ];
    const data: { [k: string]: Json } = {
      speed: SPEED,
      backlog_events: backlogN,
      rate_redis_per_s: rate('redis'),
      rate_postgres_per_s: rate('postgres'),
      lag_events: lagEvents.length,
      lag_redis_ms: { p50: rl.p50, p99: rl.p99, max: rl.max, n: rl.n },
      lag_postgres_ms: { p50: pl.p50, p99: pl.p99, max: pl.max, n: pl.n },
      http: [idle, snap, metr, idle2].map((w) => ({ fps: w.fps, cps: w.cps, rps: w.res?.requests.average ?? null })),
      collector_exit: code,
    };
    return {
      tables: [
        {
          title: `Sinks beside the collector (simulator ×${SPEED}, headless, --http and both --sink): a backlog of ${fmtInt(backlogN)} stored events, then ${LAG_BATCH} committed every ${LAG_EVERY_MS} ms for ${lagS} s`,
          columns: ['sink', 'sustained events/s (backlog)', 'lag p50 (ms)', 'lag p99 (ms)', 'lag max (ms)', 'lag events'],
          rows: [
            ['Redis Streams', fmtInt(rate('redis')), fmt(rl.p50, 0), fmt(rl.p99, 0), fmt(rl.max, 0), fmtInt(rl.n)],
            ['PostgreSQL', fmtInt(rate('postgres')), fmt(pl.p50, 0), fmt(pl.p99, 0), fmt(pl.max, 0), fmtInt(pl.n)],
          ],
        },
        {
          title: `HTTP API (autocannon, 8 connections, ${httpS} s each) while the collector runs, with the collector's throughput`,
          columns: ['load', 'requests/s', 'latency p50 / p99 (ms)', 'non-2xx + errors', 'collector frames/s', 'commits/s'],
          rows: [httpRow('none', idle), httpRow('GET /api/snapshot', snap), httpRow('GET /metrics', metr), httpRow('none (after)', idle2)],
        },
      ],
      notes: [
        `The collector, its delivery thread and the API share one process (as in use); the simulator and this benchmark (the store writer, autocannon) run in others. Simulator scenario "steady" (a constant market rate, so frames/s compare across rows); capture off. Events: ${fmtInt(base.length)} real promotions of the capture on SYNTHETIC OI, re-keyed.`,
        `Sustained rate: delivered rows from 10 % to 100 % of the backlog, read from /metrics every 100 ms (batches of 500, one MULTI/EXEC or one transaction each). Real promotion rates are a few per minute; a cascade is tens in a second.`,
        `Lag: sink arrival (Redis entry id time; PostgreSQL received_at, the transaction's start) − local commit, same machine clock. This writer does not nudge delivery, so an idle loop finds new rows at its next poll (250 ms); the collector's own commits nudge it.`,
        `Frames/s is what the collector received from the simulator at ×${SPEED} (it keeps up when equal across rows); commits/s is its snapshot cadence (2/s configured). Collector exit code after SIGTERM: ${String(code)}.`,
      ],
      checks: [],
      data,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

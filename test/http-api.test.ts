/**
 * The local HTTP API (SPEC §22, src/http/): every route on a real snapshot (the fixture replay's
 * SystemState) and a real store, every refusal (method, path, Host, body, URL length, parameters,
 * the 17th client, a non-loopback --http), `/metrics` read back by an independent Prometheus
 * text-format parser, the stream's cadence on a manual clock, a stream client that never reads
 * (dropped, its buffer bounded), and the stream read by headless Chromium's own EventSource.
 */
import { existsSync } from 'node:fs';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock/manual';
import type { SinkStatus } from '../src/core/contracts/sink-status';
import { type Snapshot, SnapshotSchema } from '../src/core/contracts/snapshot';
import { API_LIMITS, ApiServer, type ApiSources } from '../src/http/api-server';
import { parseListenAddress } from '../src/http/listen';
import type { SystemState } from '../src/core/system-state';
import { runReplay } from '../src/replay/replay';
import { EventStore } from '../src/store/store';
import { FIXTURE_FILES } from './fixtures/paths';
import { writeOiCapture } from './fixtures/synthetic';
import { REQUIRE_SERVICES } from './services';
import { fillStore, rekeyed } from './sink-helpers';
import { fixtureEvents, tempDir } from './store-helpers';

const CHROMIUM = '/usr/bin/chromium';
const tmp = tempDir('pp-http-');
afterAll(() => tmp.cleanup());

const SINK: SinkStatus = {
  sink: 'redis://127.0.0.1:6379',
  kind: 'redis',
  state: 'DEGRADED',
  backlog: 42,
  delivered: 7,
  delivered_total: 9,
  delivered_seq: 9,
  last_delivered_ms: 1_700_000_000_000,
  oldest_pending_ms: 1_700_000_001_000,
  failures: 3,
  failing_since_ms: 1_700_000_002_000,
  last_error: 'Redis redis://127.0.0.1:6379 unreachable (ECONNREFUSED)',
  warning: null,
  skipped: 0,
  rejected: 0,
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, o: { method?: string; host?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { ...(o.host !== undefined ? { host: o.host } : {}), ...o.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/**
 * A stream client on node's HTTP client (it undoes the chunked framing): counts the SSE events it
 * parses and keeps the data of the last few; `pause()` stops reading from the socket entirely.
 */
interface StreamClient {
  res: Promise<IncomingMessage>;
  head: () => string;
  count: (name: string) => number;
  data: (name: string) => string[];
  pause: () => void;
  resume: () => void;
  destroy: () => void;
  closed: Promise<void>;
}

function streamClient(port: number): StreamClient {
  const counts = new Map<string, number>();
  const kept = new Map<string, string[]>();
  let head = '';
  let buf = '';
  let req: ClientRequest | null = null;
  let resRef: IncomingMessage | null = null;
  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const res = new Promise<IncomingMessage>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port, path: '/api/stream', agent: false }, (r) => {
      resRef = r;
      r.setEncoding('utf8');
      r.on('data', (d: string) => {
        if (head.length < 64) head += d.slice(0, 64);
        buf += d;
        let cut = buf.indexOf('\n\n');
        while (cut >= 0) {
          const block = buf.slice(0, cut).split('\n');
          buf = buf.slice(cut + 2);
          const name = (block.find((l) => l.startsWith('event: ')) ?? 'event: ').slice(7) || (block.some((l) => l.startsWith('retry: ')) ? 'retry' : '');
          counts.set(name, (counts.get(name) ?? 0) + 1);
          const list = kept.get(name) ?? [];
          list.push((block.find((l) => l.startsWith('data: ')) ?? '').slice(6));
          if (list.length > 20) list.shift();
          kept.set(name, list);
          cut = buf.indexOf('\n\n');
        }
      });
      r.on('close', () => closedResolve());
      resolve(r);
    });
    req.on('error', (e) => {
      closedResolve();
      reject(e);
    });
    req.end();
  });
  res.catch(() => undefined);
  return {
    res,
    head: () => head,
    count: (n) => counts.get(n) ?? 0,
    data: (n) => kept.get(n) ?? [],
    pause: () => {
      resRef?.pause();
      resRef?.socket.pause();
    },
    resume: () => {
      resRef?.socket.resume();
      resRef?.resume();
    },
    destroy: () => req?.destroy(),
    closed,
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('--http address', () => {
  it('accepts loopback addresses only', () => {
    expect(parseListenAddress('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(parseListenAddress('127.5.6.7:1')).toEqual({ host: '127.5.6.7', port: 1 });
  });

  it.each(['0.0.0.0:8080', '192.168.1.10:8080', '[::]:8080', 'example.com:80', '10.0.0.1:1'])('refuses %s with what to do instead', (a) => {
    expect(() => parseListenAddress(a)).toThrow(/listens on loopback only .* reverse proxy with authentication/);
  });

  it.each([
    ['8080', /expected HOST:PORT/],
    ['127.0.0.1', /expected HOST:PORT/],
    ['127.0.0.1:70000', /outside 0–65535/],
  ])('refuses the malformed %s', (a, msg) => {
    expect(() => parseListenAddress(a)).toThrow(msg);
  });
});

describe('HTTP API', () => {
  let state: SystemState;
  let snap: Snapshot | null = null;
  let store: EventStore;
  let api: ApiServer;
  let storedCount = 0;
  const sources: ApiSources = {
    snapshot: () => snap,
    events: (q) => [...store.iterateEvents({ ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs } : {}), limit: q.limit })],
    sinks: () => [SINK],
  };

  beforeAll(async () => {
    const r = await runReplay({ files: [...FIXTURE_FILES, writeOiCapture(join(tmp.dir, 'oi.capture'))] });
    state = r.state;
    const base = await fixtureEvents();
    const many = rekeyed(base, 'http', 620);
    storedCount = many.length;
    const db = join(tmp.dir, 'store.db');
    fillStore(db, 'run-http', 1_723_161_400_000, many);
    store = EventStore.open({ path: db, readonly: true });
    api = await ApiServer.start({ listen: { host: '127.0.0.1', port: 0 }, sources });
  });
  afterAll(async () => {
    await api.close();
    store.close(0);
  });

  it('before the first commit: /api/snapshot and /api/health say 503, /metrics says up 0', async () => {
    expect((await get(api.port, '/api/snapshot')).status).toBe(503);
    const h = await get(api.port, '/api/health');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.body)).toMatchObject({ health_state: 'STARTING', sinks: [SINK] });
    const m = parsePrometheusTextFormat((await get(api.port, '/metrics')).body);
    expect(m.find((f) => f.name === 'peak_pressure_up')?.metrics[0]?.value).toBe('0');
  });

  it('GET /api/snapshot: the latest committed snapshot, valid against its contract', async () => {
    state.ops.sinks = [SINK];
    snap = state.commit(1_723_161_500_000);
    const r = await get(api.port, '/api/snapshot');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body).toBe(JSON.stringify(snap));
    expect(SnapshotSchema.parse(JSON.parse(r.body)).sinks).toEqual([SINK]);
    expect(JSON.parse(r.body).promoted_events.length).toBeGreaterThan(0);
  });

  it('GET /api/events: stored events oldest first, byte for byte, at most 500, continued from next_since', async () => {
    const all = [...store.iterateEvents()];
    const first = await get(api.port, '/api/events');
    const j = JSON.parse(first.body) as { count: number; next_since: number | null; events: { event_id: string; event: unknown }[] };
    expect(j.count).toBe(API_LIMITS.defaultEventsLimit);
    expect(j.events.map((e) => e.event_id)).toEqual(all.slice(0, 100).map((e) => e.event_id));
    for (const row of all.slice(0, 100)) expect(first.body).toContain(`"event":${row.json}`);
    const max = JSON.parse((await get(api.port, '/api/events?limit=500')).body) as typeof j;
    expect(max.count).toBe(500);
    expect(max.next_since).toBe(all[499]?.window_end_ms);
    const rest = JSON.parse((await get(api.port, `/api/events?since=${max.next_since}&limit=500`)).body) as typeof j;
    const ids = new Set([...max.events, ...rest.events].map((e) => e.event_id));
    expect(ids.size).toBe(storedCount);
    expect(rest.next_since).toBeNull();
    const iso = new Date(all[10]?.window_end_ms ?? 0).toISOString();
    const since = JSON.parse((await get(api.port, `/api/events?since=${encodeURIComponent(iso)}&limit=1`)).body) as typeof j;
    expect(since.events[0]?.event_id).toBe(all.find((e) => e.window_end_ms >= (all[10]?.window_end_ms ?? 0))?.event_id);
  });

  it.each([
    ['/api/events?limit=0', 400, /limit "0": a whole number from 1 to 500/],
    ['/api/events?limit=501', 400, /from 1 to 500/],
    ['/api/events?limit=ten', 400, /from 1 to 500/],
    ['/api/events?since=yesterday', 400, /since yesterday: not a time/],
    ['/api/events?sort=desc', 400, /unknown parameter "sort" \(accepted: since, limit\)/],
    ['/api/snapshot?x=1', 400, /unknown parameter "x"/],
    ['/nope', 404, /no such path \/nope/],
    ['/api', 404, /no such path/],
    [`/api/events?since=${'1'.repeat(2100)}`, 414, /longer than 2048/],
  ])('GET %s → %i', async (path, status, msg) => {
    const r = await get(api.port, path);
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body).error).toMatch(msg);
  });

  it('GET /api/health: health, stage, the sinks; 503 while FAILED', async () => {
    const r = await get(api.port, '/api/health');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ health_state: snap?.health_state, stage: snap?.stage, run_id: snap?.run_id, sinks: [SINK] });
    const failed = { ...(snap as Snapshot), health_state: 'FAILED' as const };
    const keep = snap;
    snap = failed;
    expect((await get(api.port, '/api/health')).status).toBe(503);
    snap = keep;
  });

  it('GET /metrics: Prometheus text exposition that an independent parser reads back', async () => {
    const r = await get(api.port, '/metrics');
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const fams = new Map<string, PromFamily>(parsePrometheusTextFormat(r.body).map((f) => [f.name, f]));
    const s = snap as Snapshot;
    const value = (name: string, labels: Record<string, string> = {}): number => {
      const f = fams.get(name);
      expect(f, name).toBeDefined();
      const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      return Number(m?.value);
    };
    expect(fams.get('peak_pressure_windows_processed_total')?.type).toBe('COUNTER');
    expect(value('peak_pressure_windows_processed_total')).toBe(s.counters.windows_processed);
    expect(value('peak_pressure_events_total')).toBe(s.counters.peak_pressure_events);
    expect(value('peak_pressure_condition_failed_total', { condition: 'flow_surge' })).toBe(s.counters.flow_surge_failed);
    expect(value('peak_pressure_dropped_total', { reason: 'missing_streams' })).toBe(s.counters.dropped_events.missing_streams);
    expect(value('peak_pressure_trades_per_second')).toBe(s.ingestion_health.trades_rate);
    expect(fams.get('peak_pressure_health_state')?.type).toBe('GAUGE');
    expect(value('peak_pressure_health_state', { state: s.health_state })).toBe(1);
    expect(fams.get('peak_pressure_health_state')?.metrics.filter((m) => m.value === '1')).toHaveLength(1);
    expect(value('peak_pressure_stage', { stage: s.stage })).toBe(1);
    expect(value('peak_pressure_ws_reconnects_total')).toBe(s.streams.reconnects);
    expect(value('peak_pressure_sink_backlog', { sink: SINK.sink, kind: 'redis' })).toBe(42);
    expect(value('peak_pressure_sink_up', { sink: SINK.sink })).toBe(0);
    expect(value('peak_pressure_sink_last_delivered_timestamp_seconds', { sink: SINK.sink })).toBe(1_700_000_000);
    expect(value('peak_pressure_process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    for (const sym of Object.keys(s.per_symbol))
      expect(value('peak_pressure_symbol_windows_processed_total', { symbol: sym })).toBe(s.per_symbol[sym]?.counters.windows_processed);
    expect(value('peak_pressure_info', { run_id: s.run_id, rule_set: s.rule_set.id })).toBe(1);
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'])('%s is refused with 403 and changes nothing', async (method) => {
    const before = JSON.stringify(snap);
    const r = await get(api.port, '/api/snapshot', { method, ...(method === 'POST' || method === 'PUT' ? { body: '{"x":1}' } : {}) });
    expect(r.status).toBe(403);
    if (method !== 'HEAD') expect(JSON.parse(r.body).error).toContain(`${method} is not allowed, only GET`);
    expect(JSON.stringify(snap)).toBe(before);
  });

  it('a request with a body is refused (413); a foreign Host header is refused (403, DNS rebinding)', async () => {
    const b = await get(api.port, '/api/health', { body: 'x'.repeat(10), headers: { 'content-length': '10' } });
    expect(b.status).toBe(413);
    const h = await get(api.port, '/api/health', { host: 'evil.example:80' });
    expect(h.status).toBe(403);
    expect(JSON.parse(h.body).error).toMatch(/Host "evil.example:80" is not this loopback API/);
    expect((await get(api.port, '/api/health', { host: `localhost:${api.port}` })).status).toBe(200);
  });

  it('at most 16 clients: the 17th connection gets 503; one leaving makes room', async () => {
    const streams = Array.from({ length: API_LIMITS.maxClients }, () => streamClient(api.port));
    await until(() => api.stats().sse_clients === API_LIMITS.maxClients, '16 stream clients');
    const extra = await get(api.port, '/api/health');
    expect(extra.status).toBe(503);
    expect(JSON.parse(extra.body).error).toMatch(/too many clients: at most 16/);
    streams[0]?.destroy();
    await until(() => api.stats().clients < API_LIMITS.maxClients, 'a client to leave');
    expect((await get(api.port, '/api/health')).status).toBe(200);
    for (const s of streams) s.destroy();
    await until(() => api.stats().sse_clients === 0, 'the stream clients to close');
  });
});

describe('GET /api/stream', () => {
  let state: SystemState;
  let now = 1_723_161_500_000;
  const servers: ApiServer[] = [];
  const sources = (): ApiSources => ({ snapshot: () => state.commit((now += 500)), events: () => [] });

  beforeAll(async () => {
    state = (await runReplay({ files: [...FIXTURE_FILES, writeOiCapture(join(tmp.dir, 'oi-stream.capture'))] })).state;
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('sends a snapshot at once, then one every 1000 ms and a ping every 15 000 ms (on a manual clock)', async () => {
    const clock = new ManualClock(1_723_161_600_000);
    const api = await ApiServer.start({ listen: { host: '127.0.0.1', port: 0 }, sources: sources(), clock });
    servers.push(api);
    const c = streamClient(api.port);
    const res = await c.res;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await until(() => c.count('snapshot') === 1, 'the first snapshot');
    expect(c.head().startsWith('retry: 3000\n\n')).toBe(true);
    clock.advance(999);
    expect(c.count('snapshot')).toBe(1);
    clock.advance(1);
    await until(() => c.count('snapshot') === 2, 'the second snapshot');
    // One second at a time, each snapshot read before the next (14 written at once would be a client 1.4 MB behind).
    for (let k = 3; k <= 16; k++) {
      clock.advance(1_000);
      await until(() => c.count('snapshot') === k, `snapshot ${k}`);
    }
    expect(c.count('ping')).toBe(1);
    const seqs = c.data('snapshot').map((d) => SnapshotSchema.parse(JSON.parse(d)).snapshot_seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    c.destroy();
  });

  it('a client that never reads is dropped once 1 MiB waits for it; what waited never exceeded the bound', async () => {
    const api = await ApiServer.start({ listen: { host: '127.0.0.1', port: 0 }, sources: sources(), sseSnapshotMs: 5 });
    servers.push(api);
    const reader = streamClient(api.port);
    const slow = streamClient(api.port);
    await slow.res;
    slow.pause();
    await until(() => api.stats().sse_dropped === 1, 'the slow client to be dropped', 60_000);
    // It cannot see that while it does not read; once it reads again, it reaches the end the server made.
    slow.resume();
    await slow.closed;
    expect(api.stats().max_sse_buffered).toBeLessThanOrEqual(API_LIMITS.maxBufferedBytes);
    // The reading client is still served.
    const n = reader.count('snapshot');
    await until(() => reader.count('snapshot') > n + 2, 'the reading client to get more snapshots');
    expect(api.stats().sse_clients).toBe(1);
    reader.destroy();
  }, 90_000);

  const haveChromium = existsSync(CHROMIUM);
  if (!haveChromium && !REQUIRE_SERVICES) console.warn(`[skip] EventSource in Chromium: ${CHROMIUM} is missing (bash scripts/services.sh start installs it)`);
  it.runIf(haveChromium || REQUIRE_SERVICES)(
    "headless Chromium's EventSource receives snapshot and ping events",
    async () => {
      const api = await ApiServer.start({ listen: { host: '127.0.0.1', port: 0 }, sources: sources(), sseSnapshotMs: 100, ssePingMs: 150 });
      servers.push(api);
      const browser = await chromium.launchPersistentContext(join(tmp.dir, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`${api.url}/api/health`);
        const got = await page.evaluate(
          () =>
            new Promise<{ seqs: number[]; pings: number; keys: string[] }>((resolve, reject) => {
              const es = new EventSource('/api/stream');
              const seqs: number[] = [];
              let pings = 0;
              let keys: string[] = [];
              es.addEventListener('snapshot', (e) => {
                const s = JSON.parse((e as unknown as { data: string }).data) as { snapshot_seq: number };
                keys = Object.keys(s);
                seqs.push(s.snapshot_seq);
                if (seqs.length >= 3 && pings >= 1) {
                  es.close();
                  resolve({ seqs, pings, keys });
                }
              });
              es.addEventListener('ping', () => void pings++);
              es.onerror = () => {
                es.close();
                reject(new Error('EventSource error'));
              };
            }),
        );
        expect(got.seqs.length).toBeGreaterThanOrEqual(3);
        expect(got.seqs).toEqual([...got.seqs].sort((a, b) => a - b));
        expect(got.pings).toBeGreaterThanOrEqual(1);
        // The optional sections (sinks, the live worker's restarts, queues and capture) are absent in this test's snapshot.
        expect(got.keys).toEqual(Object.keys(SnapshotSchema.shape).filter((k) => !['sinks', 'worker', 'queues', 'capture'].includes(k)));
      } finally {
        await browser.close();
      }
    },
    90_000,
  );
});

/**
 * Collector building blocks on loopback servers written here: configuration layering, reconnect
 * backoff, and REST pacing by the exchange's used-weight header.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ConfigError, loadConfig } from '../src/collector/config';
import { HeapLiveSampler } from '../src/collector/heap-live';
import { MarketStream } from '../src/collector/market-stream';
import { RestClient } from '../src/collector/rest';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('configuration', () => {
  it('layers defaults < file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({ restUrl: 'http://127.0.0.1:1000', wsUrl: 'ws://127.0.0.1:1000', debugDir: 'from-file', capture: { maxFileBytes: 1_234_567 } }),
    );
    const c = loadConfig({ file, env: { PEAK_PRESSURE_WS_URL: 'ws://127.0.0.1:2000', PEAK_PRESSURE_CAPTURE: '0' }, flags: { debugDir: 'from-flag' } });
    expect(c.restUrl).toBe('http://127.0.0.1:1000');
    expect(c.wsUrl).toBe('ws://127.0.0.1:2000');
    expect(c.debugDir).toBe('from-flag');
    expect(c.capture).toMatchObject({ enabled: false, maxFileBytes: 1_234_567, dir: 'captures' });
    expect(loadConfig({}).restUrl).toBe('https://fapi.binance.com');
    expect(loadConfig({}).wsUrl).toBe('wss://fstream.binance.com');
  });

  it('refuses a bad file with the path, the field and what is expected', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-cfg-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ restUrl: 'ftp://x', staleAfterMs: -5, colour: 'red' }));
    let err: unknown;
    try {
      loadConfig({ file });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain(file);
    expect(msg).toContain('restUrl: must be a URL starting with https: or http:');
    expect(msg).toContain('staleAfterMs');
    expect(msg).toMatch(/colour/);
    writeFileSync(file, '{not json');
    expect(() => loadConfig({ file })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ file: join(dir, 'missing.json') })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ env: { PEAK_PRESSURE_WS_URL: 'http://nope' } })).toThrow(/wsUrl: must be a URL starting with wss: or ws:/);
  });
});

describe('market stream reconnect backoff', () => {
  it('doubles from the initial delay up to the cap, with the jitter factor applied', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const attempts: number[] = [];
    // Every connection is accepted and dropped at once: the client must back off.
    wss.on('connection', (ws) => {
      attempts.push(Date.now());
      ws.terminate();
    });
    closers.push(() => new Promise<void>((r) => wss.close(() => r())));
    const port = (wss.address() as AddressInfo).port;
    const scheduled: number[] = [];
    const stream = new MarketStream({
      wsUrl: `ws://127.0.0.1:${port}`,
      streams: ['btcusdt@aggTrade'],
      silenceLimitMs: () => 0,
      onFrame: () => undefined,
      onBadFrame: () => undefined,
      onStateChange: (state, detail) => {
        const m = /retry in (\d+) ms/.exec(detail);
        if (state === 'RECONNECTING' && m) scheduled.push(Number(m[1]));
      },
      backoff: { initialMs: 100, maxMs: 800, healthyAfterMs: 60_000 },
      random: () => 0.5, // jitter factor 0.8 + 0.4·0.5 = 1.0: exact delays
    });
    closers.push(() => stream.stop());
    stream.start();
    const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    };
    await waitFor(() => attempts.length >= 7, 8000);
    expect(attempts.length).toBeGreaterThanOrEqual(7);
    // The schedule itself is exact; the wall-clock gaps only bound it (a loaded CI machine runs late, never early).
    expect(scheduled.slice(0, 6)).toEqual([100, 200, 400, 800, 800, 800]);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    gaps.slice(0, 6).forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual((scheduled[i] as number) - 5);
      expect(g).toBeLessThan((scheduled[i] as number) + 1000);
    });
    // The 7th connection was accepted and dropped: the client must end up backing off again, never giving up.
    await waitFor(() => stream.state === 'RECONNECTING', 2000);
    expect(stream.reconnects).toBeGreaterThanOrEqual(6);
    expect(stream.state).toBe('RECONNECTING');
  });
});

describe('REST pacing by X-MBX-USED-WEIGHT-1M', () => {
  function serve(weightFor: (n: number) => number): Promise<{ server: Server; url: string; times: number[] }> {
    const times: number[] = [];
    const server = createServer((_req, res) => {
      times.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/json', 'x-mbx-used-weight-1m': String(weightFor(times.length)) });
      res.end('{"symbol":"BTCUSDT","openInterest":"1.000","time":1767700000000}');
    });
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, times })),
    );
  }

  it('holds the next request until the weight window rolls once the budget is 90 % spent', async () => {
    const { server, url, times } = await serve((n) => (n === 1 ? 2300 : 10));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const rest = new RestClient({ baseUrl: url, weightWindowMs: 1000 });
    closers.push(() => rest.close());
    await rest.get('/fapi/v1/openInterest?symbol=BTCUSDT', { timeoutMs: 2000 });
    expect(rest.usedWeight1m).toBe(2300);
    await rest.get('/fapi/v1/openInterest?symbol=BTCUSDT', { timeoutMs: 2000 });
    expect(rest.pacedRequests).toBe(1);
    // Sent only after the (1 s, test-sized) window boundary.
    expect(Math.floor((times[1] as number) / 1000)).toBeGreaterThan(Math.floor((times[0] as number) / 1000));
    await rest.get('/fapi/v1/openInterest?symbol=BTCUSDT', { timeoutMs: 2000 });
    expect(rest.pacedRequests).toBe(1);
  });
});

describe('heap live size after full collections', () => {
  it('follows what stays reachable: up when 40 MB are retained, back down when they are released', async () => {
    // The product never forces a GC; the test does, to know exactly when one happened.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const unexposed = new HeapLiveSampler(null);
    expect(unexposed.probe()).toBe(false);
    unexposed.stop();
    const sampler = new HeapLiveSampler(gc);
    closers.push(() => sampler.stop());
    // gc entries reach observers asynchronously: wait until this collection has been seen.
    const settle = async (): Promise<void> => {
      const seen = sampler.majorGcs;
      const until = Date.now() + 5000;
      while (sampler.majorGcs === seen && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    };
    expect(sampler.majorGcs).toBe(0);
    gc();
    await settle();
    expect(sampler.majorGcs).toBeGreaterThanOrEqual(1);
    const base = sampler.liveBytes as number;
    expect(base).toBeGreaterThan(0);
    let kept: number[][] | null = Array.from({ length: 40 }, (_, i) => new Array<number>(131_072).fill(i + 0.5)); // 40 × 1 MB of doubles
    gc();
    await settle();
    const withKept = sampler.liveBytes as number;
    expect(withKept - base).toBeGreaterThan(35e6);
    expect(kept.length).toBe(40);
    // Dropping the last reference is the point: the next full GC must see the memory freed.
    // eslint-disable-next-line no-useless-assignment
    kept = null;
    gc();
    await settle();
    expect(withKept - (sampler.liveBytes as number)).toBeGreaterThan(35e6);
    expect(sampler.majorGcs).toBeGreaterThanOrEqual(3);
    expect(sampler.method).toBe('after_major_gc');
    // The forced probe (benchmarks): exact, and from then on the only source of the figure.
    kept = Array.from({ length: 20 }, (_, i) => new Array<number>(131_072).fill(i + 0.5));
    expect(sampler.probe()).toBe(true);
    expect(sampler.method).toBe('forced_gc');
    expect((sampler.liveBytes as number) - base).toBeGreaterThan(15e6);
    const probed = sampler.liveBytes;
    gc();
    await settle();
    expect(sampler.liveBytes).toBe(probed);
    expect(kept.length).toBe(20);
  });
});

/**
 * Collector building blocks on loopback servers written here, on the manual clock: configuration
 * layering; the WebSocket session's reconnect backoff, stale and cadence watchdogs, rotation and
 * refused frames; REST pacing by used weight and Retry-After; OI polling cadence and pauses; the
 * frame intake's capture after a fatal error. Real sockets; time moves only when a test advances
 * it, and the only waits are for socket events (`eventually`).
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { marketProtocol } from '../src/binance/market-protocol';
import { DeadLetterFile } from '../src/capture/dead-letter';
import { readCapture } from '../src/capture/reader';
import { CaptureWriter } from '../src/capture/writer';
import { ManualClock } from '../src/clock/manual';
import { AuditTrail } from '../src/collector/audit';
import { ConfigError, loadConfig } from '../src/collector/config';
import { CODE_READ_EVERY_OBSERVED_GCS, HeapLiveSampler } from '../src/collector/heap-live';
import { FrameIntake } from '../src/collector/intake';
import { silentLogger } from '../src/collector/log';
import { OiPoller } from '../src/collector/oi-poller';
import { Operations } from '../src/collector/operations';
import { Reporter } from '../src/collector/report';
import { RestClient, RestError } from '../src/collector/rest';
import { WsSession, type WsSessionOptions } from '../src/collector/ws-session';
import type { ReasonCode, WsState } from '../src/core/contracts/vocabulary';
import { Engine } from '../src/core/engine';
import { binanceUsdm } from '../src/binance/adapter';
import { FramePipeline } from '../src/core/pipeline';
import type { Frame } from '../src/core/source';
import { InvariantError } from '../src/core/symbol-detector';
import { eventually } from './collector-harness';
import { FIXTURE_BTC } from './fixtures/paths';

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

const T0 = 1_767_700_000_000;

interface Peer {
  ws: WebSocket;
  /** Text messages the client sent on this connection. */
  received: string[];
}

/** A loopback WebSocket server; `onConnection` sees each connection as it arrives. */
async function wsServer(onConnection?: (peer: Peer, index: number) => void): Promise<{ url: string; peers: Peer[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const peers: Peer[] = [];
  wss.on('connection', (ws) => {
    const peer: Peer = { ws, received: [] };
    ws.on('message', (d: Buffer) => peer.received.push(d.toString()));
    peers.push(peer);
    onConnection?.(peer, peers.length - 1);
  });
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, peers };
}

interface SessionProbe {
  session: WsSession;
  frames: string[];
  refused: string[];
  states: { state: WsState; detail: string }[];
  silent: { stream: string; ms: number }[];
  /** Backoff delays announced in the RECONNECTING details. */
  scheduled: number[];
}

function startSession(url: string, clock: ManualClock, streams: string[], over: Partial<WsSessionOptions> = {}): SessionProbe {
  const p: SessionProbe = { session: null as unknown as WsSession, frames: [], refused: [], states: [], silent: [], scheduled: [] };
  p.session = new WsSession({
    protocol: marketProtocol({ wsUrl: url, streams }),
    clock,
    onFrame: (text) => p.frames.push(text),
    onRefused: (reason) => p.refused.push(reason),
    onStateChange: (state, detail) => {
      p.states.push({ state, detail });
      const m = /retry in (\d+) ms/.exec(detail);
      if (state === 'RECONNECTING' && m) p.scheduled.push(Number(m[1]));
    },
    onSilentStream: (stream, ms) => p.silent.push({ stream, ms }),
    ...over,
  });
  closers.push(async () => {
    const stopping = p.session.stop();
    clock.advance(5000); // the close grace, should a peer not answer the close handshake
    await stopping;
  });
  p.session.start();
  return p;
}

const aggTrade = (id: number): string =>
  `{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":${T0 + id},"a":${id},"s":"BTCUSDT","p":"61800.10","q":"0.005","f":${id},"l":${id},"T":${T0 + id},"m":false}}`;
const markPrice = (symbol: string): string =>
  `{"stream":"${symbol.toLowerCase()}@markPrice@1s","data":{"e":"markPriceUpdate","E":${T0},"s":"${symbol}","p":"61800.0","i":"61801.0","P":"61790.0","r":"0.0001","T":${T0 + 3_600_000}}}`;

describe('market session: reconnect backoff', () => {
  it('doubles from the initial delay up to the cap, with the jitter factor applied', async () => {
    const clock = new ManualClock(T0);
    const attempts: number[] = [];
    // Every connection is accepted and dropped at once: the client must back off.
    const { url } = await wsServer((peer) => {
      attempts.push(clock.now());
      peer.ws.terminate();
    });
    // The manual clock's random() is 0.5: jitter factor 0.8 + 0.4·0.5 = 1.0, exact delays.
    const p = startSession(url, clock, ['btcusdt@aggTrade'], { backoff: { initialMs: 100, maxMs: 800, healthyAfterMs: 60_000 } });
    const s = p.session;
    for (let i = 0; i < 6; i++) {
      await eventually(`close ${i + 1} seen and a retry scheduled`, () => p.scheduled.length > i && attempts.length > i);
      const delay = p.scheduled[i] as number;
      clock.advance(delay - 1);
      expect(s.connectAttempts).toBe(i + 1); // not a millisecond early
      clock.advance(1);
      expect(s.connectAttempts).toBe(i + 2);
    }
    await eventually('the 7th attempt reached the server', () => attempts.length >= 7);
    expect(attempts.length).toBeGreaterThanOrEqual(7);
    // The schedule itself is exact, and on the clock the gaps between attempts are the schedule.
    expect(p.scheduled.slice(0, 6)).toEqual([100, 200, 400, 800, 800, 800]);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    gaps.slice(0, 6).forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual((p.scheduled[i] as number) - 5);
      expect(g).toBeLessThan((p.scheduled[i] as number) + 1000);
    });
    expect(gaps.slice(0, 6)).toEqual(p.scheduled.slice(0, 6));
    // The 7th connection was accepted and dropped: the client must end up backing off again, never giving up.
    await eventually('backing off again', () => p.scheduled.length >= 7);
    expect(s.reconnects).toBeGreaterThanOrEqual(6);
    expect(s.state).toBe('RECONNECTING');
  });

  it('starts over from the initial delay after a connection that delivered data for healthyAfterMs', async () => {
    const clock = new ManualClock(T0);
    const { url, peers } = await wsServer((peer, i) => {
      if (i === 0) peer.ws.terminate();
    });
    const p = startSession(url, clock, ['btcusdt@aggTrade'], { backoff: { initialMs: 100, maxMs: 800, healthyAfterMs: 1000 } });
    await eventually('first drop', () => p.scheduled.length === 1);
    clock.advance(100);
    await eventually('second connection open', () => peers.length === 2 && p.session.state === 'OPEN');
    // Data for exactly healthyAfterMs, then a drop: healthy, so the next delay is the initial one.
    peers[1]?.ws.send(aggTrade(1));
    await eventually('data delivered', () => p.frames.length === 1);
    clock.advance(1000);
    peers[1]?.ws.terminate();
    await eventually('second drop', () => p.scheduled.length === 2);
    clock.advance(100);
    await eventually('third connection open', () => peers.length === 3 && p.session.state === 'OPEN');
    // Data for less than that: the backoff keeps growing.
    peers[2]?.ws.send(aggTrade(2));
    await eventually('data delivered', () => p.frames.length === 2);
    clock.advance(999);
    peers[2]?.ws.terminate();
    await eventually('third drop', () => p.scheduled.length === 3);
    expect(p.scheduled).toEqual([100, 100, 200]);
    expect(p.session.reconnects).toBe(3);
  });

  it('moves only along the legal state transitions: CONNECTING → OPEN → RECONNECTING → OPEN → CLOSED', async () => {
    const clock = new ManualClock(T0);
    const { url, peers } = await wsServer();
    const p = startSession(url, clock, ['btcusdt@aggTrade']);
    await eventually('open', () => p.session.state === 'OPEN');
    peers[0]?.ws.terminate();
    await eventually('dropped', () => p.session.state === 'RECONNECTING');
    clock.advance(1000);
    await eventually('open again', () => p.session.state === 'OPEN' && peers.length === 2);
    const stopping = p.session.stop();
    clock.advance(5000);
    await stopping;
    expect(p.states.map((s) => s.state)).toEqual(['CONNECTING', 'OPEN', 'RECONNECTING', 'OPEN', 'CLOSED']);
  });
});

describe('market session: watchdogs', () => {
  it('stale: a connection silent for longer than staleAfterMs is terminated and replaced, not a tick earlier', async () => {
    const clock = new ManualClock(T0);
    const { url, peers } = await wsServer();
    const p = startSession(url, clock, ['btcusdt@aggTrade'], { staleAfterMs: 3000 });
    await eventually('open', () => p.session.state === 'OPEN');
    peers[0]?.ws.send(aggTrade(1));
    await eventually('one frame', () => p.frames.length === 1);
    // Half-open from here: nothing arrives and no close either. The watchdog looks once a second.
    clock.advance(3000);
    expect(p.session.reconnects).toBe(0);
    clock.advance(1000);
    await eventually('terminated and reconnect scheduled', () => p.session.reconnects === 1);
    expect(p.session.state).toBe('RECONNECTING');
    clock.advance(1000);
    await eventually('replaced', () => p.session.state === 'OPEN' && peers.length === 2);
    peers[1]?.ws.send(aggTrade(2));
    await eventually('data flows again', () => p.frames.length === 2);
  });

  it('cadence: only the stream that stays silent past its limit is reported SILENT and resubscribed, once; it flows again', async () => {
    const clock = new ManualClock(T0);
    const { url, peers } = await wsServer((peer) => {
      peer.ws.on('message', (d: Buffer) => {
        const req = JSON.parse(d.toString()) as { id: number };
        peer.ws.send(JSON.stringify({ result: null, id: req.id }));
      });
    });
    const streams = ['btcusdt@aggTrade', 'btcusdt@markPrice@1s', 'ethusdt@markPrice@1s'];
    const p = startSession(url, clock, streams);
    await eventually('open', () => p.session.state === 'OPEN');
    clock.advance(0); // the first SUBSCRIBE goes out at once
    const peer = peers[0] as Peer;
    await eventually('subscribed', () => peer.received.length === 1);
    expect(JSON.parse(peer.received[0] as string)).toEqual({ method: 'SUBSCRIBE', params: streams, id: 1 });
    // ETH's mark price every second; BTC's never.
    for (let s = 1; s <= 6; s++) {
      clock.advance(1000);
      peer.ws.send(markPrice('ETHUSDT'));
      await eventually(`eth mark price ${s}`, () => p.session.perStream.get('ethusdt@markPrice@1s')?.msgs === s);
    }
    // 5 s is the mark-price limit; the check at 6 s saw 6 s of silence.
    expect(p.silent).toEqual([{ stream: 'btcusdt@markPrice@1s', ms: 6000 }]);
    expect(p.session.perStream.get('btcusdt@markPrice@1s')?.state).toBe('SILENT');
    expect(p.session.perStream.get('ethusdt@markPrice@1s')?.state).toBe('FLOWING');
    // aggTrade may be quiet for 60 s: not reported.
    expect(p.session.perStream.get('btcusdt@aggTrade')?.state).toBe('WAITING');
    await eventually('resubscribed', () => peer.received.length === 2);
    expect(JSON.parse(peer.received[1] as string)).toEqual({ method: 'SUBSCRIBE', params: ['btcusdt@markPrice@1s'], id: 2 });
    // Reported and resubscribed once only.
    clock.advance(5000);
    expect(p.silent).toHaveLength(1);
    expect(peer.received).toHaveLength(2);
    peer.ws.send(markPrice('BTCUSDT'));
    await eventually('flows again', () => p.session.perStream.get('btcusdt@markPrice@1s')?.state === 'FLOWING');
    // Control replies are frames too (recorded), but not market data.
    expect(p.frames.filter((f) => f.startsWith('{"result"'))).toHaveLength(2);
    expect(p.session.perStream.get('btcusdt@markPrice@1s')?.msgs).toBe(1);
  });
});

describe('market session: control messages', () => {
  it('leave controlGapMs apart on a connection, resubscriptions included, so a burst of silent streams never exceeds the rate limit', async () => {
    const clock = new ManualClock(T0);
    const arrivals: { t: number; params: string[] }[] = [];
    const { url } = await wsServer((peer) => {
      peer.ws.on('message', (d: Buffer) => arrivals.push({ t: clock.now() - T0, params: (JSON.parse(d.toString()) as { params: string[] }).params }));
    });
    const streams = ['btcusdt@markPrice@1s', 'ethusdt@markPrice@1s', 'solusdt@markPrice@1s'];
    // One stream per SUBSCRIBE, so that each message shows its own departure time.
    const session = new WsSession({
      protocol: marketProtocol({ wsUrl: url, streams, subscribeBatch: 1 }),
      clock,
      onFrame: () => undefined,
      onRefused: () => undefined,
    });
    closers.push(async () => {
      const stopping = session.stop();
      clock.advance(5000);
      await stopping;
    });
    session.start();
    await eventually('open', () => session.state === 'OPEN');
    for (const [k, step] of [0, 250, 250].entries()) {
      clock.advance(step);
      await eventually(`subscribe ${k + 1} arrived`, () => arrivals.length === k + 1);
    }
    // No data at all: the check at 6 s finds the three silent together; they are asked for again, paced the same way.
    clock.advance(5500);
    for (const k of [3, 4, 5]) {
      await eventually(`resubscribe ${k - 2} arrived`, () => arrivals.length === k + 1);
      clock.advance(250);
    }
    expect(arrivals).toEqual([
      { t: 0, params: ['btcusdt@markPrice@1s'] },
      { t: 250, params: ['ethusdt@markPrice@1s'] },
      { t: 500, params: ['solusdt@markPrice@1s'] },
      { t: 6000, params: ['btcusdt@markPrice@1s'] },
      { t: 6250, params: ['ethusdt@markPrice@1s'] },
      { t: 6500, params: ['solusdt@markPrice@1s'] },
    ]);
  });
});

describe('market session: rotation', () => {
  it('make-before-break: the new connection takes over once it delivers data; no reconnect counted; a failed rotation is retried after 30 s', async () => {
    const clock = new ManualClock(T0);
    let refuseNext = false;
    const { url, peers } = await wsServer((peer) => {
      if (refuseNext) peer.ws.terminate();
    });
    const p = startSession(url, clock, ['btcusdt@aggTrade'], { rotateAfterMs: 10_000 });
    await eventually('open', () => p.session.state === 'OPEN');
    const first = peers[0] as Peer;
    first.ws.send(aggTrade(1));
    await eventually('first data', () => p.frames.length === 1);
    clock.advance(9999);
    expect(p.session.connectAttempts).toBe(1);
    clock.advance(1);
    expect(p.session.connectAttempts).toBe(2);
    await eventually('second connection', () => peers.length === 2);
    // Until the new one delivers, the old one serves.
    first.ws.send(aggTrade(2));
    await eventually('old connection still serving', () => p.frames.length === 2);
    (peers[1] as Peer).ws.send(aggTrade(3));
    await eventually('old connection closed', () => first.ws.readyState === first.ws.CLOSED);
    expect(p.frames).toHaveLength(3);
    expect(p.session.reconnects).toBe(0);
    expect(p.session.state).toBe('OPEN');
    expect(p.states.map((s) => s.state)).toEqual(['CONNECTING', 'OPEN']);
    // The next rotation is due 10 s after the takeover; this one fails.
    refuseNext = true;
    clock.advance(10_000);
    expect(p.session.connectAttempts).toBe(3);
    await eventually('rotation refused', () => peers.length === 3 && (peers[2] as Peer).ws.readyState === (peers[2] as Peer).ws.CLOSED);
    await eventually('client saw the failure', () => !p.session.rotating);
    expect(p.session.state).toBe('OPEN');
    refuseNext = false;
    clock.advance(29_999);
    expect(p.session.connectAttempts).toBe(3);
    clock.advance(1);
    expect(p.session.connectAttempts).toBe(4);
    expect(p.session.reconnects).toBe(0);
  });
});

describe('market session: frames the socket refuses', () => {
  it('binary and oversized frames are handed over as refused, never as text; oversized ends the connection', async () => {
    const clock = new ManualClock(T0);
    const { url, peers } = await wsServer();
    const p = startSession(url, clock, ['btcusdt@aggTrade'], { maxPayloadBytes: 1024 });
    await eventually('open', () => p.session.state === 'OPEN');
    const peer = peers[0] as Peer;
    peer.ws.send(Buffer.from([0, 1, 2, 0xff]), { binary: true });
    peer.ws.send(aggTrade(1));
    await eventually('both arrived', () => p.refused.length === 1 && p.frames.length === 1);
    peer.ws.send('x'.repeat(2048));
    await eventually('oversized refused, connection dropped', () => p.refused.length === 2 && p.session.reconnects === 1);
    expect(p.refused).toEqual(['binary_frame', 'oversized_frame']);
    expect(p.frames).toEqual([aggTrade(1)]);
    expect(p.states[p.states.length - 1]?.detail).toMatch(/Max payload size exceeded/);
  });
});

describe('REST pacing by X-MBX-USED-WEIGHT-1M, and Retry-After', () => {
  /** A loopback REST server answering request n with `answer(n)`; records when each arrived on `clock`. */
  function serve(
    clock: ManualClock,
    answer: (n: number) => { status: number; weight: number; retryAfterS?: number },
  ): Promise<{ url: string; times: number[] }> {
    const times: number[] = [];
    const server: Server = createServer((_req, res) => {
      times.push(clock.now());
      const a = answer(times.length);
      res.writeHead(a.status, {
        'content-type': 'application/json',
        'x-mbx-used-weight-1m': String(a.weight),
        ...(a.retryAfterS !== undefined ? { 'retry-after': String(a.retryAfterS) } : {}),
      });
      res.end(a.status === 200 ? `{"symbol":"BTCUSDT","openInterest":"1.000","time":${clock.now()}}` : '{"code":-1003,"msg":"Too many requests"}');
    });
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, times })));
  }
  const OI = '/fapi/v1/openInterest?symbol=BTCUSDT';

  it('holds the next request until the weight window rolls once the budget is 90 % spent', async () => {
    const clock = new ManualClock(T0 + 400);
    const { url, times } = await serve(clock, (n) => ({ status: 200, weight: n === 1 ? 2300 : 10 }));
    const rest = new RestClient({ baseUrl: url, clock, weightWindowMs: 1000 });
    closers.push(() => rest.close());
    await rest.get(OI, { timeoutMs: 2000 });
    expect(rest.usedWeight1m).toBe(2300);
    const second = rest.get(OI, { timeoutMs: 2000 });
    await eventually('paced', () => rest.pacedRequests === 1);
    // 600 ms to the end of the (test-sized) window, plus 50 ms of margin.
    clock.advance(649);
    expect(times).toHaveLength(1);
    clock.advance(1);
    await second;
    expect(rest.pacedRequests).toBe(1);
    // Sent only after the window boundary.
    expect(Math.floor((times[1] as number) / 1000)).toBeGreaterThan(Math.floor((times[0] as number) / 1000));
    expect(times[1]).toBe(T0 + 1050);
    await rest.get(OI, { timeoutMs: 2000 });
    expect(rest.pacedRequests).toBe(1);
  });

  it('after a 429 nothing is sent until Retry-After has passed on the clock', async () => {
    const clock = new ManualClock(T0);
    const { url, times } = await serve(clock, (n) => (n === 1 ? { status: 429, weight: 10, retryAfterS: 3 } : { status: 200, weight: 10 }));
    const rest = new RestClient({ baseUrl: url, clock });
    closers.push(() => rest.close());
    const first = await rest.get(OI, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RestError);
    expect(first).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 3000 });
    clock.advance(2999);
    const early = await rest.get(OI, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(early).toMatchObject({ kind: 'rate_limited', status: null, retryAfterMs: 1 });
    expect((early as Error).message).toMatch(/not sent/);
    expect(times).toHaveLength(1);
    clock.advance(1);
    await rest.get(OI, { timeoutMs: 2000 });
    expect(times).toHaveLength(2);
  });

  it('a request the server does not answer within the timeout (on the clock) fails as a timeout', async () => {
    const clock = new ManualClock(T0);
    let requests = 0;
    const server: Server = createServer(() => {
      requests++; // and never answers
    });
    closers.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const rest = new RestClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clock });
    closers.push(() => rest.close());
    const pending = rest.get(OI, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await eventually('request reached the server', () => requests === 1);
    clock.advance(60_000);
    const err = await pending;
    expect(err).toMatchObject({ kind: 'timeout' });
    expect((err as Error).message).toMatch(/timed out after 60000 ms/);
  });
});

describe('OI polling on the clock', () => {
  /** A loopback openInterest endpoint answering request n as `answer(n)` says; arrival times on `clock`. */
  function oiServer(
    clock: ManualClock,
    answer: (n: number) => { status: number; retryAfterS?: number },
  ): Promise<{ url: string; log: { t: number; symbol: string }[] }> {
    const log: { t: number; symbol: string }[] = [];
    const server: Server = createServer((req, res) => {
      const symbol = new URL(req.url ?? '/', 'http://x').searchParams.get('symbol') ?? '';
      log.push({ t: clock.now(), symbol });
      const a = answer(log.length);
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.retryAfterS !== undefined ? { 'retry-after': String(a.retryAfterS) } : {}) });
      res.end(a.status === 200 ? `{"symbol":"${symbol}","openInterest":"10.5","time":${clock.now()}}` : '{"code":-1003,"msg":"no"}');
    });
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log })));
  }

  function poller(url: string, clock: ManualClock, symbols: string[]): { oi: OiPoller; errors: RestError[] } {
    const rest = new RestClient({ baseUrl: url, clock });
    const errors: RestError[] = [];
    const oi = new OiPoller(rest, { symbols, intervalMs: 5000, timeoutMs: 2000, clock, onError: (_s, e) => errors.push(e) });
    closers.push(async () => {
      oi.stop();
      await rest.close();
    });
    return { oi, errors };
  }

  it('spreads the symbols evenly over the interval: one request every interval/N, round robin', async () => {
    const clock = new ManualClock(T0);
    const { url, log } = await oiServer(clock, () => ({ status: 200 }));
    const { oi } = poller(url, clock, ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT', 'EUSDT']);
    oi.start();
    for (let k = 1; k <= 7; k++) {
      await eventually(`request ${k} answered`, () => oi.polls.total(clock.now() + 1000) === k);
      clock.advance(999);
      expect(log).toHaveLength(k);
      clock.advance(1);
    }
    expect(log.map((r) => [r.t - T0, r.symbol])).toEqual([
      [0, 'AUSDT'],
      [1000, 'BUSDT'],
      [2000, 'CUSDT'],
      [3000, 'DUSDT'],
      [4000, 'EUSDT'],
      [5000, 'AUSDT'],
      [6000, 'BUSDT'],
    ]);
    expect(oi.state).toBe('OK');
    expect(oi.lastSuccessMs.AUSDT).toBe(T0 + 5000);
  });

  it('429/418: every symbol pauses for max(Retry-After, backoff 5 s doubling, reset by a success); 403 keeps polling, DEGRADED', async () => {
    const clock = new ManualClock(T0);
    // Request 2: 429 (Retry-After 3 s) → pause 5 s. Request 4: 429 (1 s) and 5: 418 (1 s) in a row → 5 s, then 10 s.
    // Request 7: 403. Everything else succeeds.
    const script: Record<number, { status: number; retryAfterS?: number }> = {
      2: { status: 429, retryAfterS: 3 },
      4: { status: 429, retryAfterS: 1 },
      5: { status: 418, retryAfterS: 1 },
      7: { status: 403 },
    };
    const { url, log } = await oiServer(clock, (n) => script[n] ?? { status: 200 });
    const { oi, errors } = poller(url, clock, ['AUSDT', 'BUSDT']);
    // Step 2500 ms (5000 / 2): a request at 0, 2500, 5000, …
    oi.start();
    const answered = (n: number): Promise<void> =>
      eventually(`request ${n} answered`, () => log.length === n && oi.polls.total(clock.now() + 1000) + errors.length === n);
    await answered(1);
    clock.advance(2500);
    await answered(2);
    expect(oi.state).toBe('BACKOFF');
    expect(oi.block).toBe('REST_RATE_LIMITED_429');
    expect(oi.backoffUntilMs).toBe(T0 + 2500 + 5000);
    // The ticks at 5000 and 7499… fall inside the pause: nothing is sent.
    clock.advance(4999);
    expect(log).toHaveLength(2);
    clock.advance(1); // 7500: the pause is over, and a tick is due
    await answered(3);
    expect(oi.block).toBeNull();
    expect(oi.state).toBe('OK');
    clock.advance(2500);
    await answered(4);
    expect(oi.backoffUntilMs).toBe(T0 + 10_000 + 5000); // reset by the success: 5 s again, above Retry-After 1 s
    clock.advance(5000);
    await answered(5);
    expect(oi.block).toBe('REST_BANNED_418');
    expect(oi.backoffUntilMs).toBe(T0 + 15_000 + 10_000); // two in a row: doubled
    clock.advance(9999);
    expect(log).toHaveLength(5);
    clock.advance(1);
    await answered(6);
    clock.advance(2500);
    await answered(7);
    expect(oi.block).toBe('REST_FORBIDDEN_403_451');
    expect(oi.state).toBe('DEGRADED');
    expect(oi.backoffUntilMs).toBeNull();
    clock.advance(2500); // 403 does not pause
    await answered(8);
    expect(oi.block).toBeNull();
    expect(errors.map((e) => e.kind)).toEqual(['rate_limited', 'rate_limited', 'banned', 'forbidden']);
    expect(oi.errors).toBe(4);
  });
});

describe('frame intake: the capture holds every frame received', () => {
  it('captures refused frames and, after a fatal error has stopped detection, every later frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pp-intake-'));
    const clock = new ManualClock(T0);
    // Real frames: the first trade lines of the vendored BTCUSDT fixture, as the live socket hands them over.
    const frames: Frame[] = [];
    for await (const item of readCapture(FIXTURE_BTC)) {
      if (item.kind === 'frame' && item.frame.text.includes('@trade')) frames.push({ ...item.frame, source: 'ws:/market/stream' });
      if (frames.length === 6) break;
    }
    expect(frames).toHaveLength(6);
    // Detection breaks on the fourth frame, as a broken invariant would.
    class BreaksOnTheFourthFrame extends FramePipeline {
      private calls = 0;
      override ingest(f: Frame): ReturnType<FramePipeline['ingest']> {
        if (++this.calls === 4) throw new InvariantError('SYMBOL_LEAK', 'injected for the test');
        return super.ingest(f);
      }
    }
    const capture = new CaptureWriter({ dir, runId: 't', clock, header: { run_id: 't' }, maxFileBytes: 1 << 30, maxTotalBytes: 1 << 30 });
    const deadLetters = new DeadLetterFile(join(dir, 'dead_letters.jsonl'));
    const pipeline = new BreaksOnTheFourthFrame(binanceUsdm, new Engine({ symbols: ['BTCUSDT'] }), (d) => deadLetters.write(d));
    const audit = new AuditTrail(
      join(dir, 'audit.jsonl'),
      't',
      () => clock.now(),
      () => 'OBSERVE',
    );
    const fatal: ReasonCode[] = [];
    const intake = new FrameIntake({
      operations: new Operations(),
      reporter: new Reporter({ clock, logger: silentLogger(), audit }),
      onFatal: (reason) => fatal.push(reason),
    });
    // Two arrive before detection starts (symbol selection), then the rest.
    intake.frame(frames[0]?.text ?? '', frames[0]?.recv_ms ?? 0, frames[0]?.source ?? '');
    intake.frame(frames[1]?.text ?? '', frames[1]?.recv_ms ?? 0, frames[1]?.source ?? '');
    expect(capture.frames).toBe(0);
    intake.attach(pipeline, capture);
    expect(pipeline.counters.frames_received).toBe(2);
    intake.refused('binary_frame', T0 + 1, 'ws:/market/stream', '\u0000\u0001');
    for (const f of frames.slice(2)) intake.frame(f.text, f.recv_ms, f.source);
    intake.refused('oversized_frame', T0 + 2, 'ws:/market/stream', '');

    expect(fatal).toEqual(['SYMBOL_LEAK']);
    expect(intake.fatal?.reason).toBe('SYMBOL_LEAK');
    // Detection saw frames 1–3 and stopped at the fourth; the capture has all six, and both refusals.
    expect(pipeline.counters.frames_received).toBe(3);
    expect(pipeline.counters.malformed_events).toBe(2);
    expect(capture.frames).toBe(6);
    expect(capture.refused).toBe(2);
    // Dead letters are written off the hot path, in batches.
    await deadLetters.flush();
    expect(deadLetters.written).toBe(2);
    await capture.close();
    await audit.close();
    const back: { kind: string; text?: string; reason?: string }[] = [];
    for await (const item of readCapture(capture.currentFile as string)) {
      if (item.kind === 'frame') back.push({ kind: 'frame', text: item.frame.text });
      else if (item.kind === 'bad') back.push({ kind: 'refused', reason: item.reason });
    }
    expect(back).toEqual([
      { kind: 'frame', text: frames[0]?.text },
      { kind: 'frame', text: frames[1]?.text },
      { kind: 'refused', reason: 'refused:binary_frame' },
      ...frames.slice(2).map((f) => ({ kind: 'frame', text: f.text })),
      { kind: 'refused', reason: 'refused:oversized_frame' },
    ]);
  });
});

describe('heap live size after full collections', () => {
  // gc entries reach observers asynchronously: wait until the sampler has seen `n` collections (5 s at most).
  const untilMajorGcs = async (sampler: HeapLiveSampler, n: number): Promise<void> => {
    const until = Date.now() + 5000;
    while (sampler.majorGcs < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  };

  it('a probe asked for during a transient waits for its end, then runs once', () => {
    let gcs = 0;
    const sampler = new HeapLiveSampler(() => gcs++);
    closers.push(() => sampler.stop());
    sampler.probeUnless(false);
    expect(gcs).toBe(1);
    // A snapshot file write under way: no GC now, one when it ended, none at a later end.
    sampler.probeUnless(true);
    sampler.probeUnless(true);
    expect(gcs).toBe(1);
    sampler.settled();
    expect(gcs).toBe(2);
    expect(sampler.method).toBe('forced_gc');
    sampler.settled();
    expect(gcs).toBe(2);
    // A probe that ran need not run again at the end of a write that began after it.
    sampler.probeUnless(false);
    sampler.settled();
    expect(gcs).toBe(3);
  });

  it('follows what stays reachable: up when 40 MB are retained, back down when they are released', async () => {
    // The product never forces a GC; the test does, to know exactly when one happened.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const unexposed = new HeapLiveSampler(null);
    expect(unexposed.probe()).toBe(false);
    unexposed.stop();
    const sampler = new HeapLiveSampler(gc);
    closers.push(() => sampler.stop());
    // Wait until this collection has been seen.
    const settle = (): Promise<void> => untilMajorGcs(sampler, sampler.majorGcs + 1);
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

  it('reads the code figure (a heap walk) on the first observed major GC and every twelfth after it, and on every forced probe', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let codeReads = 0;
    const sampler = new HeapLiveSampler(gc, () => ++codeReads * 1000);
    closers.push(() => sampler.stop());
    const start = sampler.majorGcs;
    for (let i = 1; i <= CODE_READ_EVERY_OBSERVED_GCS + 1; i++) {
      gc();
      await untilMajorGcs(sampler, start + i);
    }
    const observed = sampler.majorGcs - start;
    expect(observed).toBeGreaterThanOrEqual(CODE_READ_EVERY_OBSERVED_GCS + 1);
    expect(sampler.method).toBe('after_major_gc');
    // GCs observed 1 … 13: the code is read at the 1st and the 13th, whatever ran in between.
    expect(codeReads).toBe(Math.ceil(sampler.majorGcs / CODE_READ_EVERY_OBSERVED_GCS));
    expect(sampler.codeBytes).toBe(codeReads * 1000);
    const before = codeReads;
    sampler.probe();
    sampler.probe();
    expect(codeReads).toBe(before + 2);
    expect(sampler.codeBytes).toBe(codeReads * 1000);
  });

  it("tells V8's compiled code apart from the data: new functions grow the code figure, not the 20 MB of data kept", () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sampler = new HeapLiveSampler(gc);
    closers.push(() => sampler.stop());
    expect(sampler.codeBytes).toBeNull();
    sampler.probe();
    const code0 = sampler.codeBytes as number;
    const live0 = sampler.liveBytes as number;
    expect(code0).toBeGreaterThan(0);
    expect(code0).toBeLessThan(live0);
    // 2,000 distinct functions, each run once: their bytecode stays while they are referenced.
    const fns = Array.from(
      { length: 2000 },
      (_, i) => new Function('a', `let s = ${i}; for (let k = 0; k < a; k++) s += k * ${i + 1} % 7; return s;`) as (a: number) => number,
    );
    let sum = 0;
    for (const f of fns) sum += f(3);
    sampler.probe();
    const code1 = sampler.codeBytes as number;
    expect(code1 - code0).toBeGreaterThan(200e3);
    // Data, not code: 20 × 1 MB kept raises the live size and leaves the code figure where it was.
    const kept = Array.from({ length: 20 }, (_, i) => new Array<number>(131_072).fill(i + 0.5));
    sampler.probe();
    const live2 = sampler.liveBytes as number;
    const code2 = sampler.codeBytes as number;
    expect(live2 - (sampler.liveBytes as number)).toBe(0);
    expect(live2 - code2 - (live0 - code0)).toBeGreaterThan(19e6);
    expect(Math.abs(code2 - code1)).toBeLessThan(1e6);
    expect(kept.length + fns.length + sum).toBeGreaterThan(0);
  });
});

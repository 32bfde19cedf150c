/**
 * The loopback exchange simulator, exercised the way a collector would: plain HTTP and a plain
 * `ws` client, no simulator internals except where a unit is checked against the recording.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { binanceUsdm } from '../src/binance/adapter';
import { normalizeFrame } from '../src/binance/normalize';
import { ExchangeInfoSchema, Ticker24hrListSchema } from '../src/binance/schemas';
import { Engine } from '../src/core/engine';
import { FramePipeline } from '../src/core/pipeline';
import { loadRecordedData, resolveDataFiles } from '../src/simulator/data';
import { type SimEvent, SymbolFeed } from '../src/simulator/feed';
import { forceOrderFrame } from '../src/simulator/frames';
import { formatLiquidation, LiquidationFeed, type LiquidationArrival } from '../src/simulator/liquidations';
import { ScenarioScript } from '../src/simulator/script';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { TOP_10_SPECS } from '../src/simulator/universe';

const REPO = resolve(__dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plain ws client that records every text frame and how the connection ended. */
class Client {
  readonly frames: string[] = [];
  closeCode: number | null = null;
  readonly closed: Promise<number>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: WebSocket.RawData) => this.frames.push(d.toString()));
    this.closed = new Promise((r) =>
      ws.on('close', (code: number) => {
        this.closeCode = code;
        r(code);
      }),
    );
  }

  static open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    const c = new Client(ws);
    return new Promise((res, rej) => {
      ws.once('open', () => res(c));
      ws.once('error', rej);
    });
  }

  send(x: unknown): void {
    this.ws.send(typeof x === 'string' ? x : JSON.stringify(x));
  }

  /** The control reply with this id (or an error reply without one). */
  async reply(id: number | null, timeoutMs = 3000): Promise<Record<string, unknown>> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      for (const f of this.frames) {
        if (!f.startsWith('{"result"') && !f.startsWith('{"code"')) continue;
        const o = JSON.parse(f) as Record<string, unknown>;
        if (o.id === id) return o;
      }
      await sleep(10);
    }
    throw new Error(`no reply with id ${id}; got ${this.frames.slice(0, 3).join(' | ')}`);
  }

  dataFrames(): string[] {
    return this.frames.filter((f) => !f.startsWith('{"result"') && !f.startsWith('{"code"'));
  }

  close(): void {
    this.ws.terminate();
  }
}

function aggIds(frames: string[], symbol: string): number[] {
  const ids: number[] = [];
  for (const f of frames) {
    let o: { data?: { e?: string; s?: string; a?: number }; e?: string; s?: string; a?: number };
    try {
      o = JSON.parse(f) as typeof o;
    } catch {
      continue;
    }
    const p = o.data ?? o;
    if (p.e === 'aggTrade' && p.s === symbol && typeof p.a === 'number') ids.push(p.a);
  }
  return ids;
}

async function get(sim: SimulatorHandle, path: string): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const r = await fetch(sim.restUrl + path);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* HTML error pages stay text */
  }
  return { status: r.status, headers: r.headers, body, text };
}

const MARKET_STREAMS = (symbols: readonly string[]): string[] =>
  symbols
    .flatMap((s) => {
      const l = s.toLowerCase();
      return [`${l}@aggTrade`, `${l}@kline_1m`, `${l}@markPrice@1s`, `${l}@forceOrder`];
    })
    .concat(['!forceOrder@arr']);

describe('recorded data', () => {
  it('finds the shared data, or the vendored fixtures, and says clearly when there is none', () => {
    const files = resolveDataFiles();
    expect(files.tradeFiles.BTC).toMatch(/btcusdt_.*\.gz$/);
    expect(() => resolveDataFiles(join(tmpdir(), 'no-such-simulator-data'))).toThrow(/no recorded trade data found/);
    const fixtures = join(REPO, 'test', 'fixtures');
    if (existsSync(fixtures) && readdirSync(fixtures).some((f) => f.startsWith('btcusdt_')) && readdirSync(fixtures).some((f) => f.startsWith('ethusdt_'))) {
      const d = loadRecordedData(fixtures);
      expect(d.trades.BTC.n).toBeGreaterThan(1000);
    }
  });

  it('runs from the vendored fixtures alone (70 s extracts, no markPrice file)', async () => {
    const fixtures = join(REPO, 'test', 'fixtures');
    const names = existsSync(fixtures) ? readdirSync(fixtures) : [];
    if (!names.some((f) => f.startsWith('btcusdt_')) || !names.some((f) => f.startsWith('ethusdt_'))) return;
    const sim = await startSimulator({ speed: 10, dataDir: fixtures });
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=${MARKET_STREAMS(sim.symbols).join('/')}`);
    await sleep(1500);
    c.close();
    await sim.stop();
    const kinds = new Set<string>();
    for (const text of c.frames) {
      const r = normalizeFrame({ recv_ms: sim.now(), source: 'ws:/market/stream', text });
      expect(r.kind === 'event' || (r.kind === 'dropped' && r.reason === 'coin_margined'), text.slice(0, 200)).toBe(true);
      if (r.kind === 'event') kinds.add(r.event.type);
    }
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['KLINE', 'MARK_PRICE', 'TRADE']));
  });

  it('scripts valid liquidations (background, COIN-M, cascades) when the CSV is unavailable', () => {
    const start = 1_800_000_000_000;
    const script = new ScenarioScript('demo', 9);
    script.setAnchor(start);
    const feed = new LiquidationFeed(null, script, 9, start);
    expect(feed.usesRecordedRows).toBe(false);
    const arrivals: LiquidationArrival[] = [];
    for (let t = start; t < start + 200_000; t += 1000) {
      script.beginTick(t);
      feed.advance(t, t + 1000, arrivals);
    }
    const cascade = script.cascades[0];
    if (cascade === undefined) throw new Error('no cascade');
    let coinMargined = 0;
    let inCascade = 0;
    for (const a of arrivals) {
      const x = formatLiquidation(a, (s) => (s.startsWith('BTC') ? 61800 : s.startsWith('ETH') ? 2681 : 1.5));
      if (x === null) throw new Error(`unpriced ${a.symbol}`);
      const r = normalizeFrame({ recv_ms: x.T, source: 'ws:/market/stream', text: forceOrderFrame(x.T + 500, x) });
      if (r.kind === 'dropped') coinMargined++;
      else expect(r.kind, JSON.stringify(r)).toBe('event');
      if (cascade.symbols.includes(a.symbol) && a.t >= cascade.startMs && a.t < cascade.endMs) inCascade++;
    }
    expect(coinMargined).toBeGreaterThan(0);
    expect(inCascade).toBeGreaterThan(20);
  });

  it('derives aggTrades from the raw trades exactly as the exchange aggregates them (§4.1)', () => {
    const data = loadRecordedData();
    const series = data.trades.BTC;
    // Independent aggregation straight from the file: consecutive MARKET fills with the same T, side and price.
    const lines = gunzipSync(readFileSync(series.file)).toString('utf8').split('\n');
    const raw: { T: number; t: number; p: string; q: string; m: boolean; X: string }[] = [];
    const seen = new Set<number>();
    for (const line of lines) {
      if (!line.includes('@trade"')) continue;
      const d = (JSON.parse(line.slice(line.indexOf(' ') + 1)) as { data: { T: number; t: number; p: string; q: string; m: boolean; X: string } }).data;
      if (!seen.has(d.t)) raw.push(d);
      seen.add(d.t);
    }
    const market = raw.filter((r) => r.X === 'MARKET').sort((a, b) => a.T - b.T || a.t - b.t);
    const expected: { T: number; p: string; m: boolean; f: number; l: number; qMilli: number }[] = [];
    for (const r of market) {
      const last = expected[expected.length - 1];
      const qMilli = Math.round(Number(r.q) * 1000);
      if (last !== undefined && last.T === r.T && last.m === r.m && last.p === r.p) {
        last.l = r.t;
        last.qMilli += qMilli;
      } else expected.push({ T: r.T, p: r.p, m: r.m, f: r.t, l: r.t, qMilli });
    }

    const spec = TOP_10_SPECS[0];
    if (spec === undefined) throw new Error('no BTC spec');
    const start = 1_800_000_000_000;
    const feed = new SymbolFeed(spec, series, new ScenarioScript('steady', 1), 1);
    const out: SimEvent[] = [];
    for (let t = start; t < start + series.spanMs + 1; t += 1000) feed.advance(t, Math.min(t + 1000, start + series.spanMs + 1), 1, out);
    const aggs = out.flatMap((e) => (e.kind === 'agg' ? [e.agg] : []));
    expect(aggs.length).toBe(expected.length);
    const T0 = (market[0] as { T: number }).T;
    for (let i = 0; i < aggs.length; i++) {
      const a = aggs[i] as (typeof aggs)[number];
      const x = expected[i] as (typeof expected)[number];
      const text = JSON.parse(feed.aggTradeText(a)) as { p: string; q: string; a: number; f: number; l: number; T: number; m: boolean };
      expect(text.p).toBe(x.p);
      expect(text.q).toBe((x.qMilli / 1000).toFixed(3));
      expect([text.f, text.l, text.m, text.T]).toEqual([x.f, x.l, x.m, start + 1 + (x.T - T0)]);
      if (i > 0) expect(text.a).toBe((aggs[i - 1] as { a: number }).a + 1);
    }
  });
});

describe('REST', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startSimulator({ speed: 1, seed: 3 });
  });
  afterAll(() => sim.stop());

  it('serves exchangeInfo, ticker/24hr, openInterest and time with X-MBX-USED-WEIGHT-1M', async () => {
    const info = await get(sim, '/fapi/v1/exchangeInfo');
    expect(info.status).toBe(200);
    expect(info.headers.get('x-mbx-used-weight-1m')).toBe('1');
    const ei = ExchangeInfoSchema.parse(info.body);
    const names = ei.symbols.map((s) => s.symbol);
    expect(names).toEqual(expect.arrayContaining(['FTMUSDT', 'XAUUSDT', 'BTCUSDT_260626', 'BTCUSDC', ...sim.symbols]));
    expect(names).not.toContain('MATICUSDT');
    expect(ei.symbols.find((s) => s.symbol === 'FTMUSDT')?.status).toBe('BREAK');
    expect(ei.symbols.find((s) => s.symbol === 'XAUUSDT')?.contractType).toBe('TRADIFI_PERPETUAL');
    const btc = ei.symbols.find((s) => s.symbol === 'BTCUSDT');
    expect(btc?.filters?.find((f) => f.filterType === 'PRICE_FILTER')?.tickSize).toBe('0.10');

    const tick = await get(sim, '/fapi/v1/ticker/24hr');
    expect(tick.headers.get('x-mbx-used-weight-1m')).toBe('41');
    const tickers = Ticker24hrListSchema.parse(tick.body);
    // The selection rule of BINANCE.md §6.1 must land exactly on the simulator's TOP_10 ...
    const eligible = new Set(
      ei.symbols
        .filter((s) => s.contractType === 'PERPETUAL' && s.quoteAsset === 'USDT' && s.status === 'TRADING' && s.marginAsset === 'USDT')
        .map((s) => s.symbol),
    );
    const ranked = tickers.filter((t) => eligible.has(t.symbol)).sort((a, b) => Number(b.quoteVolume) - Number(a.quoteVolume));
    expect(ranked.slice(0, 10).map((t) => t.symbol)).toEqual([...sim.symbols]);
    // ... and forgetting the filters must not.
    const naive = [...tickers]
      .sort((a, b) => Number(b.quoteVolume) - Number(a.quoteVolume))
      .slice(0, 10)
      .map((t) => t.symbol);
    expect(naive).toEqual(expect.arrayContaining(['FTMUSDT', 'XAUUSDT', 'BTCUSDC', 'BTCUSDT_260626', 'MATICUSDT']));

    const path = '/fapi/v1/openInterest?symbol=BTCUSDT';
    const oi = await get(sim, path);
    expect(oi.status).toBe(200);
    expect(oi.headers.get('x-mbx-used-weight-1m')).toBe('42');
    const r = normalizeFrame({ recv_ms: sim.now(), source: `rest:${path}`, text: oi.text });
    expect(r.kind).toBe('event');
    expect(Math.abs((oi.body as { time: number }).time - sim.now())).toBeLessThan(1000);

    const bad = await get(sim, '/fapi/v1/openInterest?symbol=NOPEUSDT');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ code: -1121, msg: 'Invalid symbol.' });
    expect(bad.headers.get('x-mbx-used-weight-1m')).toBe('43');
    const missing = await get(sim, '/fapi/v1/openInterest');
    expect(missing.status).toBe(400);
    expect((missing.body as { code: number }).code).toBe(-1102);

    const time = await get(sim, '/fapi/v1/time');
    expect(Math.abs((time.body as { serverTime: number }).serverTime - sim.now())).toBeLessThan(1000);
    expect(time.headers.get('x-mbx-used-weight-1m')).toBe('45');
    expect(sim.stats().restRequests['/fapi/v1/openInterest']).toBe(3);
  });

  it('answers forced statuses and delays, with Retry-After on 429 and 418', async () => {
    for (const status of [403, 418, 429, 451, 500, 502, 503] as const) {
      sim.fault({ kind: 'rest_status', path: '/fapi/v1/openInterest', status, count: 1, retryAfterS: 7 });
      const r = await get(sim, '/fapi/v1/openInterest?symbol=ETHUSDT');
      expect(r.status).toBe(status);
      expect(r.headers.get('x-mbx-used-weight-1m')).not.toBeNull();
      if (status === 429 || status === 418) {
        expect(r.headers.get('retry-after')).toBe('7');
        expect((r.body as { code: number }).code).toBe(-1003);
      }
      expect((await get(sim, '/fapi/v1/openInterest?symbol=ETHUSDT')).status).toBe(200);
    }
    sim.fault({ kind: 'rest_slow', path: '/fapi/v1/time', delayMs: 400, count: 1 });
    const t0 = Date.now();
    expect((await get(sim, '/fapi/v1/time')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    const t1 = Date.now();
    await get(sim, '/fapi/v1/time');
    expect(Date.now() - t1).toBeLessThan(300);
  });

  it('enforces 2400 weight per minute: 429 with Retry-After, then 418 for ignoring it', async () => {
    const own = await startSimulator({ speed: 1, seed: 4 });
    try {
      for (let i = 0; i < 60; i++) {
        const r = await get(own, '/fapi/v1/ticker/24hr');
        expect(r.status).toBe(200);
      }
      const over = await get(own, '/fapi/v1/ticker/24hr');
      expect(over.status).toBe(429);
      expect(over.headers.get('x-mbx-used-weight-1m')).toBe('2400');
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((over.body as { code: number }).code).toBe(-1003);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await get(own, '/fapi/v1/time')).status);
      expect(statuses).toContain(418);
      const banned = await get(own, '/fapi/v1/time');
      expect(banned.status).toBe(418);
      expect(Number(banned.headers.get('retry-after'))).toBeGreaterThan(60);
    } finally {
      await own.stop();
    }
  });

  it('moves open interest most polls on liquid symbols', async () => {
    const fast = await startSimulator({ speed: 100, seed: 5 });
    try {
      const values: string[] = [];
      let last = 0;
      while (values.length < 12) {
        const now = fast.now();
        if (now - last >= 5000) {
          last = now;
          values.push(((await get(fast, '/fapi/v1/openInterest?symbol=BTCUSDT')).body as { openInterest: string }).openInterest);
        }
        await sleep(5);
      }
      let changes = 0;
      for (let i = 1; i < values.length; i++) if (values[i] !== values[i - 1]) changes++;
      expect(changes).toBeGreaterThanOrEqual(8);
    } finally {
      await fast.stop();
    }
  });
});

describe('WebSocket routes', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startSimulator({ speed: 10, seed: 11 });
  });
  afterAll(() => sim.stop());

  it('delivers market streams on /market only; unrouted and /public URLs ack but stay silent', async () => {
    const routed = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade`);
    const raw = await Client.open(`${sim.wsUrl}/market/ws/btcusdt@aggTrade`);
    const unroutedWs = await Client.open(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    const unroutedStream = await Client.open(`${sim.wsUrl}/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s`);
    const unroutedSub = await Client.open(`${sim.wsUrl}/ws`);
    const publicSub = await Client.open(`${sim.wsUrl}/public/stream`);
    unroutedSub.send({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade', 'btcusdt@forceOrder', '!forceOrder@arr'], id: 1 });
    publicSub.send({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade', 'btcusdt@kline_1m'], id: 2 });
    expect(await unroutedSub.reply(1)).toEqual({ result: null, id: 1 });
    expect(await publicSub.reply(2)).toEqual({ result: null, id: 2 });
    // Public streams do flow on /public and on unrouted URLs, and not on /market.
    const book = await Client.open(`${sim.wsUrl}/public/stream?streams=btcusdt@bookTicker`);
    const bookUnrouted = await Client.open(`${sim.wsUrl}/ws/btcusdt@bookTicker`);
    const bookOnMarket = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@bookTicker`);
    await sleep(1500);
    expect(routed.dataFrames().length).toBeGreaterThan(20);
    expect(raw.dataFrames().length).toBeGreaterThan(20);
    const first = raw.dataFrames()[0] as string;
    expect(first.startsWith('{"e":"aggTrade"')).toBe(true);
    expect(normalizeFrame({ recv_ms: sim.now(), source: 'ws:/market/ws/btcusdt@aggTrade', text: first }).kind).toBe('event');
    for (const silent of [unroutedWs, unroutedStream, unroutedSub, publicSub]) expect(silent.dataFrames()).toEqual([]);
    expect(book.dataFrames().length).toBeGreaterThan(20);
    expect(bookUnrouted.dataFrames().length).toBeGreaterThan(20);
    expect(bookOnMarket.dataFrames()).toEqual([]);
    for (const c of [routed, raw, unroutedWs, unroutedStream, unroutedSub, publicSub, book, bookUnrouted, bookOnMarket]) c.close();
    await expect(Client.open(`${sim.wsUrl}/private/ws`)).rejects.toThrow(/404/);
    await expect(Client.open(`${sim.wsUrl}/nonsense`)).rejects.toThrow(/404/);
  });

  it('speaks the live control protocol: SUBSCRIBE, UNSUBSCRIBE, LIST, SET/GET_PROPERTY, errors', async () => {
    const c = await Client.open(`${sim.wsUrl}/market/stream`);
    c.send({ method: 'SUBSCRIBE', params: ['ethusdt@aggTrade', 'ethusdt@markPrice@1s'], id: 7 });
    expect(await c.reply(7)).toEqual({ result: null, id: 7 });
    c.send({ method: 'LIST_SUBSCRIPTIONS', id: 8 });
    expect(await c.reply(8)).toEqual({ result: ['ethusdt@aggTrade', 'ethusdt@markPrice@1s'], id: 8 });
    c.send({ method: 'GET_PROPERTY', params: ['combined'], id: 9 });
    expect(await c.reply(9)).toEqual({ result: true, id: 9 });
    c.send({ method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 10 });
    expect(await c.reply(10)).toMatchObject({ code: 1, id: 10 });
    c.send({ method: 'SET_PROPERTY', params: ['colour', true], id: 11 });
    expect(await c.reply(11)).toMatchObject({ code: 0, id: 11 });
    c.send({ method: 'FROBNICATE', params: [], id: 12 });
    expect(await c.reply(12)).toMatchObject({ code: 2, id: 12 });
    c.send({ method: 'SUBSCRIBE', params: ['a'], id: -1 });
    expect(await c.reply(null)).toMatchObject({ code: 2 });
    await sleep(1100);
    c.send('not json');
    await sleep(200);
    expect(c.frames.some((f) => f.startsWith('{"code":3'))).toBe(true);
    const many = Array.from({ length: 199 }, (_, i) => `x${i}usdt@aggTrade`);
    c.send({ method: 'SUBSCRIBE', params: many, id: 13 });
    expect(await c.reply(13)).toMatchObject({ code: 2, id: 13 });
    c.send({ method: 'SET_PROPERTY', params: ['combined', false], id: 14 });
    expect(await c.reply(14)).toEqual({ result: null, id: 14 });
    c.frames.length = 0;
    await sleep(500);
    expect(c.dataFrames().length).toBeGreaterThan(0);
    expect(c.dataFrames().every((f) => !f.startsWith('{"stream"'))).toBe(true);
    c.send({ method: 'UNSUBSCRIBE', params: ['ethusdt@aggTrade', 'ethusdt@markPrice@1s'], id: 15 });
    expect(await c.reply(15)).toEqual({ result: null, id: 15 });
    await sleep(100);
    c.frames.length = 0;
    await sleep(500);
    expect(c.dataFrames()).toEqual([]);
    expect(sim.stats().subscribeMessages).toBeGreaterThanOrEqual(3);
    c.close();
    const tooLong = MARKET_STREAMS(Array.from({ length: 51 }, (_, i) => `S${i}USDT`));
    await expect(Client.open(`${sim.wsUrl}/market/stream?streams=${tooLong.join('/')}`)).rejects.toThrow(/400/);
  });

  it('closes a connection that sends more than 10 messages per second', async () => {
    const ok = await Client.open(`${sim.wsUrl}/market/stream`);
    for (let i = 0; i < 10; i++) ok.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
    await ok.reply(9);
    const bad = await Client.open(`${sim.wsUrl}/market/stream`);
    for (let i = 0; i < 11; i++) bad.send({ method: 'SUBSCRIBE', params: [`btcusdt@aggTrade`], id: i });
    expect(await bad.closed).toBe(1008);
    await sleep(200);
    expect(ok.closeCode).toBeNull();
    ok.close();
  });
});

describe('WebSocket faults', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startSimulator({ speed: 10, seed: 13 });
  });
  afterAll(() => sim.stop());
  const url = (): string => `${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade/btcusdt@markPrice@1s`;

  it('abrupt_close drops the TCP connection without a close frame', async () => {
    const c = await Client.open(url());
    sim.fault({ kind: 'abrupt_close' });
    expect(await c.closed).toBe(1006);
  });

  it('close_24h closes like the exchange lifetime limit', async () => {
    const c = await Client.open(url());
    sim.fault({ kind: 'close_24h' });
    expect([1000, 1001]).toContain(await c.closed);
  });

  it('half_open goes silent (no data, no pong) and then resumes', async () => {
    const c = await Client.open(url());
    await sleep(300);
    expect(c.dataFrames().length).toBeGreaterThan(0);
    let pongs = 0;
    c.ws.on('pong', () => pongs++);
    sim.fault({ kind: 'half_open', ms: 10_000 });
    await sleep(30);
    const before = c.frames.length;
    c.ws.ping();
    await sleep(600);
    expect(c.frames.length).toBe(before);
    expect(pongs).toBe(0);
    await sleep(900);
    expect(c.frames.length).toBeGreaterThan(before);
    expect(c.closeCode).toBeNull();
    c.close();
  });

  it('ack_no_data silences one stream while the others flow', async () => {
    // Fault first: frames already in flight when a client opens would otherwise race the fault.
    sim.fault({ kind: 'ack_no_data', stream: 'btcusdt@aggTrade', ms: 10_000 });
    const c = await Client.open(url());
    await sleep(500);
    expect(aggIds(c.frames, 'BTCUSDT')).toEqual([]);
    expect(aggIds(c.frames, 'ETHUSDT').length).toBeGreaterThan(0);
    const late = await Client.open(`${sim.wsUrl}/market/stream`);
    late.send({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade'], id: 1 });
    expect(await late.reply(1)).toEqual({ result: null, id: 1 });
    await sleep(1200);
    expect(aggIds(c.frames, 'BTCUSDT').length).toBeGreaterThan(0);
    c.close();
    late.close();
  });

  it('garbage and schema_violation frames reach the client and are refused by normalize', async () => {
    const c = await Client.open(url());
    await sleep(100);
    sim.fault({ kind: 'garbage', count: 4 });
    sim.fault({ kind: 'schema_violation', count: 6 });
    await sleep(200);
    let garbage = 0;
    let violations = 0;
    for (const text of c.frames) {
      let json = true;
      try {
        JSON.parse(text);
      } catch {
        json = false;
        garbage++;
      }
      const r = normalizeFrame({ recv_ms: sim.now(), source: 'ws:/market/stream', text });
      if (json && r.kind === 'malformed') violations++;
      if (!json) expect(r.kind).toBe('malformed');
    }
    expect(garbage).toBe(4);
    expect(violations).toBe(6);
    c.close();
  });

  it('duplicate re-sends recent aggTrades with the same ids; out_of_order shuffles the next frames', async () => {
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade`);
    await sleep(400);
    const seenBefore = aggIds(c.frames, 'BTCUSDT');
    expect(seenBefore.length).toBeGreaterThan(5);
    sim.fault({ kind: 'duplicate', count: 5 });
    await sleep(50);
    const ids = aggIds(c.frames, 'BTCUSDT');
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].filter((n) => n > 1).length).toBe(5);

    const o = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade`);
    await sleep(100);
    sim.fault({ kind: 'out_of_order', count: 30 });
    await sleep(800);
    const seq = aggIds(o.frames, 'BTCUSDT');
    let inversions = 0;
    for (let i = 1; i < seq.length; i++) if ((seq[i] as number) < (seq[i - 1] as number)) inversions++;
    expect(inversions).toBeGreaterThan(0);
    expect(new Set(seq).size).toBe(seq.length);
    c.close();
    o.close();
  });

  it('burst multiplies the data rate', async () => {
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade`);
    await sleep(1000);
    const normal = c.frames.length;
    c.frames.length = 0;
    sim.fault({ kind: 'burst', factor: 5, ms: 20_000 });
    await sleep(1000);
    const burst = c.frames.length;
    expect(burst).toBeGreaterThan(2.5 * normal);
    expect(sim.stats().faultsInjected).toBe(9);
    c.close();
  });
});

describe('frames', () => {
  it('every frame over ~10 s at speed 10 validates, ids strictly increase, klines agree with the trades', async () => {
    // Start a second before a minute boundary so whole 1m candles are observed from their first trade.
    const sim = await startSimulator({ speed: 10, seed: 21, startMs: Math.ceil(Date.now() / 60_000) * 60_000 - 1000 });
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=${MARKET_STREAMS(sim.symbols).join('/')}`);
    await sleep(10_000);
    const stats = sim.stats();
    c.close();
    await sim.stop();

    const lastAgg = new Map<string, { a: number; l: number; T: number }>();
    const trades = new Map<string, { T: number; p: number; q: string; n: number }[]>();
    const firstTradeT = new Map<string, number>();
    const closedKlines: { s: string; t: number; o: string; h: string; l: string; c: string; v: string }[] = [];
    const liqPerSecond = new Map<string, number>();
    const byType: Record<string, number> = {};
    let outsideTop10 = 0;
    let coinMargined = 0;
    for (const text of c.frames) {
      const r = normalizeFrame({ recv_ms: sim.now(), source: 'ws:/market/stream', text });
      if (r.kind === 'dropped') {
        expect(r.reason).toBe('coin_margined');
        coinMargined++;
        continue;
      }
      if (r.kind !== 'event') throw new Error(`not an event: ${JSON.stringify(r)} ${text.slice(0, 200)}`);
      const ev = r.event;
      byType[ev.type] = (byType[ev.type] ?? 0) + 1;
      const env = JSON.parse(text) as { stream: string; data: Record<string, unknown> };
      if (ev.type === 'TRADE') {
        const spec = TOP_10_SPECS.find((s) => s.symbol === ev.symbol);
        const d = env.data as { a: number; f: number; l: number; T: number; p: string; q: string };
        expect(d.q.split('.')[1]?.length ?? 0).toBe(spec?.quantityPrecision);
        expect(d.p.split('.')[1]?.length ?? 0).toBe(spec?.pricePrecision);
        const prev = lastAgg.get(ev.symbol);
        if (prev !== undefined) {
          expect(d.a).toBe(prev.a + 1);
          expect(d.f).toBeGreaterThan(prev.l);
          expect(d.T).toBeGreaterThanOrEqual(prev.T);
        } else firstTradeT.set(ev.symbol, d.T);
        expect(d.l).toBeGreaterThanOrEqual(d.f);
        lastAgg.set(ev.symbol, { a: d.a, l: d.l, T: d.T });
        const list = trades.get(ev.symbol) ?? [];
        list.push({ T: d.T, p: Number(d.p), q: d.q, n: d.l - d.f + 1 });
        trades.set(ev.symbol, list);
      } else if (ev.type === 'KLINE' && ev.closed) {
        const k = (env.data as { k: { t: number; o: string; h: string; l: string; c: string; v: string } }).k;
        closedKlines.push({ s: ev.symbol, ...k });
      } else if (ev.type === 'LIQUIDATION') {
        if (!sim.symbols.includes(ev.symbol)) outsideTop10++;
        if (env.stream === '!forceOrder@arr') {
          const key = `${ev.symbol}:${Math.floor(ev.ts_ms / 1000)}`;
          liqPerSecond.set(key, (liqPerSecond.get(key) ?? 0) + 1);
        }
      }
    }
    expect(byType.TRADE).toBeGreaterThan(5000);
    expect(byType.KLINE).toBeGreaterThan(1000);
    expect(byType.MARK_PRICE).toBeGreaterThanOrEqual(10 * 90);
    expect(byType.LIQUIDATION).toBeGreaterThan(5);
    expect(outsideTop10).toBeGreaterThan(0);
    expect(coinMargined).toBeGreaterThan(0);
    // forceOrder snapshot semantics: at most one per symbol per second on the all-market stream.
    expect(Math.max(...liqPerSecond.values())).toBe(1);
    for (const s of sim.symbols) expect(lastAgg.has(s)).toBe(true);
    // Every closed 1m kline we saw from its first trade matches the aggTrades of that minute.
    let checked = 0;
    for (const k of closedKlines) {
      if ((firstTradeT.get(k.s) ?? Infinity) >= k.t) continue;
      const inMinute = (trades.get(k.s) ?? []).filter((t) => t.T >= k.t && t.T < k.t + 60_000);
      const spec = TOP_10_SPECS.find((s) => s.symbol === k.s);
      const qp = spec?.quantityPrecision ?? 0;
      const v = inMinute.reduce((sum, t) => sum + Math.round(Number(t.q) * 10 ** qp), 0);
      expect(Math.round(Number(k.v) * 10 ** qp)).toBe(v);
      expect(Number(k.h)).toBe(Math.max(...inMinute.map((t) => t.p)));
      expect(Number(k.l)).toBe(Math.min(...inMinute.map((t) => t.p)));
      expect(Number(k.c)).toBe(inMinute[inMinute.length - 1]?.p);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect(stats.framesSent).toBe(c.frames.length);
    expect(stats.openConnections).toBe(1);
    expect(stats.subscribedStreams.length).toBe(41);
  });
});

describe('demo scenario', () => {
  it('scripts a liquidation cascade that the detector promotes within minutes', async () => {
    const sim = await startSimulator({ speed: 60, seed: 2, scenario: 'demo' });
    const engine = new Engine({ symbols: sim.symbols });
    const pipeline = new FramePipeline(binanceUsdm, engine);
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=${MARKET_STREAMS(sim.symbols).join('/')}`);
    c.ws.on('message', (d: WebSocket.RawData) => pipeline.ingest({ recv_ms: sim.now(), source: 'ws:/market/stream', text: d.toString() }));
    const t0 = Date.now();
    let cascade: { startMs: number; endMs: number; symbols: string[] } | undefined;
    while (Date.now() - t0 < 20_000) {
      await sleep(200);
      cascade = sim.stats().cascades?.[0];
      if (cascade !== undefined && (engine.watermark ?? 0) > cascade.endMs + 5_000) break;
    }
    const stats = sim.stats();
    c.close();
    await sim.stop();
    if (cascade === undefined) throw new Error('no cascade scheduled');
    expect(stats.recordedLiquidations).toBe(true);
    const inCascade = engine.promotions
      .toArray()
      .filter(
        (p) => cascade !== undefined && cascade.symbols.includes(p.symbol) && p.window_start_ms >= cascade.startMs && p.window_start_ms < cascade.endMs + 2000,
      );
    expect(inCascade.length).toBeGreaterThan(0);
    expect(inCascade.some((p) => p.stress_sources.includes('liquidations'))).toBe(true);
    expect(inCascade.some((p) => p.metrics.large_trade_count > 0 && p.metrics.expanded)).toBe(true);
  });
});

describe('shutdown', () => {
  it('stop() closes every handle it opened', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    const sim = await startSimulator({ speed: 10 });
    const c = await Client.open(`${sim.wsUrl}/market/stream?streams=btcusdt@aggTrade`);
    sim.fault({ kind: 'rest_slow', path: '/fapi/v1/time', delayMs: 60_000, count: 1 });
    const pending = fetch(`${sim.restUrl}/fapi/v1/time`).catch(() => null);
    await sleep(300);
    await sim.stop();
    await c.closed;
    await pending;
    await sleep(100);
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    expect(after.filter((r) => r.startsWith('TCP')).length).toBeLessThanOrEqual(before.filter((r) => r.startsWith('TCP')).length);
  });

  it('a process that starts, uses and stops the simulator exits on its own', async () => {
    // Transpile the simulator to plain CommonJS and run it in a fresh node: any timer, socket or
    // server left behind after stop() would keep that process alive past the deadline.
    const dir = mkdtempSync(join(tmpdir(), 'sim-exit-'));
    try {
      const src = join(REPO, 'src', 'simulator');
      for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
        const out = ts.transpileModule(readFileSync(join(src, f), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        });
        writeFileSync(join(dir, f.replace(/\.ts$/, '.js')), out.outputText);
      }
      const dataDir = resolveDataFiles().dir;
      writeFileSync(
        join(dir, 'main.js'),
        `const { startSimulator } = require('./server.js');
const WebSocket = require('ws');
(async () => {
  const sim = await startSimulator({ speed: 20, dataDir: ${JSON.stringify(dataDir)} });
  const ws = new WebSocket(sim.wsUrl + '/market/stream?streams=btcusdt@aggTrade');
  let n = 0;
  ws.on('message', () => n++);
  await new Promise((r) => ws.once('open', r));
  const r = await fetch(sim.restUrl + '/fapi/v1/exchangeInfo');
  await r.text();
  await new Promise((r) => setTimeout(r, 500));
  await sim.stop();
  console.log('frames', n);
})();
`,
      );
      const child = spawn(process.execPath, [join(dir, 'main.js')], { env: { ...process.env, NODE_PATH: join(REPO, 'node_modules') }, cwd: REPO });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | string>((res) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          res('timeout: process kept alive after stop()');
        }, 15_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          res(c ?? -1);
        });
      });
      expect(code, out).toBe(0);
      expect(out).toMatch(/frames [1-9]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

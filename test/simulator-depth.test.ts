/**
 * The simulator's order books (src/simulator/depth-feed.ts): `<s>@depth@100ms` on /public and
 * `GET /fapi/v1/depth` from the recorded hftbacktest depth, originals and clones.
 *
 * First on the recording alone: a loop forward reproduces the recorded book level for level, the
 * next loop (backward, as the trades ping-pong) brings it back exactly to the start, and the diffs
 * keep one unbroken `pu` chain through both. Then over the wire, the way a collector uses it: a
 * BookRoom fed from /public and REST syncs and agrees with the simulator's own book, depth on
 * /market delivers nothing, and each depth fault (a diff lost in transit, a stale snapshot) makes
 * the book resync exactly once and then agree again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BookRoom } from '../src/binance/book/book-room';
import { isDepthSnapshot, isDepthUpdate, type DepthUpdate } from '../src/binance/book/contracts';
import { loadRecordedData } from '../src/simulator/data';
import { DEPTH_BAND, loadDepthSeries } from '../src/simulator/depth-data';
import { DEPTH_PUSH_MS, DepthFeed } from '../src/simulator/depth-feed';
import { type SimEvent, SymbolFeed } from '../src/simulator/feed';
import { depthUpdateFrame } from '../src/simulator/frames';
import { ScenarioScript } from '../src/simulator/script';
import { startSimulator } from '../src/simulator/server';
import type { SimulatorHandle } from '../src/simulator/types';
import { TOP_10_SPECS } from '../src/simulator/universe';
import { bridgeIndex, depthInput, NaiveBook } from './book-helpers';
import { DepthClient, deepestOf, expectSameBook, waitFor } from './depth-client';
import { FIXTURE_BTC, FIXTURE_DIR } from './fixtures/paths';

const START = 1_800_000_000_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function specOf(symbol: string): (typeof TOP_10_SPECS)[number] {
  const s = TOP_10_SPECS.find((x) => x.symbol === symbol);
  if (s === undefined) throw new Error(symbol);
  return s;
}

/** Levels of a naive book within ±`band` of `mid`, as [price, qty] best first. */
function levelsNear(book: NaiveBook, mid: number, band: number): { bids: string[][]; asks: string[][] } {
  const near = (l: { price: string }): boolean => Math.abs(Number(l.price) / mid - 1) <= band;
  return {
    bids: book
      .sorted('bids')
      .filter(near)
      .map((l) => [l.price, l.qty]),
    asks: book
      .sorted('asks')
      .filter(near)
      .map((l) => [l.price, l.qty]),
  };
}

describe('simulated depth on the recording (no sockets)', () => {
  const data = loadRecordedData(FIXTURE_DIR);
  const series = data.trades.BTC;
  const loopMs = series.spanMs + 500;

  /** A DepthFeed driven in the server's 15 ms ticks; every diff it pushes is validated and applied to a naive book. */
  class Run {
    readonly feed: DepthFeed;
    readonly book: NaiveBook;
    readonly firstId: number;
    diffs = 0;
    private t = START;
    private pu: number;
    constructor(symbol: string) {
      const spec = specOf(symbol);
      const trades = spec.source === 'ETH' ? data.trades.ETH : series;
      this.feed = new DepthFeed(new SymbolFeed(spec, trades, new ScenarioScript('steady', 1), 1), () => loadDepthSeries(trades), 1);
      this.feed.activate();
      const body = this.feed.snapshotBody(1_000_000, START);
      const parsed = JSON.parse(JSON.stringify(body)) as unknown;
      if (!isDepthSnapshot(parsed)) throw new Error('the simulator built a REST body the validator refuses');
      this.book = new NaiveBook(parsed);
      this.pu = body.lastUpdateId;
      this.firstId = body.lastUpdateId;
    }

    advanceTo(until: number): void {
      const out: SimEvent[] = [];
      for (; this.t < until; this.t += 15) {
        out.length = 0;
        this.feed.advance(this.t, this.t + 15, 1, out);
        for (const e of out) {
          if (e.kind !== 'depth') continue;
          const d = JSON.parse(depthUpdateFrame(e.push.symbol, e.push.diff)) as unknown;
          if (!isDepthUpdate(d)) throw new Error(`the simulator built a diff the validator refuses: ${JSON.stringify(d).slice(0, 200)}`);
          expect(d.pu).toBe(this.pu);
          expect(d.U).toBeGreaterThan(d.pu);
          expect(d.u).toBeGreaterThanOrEqual(d.U);
          expect(d.E % DEPTH_PUSH_MS).toBe(0);
          expect(d.T).toBeLessThanOrEqual(d.E);
          expect(d.b.length + d.a.length).toBeGreaterThan(0);
          this.pu = d.u;
          this.book.apply(d);
          this.diffs++;
        }
      }
      // The simulator's REST body is the book its diffs built.
      const body = JSON.parse(JSON.stringify(this.feed.snapshotBody(1_000_000, this.t))) as unknown;
      if (!isDepthSnapshot(body)) throw new Error('the simulator built a REST body the validator refuses');
      expect(body.lastUpdateId).toBe(this.pu);
      expect(levelsNear(new NaiveBook(body), series.firstPrice, 1)).toEqual(levelsNear(this.book, series.firstPrice, 1));
    }
  }

  it('forward, a loop reproduces the recorded book; backward, the next loop returns to the start exactly; one pu chain through both', () => {
    // Independent reference: the capture's own snapshot and @depth@0ms diffs through the naive book.
    const input = depthInput([FIXTURE_BTC]);
    const from = bridgeIndex(input);
    const upTo = (offsetMs: number): NaiveBook => {
      const b = new NaiveBook(input.snapshot);
      for (let i = from; i < input.diffs.length && (input.diffs[i] as DepthUpdate).T - series.t0Ms <= offsetMs; i++) b.apply(input.diffs[i] as DepthUpdate);
      return b;
    };
    const mid = series.firstPrice;
    const band = DEPTH_BAND / 2;
    const r = new Run('BTCUSDT');
    expect(levelsNear(r.book, mid, band)).toEqual(levelsNear(upTo(0), mid, band));
    // Into the gap after loop 0: every recorded diff applied, merged into @100ms diffs.
    r.advanceTo(START + series.spanMs + 250);
    const forward = r.diffs;
    expect(forward).toBeGreaterThan((series.spanMs / DEPTH_PUSH_MS) * 0.8);
    expect(forward).toBeLessThan(input.diffs.length);
    expect(levelsNear(r.book, mid, band)).toEqual(levelsNear(upTo(series.spanMs), mid, band));
    // Halfway through loop 1 (backward) the book is the recording's at the mirrored offset: stopping
    // on a 300 ms tick boundary (ticks of 15 ms from START) nothing is left in an open 100 ms slot,
    // and recorded offset o is undone at exchange time START + 1 + loopMs + span − o.
    const h = Math.ceil((loopMs + series.spanMs / 2) / 300) * 300 - loopMs;
    r.advanceTo(START + loopMs + h);
    expect(levelsNear(r.book, mid, band)).toEqual(levelsNear(upTo(series.spanMs - h), mid, band));
    // ... and at its end, the start again.
    r.advanceTo(START + 2 * loopMs - 100);
    expect(levelsNear(r.book, mid, band)).toEqual(levelsNear(upTo(0), mid, band));
    expect(r.diffs - forward).toBeGreaterThan(forward * 0.8);
  });

  it('a clone scales prices onto its own ticks, keeps the notional, and has update ids of its own', () => {
    const sol = specOf('SOLUSDT');
    const clone = new Run('SOLUSDT');
    const cloneEth = new Run('XRPUSDT');
    const until = START + 21_000;
    for (const r of [clone, cloneEth]) r.advanceTo(until);
    // SOLUSDT replays the BTC recording from `phase` into its loop: the recorded book there, within the band.
    const at = Math.floor((sol.phase ?? 0) * loopMs - 1 + (until - START));
    const input = depthInput([FIXTURE_BTC]);
    const ref = new NaiveBook(input.snapshot);
    for (let i = bridgeIndex(input); i < input.diffs.length && (input.diffs[i] as DepthUpdate).T - series.t0Ms <= at; i++)
      ref.apply(input.diffs[i] as DepthUpdate);
    const notional = (b: NaiveBook, mid: number): number =>
      [...b.bids, ...b.asks].reduce((sum, [p, q]) => sum + (Math.abs(Number(p) / mid - 1) <= 0.05 ? Number(p) * Number(q) : 0), 0);
    expect(Math.abs(notional(clone.book, sol.refPrice) / notional(ref, series.firstPrice) - 1)).toBeLessThan(0.01);
    for (const [p] of [...clone.book.bids, ...clone.book.asks]) {
      expect(p.split('.')[1]?.length).toBe(sol.pricePrecision);
      expect(Math.round(Number(p) * 10 ** sol.pricePrecision) % sol.tickUnits).toBe(0);
    }
    expect(Number(clone.book.best('bids'))).toBeGreaterThan(sol.refPrice * 0.95);
    expect(Number(clone.book.best('asks'))).toBeLessThan(sol.refPrice * 1.05);
    expect(new Set([new Run('BTCUSDT').firstId, clone.firstId, cloneEth.firstId]).size).toBe(3);
  });
});

// ---- over the wire ------------------------------------------------------------------------------

/** A plain ws client that records every text frame. */
async function listen(url: string): Promise<{ frames: string[]; ws: WebSocket }> {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  ws.on('message', (d: WebSocket.RawData) => frames.push(d.toString()));
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  return { frames, ws };
}

async function rest(sim: SimulatorHandle, path: string): Promise<{ status: number; used: number; body: unknown }> {
  const r = await fetch(sim.restUrl + path);
  return { status: r.status, used: Number(r.headers.get('x-mbx-used-weight-1m')), body: (await r.json()) as unknown };
}

/** Sync `symbols` over /public + REST and check every book against the simulator's own. */
async function syncedClient(sim: SimulatorHandle, symbols: readonly string[]): Promise<DepthClient> {
  const client = await DepthClient.open({ sim, symbols, books: new BookRoom({ symbols, sampleDepthBps: 10 }) });
  await waitFor(() => symbols.every((s) => client.books.book(s)?.state === 'LIVE'), `${symbols.join(', ')} LIVE`);
  return client;
}

/** The client's book agrees with the simulator's (a few tries: a comparison is void when the client resyncs meanwhile). */
async function expectAgrees(client: DepthClient, symbol: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const both = await client.bothBooks(symbol);
    if (both === null) continue;
    expect(expectSameBook({ ...both, snapshot: deepestOf(both.snapshot) }, symbol)).toBeGreaterThan(200);
    return;
  }
  throw new Error(`${symbol}: the client's book never stood at the simulator's update id`);
}

describe('over the wire: /public depth and REST depth from the simulator', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startSimulator({ speed: 10, seed: 7, dataDir: FIXTURE_DIR });
  });
  afterAll(() => sim.stop());

  it('serves depth@100ms on /public (URL or SUBSCRIBE) and unrouted URLs, never on /market; REST depth weighs by its limit', async () => {
    const pub = await listen(`${sim.wsUrl}/public/stream?streams=btcusdt@depth@100ms`);
    const sub = await listen(`${sim.wsUrl}/public/stream`);
    sub.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['solusdt@depth@100ms'], id: 1 }));
    const raw = await listen(`${sim.wsUrl}/ws/btcusdt@depth@100ms`);
    const market = await listen(`${sim.wsUrl}/market/stream?streams=btcusdt@depth@100ms`);
    const marketSub = await listen(`${sim.wsUrl}/market/stream`);
    marketSub.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['ethusdt@depth@100ms'], id: 2 }));
    await waitFor(() => pub.frames.length >= 20 && sub.frames.length >= 20 && raw.frames.length >= 20, 'depth frames on /public');
    // The 2026 route split: acknowledged on /market, and silent.
    expect(market.frames).toEqual([]);
    expect(marketSub.frames).toEqual(['{"result":null,"id":2}']);
    expect(sub.frames[0]).toBe('{"result":null,"id":1}');
    const chain = new Map<string, number>();
    for (const text of [...pub.frames, ...sub.frames.slice(1)]) {
      const env = JSON.parse(text) as { stream: string; data: unknown };
      expect(['btcusdt@depth@100ms', 'solusdt@depth@100ms']).toContain(env.stream);
      if (!isDepthUpdate(env.data)) throw new Error(`not a depthUpdate: ${text.slice(0, 200)}`);
      const prev = chain.get(env.data.s);
      if (prev !== undefined) expect(env.data.pu).toBe(prev);
      chain.set(env.data.s, env.data.u);
    }
    expect(isDepthUpdate(JSON.parse(raw.frames[0] as string))).toBe(true);
    for (const c of [pub, sub, raw, market, marketSub]) c.ws.terminate();

    const a = await rest(sim, '/fapi/v1/depth?symbol=BTCUSDT&limit=1000');
    expect(a.status).toBe(200);
    if (!isDepthSnapshot(a.body)) throw new Error('REST depth body refused by the validator');
    expect([a.body.bids.length, a.body.asks.length]).toEqual([1000, 1000]);
    expect(Number(a.body.bids[0]?.[0])).toBeLessThan(Number(a.body.asks[0]?.[0]));
    const b = await rest(sim, '/fapi/v1/depth?symbol=BTCUSDT&limit=5');
    expect(b.used - a.used).toBe(2);
    expect((b.body as { bids: unknown[] }).bids).toHaveLength(5);
    const c = await rest(sim, '/fapi/v1/depth?symbol=ETHUSDT&limit=1000');
    expect(c.used - b.used).toBe(20);
    expect((await rest(sim, '/fapi/v1/depth?symbol=BTCUSDT&limit=7')).body).toMatchObject({ code: -1130 });
    expect((await rest(sim, '/fapi/v1/depth?limit=1000')).body).toMatchObject({ code: -1102 });
    expect((await rest(sim, '/fapi/v1/depth?symbol=NOPEUSDT&limit=1000')).body).toMatchObject({ code: -1121 });
  });

  it('a BookRoom fed from /public and REST syncs and agrees with the simulator’s own book, originals and clones', async () => {
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'];
    const client = await syncedClient(sim, symbols);
    try {
      for (const s of symbols) await expectAgrees(client, s);
      // Seconds later (a loop of the 70 s recording is 7 s here, so the books cross a seam): still the same.
      await sleep(2500);
      for (const s of symbols) await expectAgrees(client, s);
      for (const s of symbols) {
        expect(client.books.book(s)?.counters, s).toMatchObject({ pu_gaps: 0, resyncs: 0, snapshots_stale: 0, snapshot_requests: 1, snapshots_applied: 1 });
      }
      expect(client.restStatuses.every((x) => x === 200)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('a diff lost in transit (depth_pu_break): the book resyncs exactly once, then agrees again; other books are untouched', async () => {
    const client = await syncedClient(sim, ['BNBUSDT', 'ADAUSDT']);
    try {
      const bnb = client.books.book('BNBUSDT');
      sim.fault({ kind: 'depth_pu_break', symbol: 'BNBUSDT' });
      await waitFor(() => bnb?.counters.resyncs === 1 && bnb.state === 'LIVE', 'BNBUSDT resynced and LIVE');
      await expectAgrees(client, 'BNBUSDT');
      await sleep(1500);
      expect(bnb?.counters).toMatchObject({ pu_gaps: 1, resyncs: 1, snapshots_applied: 2, snapshots_stale: 0 });
      expect(bnb?.lastResyncReason).toBe('pu_gap');
      expect(client.books.book('ADAUSDT')?.counters).toMatchObject({ pu_gaps: 0, resyncs: 0 });
      expect(sim.stats().depth?.BNBUSDT?.dropped).toBe(1);
    } finally {
      client.close();
    }
  });

  it('a stale snapshot (depth_stale_snapshot): no buffered diff bridges it, the book asks once more and then agrees', async () => {
    // Armed before the client connects, and the book has run for 6 s: the stale body is 5 s older than anything the client buffers.
    sim.fault({ kind: 'depth_stale_snapshot', symbol: 'LINKUSDT', count: 1 });
    await waitFor(() => (sim.stats().depth?.LINKUSDT?.produced ?? 0) >= 60, 'LINKUSDT 60 diffs produced');
    const client = await syncedClient(sim, ['LINKUSDT']);
    try {
      await expectAgrees(client, 'LINKUSDT');
      expect(client.books.book('LINKUSDT')?.counters).toMatchObject({ snapshots_stale: 1, snapshot_requests: 2, snapshots_applied: 2, resyncs: 0, pu_gaps: 0 });
    } finally {
      client.close();
    }
  });

  it('both at once: a pu break whose resync meets a stale snapshot resyncs once, fetches twice, then agrees', async () => {
    const client = await syncedClient(sim, ['AVAXUSDT']);
    try {
      const book = client.books.book('AVAXUSDT');
      await sleep(700);
      sim.fault({ kind: 'depth_stale_snapshot', symbol: 'AVAXUSDT', count: 1 });
      sim.fault({ kind: 'depth_pu_break', symbol: 'AVAXUSDT' });
      await waitFor(() => book?.counters.resyncs === 1 && book.state === 'LIVE', 'AVAXUSDT resynced and LIVE');
      await expectAgrees(client, 'AVAXUSDT');
      expect(book?.counters).toMatchObject({ pu_gaps: 1, resyncs: 1, snapshots_stale: 1, snapshot_requests: 3 });
    } finally {
      client.close();
    }
  });
});

/**
 * The loopback exchange: one HTTP server on 127.0.0.1 that answers the REST paths and upgrades
 * the WebSocket routes, plus a tick loop that advances the market on the simulator clock and
 * sends every frame that became due since the previous tick, in exchange-time order.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { AggHistory, type AggTradeRow } from './agg-history';
import type { Timer } from '../clock/clock';
import { SimClock } from './clock';
import { loadRecordedData, type MarkRatio } from './data';
import { depthSeriesOf } from './depth-data';
import { DepthFeed, type DepthSnapshotBody, STALE_BEHIND_DEFAULT } from './depth-feed';
import { FaultState } from './faults';
import { type AggTrade, compareEvents, type SimEvent, SymbolFeed } from './feed';
import { depthUpdateFrame, forceOrderFrame } from './frames';
import { type FormattedLiquidation, formatLiquidation, LiquidationFeed, type LiquidationArrival } from './liquidations';
import { OpenInterestBook } from './oi';
import { type AggTradesRequest, handleRest, type RestContext, WeightMeter } from './rest';
import { Rng } from './rng';
import { MAX_STREAMS_PER_CONNECTION, parseWsTarget } from './routes';
import { ScenarioScript } from './script';
import type { DepthRequest, SimFault, SimulatorHandle, SimulatorOptions, SimulatorStats } from './types';
import { COIN_M_LIQUIDATION_SYMBOLS, specOf, TOP_10, TOP_10_SPECS } from './universe';
import { WsHub } from './ws';

/** `GET /fapi/v1/depth` requests remembered for `stats().depthRequests`. */
const DEPTH_REQUESTS_KEPT = 1000;

const DEFAULT_TICK_MS = 15;
/** Market before start that aggTrades can list by default: a warm start's 5 min and a minute of slack. */
export const DEFAULT_HISTORY_MS = 6 * 60_000;
/** Longest stretch of exchange time handled as one batch (after a stall the loop catches up in steps). */
const MAX_STEP_MS = 2_000;
const KLINE_PUSH_MS = 250;

function positiveInt(name: string, x: number): number {
  if (!Number.isSafeInteger(x) || x <= 0) throw new Error(`fault ${name} must be a positive integer, got ${x}`);
  return x;
}

class Simulator {
  readonly clock: SimClock;
  private readonly script: ScenarioScript;
  private readonly feeds: SymbolFeed[];
  private readonly feedBySymbol = new Map<string, SymbolFeed>();
  private readonly history = new Map<string, AggHistory>();
  private readonly historyMs: number;
  private readonly makePast: (symbol: string) => AggTrade[];
  private readonly pastMade = new Set<string>();
  private readonly depth: DepthFeed[];
  private readonly depthBySymbol = new Map<string, DepthFeed>();
  private readonly depthByStream = new Map<string, DepthFeed>();
  private readonly liquidations: LiquidationFeed;
  private readonly oi: OpenInterestBook;
  private readonly faults = new FaultState();
  private readonly hub: WsHub;
  private readonly weight = new WeightMeter();
  private readonly markRatios: readonly MarkRatio[];
  private readonly restCounts: Record<string, number> = {};
  private readonly timers = new Set<Timer>();
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly events: SimEvent[] = [];
  private readonly arrivals: LiquidationArrival[] = [];
  /** forceOrder snapshot semantics: only the latest liquidation per symbol per second is pushed (§4.3). */
  private readonly pendingLiq = new Map<string, FormattedLiquidation>();
  private processedUntil: number;
  private tickTimer: Timer | null = null;
  private restAnswered = 0;
  private readonly depthRequests: DepthRequest[] = [];
  private faultsInjected = 0;
  private stopped = false;
  private busyMs = 0;
  private readonly wallStart = performance.now();
  private lagMs = 0;
  readonly dataOrigin: string;

  constructor(private readonly opts: SimulatorOptions) {
    const data = loadRecordedData(opts.dataDir);
    this.dataOrigin = data.origin;
    this.markRatios = data.markRatios;
    const seed = opts.seed ?? 1;
    const startMs = opts.clock ? opts.clock.now() : (opts.startMs ?? Date.now());
    this.clock = new SimClock(startMs, opts.clock ? 1 : (opts.speed ?? 1), opts.clock ?? null);
    this.processedUntil = startMs;
    this.script = new ScenarioScript(opts.scenario ?? 'steady', seed);
    this.feeds = TOP_10_SPECS.map((spec) => new SymbolFeed(spec, data.trades[spec.source ?? 'BTC'], this.script, seed));
    for (const f of this.feeds) this.feedBySymbol.set(f.symbol, f);
    this.historyMs = Math.max(0, opts.historyMs ?? DEFAULT_HISTORY_MS);
    for (const f of this.feeds) this.history.set(f.symbol, new AggHistory());
    // The past is made on first demand (a few tens of ms per symbol), by a twin of the feed in its
    // start state with no cascades scripted: exactly what the live feed would have played before start.
    this.makePast = (symbol) => {
      const spec = specOf(symbol);
      if (spec === undefined || this.historyMs === 0) return [];
      return new SymbolFeed(spec, data.trades[spec.source ?? 'BTC'], new ScenarioScript('steady', seed), seed).prehistory(startMs, this.historyMs);
    };
    this.depth = this.feeds.map((f) => new DepthFeed(f, () => depthSeriesOf(f.series), seed));
    for (const d of this.depth) {
      this.depthBySymbol.set(d.symbol, d);
      this.depthByStream.set(d.stream, d);
    }
    this.liquidations = new LiquidationFeed(data.liquidations, this.script, seed, startMs);
    this.oi = new OpenInterestBook(seed, startMs, this.script);
    this.hub = new WsHub(this.clock, this.faults, new Rng(seed).fork('ws'), opts.autoClose24h ?? true, (stream) => {
      if (stream.endsWith('@aggTrade')) this.script.setAnchor(this.clock.now());
      // A symbol's book is built when someone first asks for its diffs.
      this.depthByStream.get(stream)?.activate();
    });
    const ctx: RestContext = {
      clock: this.clock,
      faults: this.faults,
      weight: this.weight,
      oi: this.oi,
      priceOf: (s) => this.priceOf(s),
      aggTrades: (s, q) => this.aggTrades(s, q),
      depthOf: (s, limit, now) => {
        const body = this.depthBySymbol.get(s)?.snapshotBody(limit, now) ?? null;
        // The body answers the newest pending request for `s` (the route runs as its response is written).
        const r = this.depthRequests.findLast((x) => x.symbol === s && x.answered_ms === null);
        if (r !== undefined && body !== null) {
          r.last_update_id = body.lastUpdateId;
          r.deepest_bid = body.bids[body.bids.length - 1]?.[0] ?? null;
          r.deepest_ask = body.asks[body.asks.length - 1]?.[0] ?? null;
        }
        return body;
      },
      counts: this.restCounts,
      later: (fn, simMs) => {
        const t = this.clock.after(simMs, () => {
          this.timers.delete(t);
          if (!this.stopped) fn();
        });
        this.timers.add(t);
      },
      answered: () => {
        this.restAnswered++;
      },
      requested: (path, q) => (path === '/fapi/v1/depth' ? this.logDepthRequest(q.get('symbol') ?? '') : undefined),
    };
    this.server = createServer((req, res) => handleRest(req, res, ctx));
    this.wss = new WebSocketServer({ noServer: true, autoPong: false, perMessageDeflate: false, maxPayload: 1 << 16 });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Price used for REST tickers and liquidation pricing. */
  priceOf(symbol: string): number {
    const feed = this.feedBySymbol.get(symbol);
    if (feed !== undefined) return feed.price;
    const cm = COIN_M_LIQUIDATION_SYMBOLS.find((c) => c.symbol === symbol);
    if (cm !== undefined) {
      // A quarterly trades at a small premium to the perpetual.
      const perp = this.feedBySymbol.get(`${cm.base}USDT`);
      return perp !== undefined ? perp.price * 1.012 : 0;
    }
    return specOf(symbol)?.refPrice ?? 0;
  }

  /** How long aggTrades stay listable: the history span, and at least the default (a restarted client warm-starts too). */
  private get retentionMs(): number {
    return Math.max(this.historyMs, DEFAULT_HISTORY_MS);
  }

  /** What `GET /fapi/v1/aggTrades` lists: the market before start and everything published since, within the retention. */
  private aggTrades(symbol: string, q: AggTradesRequest): AggTradeRow[] | null {
    const h = this.history.get(symbol);
    const feed = this.feedBySymbol.get(symbol);
    if (h === undefined || feed === undefined) return null;
    const now = this.clock.now();
    this.script.noteWarmStart(now);
    if (!this.pastMade.has(symbol)) {
      this.pastMade.add(symbol);
      h.prepend(this.makePast(symbol));
      h.pruneBefore(now - this.retentionMs);
    }
    const { from, to } = h.select(q.fromId !== undefined ? { fromId: q.fromId, limit: q.limit } : { ...q });
    return h.rows(from, to, (pU, qU) => feed.decimals(pU, qU));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const target = parseWsTarget(req.url ?? '');
    if (this.stopped || target === null) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (target.streams.length > MAX_STREAMS_PER_CONNECTION) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.hub.accept(ws, socket, target));
  }

  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      // Loopback only: this is a test double, never a service.
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('simulator: no TCP address');
    this.tickTimer = this.clock.everyWall(this.opts.tickMs ?? DEFAULT_TICK_MS, () => this.tick());
    return addr.port;
  }

  private tick(): void {
    if (this.stopped) return;
    const began = performance.now();
    const now = this.clock.now();
    while (this.processedUntil < now) {
      const t1 = Math.min(now, this.processedUntil + MAX_STEP_MS);
      this.step(this.processedUntil, t1);
      this.processedUntil = t1;
    }
    this.hub.housekeeping(now);
    for (const h of this.history.values()) h.pruneBefore(now - this.retentionMs);
    this.lagMs = Math.max(0, this.clock.now() - now);
    this.busyMs += performance.now() - began;
  }

  /** Everything that happens in exchange time (t0, t1], sent in time order as one corked batch. */
  private step(t0: number, t1: number): void {
    const ev = this.events;
    ev.length = 0;
    this.script.beginTick(t0);
    const rate = this.faults.rateAt(t0);
    for (const f of this.feeds) f.advance(t0, t1, rate, ev);
    for (const d of this.depth) d.advance(t0, t1, rate, ev);
    this.arrivals.length = 0;
    this.liquidations.advance(t0, t1, this.arrivals);
    for (const a of this.arrivals) ev.push({ kind: 'liquidation', time: a.t, prio: 1, arrival: a });
    for (let b = (Math.floor(t0 / KLINE_PUSH_MS) + 1) * KLINE_PUSH_MS; b <= t1; b += KLINE_PUSH_MS) ev.push({ kind: 'boundary', time: b, prio: 0 });
    ev.sort(compareEvents);
    const hub = this.hub;
    hub.cork();
    try {
      for (const e of ev) {
        switch (e.kind) {
          case 'agg': {
            const f = e.feed;
            f.onPublished(e.agg);
            this.history.get(f.symbol)?.push(e.agg);
            if (hub.wants(f.streams.aggTrade)) hub.publish(f.streams.aggTrade, f.aggTradeText(e.agg), e.time, true);
            if (hub.wants(f.streams.bookTicker)) hub.publish(f.streams.bookTicker, f.bookTickerText(e.agg), e.time);
            break;
          }
          case 'liquidation': {
            const x = formatLiquidation(e.arrival, (s) => this.priceOf(s));
            if (x !== null) this.pendingLiq.set(x.symbol, x);
            break;
          }
          case 'boundary':
            this.boundary(e.time);
            break;
          case 'depth':
            if (hub.wants(e.push.stream)) hub.publish(e.push.stream, depthUpdateFrame(e.push.symbol, e.push.diff), e.time);
            break;
        }
      }
    } finally {
      hub.uncork();
    }
  }

  private boundary(b: number): void {
    const hub = this.hub;
    for (const f of this.feeds) {
      const k = f.klineAt(b);
      if (k !== null) hub.publish(f.streams.kline, k, b);
    }
    if (b % 1000 !== 0) return;
    for (const f of this.feeds) {
      const m = f.markPriceAt(b, this.markRatios);
      hub.publish(f.streams.markPrice1s, m, b);
      if (b % 3000 === 0) hub.publish(f.streams.markPrice, m, b);
    }
    if (this.pendingLiq.size === 0) return;
    for (const x of this.pendingLiq.values()) {
      const text = forceOrderFrame(b, x);
      hub.publish('!forceOrder@arr', text, b);
      if (x.st === 1) hub.publish(`${x.symbol.toLowerCase()}@forceOrder`, text, b);
    }
    this.pendingLiq.clear();
  }

  fault(f: SimFault): void {
    const now = this.clock.now();
    this.faultsInjected++;
    switch (f.kind) {
      case 'abrupt_close':
        return this.hub.abruptClose();
      case 'half_open':
        return this.hub.halfOpen(now + Math.max(0, f.ms));
      case 'ack_no_data':
        return this.faults.ackNoData(f.stream, now + Math.max(0, f.ms));
      case 'garbage':
        return this.hub.garbage(positiveInt('garbage.count', f.count));
      case 'binary':
        return this.hub.binary(positiveInt('binary.count', f.count));
      case 'schema_violation':
        return this.hub.schemaViolation(positiveInt('schema_violation.count', f.count), now);
      case 'duplicate':
        return this.hub.duplicate(positiveInt('duplicate.count', f.count));
      case 'out_of_order':
        return this.hub.outOfOrder(positiveInt('out_of_order.count', f.count), now);
      case 'burst':
        return this.faults.burst(f.factor, now + Math.max(0, f.ms));
      case 'close_24h':
        return this.hub.close24h();
      case 'rest_status':
        return this.faults.addRestStatus(f.path, f.status, positiveInt('rest_status.count', f.count), f.retryAfterS, f.body);
      case 'rest_slow':
        return this.faults.addRestSlow(f.path, Math.max(0, f.delayMs), positiveInt('rest_slow.count', f.count));
      case 'rest_partial':
        return this.faults.addRestPartial(f.path, f.mode, positiveInt('rest_partial.count', f.count));
      case 'depth_pu_break':
        return this.depthFeed(f.symbol).breakNext();
      case 'depth_stale_snapshot':
        return this.depthFeed(f.symbol).staleSnapshots(
          positiveInt('depth_stale_snapshot.count', f.count),
          positiveInt('depth_stale_snapshot.behind', f.behind ?? STALE_BEHIND_DEFAULT),
        );
      case 'server_time_skew':
        if (!Number.isSafeInteger(f.ms)) throw new Error(`fault server_time_skew.ms must be a whole number of ms, got ${f.ms}`);
        this.faults.serverTimeSkewMs = f.ms;
        return;
    }
  }

  private logDepthRequest(symbol: string): () => void {
    const r: DepthRequest = { symbol, received_ms: this.clock.now(), answered_ms: null, last_update_id: null, deepest_bid: null, deepest_ask: null };
    this.depthRequests.push(r);
    if (this.depthRequests.length > DEPTH_REQUESTS_KEPT) this.depthRequests.shift();
    return () => {
      r.answered_ms = this.clock.now();
    };
  }

  /** The book of `symbol` now, without a request (SimulatorHandle.book). */
  book(symbol: string, limit: number): DepthSnapshotBody | null {
    return this.depthBySymbol.get(symbol)?.snapshotBody(limit, this.clock.now(), false) ?? null;
  }

  private depthFeed(symbol: string): DepthFeed {
    const d = this.depthBySymbol.get(symbol);
    if (d === undefined) throw new Error(`fault: the simulator keeps no order book for ${symbol} (books: ${[...this.depthBySymbol.keys()].join(', ')})`);
    return d;
  }

  stats(): SimulatorStats {
    const h = this.hub.stats;
    const wall = performance.now() - this.wallStart;
    return {
      connections: h.connections,
      openConnections: this.hub.openConnections,
      subscribeMessages: h.subscribeMessages,
      subscribedStreams: this.hub.subscribedStreams(),
      framesSent: h.framesSent,
      framesByStream: { ...h.framesByStream },
      restRequests: { ...this.restCounts },
      restAnswered: this.restAnswered,
      faultsInjected: this.faultsInjected,
      lagMs: this.lagMs,
      busyShare: wall > 0 ? this.busyMs / wall : 0,
      cascades: this.script.cascades.map((c) => ({ startMs: c.startMs, endMs: c.endMs, symbols: [...c.symbols], direction: c.direction })),
      recordedLiquidations: this.liquidations.usesRecordedRows,
      dataOrigin: this.dataOrigin,
      depth: Object.fromEntries(this.depth.filter((d) => d.active).map((d) => [d.symbol, { produced: d.produced, dropped: d.dropped }])),
      depthRequests: this.depthRequests.map((r) => ({ ...r })),
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.hub.closeAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Start the simulator; resolves once it listens. Throws if no recorded data can be found. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const sim = new Simulator(opts);
  const port = await sim.listen(opts.port ?? 0);
  return {
    restUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    now: () => sim.clock.now(),
    symbols: TOP_10,
    fault: (f) => sim.fault(f),
    stats: () => sim.stats(),
    book: (symbol, limit = 1000) => sim.book(symbol, limit),
    stop: () => sim.stop(),
  };
}

/**
 * REST: the public endpoints the collector uses (exchangeInfo, ticker/24hr, openInterest, time,
 * order-book depth, and aggTrades for the warm start, listed from the recorded market), with Binance's weight accounting
 * (X-MBX-USED-WEIGHT-1M on every response, 2400 per minute, 429 → 418 escalation) and
 * forced statuses and delays from faults. The weight minute is on the exchange clock.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimClock } from './clock';
import { fixed } from './decimal';
import type { FaultState, PartialMode } from './faults';
import type { OpenInterestBook } from './oi';
import { ALL_SPECS, specOf, type SymbolSpec } from './universe';

export const WEIGHT_LIMIT_PER_MINUTE = 2400;
/** Requests sent while a 429 Retry-After is running before the IP is banned (418). */
const VIOLATIONS_BEFORE_BAN = 5;
const BAN_MS = 2 * 60_000;

export const REST_WEIGHTS = Object.freeze({
  exchangeInfo: 1,
  tickerAll: 40,
  tickerOne: 1,
  openInterest: 1,
  time: 1,
  aggTrades: 20,
});

/** A `GET /fapi/v1/aggTrades` request as the route reads it (BINANCE.md §6). */
export interface AggTradesRequest {
  fromId?: number;
  startMs?: number;
  endMs?: number;
  limit: number;
}
/** `GET /fapi/v1/depth` weight by `limit` (BINANCE.md §6): 5–50 → 2, 100 → 5, 500 → 10, 1000 → 20; default 500. */
export const DEPTH_WEIGHTS: Readonly<Record<number, number>> = Object.freeze({ 5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20 });

/** Rolling one-minute request weight of "the IP" (the simulator serves one client IP: loopback). */
export class WeightMeter {
  private readonly entries: { t: number; w: number }[] = [];
  private used = 0;
  private retryAt = 0;
  private violations = 0;
  private bannedUntil = 0;

  usedAt(t: number): number {
    while (this.entries.length > 0 && (this.entries[0] as { t: number }).t <= t - 60_000) this.used -= (this.entries.shift() as { w: number }).w;
    return this.used;
  }

  /** Admit a request of weight `w` at `t`, or say why not (with Retry-After in seconds). */
  admit(t: number, w: number): { ok: true } | { ok: false; status: 418 | 429; retryAfterS: number } {
    if (t < this.bannedUntil) return { ok: false, status: 418, retryAfterS: Math.ceil((this.bannedUntil - t) / 1000) };
    const used = this.usedAt(t);
    if (t < this.retryAt) {
      // Ignoring Retry-After is what gets an IP banned (BINANCE.md §7).
      if (++this.violations >= VIOLATIONS_BEFORE_BAN) {
        this.bannedUntil = t + BAN_MS;
        this.violations = 0;
        return { ok: false, status: 418, retryAfterS: Math.ceil(BAN_MS / 1000) };
      }
      return { ok: false, status: 429, retryAfterS: Math.max(1, Math.ceil((this.retryAt - t) / 1000)) };
    }
    if (used + w > WEIGHT_LIMIT_PER_MINUTE) {
      // Retry once enough of the window has rolled off to fit this request.
      let freed = 0;
      let until = t + 60_000;
      for (const e of this.entries) {
        freed += e.w;
        if (used - freed + w <= WEIGHT_LIMIT_PER_MINUTE) {
          until = e.t + 60_000;
          break;
        }
      }
      this.retryAt = until;
      return { ok: false, status: 429, retryAfterS: Math.max(1, Math.ceil((until - t) / 1000)) };
    }
    this.violations = 0;
    this.entries.push({ t, w });
    this.used += w;
    return { ok: true };
  }
}

export interface RestContext {
  clock: SimClock;
  faults: FaultState;
  weight: WeightMeter;
  oi: OpenInterestBook;
  /** Current simulated last price of a symbol (reference price for symbols without a feed). */
  priceOf(symbol: string): number;
  /** The recorded aggTrades rows a request lists; null for a symbol without a feed. */
  aggTrades(symbol: string, q: AggTradesRequest): unknown[] | null;
  /** The REST depth body of a symbol's book, or null for a symbol the simulator keeps no book of. */
  depthOf(symbol: string, limit: number, nowMs: number): unknown;
  counts: Record<string, number>;
  /** Timers for slow responses (exchange ms), cleared on stop. */
  later(fn: () => void, simMs: number): void;
  /** Told about every response written. */
  answered(): void;
  /** Told about every request as it arrives; what it returns is called once its response is written. */
  requested?(path: string, query: URLSearchParams): (() => void) | undefined;
}

const ERR = Object.freeze({
  tooMany: (limit: number) => ({
    code: -1003,
    msg: `Too many requests; current limit of IP(127.0.0.1) is ${limit} requests per minute. Please use the websocket for live updates to avoid polling the API.`,
  }),
  banned: (until: number) => ({
    code: -1003,
    msg: `Way too many requests; IP(127.0.0.1) banned until ${until}. Please use the websocket for live updates to avoid bans.`,
  }),
  unknown: { code: -1000, msg: 'An unknown error occurred while processing the request.' },
  unavailable: { code: -1008, msg: 'Service Unavailable.' },
  restricted: {
    code: 0,
    msg: "Service unavailable from a restricted location according to 'b. Eligibility' in https://www.binance.com/en/terms. Please contact customer service if you believe you received this message in error.",
  },
  badSymbol: { code: -1121, msg: 'Invalid symbol.' },
  badLimit: { code: -1130, msg: "Data sent for parameter 'limit' is not valid." },
  missingSymbol: { code: -1102, msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed." },
  notFound: { code: -1000, msg: 'Not found.' },
  illegalParam: (name: string) => ({ code: -1100, msg: `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.` }),
  badCombination: { code: -1128, msg: 'Combination of optional parameters invalid.' },
  intervalTooLong: { code: -1127, msg: 'More than 1 hours between startTime and endTime.' },
});

const HOUR_MS = 3_600_000;

/** Validate an aggTrades query like the exchange: the rows, or the 400 it answers. */
function aggTradesAnswer(q: URLSearchParams, ctx: RestContext): { status: number; body: unknown } {
  const symbol = q.get('symbol');
  if (symbol === null || symbol === '') return { status: 400, body: ERR.missingSymbol };
  const nums: Record<string, number | undefined> = {};
  for (const name of ['fromId', 'startTime', 'endTime', 'limit']) {
    const v = q.get(name);
    if (v === null) continue;
    if (!/^\d{1,20}$/.test(v) || !Number.isSafeInteger(Number(v))) return { status: 400, body: ERR.illegalParam(name) };
    nums[name] = Number(v);
  }
  const limit = nums.limit ?? 500;
  if (limit < 1 || limit > 1000) return { status: 400, body: ERR.badLimit };
  const { fromId, startTime, endTime } = nums;
  // The docs warn that fromId with a time window times out; refusing it keeps clients honest.
  if (fromId !== undefined && (startTime !== undefined || endTime !== undefined)) return { status: 400, body: ERR.badCombination };
  if (startTime !== undefined && endTime !== undefined) {
    if (endTime < startTime) return { status: 400, body: ERR.badCombination };
    if (endTime - startTime >= HOUR_MS) return { status: 400, body: ERR.intervalTooLong };
  }
  const req: AggTradesRequest = {
    limit,
    ...(fromId !== undefined ? { fromId } : {}),
    ...(startTime !== undefined ? { startMs: startTime, endMs: endTime ?? startTime + HOUR_MS - 1 } : endTime !== undefined ? { endMs: endTime } : {}),
  };
  const rows = ctx.aggTrades(symbol, req);
  return rows === null ? { status: 400, body: ERR.badSymbol } : { status: 200, body: rows };
}

/** A list body as the partial-page fault damages it: cut in the middle, or rows left out of the middle. */
function damaged(rows: unknown[], mode: PartialMode): string {
  if (mode === 'gap') {
    const keep = [...rows];
    keep.splice(Math.floor(keep.length / 3), Math.max(1, Math.floor(keep.length / 3)));
    return JSON.stringify(keep);
  }
  const text = JSON.stringify(rows);
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

/** `body`: an object to serialise, HTML text (the WAF's page), or `{ jsonText }` already serialised (a damaged list). */
function send(res: ServerResponse, status: number, body: unknown, used: number, extra: Record<string, string> = {}): void {
  const raw = typeof body === 'object' && body !== null && 'jsonText' in body ? (body as { jsonText: string }).jsonText : null;
  const text = raw ?? (typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/html' : 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'X-MBX-USED-WEIGHT-1M': String(used),
    ...extra,
  });
  res.end(text);
}

function filters(s: SymbolSpec): Record<string, string>[] {
  const tick = fixed(s.tickUnits / 10 ** s.pricePrecision, s.pricePrecision);
  const step = fixed(s.stepUnits / 10 ** s.quantityPrecision, s.quantityPrecision);
  return [
    { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: fixed(s.refPrice * 100, s.pricePrecision), tickSize: tick },
    { filterType: 'LOT_SIZE', minQty: step, maxQty: '1000000000', stepSize: step },
    { filterType: 'MARKET_LOT_SIZE', minQty: step, maxQty: '100000000', stepSize: step },
    { filterType: 'MIN_NOTIONAL', notional: '5' },
  ];
}

export function exchangeInfoBody(now: number): unknown {
  return {
    timezone: 'UTC',
    serverTime: now,
    futuresType: 'U_MARGINED',
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: WEIGHT_LIMIT_PER_MINUTE },
      { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
    ],
    exchangeFilters: [],
    assets: [
      { asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' },
      { asset: 'USDC', marginAvailable: true, autoAssetExchange: '-10000' },
    ],
    symbols: ALL_SPECS.filter((s) => s.listed).map((s) => ({
      symbol: s.symbol,
      pair: s.symbol.replace(/_\d{6}$/, ''),
      contractType: s.contractType,
      deliveryDate: s.contractType === 'CURRENT_QUARTER' ? Date.UTC(2026, 5, 26, 8) : 4133404800000,
      onboardDate: 1569398400000,
      status: s.status,
      maintMarginPercent: '2.5000',
      requiredMarginPercent: '5.0000',
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      marginAsset: s.marginAsset,
      pricePrecision: s.pricePrecision,
      quantityPrecision: s.quantityPrecision,
      baseAssetPrecision: 8,
      quotePrecision: 8,
      underlyingType: s.contractType === 'TRADIFI_PERPETUAL' ? 'TRADIFI' : 'COIN',
      underlyingSubType: [],
      settlePlan: 0,
      triggerProtect: '0.0500',
      liquidationFee: '0.012500',
      marketTakeBound: '0.05',
      maxMoveOrderLimit: 10000,
      filters: filters(s),
      orderTypes: ['LIMIT', 'MARKET', 'STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET'],
      timeInForce: ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'],
    })),
  };
}

function ticker(s: SymbolSpec, now: number, price: number): Record<string, unknown> {
  const pp = s.pricePrecision;
  const open = s.refPrice;
  const change = price - open;
  return {
    symbol: s.symbol,
    priceChange: (change < 0 ? '-' : '') + fixed(Math.abs(change), pp),
    priceChangePercent: (change < 0 ? '-' : '') + fixed(Math.abs((100 * change) / open), 3),
    weightedAvgPrice: fixed(price, pp),
    lastPrice: fixed(price, pp),
    lastQty: fixed(10 ** -s.quantityPrecision, s.quantityPrecision),
    openPrice: fixed(open, pp),
    highPrice: fixed(Math.max(open, price) * 1.02, pp),
    lowPrice: fixed(Math.min(open, price) * 0.98, pp),
    volume: fixed(s.quoteVolume / price, s.quantityPrecision),
    quoteVolume: fixed(s.quoteVolume, 2),
    openTime: now - 86_400_000,
    closeTime: now,
    firstId: 1,
    lastId: 1 + Math.floor(s.quoteVolume / 50_000),
    count: Math.floor(s.quoteVolume / 50_000),
  };
}

function route(path: string, q: URLSearchParams, ctx: RestContext, now: number): { weight: number; run: () => { status: number; body: unknown } } | null {
  switch (path) {
    case '/fapi/v1/exchangeInfo':
      return { weight: REST_WEIGHTS.exchangeInfo, run: () => ({ status: 200, body: exchangeInfoBody(now + ctx.faults.serverTimeSkewMs) }) };
    case '/fapi/v1/time':
      return { weight: REST_WEIGHTS.time, run: () => ({ status: 200, body: { serverTime: now + ctx.faults.serverTimeSkewMs } }) };
    case '/fapi/v1/ticker/24hr': {
      const symbol = q.get('symbol');
      if (symbol === null) {
        return { weight: REST_WEIGHTS.tickerAll, run: () => ({ status: 200, body: ALL_SPECS.map((s) => ticker(s, now, ctx.priceOf(s.symbol))) }) };
      }
      return {
        weight: REST_WEIGHTS.tickerOne,
        run: () => {
          const s = specOf(symbol);
          return s === undefined ? { status: 400, body: ERR.badSymbol } : { status: 200, body: ticker(s, now, ctx.priceOf(s.symbol)) };
        },
      };
    }
    case '/fapi/v1/aggTrades':
      return { weight: REST_WEIGHTS.aggTrades, run: () => aggTradesAnswer(q, ctx) };
    case '/fapi/v1/depth': {
      const limitText = q.get('limit');
      const limit = limitText === null ? 500 : Number(limitText);
      const weight = DEPTH_WEIGHTS[limit];
      if (weight === undefined) return { weight: 1, run: () => ({ status: 400, body: ERR.badLimit }) };
      return {
        weight,
        run: () => {
          const symbol = q.get('symbol');
          if (symbol === null || symbol === '') return { status: 400, body: ERR.missingSymbol };
          const body = ctx.depthOf(symbol, limit, now);
          return body === null ? { status: 400, body: ERR.badSymbol } : { status: 200, body };
        },
      };
    }
    case '/fapi/v1/openInterest':
      return {
        weight: REST_WEIGHTS.openInterest,
        run: () => {
          const symbol = q.get('symbol');
          if (symbol === null || symbol === '') return { status: 400, body: ERR.missingSymbol };
          const oi = ctx.oi.at(symbol, now);
          return oi === null ? { status: 400, body: ERR.badSymbol } : { status: 200, body: { openInterest: oi, symbol, time: now } };
        },
      };
    default:
      return null;
  }
}

function forcedBody(status: number, now: number, retryAfterS: number): unknown {
  switch (status) {
    case 429:
      return ERR.tooMany(WEIGHT_LIMIT_PER_MINUTE);
    case 418:
      return ERR.banned(now + retryAfterS * 1000);
    case 403:
      // The WAF answers before the API does: an HTML page, not a Binance JSON error.
      return '<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>';
    case 451:
      return ERR.restricted;
    case 503:
      return ERR.unavailable;
    default:
      return ERR.unknown;
  }
}

export function handleRest(req: IncomingMessage, res: ServerResponse, ctx: RestContext): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  ctx.counts[path] = (ctx.counts[path] ?? 0) + 1;
  const written = ctx.requested?.(path, url.searchParams);
  const respond = (): void => {
    const now = ctx.clock.now();
    const forced = ctx.faults.takeRestStatus(path);
    if (forced !== null) {
      const retry = forced.retryAfterS ?? (forced.status === 418 ? 120 : 5);
      const extra: Record<string, string> = forced.status === 429 || forced.status === 418 ? { 'Retry-After': String(retry) } : {};
      return send(res, forced.status, forced.body ?? forcedBody(forced.status, now, retry), ctx.weight.usedAt(now), extra);
    }
    if (req.method !== 'GET') return send(res, 405, ERR.unknown, ctx.weight.usedAt(now));
    const r = route(path, url.searchParams, ctx, now);
    if (r === null) return send(res, 404, ERR.notFound, ctx.weight.usedAt(now));
    const admitted = ctx.weight.admit(now, r.weight);
    if (!admitted.ok) {
      const body = admitted.status === 429 ? ERR.tooMany(WEIGHT_LIMIT_PER_MINUTE) : ERR.banned(now + admitted.retryAfterS * 1000);
      return send(res, admitted.status, body, ctx.weight.usedAt(now), { 'Retry-After': String(admitted.retryAfterS) });
    }
    let out: { status: number; body: unknown };
    try {
      out = r.run();
    } catch (e) {
      // A bug in one route must not take the whole exchange down with it (the soak found one):
      // the client sees a 500, as from a real server, and the simulator's stderr says what broke.
      process.stderr.write(`simulator: ${path} failed: ${(e as Error).stack ?? String(e)}\n`);
      return send(res, 500, ERR.unknown, ctx.weight.usedAt(now));
    }
    const partial = out.status === 200 && Array.isArray(out.body) ? ctx.faults.takeRestPartial(path) : null;
    send(res, out.status, partial === null ? out.body : { jsonText: damaged(out.body as unknown[], partial) }, ctx.weight.usedAt(now));
  };
  const answer = (): void => {
    respond();
    ctx.answered();
    written?.();
  };
  const delay = ctx.faults.takeRestSlow(path);
  if (delay > 0) ctx.later(answer, delay);
  else answer();
}

/**
 * REST `GET /fapi/v1/aggTrades` (BINANCE.md §6) both ways: the request path the warm-start planner
 * asks for, and the recorded body → a history page for the core (SPEC §20). The body is a JSON
 * array of aggTrade rows without `e`, `E` or `s`, so the page's symbol, start and size come from the
 * request, which the capture keeps as the frame's source (`rest:/fapi/v1/aggTrades?symbol=…`).
 */
import { SYMBOL_RE } from '../core/contracts/primitives';
import type { TradeEvent } from '../core/contracts/canonical';
import type { FrameResult, HistoryPage } from '../core/source';
import { isAggTradeRest } from './fastpath';
import { numbersInvalid, parseAggTradeRest } from './parse';
import { AggTradeRestSchema } from './schemas';

export const AGG_TRADES_PATH = '/fapi/v1/aggTrades';
/** Request weight of one call, whatever its limit. */
export const AGG_TRADES_WEIGHT = 20;
export const AGG_TRADES_MAX_LIMIT = 1000;
export const AGG_TRADES_DEFAULT_LIMIT = 500;
/** startTime … endTime must span less than an hour. */
export const AGG_TRADES_MAX_WINDOW_MS = 60 * 60_000 - 1;

/** One page request: from a time (the first of a symbol) or from a trade id (its continuations). */
export interface AggTradesQuery {
  symbol: string;
  from: HistoryPage['from'];
  /** Only with `from.kind === 'time'`: the window's inclusive end. */
  endMs?: number;
  limit: number;
}

/** The path and query of a page request; sending fromId together with a time window risks timeouts (BINANCE.md §6), so never both. */
export function aggTradesPath(q: AggTradesQuery): string {
  const start = q.from.kind === 'time' ? `startTime=${q.from.ms}${q.endMs !== undefined ? `&endTime=${q.endMs}` : ''}` : `fromId=${q.from.id}`;
  return `${AGG_TRADES_PATH}?symbol=${q.symbol}&${start}&limit=${q.limit}`;
}

const DIGITS = /^\d{1,16}$/;

function intParam(params: URLSearchParams, name: string): number | null | string {
  const v = params.get(name);
  if (v === null) return null;
  if (!DIGITS.test(v)) return `${name}=${v.slice(0, 20)} is not a whole number`;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : `${name}=${v} is too large`;
}

/** `/fapi/v1/aggTrades?…` → the request it was, or what is wrong with it. */
export function parseAggTradesQuery(pathAndQuery: string): AggTradesQuery | string {
  const q = pathAndQuery.indexOf('?');
  if (q < 0 || pathAndQuery.slice(0, q) !== AGG_TRADES_PATH) return `not an ${AGG_TRADES_PATH} request`;
  const params = new URLSearchParams(pathAndQuery.slice(q + 1));
  const symbol = params.get('symbol');
  if (symbol === null || !SYMBOL_RE.test(symbol)) return 'symbol missing or not a symbol';
  const limit = intParam(params, 'limit');
  const fromId = intParam(params, 'fromId');
  const startTime = intParam(params, 'startTime');
  const endTime = intParam(params, 'endTime');
  for (const v of [limit, fromId, startTime, endTime]) if (typeof v === 'string') return v;
  const lim = (limit as number | null) ?? AGG_TRADES_DEFAULT_LIMIT;
  if (lim < 1 || lim > AGG_TRADES_MAX_LIMIT) return `limit=${lim} is outside 1…${AGG_TRADES_MAX_LIMIT}`;
  if (fromId !== null && (startTime !== null || endTime !== null)) return 'fromId together with a time window';
  if (fromId !== null) return { symbol, from: { kind: 'id', id: fromId as number }, limit: lim };
  if (startTime === null) return 'neither startTime nor fromId: a page of the newest trades has no place in a chain';
  if (endTime !== null && ((endTime as number) < (startTime as number) || (endTime as number) - (startTime as number) > AGG_TRADES_MAX_WINDOW_MS)) {
    return `endTime=${endTime} is not within an hour after startTime=${startTime}`;
  }
  return { symbol, from: { kind: 'time', ms: startTime as number }, ...(endTime !== null ? { endMs: endTime as number } : {}), limit: lim };
}

function firstIssue(row: unknown): string {
  const r = AggTradeRestSchema.safeParse(row);
  if (r.success) return 'rejected by fast path but accepted by schema (report this)';
  const issue = r.error.issues[0];
  return `${issue && issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue ? issue.message : 'invalid'}`;
}

/**
 * A recorded aggTrades body → one `history` result with every row as a canonical trade, or
 * `malformed`: a page is used whole or not at all (a partial page would leave a hole in the chain).
 */
export function normalizeAggTradesPage(payload: unknown, source: string, recvMs: number): FrameResult {
  const query = parseAggTradesQuery(source.slice('rest:'.length));
  if (typeof query === 'string') return { kind: 'malformed', reason: `history_query: ${query}` };
  if (!Array.isArray(payload)) return { kind: 'malformed', reason: 'history_not_an_array' };
  const trades: TradeEvent[] = [];
  for (let i = 0; i < payload.length; i++) {
    const row: unknown = payload[i];
    if (!isAggTradeRest(row)) return { kind: 'malformed', reason: `schema_violation:aggTradesRest: ${i}.${firstIssue(row)}` };
    const t = parseAggTradeRest(row, query.symbol, recvMs);
    const bad = numbersInvalid(t);
    if (bad !== null) return { kind: 'malformed', reason: `${bad}:TRADE` };
    trades.push(t);
  }
  return { kind: 'history', page: { symbol: query.symbol, trades, from: query.from, limit: query.limit } };
}

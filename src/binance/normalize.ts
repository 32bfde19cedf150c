/**
 * Binance frame → canonical event or classified rejection (`FrameResult`, core/source.ts). Pure:
 * the same frame always gives the same result.
 *
 * The envelope's stream name decides first: streams the core does not use are counted and skipped
 * unparsed. Combined-stream trade frames are read by the scanner (./scan) instead of JSON.parse;
 * payloads are checked by the fast path (./fastpath), with the zod schema (./schemas) consulted
 * only to word a rejection, then mapped by ./parse. Dropped by rule: non-MARKET raw trades and
 * COIN-M liquidations of the merged all-market stream.
 */
import type { ZodType } from 'zod';
import { LIMITS } from '../core/constants';
import type { CanonicalEvent } from '../core/contracts/canonical';
import type { Frame, FrameResult } from '../core/source';
import { isAggTrade, isForceOrder, isKline, isMarkPriceUpdate, isOpenInterestRest, isRawTrade } from './fastpath';
import { numbersInvalid, parseAggTrade, parseForceOrder, parseKline, parseMarkPrice, parseOpenInterest, parseRawTrade } from './parse';
import { scanEnvelopeData } from './scan';
import { AggTradeSchema, ForceOrderSchema, KlineSchema, MarkPriceUpdateSchema, OpenInterestRestSchema, RawTradeSchema } from './schemas';
import { isSkippedKind, streamKind, streamNamesSymbol, upperSymbolOfStream } from './stream-name';

const STREAM_PREFIX = '{"stream":"';

function malformed(reason: string): FrameResult {
  return { kind: 'malformed', reason };
}

/** The first zod issue as one line: which field, what was wrong. */
function schemaReason(kind: string, schema: ZodType, value: unknown): string {
  const r = schema.safeParse(value);
  if (r.success) return `${kind}: rejected by fast path but accepted by schema (report this)`;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `schema_violation:${kind}: ${path}: ${issue ? issue.message : 'invalid'}`;
}

function maxBytes(source: string): number {
  return source.startsWith('rest:') ? LIMITS.MAX_REST_BODY_BYTES : LIMITS.MAX_WS_FRAME_BYTES;
}

/**
 * Normalize one frame. Never throws: JSON and schema failures come back as `malformed`.
 * `useScanner`: take the combined-stream fast path (./scan) when the frame has its plain shape;
 * false forces JSON.parse for every frame (the reference the scanner is tested against).
 */
export function normalizeFrame(frame: Frame, useScanner = true): FrameResult {
  const text = frame.text;
  // String length is UTF-16 units; frames are ASCII JSON so this equals bytes for honest traffic.
  if (text.length > maxBytes(frame.source)) return malformed(`oversized_frame:${text.length}`);

  let stream: string | null = null;
  if (text.startsWith(STREAM_PREFIX)) {
    const end = text.indexOf('"', STREAM_PREFIX.length);
    if (end > 0) {
      stream = text.slice(STREAM_PREFIX.length, end);
      const kind = streamKind(stream);
      if (isSkippedKind(kind)) {
        return { kind: 'ignored', what: kind === 'other' ? `stream:${stream.slice(stream.indexOf('@') + 1) || stream}` : kind };
      }
      if (useScanner) {
        const data = scanEnvelopeData(text, end);
        if (data !== null) return normalizePayload(data, stream, frame);
      }
    }
  } else if (frame.source.startsWith('ws:') && frame.source.includes('/ws/')) {
    // Raw (non-combined) connection: the stream name is the last path segment.
    stream = frame.source.slice(frame.source.lastIndexOf('/') + 1);
    const kind = streamKind(stream);
    if (isSkippedKind(kind)) return { kind: 'ignored', what: kind };
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return malformed('invalid_json');
  }
  if (typeof parsed !== 'object' || parsed === null) return malformed('not_an_object');

  let payload: unknown = parsed;
  const outer = parsed as Record<string, unknown>;
  if (!Array.isArray(parsed) && typeof outer.stream === 'string' && 'data' in outer) {
    stream = outer.stream;
    payload = outer.data;
  }
  return normalizePayload(payload, stream, frame);
}

function normalizePayload(payload: unknown, stream: string | null, frame: Frame): FrameResult {
  if (typeof payload !== 'object' || payload === null) return malformed('payload_not_an_object');
  if (Array.isArray(payload)) {
    return frame.source.startsWith('rest:/fapi/v1/ticker/24hr') ? { kind: 'ignored', what: 'rest:ticker24hr' } : malformed('unexpected_array');
  }
  const p = payload as Record<string, unknown>;
  const e = p.e;
  const recv = frame.recv_ms;
  if (typeof e === 'string') {
    switch (e) {
      case 'aggTrade':
        if (!isAggTrade(p)) return malformed(schemaReason('aggTrade', AggTradeSchema, p));
        return checkStream(stream, p.s, parseAggTrade(p, recv));
      case 'trade':
        if (!isRawTrade(p)) return malformed(schemaReason('trade', RawTradeSchema, p));
        if (p.X !== 'MARKET') return { kind: 'dropped', reason: 'non_market_trade', symbol: p.s };
        return checkStream(stream, p.s, parseRawTrade(p, recv));
      case 'forceOrder':
        if (!isForceOrder(p)) return malformed(schemaReason('forceOrder', ForceOrderSchema, p));
        if (p.st !== undefined && p.st !== 1) return { kind: 'dropped', reason: 'coin_margined', symbol: p.o.s };
        return checkStream(stream, p.o.s, parseForceOrder(p, recv));
      case 'kline':
        if (!isKline(p)) return malformed(schemaReason('kline', KlineSchema, p));
        return checkStream(stream, p.s, parseKline(p, recv));
      case 'markPriceUpdate':
        if (!isMarkPriceUpdate(p)) return malformed(schemaReason('markPriceUpdate', MarkPriceUpdateSchema, p));
        return checkStream(stream, p.s, parseMarkPrice(p, recv));
      case 'depthUpdate':
        return { kind: 'ignored', what: 'depth' };
      case 'bookTicker':
        return { kind: 'ignored', what: 'bookTicker' };
      default:
        return malformed(`unknown_event_type:${e.slice(0, 40)}`);
    }
  }
  if (frame.source.startsWith('rest:/fapi/v1/openInterest')) {
    if (!isOpenInterestRest(p)) return malformed(schemaReason('openInterest', OpenInterestRestSchema, p));
    return checkStream(null, p.symbol, parseOpenInterest(p, recv));
  }
  if ('lastUpdateId' in p) return { kind: 'ignored', what: 'rest:depth' };
  if ('symbols' in p && 'rateLimits' in p) return { kind: 'ignored', what: 'rest:exchangeInfo' };
  if ('id' in p && ('result' in p || 'error' in p || 'code' in p)) return { kind: 'ignored', what: 'control' };
  if (frame.source === '' && 'openInterest' in p && 'symbol' in p) {
    // Foreign captures do not label REST bodies; the shape is unambiguous.
    return normalizePayload(p, stream, { ...frame, source: 'rest:/fapi/v1/openInterest' });
  }
  return malformed('unknown_payload');
}

function checkStream(stream: string | null, symbol: string, event: CanonicalEvent): FrameResult {
  const bad = numbersInvalid(event);
  if (bad !== null) return malformed(`${bad}:${event.type}`);
  if (stream !== null && !streamNamesSymbol(stream, symbol)) {
    const fromStream = upperSymbolOfStream(stream);
    if (fromStream !== null && fromStream !== symbol) {
      return malformed(`stream_symbol_mismatch:${stream}:${symbol}`);
    }
  }
  return { kind: 'event', event };
}

/**
 * The Binance side of the market WebSocket (BINANCE.md §1–§3, §11): one combined connection on
 * the `/market` route, subscribed by batched SUBSCRIBE messages at most 10 control messages a
 * second, control replies told apart from data by their first key. The generic session loop
 * (src/collector/ws-session.ts) runs it.
 */
import type { FrameKind, WsProtocol } from '../collector/ws-session';
import { silenceLimitMs } from './streams';

/**
 * The route of regular market data. Since April 2026 an unrouted URL serves only /public streams:
 * a market stream subscribed there is acknowledged and never delivered (BINANCE.md §1), the silence
 * the cadence watchdog reports.
 */
export const MARKET_ROUTE = '/market/stream';

export interface MarketProtocolOptions {
  /** WS root, e.g. wss://fstream.binance.com. */
  wsUrl: string;
  streams: readonly string[];
  /** Max params in one SUBSCRIBE. */
  subscribeBatch?: number;
  /** Min gap between control messages (≤ 10 messages/s allowed). */
  controlGapMs?: number;
}

const DATA_PREFIX = '{"stream":"';

export function marketProtocol(opts: MarketProtocolOptions): WsProtocol {
  const batch = opts.subscribeBatch ?? 50;
  let msgId = 0;
  /** SUBSCRIBE messages of at most `batch` params each. */
  const batches = (streams: readonly string[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < streams.length; i += batch) out.push(JSON.stringify({ method: 'SUBSCRIBE', params: streams.slice(i, i + batch), id: ++msgId }));
    return out;
  };
  return {
    url: `${opts.wsUrl.replace(/\/+$/, '')}${MARKET_ROUTE}`,
    source: `ws:${MARKET_ROUTE}`,
    streams: opts.streams,
    silenceLimitMs,
    controlGapMs: opts.controlGapMs ?? 250,
    subscribeMessages: () => batches(opts.streams),
    resubscribeMessages: (streams) => batches(streams),
    classify: classifyMarketFrame,
  };
}

/** Control replies (`{"result":…,"id":…}`, errors `{"code":…}`) or data; data names its stream first on combined connections. */
export function classifyMarketFrame(text: string): FrameKind {
  if (text.startsWith('{"result"') || text.startsWith('{"id"') || text.startsWith('{"code"')) return { kind: 'control' };
  if (!text.startsWith(DATA_PREFIX)) return { kind: 'data', stream: null };
  const end = text.indexOf('"', DATA_PREFIX.length);
  return { kind: 'data', stream: end < 0 ? null : text.slice(DATA_PREFIX.length, end) };
}

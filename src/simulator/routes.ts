/**
 * WebSocket URL routing after the 2026 split (BINANCE.md §1): /market serves regular market
 * streams, /public order-book streams, and the unrouted legacy paths (/ws, /stream) behave like
 * /public — they acknowledge every SUBSCRIBE but deliver only public streams. That silent
 * failure is the point: a client on the wrong URL must notice the missing data itself.
 */

export type Route = 'market' | 'public' | 'unrouted';
export type StreamCategory = 'market' | 'public' | 'unknown';

export interface WsTarget {
  route: Route;
  /** Combined mode wraps payloads in {"stream","data"}; raw mode sends the payload alone. */
  combined: boolean;
  /** Streams named in the URL. */
  streams: string[];
  path: string;
}

/** Streams per connection, futures limit (spot allows 1024; don't copy spot numbers). */
export const MAX_STREAMS_PER_CONNECTION = 200;

const MARKET_SUFFIX = /^(aggTrade|forceOrder|kline_\w+|markPrice(@1s)?|ticker|miniTicker)$/;
const PUBLIC_SUFFIX = /^(depth(\d+)?(@\d+ms)?|bookTicker|rpiDepth@500ms|trade)$/;

export function streamCategory(stream: string): StreamCategory {
  if (stream === '!forceOrder@arr' || stream.startsWith('!markPrice@arr') || stream === '!ticker@arr' || stream === '!miniTicker@arr') return 'market';
  if (stream === '!bookTicker') return 'public';
  const at = stream.indexOf('@');
  if (at <= 0) return 'unknown';
  const suffix = stream.slice(at + 1);
  if (MARKET_SUFFIX.test(suffix)) return 'market';
  if (PUBLIC_SUFFIX.test(suffix)) return 'public';
  return 'unknown';
}

/** Whether a connection on `route` ever receives data of `category`. */
export function routeDelivers(route: Route, category: StreamCategory): boolean {
  if (category === 'unknown') return false;
  return route === 'market' ? category === 'market' : category === 'public';
}

/**
 * Parse an upgrade URL. Accepts `/<route>/ws[/<s>[/<s>…]]`, `/<route>/stream[?streams=a/b]` for
 * route market|public, and the same without a route prefix. Anything else is null (→ 404).
 */
export function parseWsTarget(rawUrl: string): WsTarget | null {
  let url: URL;
  try {
    url = new URL(rawUrl, 'http://127.0.0.1');
  } catch {
    return null;
  }
  const parts = url.pathname.split('/').filter((p) => p.length > 0);
  let route: Route = 'unrouted';
  if (parts[0] === 'market' || parts[0] === 'public') {
    route = parts[0];
    parts.shift();
  }
  const mode = parts.shift();
  if (mode === 'ws') {
    return { route, combined: false, streams: parts.map(decodeURIComponent), path: url.pathname };
  }
  if (mode === 'stream' && parts.length === 0) {
    const q = url.searchParams.get('streams');
    const streams = q === null || q === '' ? [] : q.split('/').filter((s) => s.length > 0);
    return { route, combined: true, streams, path: url.pathname };
  }
  return null;
}

/**
 * Reading the stream name of a received frame: which payload it carries and which symbol it names.
 * Runs once per frame, so nothing here builds a string it does not return.
 */

export type StreamKind = 'aggTrade' | 'trade' | 'forceOrder' | 'kline' | 'markPrice' | 'depth' | 'bookTicker' | 'other';

/** Streams we consume; everything else on a combined connection is counted and skipped unparsed. */
export function streamKind(stream: string): StreamKind {
  const at = stream.indexOf('@');
  if (at < 0) return 'other';
  // Compared in place: this runs once per frame and a slice would be garbage.
  const from = at + 1;
  const restIs = (name: string): boolean => stream.length - from === name.length && stream.startsWith(name, from);
  if (restIs('aggTrade')) return 'aggTrade';
  if (restIs('trade')) return 'trade';
  if (restIs('forceOrder') || stream === '!forceOrder@arr') return 'forceOrder';
  if (stream.startsWith('kline_', from)) return 'kline';
  if (stream.startsWith('markPrice', from)) return 'markPrice';
  if (stream.startsWith('depth', from)) return 'depth';
  if (restIs('bookTicker')) return 'bookTicker';
  return 'other';
}

/** Kinds the normalizer skips from the stream name alone, without parsing the payload. */
export function isSkippedKind(kind: StreamKind): kind is 'depth' | 'bookTicker' | 'other' {
  return kind === 'depth' || kind === 'bookTicker' || kind === 'other';
}

/** `btcusdt@aggTrade` names BTCUSDT: the per-frame check, without building the upper-case string. */
export function streamNamesSymbol(stream: string, symbol: string): boolean {
  if (stream.charCodeAt(symbol.length) !== 0x40 /* @ */) return false;
  for (let i = 0; i < symbol.length; i++) {
    const c = stream.charCodeAt(i);
    const upper = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
    if (upper !== symbol.charCodeAt(i)) return false;
  }
  return true;
}

/** The symbol a per-symbol stream names (`btcusdt@aggTrade` → BTCUSDT); null for all-market streams (`!forceOrder@arr`). */
export function upperSymbolOfStream(stream: string): string | null {
  if (stream.startsWith('!')) return null;
  const at = stream.indexOf('@');
  return at > 0 ? stream.slice(0, at).toUpperCase() : null;
}

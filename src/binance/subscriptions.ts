/** Streams of the one /market connection (SPEC §10, BINANCE.md §1). */
export function marketStreams(symbols: readonly string[], markPrice: boolean): string[] {
  const lower = symbols.map((s) => s.toLowerCase());
  return [...lower.map((s) => `${s}@aggTrade`), '!forceOrder@arr', ...(markPrice ? lower.map((s) => `${s}@markPrice@1s`) : [])];
}

/** Streams of the one /public connection: every symbol's diff depth at 100 ms (SPEC §18; depth on /market delivers nothing). */
export function depthStreams(symbols: readonly string[]): string[] {
  return symbols.map((s) => `${s.toLowerCase()}@depth@100ms`);
}

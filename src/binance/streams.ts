/** Binance stream names for the observed symbols (SPEC §10, BINANCE.md §1) and how long each may stay silent. */

/** Streams of the one /market connection. */
export function marketStreams(symbols: readonly string[], markPrice: boolean): string[] {
  const lower = symbols.map((s) => s.toLowerCase());
  return [...lower.map((s) => `${s}@aggTrade`), '!forceOrder@arr', ...(markPrice ? lower.map((s) => `${s}@markPrice@1s`) : [])];
}

/** How long each stream may stay silent before the cadence watchdog reports it. */
export function silenceLimitMs(stream: string): number {
  if (stream.endsWith('@markPrice@1s')) return 5_000; // pushed every second: the best canary
  if (stream.endsWith('@aggTrade')) return 60_000; // top-10 perpetuals trade every second
  return Number.POSITIVE_INFINITY; // liquidations: silence is normal
}

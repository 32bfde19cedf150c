/**
 * Startup symbol resolution (SPEC §3, BINANCE.md §6.1): the 10 USDT-margined PERPETUAL TRADING
 * symbols with the highest 24 h quote volume, frozen for the run. If the ranking cannot be had,
 * the documented fallback list intersected with what actually trades (MATICUSDT no longer does).
 */
import { type Clock, sleep } from '../clock/clock';
import { backoffDelayMs, type BackoffPolicy } from '../collector/backoff';
import { type RestClient, RestError } from '../collector/rest';
import { TOP_N_SYMBOLS } from '../core/constants';
import { FALLBACK_SYMBOLS } from './fallback-symbols';
import { type ExchangeInfo, ExchangeInfoSchema, type Ticker24hr, Ticker24hrListSchema } from './schemas';

export interface RankedSymbol {
  symbol: string;
  quoteVolume: number;
}

export interface SymbolSelection {
  symbols: string[];
  ranked: RankedSymbol[];
  fallbackUsed: boolean;
  fallbackReason: string | null;
  precisions: Record<string, { price: number; qty: number }>;
  weightLimit: number | null;
}

export function decimalsOf(step: string): number {
  const trimmed = step.includes('.') ? step.replace(/0+$/, '') : step;
  const dot = trimmed.indexOf('.');
  return dot < 0 ? 0 : trimmed.length - dot - 1;
}

/** Symbols that are USDT-margined perpetuals currently trading (TRADIFI_PERPETUAL and delivery excluded). */
export function eligibleSymbols(info: ExchangeInfo): Map<string, ExchangeInfo['symbols'][number]> {
  const out = new Map<string, ExchangeInfo['symbols'][number]>();
  for (const s of info.symbols) {
    if (s.contractType !== 'PERPETUAL' || s.quoteAsset !== 'USDT' || s.status !== 'TRADING') continue;
    if (s.marginAsset !== undefined && s.marginAsset !== 'USDT') continue;
    out.set(s.symbol, s);
  }
  return out;
}

export function precisionsOf(info: ExchangeInfo, symbols: readonly string[]): Record<string, { price: number; qty: number }> {
  const bySymbol = new Map(info.symbols.map((s) => [s.symbol, s]));
  const out: Record<string, { price: number; qty: number }> = {};
  for (const sym of symbols) {
    const s = bySymbol.get(sym);
    if (!s) continue;
    const tick = s.filters?.find((f) => f.filterType === 'PRICE_FILTER')?.tickSize;
    const step = s.filters?.find((f) => f.filterType === 'LOT_SIZE')?.stepSize;
    out[sym] = {
      price: tick !== undefined ? decimalsOf(tick) : (s.pricePrecision ?? 2),
      qty: step !== undefined ? decimalsOf(step) : (s.quantityPrecision ?? 3),
    };
  }
  return out;
}

/** Rank eligible symbols by quote volume, descending; ties by name so the order is deterministic. */
export function rankSymbols(info: ExchangeInfo, tickers: readonly Ticker24hr[], n = TOP_N_SYMBOLS): RankedSymbol[] {
  const eligible = eligibleSymbols(info);
  return tickers
    .filter((t) => eligible.has(t.symbol))
    .map((t) => ({ symbol: t.symbol, quoteVolume: Number(t.quoteVolume) }))
    .filter((t) => Number.isFinite(t.quoteVolume))
    .sort((a, b) => b.quoteVolume - a.quoteVolume || (a.symbol < b.symbol ? -1 : 1))
    .slice(0, n);
}

export function fallbackSymbols(info: ExchangeInfo): string[] {
  const eligible = eligibleSymbols(info);
  return FALLBACK_SYMBOLS.filter((s) => eligible.has(s));
}

export interface SelectOptions {
  /** Retry delays and their jitter. */
  clock: Clock;
  /** A fixed list from the configuration instead of the ranking. */
  fixed?: readonly string[];
  tickerRetries?: number;
  timeoutMs?: number;
  /** Told about each failed attempt (for health and logs). */
  onAttemptFailed?: (what: string, err: RestError | Error, attempt: number, nextDelayMs: number) => void;
  /** Abort the endless exchangeInfo retry (shutdown). */
  signal?: AbortSignal;
}

/** Between attempts: 1 s doubling to 30 s, ±20 %. */
export const SELECTION_RETRY: Readonly<BackoffPolicy> = Object.freeze({ initialMs: 1000, maxMs: 30_000, jitter: 0.2 });

async function fetchJson<T>(rest: RestClient, path: string, timeoutMs: number, weight: number, parse: (v: unknown) => T): Promise<T> {
  const res = await rest.get(path, { timeoutMs, weight });
  let value: unknown;
  try {
    value = JSON.parse(res.text);
  } catch {
    throw new Error(`${path} answered with a body that is not JSON`);
  }
  return parse(value);
}

/**
 * Resolve the symbol universe. exchangeInfo is retried until it works (nothing can be observed
 * without it); the ticker ranking gets `tickerRetries` tries, then the fallback list is used.
 */
export async function selectSymbols(rest: RestClient, opts: SelectOptions): Promise<SymbolSelection> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const { clock, signal } = opts;
  let info: ExchangeInfo | null = null;
  const retryDelay = (attempt: number): number => backoffDelayMs(SELECTION_RETRY, attempt, clock.random());
  for (let attempt = 1; info === null; attempt++) {
    if (signal?.aborted) throw new Error('symbol selection aborted');
    try {
      info = await fetchJson(rest, '/fapi/v1/exchangeInfo', timeoutMs, 1, (v) => ExchangeInfoSchema.parse(v));
    } catch (e) {
      const delay = e instanceof RestError && e.retryAfterMs !== null ? Math.max(e.retryAfterMs, retryDelay(attempt)) : retryDelay(attempt);
      opts.onAttemptFailed?.('exchangeInfo', e as Error, attempt, delay);
      await sleep(clock, delay, signal);
    }
  }
  const limit = info.rateLimits?.find((r) => r.rateLimitType === 'REQUEST_WEIGHT' && r.interval === 'MINUTE')?.limit ?? null;
  if (limit !== null) rest.weightLimit = limit;

  if (opts.fixed && opts.fixed.length > 0) {
    const eligible = eligibleSymbols(info);
    const symbols = opts.fixed.filter((s) => eligible.has(s));
    if (symbols.length === 0)
      throw new Error(`none of the configured symbols (${opts.fixed.join(', ')}) is a trading USDT perpetual; fix "symbols" in the config`);
    return {
      symbols,
      ranked: symbols.map((s) => ({ symbol: s, quoteVolume: Number.NaN })),
      fallbackUsed: false,
      fallbackReason: null,
      precisions: precisionsOf(info, symbols),
      weightLimit: limit,
    };
  }

  const tries = opts.tickerRetries ?? 3;
  let lastError = '';
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      const tickers = await fetchJson(rest, '/fapi/v1/ticker/24hr', timeoutMs, 40, (v) => Ticker24hrListSchema.parse(v));
      const ranked = rankSymbols(info, tickers);
      if (ranked.length > 0) {
        const symbols = ranked.map((r) => r.symbol);
        return { symbols, ranked, fallbackUsed: false, fallbackReason: null, precisions: precisionsOf(info, symbols), weightLimit: limit };
      }
      lastError = 'the ticker listed no eligible symbol';
    } catch (e) {
      lastError = (e as Error).message;
      if (attempt < tries) {
        const delay = retryDelay(attempt);
        opts.onAttemptFailed?.('ticker/24hr', e as Error, attempt, delay);
        await sleep(clock, delay, signal);
      }
    }
  }
  const symbols = fallbackSymbols(info);
  return {
    symbols,
    ranked: symbols.map((s) => ({ symbol: s, quoteVolume: Number.NaN })),
    fallbackUsed: true,
    fallbackReason: `24h ticker unavailable after ${tries} tries (${lastError})`,
    precisions: precisionsOf(info, symbols),
    weightLimit: limit,
  };
}

/** `N. SYMBOL - $X.XB` lines of the startup banner (SPEC §3). */
export function formatRanking(sel: SymbolSelection): string[] {
  return sel.ranked.map((r, i) => {
    const v = r.quoteVolume;
    const money = !Number.isFinite(v) ? '(volume unknown)' : v >= 1e9 ? `$${(v / 1e9).toFixed(1)}B` : `$${(v / 1e6).toFixed(1)}M`;
    return `${i + 1}. ${r.symbol} - ${money}`;
  });
}

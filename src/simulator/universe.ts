/**
 * The symbol universe the simulator presents: a TOP_10 cloned from real BTC/ETH flow, a few
 * ordinary small perpetuals, and decoys a correct client must filter out (BINANCE.md §6.1).
 */

export type FlowSource = 'BTC' | 'ETH';

export interface SymbolSpec {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  marginAsset: string;
  contractType: 'PERPETUAL' | 'TRADIFI_PERPETUAL' | 'CURRENT_QUARTER';
  status: 'TRADING' | 'BREAK';
  pricePrecision: number;
  quantityPrecision: number;
  /** Tick and step in units of the last price/quantity decimal (BTC: tick 0.10 at 2 dp → 10). */
  tickUnits: number;
  stepUnits: number;
  /** Plausible price level; clones are scaled to it. */
  refPrice: number;
  /** 24 h quote volume the ticker reports; fixes the ranking. */
  quoteVolume: number;
  /** Recorded flow it replays (TOP_10 only). */
  source?: FlowSource;
  /** Where in the recorded loop this clone starts, as a fraction of the loop, so clones differ. */
  phase?: number;
  /** Whether it appears in exchangeInfo (false: only in the ticker, like a delisted symbol). */
  listed: boolean;
}

function spec(
  symbol: string,
  base: string,
  pp: number,
  qp: number,
  tickUnits: number,
  stepUnits: number,
  refPrice: number,
  quoteVolume: number,
  extra: Partial<SymbolSpec> = {},
): SymbolSpec {
  return {
    symbol,
    baseAsset: base,
    quoteAsset: 'USDT',
    marginAsset: 'USDT',
    contractType: 'PERPETUAL',
    status: 'TRADING',
    pricePrecision: pp,
    quantityPrecision: qp,
    tickUnits,
    stepUnits,
    refPrice,
    quoteVolume,
    listed: true,
    ...extra,
  };
}

/** Rank order = quote volume order. Precisions follow the real contracts (2024–2026). */
export const TOP_10_SPECS: readonly SymbolSpec[] = Object.freeze([
  spec('BTCUSDT', 'BTC', 2, 3, 10, 1, 61800, 15.2e9, { source: 'BTC', phase: 0 }),
  spec('ETHUSDT', 'ETH', 2, 3, 1, 1, 2681, 8.1e9, { source: 'ETH', phase: 0 }),
  spec('SOLUSDT', 'SOL', 4, 0, 100, 1, 152.4, 3.3e9, { source: 'BTC', phase: 0.37 }),
  spec('XRPUSDT', 'XRP', 4, 1, 1, 1, 0.5621, 1.45e9, { source: 'ETH', phase: 0.29 }),
  spec('DOGEUSDT', 'DOGE', 6, 0, 10, 1, 0.10531, 1.2e9, { source: 'BTC', phase: 0.61 }),
  spec('BNBUSDT', 'BNB', 3, 2, 10, 1, 521.3, 0.93e9, { source: 'ETH', phase: 0.53 }),
  spec('ADAUSDT', 'ADA', 5, 0, 10, 1, 0.3412, 0.71e9, { source: 'ETH', phase: 0.77 }),
  spec('LINKUSDT', 'LINK', 3, 2, 1, 1, 10.47, 0.58e9, { source: 'BTC', phase: 0.19 }),
  spec('AVAXUSDT', 'AVAX', 4, 0, 10, 1, 21.36, 0.52e9, { source: 'ETH', phase: 0.11 }),
  spec('1000PEPEUSDT', '1000PEPE', 7, 0, 1, 1, 0.0085123, 0.47e9, { source: 'BTC', phase: 0.83 }),
]);

export const TOP_10: readonly string[] = Object.freeze(TOP_10_SPECS.map((s) => s.symbol));

/** Tradeable but below the TOP_10 by volume. */
const SMALL_SPECS: readonly SymbolSpec[] = [
  spec('WIFUSDT', 'WIF', 4, 1, 1, 1, 1.512, 0.39e9),
  spec('SUIUSDT', 'SUI', 6, 1, 100, 1, 0.8123, 0.31e9),
  spec('NEARUSDT', 'NEAR', 4, 0, 10, 1, 4.312, 0.22e9),
  spec('LTCUSDT', 'LTC', 2, 3, 1, 1, 61.22, 0.17e9),
  spec('TRXUSDT', 'TRX', 5, 0, 1, 1, 0.12731, 0.11e9),
  spec('POLUSDT', 'POL', 5, 0, 1, 1, 0.3711, 0.05e9),
];

/**
 * Decoys, each with a volume that would put it in the top 10 if a client forgot a filter:
 * a BREAK symbol, a TradFi perpetual, a delivery contract, a USDC-margined perpetual, and
 * MATICUSDT, which the ticker still reports but exchangeInfo no longer lists (it became POL).
 */
const DECOY_SPECS: readonly SymbolSpec[] = [
  spec('FTMUSDT', 'FTM', 6, 0, 1, 1, 0.4123, 6.8e9, { status: 'BREAK' }),
  spec('XAUUSDT', 'XAU', 2, 3, 1, 1, 2431.5, 4.9e9, { contractType: 'TRADIFI_PERPETUAL' }),
  spec('BTCUSDC', 'BTC', 1, 3, 1, 1, 61810.5, 4.1e9, { quoteAsset: 'USDC', marginAsset: 'USDC' }),
  spec('BTCUSDT_260626', 'BTC', 1, 3, 1, 1, 63020.0, 2.6e9, { contractType: 'CURRENT_QUARTER' }),
  spec('MATICUSDT', 'MATIC', 4, 0, 1, 1, 0.4012, 1.3e9, { listed: false }),
];

export const ALL_SPECS: readonly SymbolSpec[] = Object.freeze([...TOP_10_SPECS, ...SMALL_SPECS, ...DECOY_SPECS]);

const BY_SYMBOL = new Map(ALL_SPECS.map((s) => [s.symbol, s]));

export function specOf(symbol: string): SymbolSpec | undefined {
  return BY_SYMBOL.get(symbol);
}

/** COIN-M contracts that show up on `!forceOrder@arr` since the 2026-06-30 integration (st = 2). */
export const COIN_M_LIQUIDATION_SYMBOLS: readonly { symbol: string; pair: string; base: FlowSource }[] = Object.freeze([
  // The most common COIN-M names on the merged all-market feed since 2026-06-30.
  { symbol: 'BTCUSD_PERP', pair: 'BTCUSD', base: 'BTC' as const },
  { symbol: 'ETHUSD_260626', pair: 'ETHUSD', base: 'ETH' as const },
]);

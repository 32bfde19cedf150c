/**
 * Recorded real data, loaded once per process and shared by every simulator instance.
 *
 * Trades come from raw `@trade` frames (hftbacktest, MIT): they are kept per trade so the feed
 * can aggregate them into aggTrades itself, exactly as the exchange does. Mark prices come from
 * the 2023 `@markPrice@1s` frames. Liquidations come from a CSV that has no license: it is read
 * from ../shared at run time and never copied into the repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decimalsOf, toUnits } from './decimal';
import type { FlowSource } from './universe';

/** One symbol's recorded MARKET trades, column-wise (tens of thousands of rows). */
export interface TradeSeries {
  source: FlowSource;
  file: string;
  n: number;
  priceDecimals: number;
  qtyDecimals: number;
  /** T of the first MARKET trade: the recording's time zero (depth offsets are counted from it too). */
  t0Ms: number;
  /** T − T of the first trade, ms. */
  offsetMs: Float64Array;
  /** E − T, ms (the exchange's own send delay). */
  sendDelayMs: Uint16Array;
  priceUnits: Float64Array;
  qtyUnits: Float64Array;
  buyerMaker: Uint8Array;
  /** Trade id minus the previous MARKET trade's id; > 1 where non-market prints were skipped. */
  idStep: Float64Array;
  firstTradeId: number;
  spanMs: number;
  firstPrice: number;
  lastPrice: number;
  /** Mean traded notional per second and trade-notional quantiles, for scripting bursts. */
  notionalPerSec: number;
  tradesPerSec: number;
  p50Notional: number;
  p99Notional: number;
}

/** The relations inside one recorded markPrice frame; applied to the simulated price. */
export interface MarkRatio {
  indexOverMark: number;
  settleOverMark: number;
  fundingRate: string;
}

/** One liquidation of the CSV (`o` fields of `!forceOrder@arr`), with `USDT` restored. */
export interface LiquidationRow {
  symbol: string;
  side: 'BUY' | 'SELL';
  q: number;
  p: number;
  ap: number;
  l: number;
  z: number;
  T: number;
  /** The recorded decimal strings, used as-is for symbols the simulator does not price itself. */
  text: { q: string; p: string; ap: string; l: string; z: string };
}

export interface RecordedData {
  /** Human-readable origin, printed by the CLI and useful in test failures. */
  origin: string;
  trades: Record<FlowSource, TradeSeries>;
  markRatios: readonly MarkRatio[];
  /** Unique CSV rows sorted by T, or null when the CSV is not available. */
  liquidations: readonly LiquidationRow[] | null;
}

export const LIQUIDATION_CSV_RELATIVE = join('forceorder_csv', 'data_streams_for_crypto', 'binance.csv.gz');
const HFT_RELATIVE = join('raw_fstream', 'hftbacktest');

/** The repository root: the nearest ancestor with a package.json (works from src/ and from a bundle in dist/). */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

interface DataFiles {
  dir: string;
  tradeFiles: Record<FlowSource, string>;
  markFiles: string[];
  liquidationCsv: string | null;
}

function gzFiles(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.gz'))
    .sort()
    .map((f) => join(dir, f));
}

/** Trade files: prefer the 2024 captures (plain .gz) over the 2023 .dat.gz ones. */
function pickTradeFile(files: string[]): string | undefined {
  return files.find((f) => !f.endsWith('.dat.gz')) ?? files[0];
}

function filesIn(dir: string): DataFiles | null {
  const hft = existsSync(join(dir, HFT_RELATIVE)) ? join(dir, HFT_RELATIVE) : dir;
  const btc = gzFiles(hft, 'btcusdt_');
  const eth = gzFiles(hft, 'ethusdt_');
  const btcTrades = pickTradeFile(btc);
  const ethTrades = pickTradeFile(eth);
  if (btcTrades === undefined || ethTrades === undefined) return null;
  const csv = [join(dir, LIQUIDATION_CSV_RELATIVE), join(repoRoot(), '..', 'shared', 'data', LIQUIDATION_CSV_RELATIVE)].find((p) => existsSync(p));
  return {
    dir,
    tradeFiles: { BTC: btcTrades, ETH: ethTrades },
    markFiles: btc.filter((f) => f.endsWith('.dat.gz')),
    liquidationCsv: csv ?? null,
  };
}

/**
 * Where the data are: `dataDir` if given, else ../shared/data beside the repository, else the
 * vendored MIT extract in test/fixtures. Throws with every place it looked.
 */
export function resolveDataFiles(dataDir?: string): DataFiles {
  const root = repoRoot();
  const candidates = dataDir !== undefined ? [resolve(dataDir)] : [resolve(root, '..', 'shared', 'data'), join(root, 'test', 'fixtures')];
  for (const dir of candidates) {
    const found = filesIn(dir);
    if (found !== null) return found;
  }
  throw new Error(
    `simulator: no recorded trade data found (need btcusdt_*.gz and ethusdt_*.gz in <dir> or <dir>/${HFT_RELATIVE}); looked in: ${candidates.join(', ')}`,
  );
}

/** Every line's JSON part of a gzip recording (`<local ts> <json>`). */
export function readLines(file: string, each: (json: string) => void): void {
  const text = gunzipSync(readFileSync(file)).toString('utf8');
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    // `<local ts> <json>`: the recorder's clock is not the exchange's, so only the JSON matters.
    const sp = text.indexOf(' ', start);
    if (sp > start && sp < end) each(text.slice(sp + 1, end));
    start = end + 1;
  }
}

interface RawTrade {
  E: number;
  T: number;
  t: number;
  p: string;
  q: string;
  X: string;
  m: boolean;
}

function isRawTrade(x: unknown): x is RawTrade {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.E === 'number' &&
    typeof r.T === 'number' &&
    typeof r.t === 'number' &&
    typeof r.p === 'string' &&
    typeof r.q === 'string' &&
    typeof r.X === 'string' &&
    typeof r.m === 'boolean'
  );
}

export function dataOf(json: string): unknown {
  const outer: unknown = JSON.parse(json);
  return typeof outer === 'object' && outer !== null && 'data' in outer ? (outer as { data: unknown }).data : outer;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function loadTradeSeries(file: string, source: FlowSource): TradeSeries {
  const rows: RawTrade[] = [];
  const seen = new Set<number>();
  readLines(file, (json) => {
    if (!json.includes('@trade"')) return;
    const d = dataOf(json);
    if (!isRawTrade(d) || seen.has(d.t)) return;
    seen.add(d.t);
    rows.push(d);
  });
  rows.sort((a, b) => a.T - b.T || a.t - b.t);
  let pd = 0;
  let qd = 0;
  for (const r of rows) {
    pd = Math.max(pd, decimalsOf(r.p));
    qd = Math.max(qd, decimalsOf(r.q));
  }
  // Insurance-fund and ADL prints are not order-book trades and never reach aggTrade (§4.1).
  const market = rows.filter((r) => r.X === 'MARKET');
  if (market.length < 2) throw new Error(`simulator: ${file} holds fewer than 2 MARKET trades`);
  const n = market.length;
  const s: TradeSeries = {
    source,
    file,
    n,
    priceDecimals: pd,
    qtyDecimals: qd,
    t0Ms: (market[0] as RawTrade).T,
    offsetMs: new Float64Array(n),
    sendDelayMs: new Uint16Array(n),
    priceUnits: new Float64Array(n),
    qtyUnits: new Float64Array(n),
    buyerMaker: new Uint8Array(n),
    idStep: new Float64Array(n),
    firstTradeId: (market[0] as RawTrade).t,
    spanMs: 0,
    firstPrice: Number((market[0] as RawTrade).p),
    lastPrice: Number((market[n - 1] as RawTrade).p),
    notionalPerSec: 0,
    tradesPerSec: 0,
    p50Notional: 0,
    p99Notional: 0,
  };
  const t0 = (market[0] as RawTrade).T;
  const notionals = new Float64Array(n);
  let prevId = s.firstTradeId - 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = market[i] as RawTrade;
    s.offsetMs[i] = r.T - t0;
    s.sendDelayMs[i] = Math.min(1000, Math.max(0, r.E - r.T));
    s.priceUnits[i] = toUnits(r.p, pd);
    s.qtyUnits[i] = toUnits(r.q, qd);
    s.buyerMaker[i] = r.m ? 1 : 0;
    s.idStep[i] = Math.max(1, r.t - prevId);
    prevId = r.t;
    notionals[i] = Number(r.p) * Number(r.q);
    total += notionals[i] as number;
  }
  s.spanMs = s.offsetMs[n - 1] as number;
  const secs = Math.max(1, s.spanMs / 1000);
  s.notionalPerSec = total / secs;
  s.tradesPerSec = n / secs;
  notionals.sort();
  s.p50Notional = quantile(notionals, 0.5);
  s.p99Notional = quantile(notionals, 0.99);
  return s;
}

function loadMarkRatios(files: string[]): MarkRatio[] {
  const out: MarkRatio[] = [];
  for (const f of files) {
    readLines(f, (json) => {
      if (!json.includes('@markPrice')) return;
      const d = dataOf(json) as Record<string, unknown>;
      const p = Number(d.p);
      const i = Number(d.i);
      const P = Number(d.P);
      if (!(p > 0) || !(i > 0) || !(P >= 0) || typeof d.r !== 'string') return;
      out.push({ indexOverMark: i / p, settleOverMark: P / p, fundingRate: d.r });
    });
  }
  return out;
}

/** The recorder stripped "USDT" from every line; put it back unless the contract is USDC or dated. */
export function restoreSymbol(csvSymbol: string): string {
  if (csvSymbol.endsWith('USDC') || csvSymbol.includes('_')) return csvSymbol;
  return `${csvSymbol}USDT`;
}

const CSV_SYMBOL_RE = /^[A-Z0-9]{2,30}(?:_[0-9]{6})?$/;

export function loadLiquidationCsv(file: string): LiquidationRow[] {
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  // Two recorder instances wrote every message twice: dedupe on the whole line.
  const unique = new Set(lines.map((l) => l.trim()).filter((l) => l.length > 0));
  const rows: LiquidationRow[] = [];
  for (const line of unique) {
    const c = line.split(',');
    if (c.length < 12) continue;
    const symbol = restoreSymbol(c[0] as string);
    const side = c[1];
    const q = Number(c[4]);
    const p = Number(c[5]);
    const ap = Number(c[6]);
    const l = Number(c[8]);
    const z = Number(c[9]);
    const T = Number(c[10]);
    if (!CSV_SYMBOL_RE.test(symbol) || (side !== 'BUY' && side !== 'SELL')) continue;
    if (!(q > 0 && p > 0 && ap > 0 && l >= 0 && z > 0 && T > 0)) continue;
    rows.push({ symbol, side, q, p, ap, l, z, T, text: { q: c[4] as string, p: c[5] as string, ap: c[6] as string, l: c[8] as string, z: c[9] as string } });
  }
  return rows.sort((a, b) => a.T - b.T);
}

const cache = new Map<string, RecordedData>();

export function loadRecordedData(dataDir?: string): RecordedData {
  const files = resolveDataFiles(dataDir);
  const key = JSON.stringify(files);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const data: RecordedData = {
    origin: `${files.tradeFiles.BTC}, ${files.tradeFiles.ETH}${files.markFiles.length > 0 ? ` + ${files.markFiles.length} markPrice file(s)` : ''}${files.liquidationCsv !== null ? ` + liquidation CSV ${files.liquidationCsv}` : ' (scripted liquidations)'}`,
    trades: { BTC: loadTradeSeries(files.tradeFiles.BTC, 'BTC'), ETH: loadTradeSeries(files.tradeFiles.ETH, 'ETH') },
    markRatios: loadMarkRatios(files.markFiles),
    liquidations: files.liquidationCsv !== null ? loadLiquidationCsv(files.liquidationCsv) : null,
  };
  cache.set(key, data);
  return data;
}
